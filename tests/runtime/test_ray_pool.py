"""A real local Ray cluster: scenarios over 2 actors, one actor killed mid-run, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from runtime.ray_pool import RayPool, ensure_ray
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = {"backend": "scripted", "model": "agents.backends.mock:slow_well_behaved"}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def _config() -> OysterConfig:
    return OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(("user", "leader", "risk", "critic"), SCRIPTED),
            "lingo_bp": {"iterations": 1},
            "ray": {"actors": 2, "concurrency_per_actor": 4, "num_cpus_per_actor": 1},
        }
    )


async def test_killed_actor_loses_nothing(local_ray: None, warehouse: Warehouse) -> None:
    cfg = _config()
    ensure_ray(cfg)  # already initialised: a no-op
    scenarios = [Scenario(id=f"s{i:02d}", text=f"question {i}") for i in range(20)]
    pool = RayPool(cfg)
    victim = pool.workers[0]
    pid = ray.get(victim.pid.remote())
    run = asyncio.create_task(run_lingo_bp(cfg, scenarios, warehouse, run_id="ray-run", pool=pool))
    await asyncio.sleep(1.5)
    assert not run.done()
    ray.kill(victim)
    summary = await run
    assert pool.restarts == 1 and ray.get(pool.workers[0].pid.remote()) != pid
    assert summary.completed + summary.failed == 20 and summary.failed == 0
    q = warehouse.query
    assert q(
        "SELECT count(*), count(DISTINCT scenario_id) FROM trajectory_records WHERE run_id = 'ray-run'"
    ).rows == [(20, 20)]
    assert q("SELECT count(*) FROM preference_pairs").rows == [(summary.pairs,)]
    assert q(
        "SELECT count(*) FROM (SELECT pair_id FROM preference_pairs GROUP BY ALL HAVING count(*) > 1)"
    ).rows == [(0,)]
    # the same command again resumes: nothing to do, nothing duplicated
    again = await run_lingo_bp(cfg, scenarios, warehouse, run_id="ray-run", pool=pool)
    assert (again.skipped, again.completed) == (20, 0)
    assert q("SELECT count(*) FROM trajectory_records").rows == [(20,)]


async def test_evaluation_spreads_samples_over_actors(local_ray: None, warehouse: Warehouse) -> None:
    from evals.datasets.loaders import load_strata_sword
    from evals.run import EvalWorker, evaluate, parse_model, spread
    from warehouse.evaluation import EvalStore

    cfg = _config()
    target = parse_model("scripted:agents.backends.mock:well_behaved")
    pool = RayPool(
        cfg,
        actor=EvalWorker,
        args=(cfg.model_dump_json(), "strata-sword", None, target.model_dump_json(), 32),
    )
    samples = spread(load_strata_sword(), 12)
    summary = await evaluate(
        task="strata-sword",
        samples=samples,
        target=EvalTargetLabel(target.label()),
        scorers=[],
        warehouse=warehouse,
        config=cfg,
        eval_id="ray-eval",
        pool=pool,
    )
    assert (summary.scored, summary.failed) == (12, 0)
    rows = warehouse.query(
        "SELECT count(*), count(DISTINCT sample_id) FROM eval_samples WHERE eval_id = 'ray-eval'"
    ).rows
    assert rows == [(12, 12)]
    assert EvalStore(warehouse).strata("ray-eval", "overall").rows == [("all", 0.0, 12)]


class EvalTargetLabel:
    """The driver only needs the target's name; the actors own the real target."""

    def __init__(self, label: str) -> None:
        self.label = label


def test_defect1_an_invalid_trajectory_on_the_driver_is_that_scenarios_failure() -> None:
    from runtime.ray_pool import scenario_remote
    from schemas import Scenario
    from schemas.chain import NODE_MAX_CHARS, ChainNode
    from schemas.trajectory import Trajectory, TrajectoryStatus

    scenario = Scenario(id="s", text="hello")
    data = json.loads(Trajectory(run_id="r", scenario=scenario).model_dump_json())
    too_long = "x" * (NODE_MAX_CHARS[ChainNode.RISK_INTENT] + 1)
    chain = {"user_needs": "", "risk_intent": too_long, "safety_guidelines": "", "strategies": {}}
    data["iterations"] = [{"index": 0, "chain": chain, "response": "hi"}]
    traj, log = scenario_remote("r").decode(scenario, (json.dumps(data), [], []))
    assert traj.status is TrajectoryStatus.FAILED and traj.scenario_id == "s"
    assert [(f.role, f.step) for f in log.failures] == [("ray", "decode")]
    assert traj.failures == log.failures and "risk_intent" in log.failures[0].message

"""A real local Ray cluster: scenarios over 2 actors, one actor killed mid-run, nothing lost or doubled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from runtime.ray_pool import MAX_ATTEMPTS, RayPool, ensure_ray
from runtime.runner import RunSummary, run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = {"backend": "scripted", "model": "testing.models:slow_well_behaved"}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def _config(
    model: dict[str, str] = SCRIPTED, actors: int = 2, concurrency_per_actor: int = 4
) -> OysterConfig:
    """Every role on the scripted `model`, one iteration, over `actors` Ray actors of one CPU each."""
    ray_cfg = {"actors": actors, "concurrency_per_actor": concurrency_per_actor, "num_cpus_per_actor": 1}
    return OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(("user", "leader", "risk", "critic"), model),
            "lingo_bp": {"iterations": 1},
            "ray": ray_cfg,
        }
    )


async def test_killed_actor_loses_nothing(local_ray: None, warehouse: Warehouse) -> None:
    cfg = _config()
    ensure_ray(cfg)  # already initialised: a no-op
    scenarios = [Scenario(id=f"s{i:02d}", text=f"question {i}") for i in range(20)]
    pool = RayPool(cfg)
    victim, survivor = pool.workers
    pid = ray.get(victim.pid.remote())
    killed: list[int] = []

    def kill_after_first(summary: RunSummary) -> None:
        # The first result means both actors have scenarios in flight: kill one of them mid-run.
        if summary.completed == 1 and not killed:
            ray.kill(victim)
            killed.append(summary.completed)

    summary = await run_lingo_bp(
        cfg, scenarios, warehouse, run_id="ray-run", pool=pool, progress=kill_after_first
    )
    assert killed == [1]
    assert pool.restarts == 1 and ray.get(pool.workers[0].pid.remote()) != pid
    # Each actor ran several scenarios at once on its event loop, as concurrency_per_actor asks.
    assert ray.get(survivor.peak.remote()) == cfg.ray.concurrency_per_actor
    assert summary.completed + summary.failed == 20 and summary.failed == 0
    q = warehouse.query
    assert q(
        "SELECT count(*), count(DISTINCT scenario_id) FROM trajectory_records WHERE run_id = 'ray-run'"
    ).rows == [(20, 20)]
    assert q("SELECT count(*) FROM preference_pairs").rows == [(summary.ranked_pairs,)]
    assert q(
        "SELECT count(*) FROM (SELECT pair_id FROM preference_pairs GROUP BY ALL HAVING count(*) > 1)"
    ).rows == [(0,)]
    # the same command again resumes: nothing to do, nothing duplicated
    again = await run_lingo_bp(cfg, scenarios, warehouse, run_id="ray-run", pool=pool)
    assert (again.skipped, again.completed) == (20, 0)
    assert q("SELECT count(*) FROM trajectory_records").rows == [(20,)]


async def test_item6_ray_summary_counts_the_calls_and_tokens_the_actors_made(
    local_ray: None, warehouse: Warehouse
) -> None:
    # Issue 23 item 6: fast scenarios finish between two polls of the actors' calls; the summary
    # still counts every call stored in llm_calls, not 0.
    fast = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
    cfg = _config(fast, actors=1, concurrency_per_actor=2)
    scenarios = [Scenario(id=f"f{i}", text=f"question {i}") for i in range(3)]
    summary = await run_lingo_bp(cfg, scenarios, warehouse, run_id="ray-count", pool=RayPool(cfg))
    stored = warehouse.query(
        "SELECT count(*), sum(prompt_tokens + completion_tokens) FROM llm_calls WHERE run_id = 'ray-count'"
    ).rows[0]
    assert stored[0] > 0
    assert (summary.calls, summary.tokens) == (stored[0], stored[1])


async def test_actors_judge_with_the_calibration_in_the_drivers_warehouse(
    local_ray: None, warehouse: Warehouse
) -> None:
    from tests.runtime.test_runner import PROBABILITIES, calibrate_safety, safety_judgements

    cfg = _config(PROBABILITIES, actors=1, concurrency_per_actor=2)
    scenarios = [Scenario(id=f"c{i}", text=f"question {i}") for i in range(2)]
    # The actor is built before the run reads the calibration; the runner hands it over.
    pool = RayPool(cfg)
    cal_id = calibrate_safety(warehouse, threshold=0.25)
    summary = await run_lingo_bp(cfg, scenarios, warehouse, run_id="ray-calibrated", pool=pool)
    assert (summary.completed, summary.failed) == (2, 0)
    assert safety_judgements(warehouse, "ray-calibrated") == {("unsafe", cal_id, 0.3)}
    assert pool.calibrations and all(cal_id in c for c in pool.calibrations)  # a respawned actor gets it too


async def test_a_scenario_that_kills_every_actor_is_recorded_after_the_retry_bound(
    local_ray: None, warehouse: Warehouse
) -> None:
    deadly = {"backend": "scripted", "model": "testing.models:dies_on_poison"}
    cfg = _config(deadly, actors=1, concurrency_per_actor=1)
    scenarios = [Scenario(id="ok-1", text="question"), Scenario(id="bad", text="poison pill")]
    pool = RayPool(cfg)
    summary = await run_lingo_bp(cfg, scenarios, warehouse, run_id="lost", pool=pool)
    assert (summary.completed, summary.failed) == (1, 1)
    assert pool.restarts == MAX_ATTEMPTS
    rows = warehouse.query("SELECT scenario_id, role, step, message FROM failures WHERE run_id = 'lost'").rows
    assert len(rows) == 1 and rows[0][:3] == ("bad", "ray", "worker")
    assert rows[0][3].startswith(f"worker died {MAX_ATTEMPTS} times")
    status = warehouse.query(
        "SELECT scenario_id, status FROM trajectory_records WHERE run_id = 'lost' ORDER BY scenario_id"
    ).rows
    assert status == [("bad", "failed"), ("ok-1", "completed")]


def _on_actors(task_name: str, options: dict[str, Any], samples: list[Any], eval_id: str, model: Any) -> Any:
    """An evaluation plan whose samples go to EvalWorker actors built from a named spec."""
    from evals.run import EvalPlan, RunSettings, make_target
    from evals.task import get_task
    from evals.worker import WorkerSpec, eval_pool

    cfg = _config()
    task = get_task(task_name)
    opts = task.parse(options)
    spec = WorkerSpec(
        config=cfg, task=task.name, options=opts.model_dump(mode="json"), target=model, max_tokens=32
    )
    # The driver's target is only named and recorded; each actor builds its own from the spec.
    target = make_target(task, model, 32)
    return EvalPlan(
        task, opts, cfg, RunSettings(eval_id=eval_id), samples, task_name, target, [], eval_pool(spec)
    )


async def test_evaluation_spreads_samples_over_actors(local_ray: None, warehouse: Warehouse) -> None:
    from evals.datasets import load_strata_sword
    from evals.run import spread
    from evals.targets import parse_model
    from warehouse.evaluation import EvalStore

    model = parse_model("scripted:agents.backends.mock:well_behaved")
    plan = _on_actors("strata-sword", {}, spread(load_strata_sword(), 12), "ray-eval", model)
    summary = await plan.run(warehouse)
    assert (summary.scored, summary.failed) == (12, 0)
    rows = warehouse.query(
        "SELECT count(*), count(DISTINCT sample_id) FROM eval_samples WHERE eval_id = 'ray-eval'"
    ).rows
    assert rows == [(12, 12)]
    assert EvalStore(warehouse).strata("ray-eval", "overall").rows == [("all", 0.0, 12)]


async def test_a_replay_task_runs_on_actors_from_its_named_spec(
    local_ray: None, warehouse: Warehouse
) -> None:
    from evals.datasets import validation_samples

    samples = validation_samples("refusal")[:6]
    summary = await _on_actors("judges", {"judge": "refusal"}, samples, "ray-judges", None).run(warehouse)
    assert (summary.scored, summary.failed) == (6, 0)
    rows = warehouse.query(
        "SELECT s.response, sc.scorer, sc.details ->> 'agrees' IS NOT NULL FROM eval_samples s "
        "JOIN eval_scores sc USING (eval_id, sample_id) WHERE eval_id = 'ray-judges' ORDER BY sample_id"
    ).rows
    # The actors replayed the written responses, asked the refusal judge and marked agreement.
    assert rows == [(c.metadata["response"], "refusal", True) for c in sorted(samples, key=lambda c: c.id)]


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

"""Budgets: a run stops starting scenarios before it would overspend, and a resume goes on."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from runtime.budget import Budget
from runtime.ray_pool import ray_map
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from schemas.config import BudgetConfig
from schemas.records import LLMCall
from tests.cli.test_app import oyster
from tests.conftest import validate_judges
from warehouse import Warehouse

SCRIPTED = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
SCENARIOS = [Scenario(id=f"s{i}", text=f"question {i}") for i in range(8)]


def _config(budget: dict[str, int] | None = None, concurrency: int = 1, **role: float) -> OysterConfig:
    return OysterConfig.model_validate(
        {
            "roles": {r: {**SCRIPTED, **role} for r in ("user", "leader", "risk", "critic")},
            "lingo_bp": {"iterations": 1},
            "concurrency": concurrency,
            "cache": False,
            "budget": budget or {},
        }
    )


def _per_scenario(wh: Warehouse, run_id: str) -> list[int]:
    rows = wh.query(
        "SELECT sum(prompt_tokens + completion_tokens) FROM llm_calls WHERE run_id = ? GROUP BY scenario_id",
        [run_id],
    ).rows
    return [int(r[0]) for r in rows]


async def test_a_budgeted_run_stops_within_one_scenario_and_a_resume_finishes(warehouse: Warehouse) -> None:
    validate_judges(warehouse, _config())  # dpo rows are trusted pairs
    free = await run_lingo_bp(_config(), SCENARIOS[:2], warehouse, run_id="free")
    per_scenario = max(_per_scenario(warehouse, "free"))
    assert free.completed == 2 and per_scenario > 0
    limit = int(3.5 * per_scenario)

    first = await run_lingo_bp(_config({"max_tokens_total": limit}), SCENARIOS, warehouse, run_id="b")
    spent = sum(_per_scenario(warehouse, "b"))
    assert spent <= limit < spent + per_scenario  # within budget, and stopped no earlier than needed
    assert first.completed == 3 and first.not_started == 5 and first.budget == f"{spent} of {limit} tokens"
    status = warehouse.query("SELECT status FROM runs WHERE run_id = 'b'").rows
    assert status == [("budget_exhausted",)]

    again = await run_lingo_bp(_config({"max_tokens_total": limit}), SCENARIOS, warehouse, run_id="b")
    assert (again.completed, again.skipped, again.not_started) == (0, 3, 5)  # the same budget is spent

    more = await run_lingo_bp(_config({"max_tokens_total": 100 * limit}), SCENARIOS, warehouse, run_id="b")
    assert (more.completed, more.skipped, more.not_started, more.budget) == (5, 3, 0, "")
    rows = warehouse.query(
        "SELECT count(*), count(DISTINCT scenario_id) FROM trajectory_records WHERE run_id = 'b'"
    ).rows
    assert rows == [(8, 8)]
    costs = warehouse.query(
        "SELECT status, calls, tokens, dpo_rows, ranked_pairs, tokens_per_dpo_row, cost FROM run_costs "
        "WHERE run_id = 'b'"
    ).rows
    calls, tokens = warehouse.query(
        "SELECT count(*), sum(prompt_tokens + completion_tokens) FROM llm_calls WHERE run_id = 'b'"
    ).rows[0]
    pairs = warehouse.query("SELECT count(*) FROM preference_pairs WHERE run_id = 'b'").rows[0][0]
    dpo = warehouse.query("SELECT count(*) FROM dpo WHERE run_id = 'b'").rows[0][0]
    assert pairs > 0 and dpo > 0
    assert costs == [("completed", calls, tokens, dpo, pairs, tokens / dpo, None)]


async def test_call_budget_with_concurrency_and_prices(warehouse: Warehouse) -> None:
    cfg = _config({"max_calls": 30}, concurrency=2, price_per_1k_prompt_tokens=2.0)
    summary = await run_lingo_bp(cfg, SCENARIOS, warehouse, run_id="c")
    calls, prompt = warehouse.query(
        "SELECT count(*), sum(prompt_tokens) FROM llm_calls WHERE run_id = 'c'"
    ).rows[0]
    per_scenario = calls / summary.completed
    # Two in flight at a time: at most one scenario per slot past the budget (runtime/budget.py). The
    # mock answers every scenario alike, so the first two finish together and, until one has finished,
    # both slots start another while anything is left.
    assert 30 - 2 * per_scenario < calls <= 30 + 2 * per_scenario
    assert summary.not_started == len(SCENARIOS) - summary.completed > 0
    assert summary.cost is not None and abs(summary.cost - prompt * 2.0 / 1000) < 1e-9
    cost = warehouse.query("SELECT cost FROM run_costs WHERE run_id = 'c'").rows[0][0]
    assert abs(cost - summary.cost) < 1e-9


def _call(scenario: str, tokens: int, cache_hit: bool = False) -> LLMCall:
    return LLMCall(
        scenario_id=scenario,
        role="leader",
        step="x",
        prompt_hash="h",
        backend="b",
        model="m",
        prompt_tokens=tokens,
        cache_hit=cache_hit,
    )


def test_admission_counts_what_in_flight_scenarios_still_need() -> None:
    budget = Budget(BudgetConfig(max_tokens_total=100))
    a, b, c = (Scenario(id=i, text=i) for i in "abc")
    assert budget.admit(a) and budget.admit(b)  # nothing finished yet: no estimate, room left
    budget.heard(_call("a", 30))
    budget.heard(_call("a", 999, cache_hit=True))  # answered from the cache: free
    budget.scenario_finished("a", [_call("a", 30)])
    budget.heard(_call("b", 10))
    # spent 40, b still needs ~20 of its expected 30, c would need 30: 90 <= 100
    assert budget.admit(c)
    assert not budget.admit(Scenario(id="d", text="d"))  # 40 + 20 + 30 + 30 > 100
    assert budget.exhausted and budget.describe() == "40 of 100 tokens"


async def test_ray_map_asks_admit_once_per_item_not_on_resubmission() -> None:
    class Worker:
        def __init__(self) -> None:
            self.runs: list[int] = []

    def call(worker: Worker, item: int) -> Any:
        worker.runs.append(item)
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(item * 10)
        return SimpleNamespace(future=lambda: done)

    pool: Any = SimpleNamespace(
        config=SimpleNamespace(ray=SimpleNamespace(concurrency_per_actor=1)), workers=[Worker()]
    )
    asked: list[int] = []
    got: list[int] = []

    def admit(item: int) -> bool:
        asked.append(item)
        return item < 3

    async def on_result(item: int, value: int) -> None:
        got.append(value)

    async def on_lost(item: int, exc: Exception) -> None:
        raise AssertionError(item)

    await asyncio.wait_for(
        ray_map(pool, list(range(5)), key=str, call=call, on_result=on_result, on_lost=on_lost, admit=admit),
        timeout=10,
    )
    assert asked == [0, 1, 2, 3, 4] and got == [0, 10, 20] and pool.workers[0].runs == [0, 1, 2]


def test_cli_says_in_one_line_that_the_budget_stopped_the_run(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    roles = dict.fromkeys(("user", "leader", "risk", "critic"), SCRIPTED)
    cfg.write_text(yaml.safe_dump({"roles": roles, "lingo_bp": {"iterations": 1}, "concurrency": 1}))
    args = ["run", "--config", str(cfg), "--warehouse", str(tmp_path / "w.duckdb"), "--limit", "4"]
    proc = oyster(*args, "--run-id", "r1", "--max-calls", "5")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("budget exhausted")]
    assert len(lines) == 1 and "of 5 calls" in lines[0] and "--run-id r1" in lines[0], proc.stdout
    proc = oyster(*args, "--run-id", "r1", "--max-calls", "1000")
    assert proc.returncode == 0 and "budget exhausted" not in proc.stdout, proc.stdout


@pytest.mark.ray
def test_p2_04_a_finished_scenarios_calls_count_at_once(tmp_path: Path) -> None:
    """On Ray the driver hears calls by polling the actors every 2 s; a scenario that finished between
    two polls must count in full when its result arrives, or the budget admits too much (issue 24
    item 4: --max-calls 120 stored 276) and the summary says less than the warehouse holds."""
    slow = {"backend": "scripted", "model": "testing.models:slow_well_behaved"}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "roles": dict.fromkeys(("user", "leader", "risk", "critic"), slow),
                "lingo_bp": {"iterations": 1},
                "ray": {"actors": 1, "concurrency_per_actor": 4, "num_cpus_per_actor": 1},
            }
        )
    )
    wh = tmp_path / "w.duckdb"
    args = ["run", "--config", str(cfg), "--warehouse", str(wh), "--limit", "40", "--no-cache"]
    proc = oyster(*args, "--ray", "--run-id", "rb", "--max-calls", "60", env={"RAY_ADDRESS": ""})
    assert proc.returncode == 0, proc.stderr
    store = Warehouse(wh)
    stored = store.query("SELECT count(*) FROM llm_calls WHERE run_id = 'rb' AND NOT cache_hit").rows[0][0]
    per_scenario = store.query(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM llm_calls WHERE run_id = 'rb' GROUP BY scenario_id)"
    ).rows[0][0]
    # the documented bound: at most one scenario per actor slot past the budget
    assert stored <= 60 + 4 * per_scenario, stored
    line = next(x for x in proc.stdout.splitlines() if x.startswith("budget exhausted"))
    assert f"({stored} of 60 calls)" in line, (line, stored)

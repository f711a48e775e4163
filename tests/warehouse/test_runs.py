"""Item 3 of issue 11: a resumed run keeps every attempt's settings and supersedes stale failures."""

from __future__ import annotations

import json

from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse

WELL = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
GARBAGE = {"backend": "scripted", "model": "testing.models:garbage"}


def _config(iterations: int = 1, risk: dict[str, str] = WELL) -> OysterConfig:
    return OysterConfig.model_validate(
        {
            "roles": {"user": WELL, "leader": WELL, "risk": risk, "critic": WELL},
            "lingo_bp": {"iterations": iterations},
        }
    )


async def test_03_resume_records_each_attempt_with_its_own_settings(warehouse: Warehouse) -> None:
    scenarios = [Scenario(id=f"s{i}", text=f"question {i}") for i in range(2)]
    await run_lingo_bp(_config(iterations=1), scenarios[:1], warehouse, run_id="r", command="first")
    await run_lingo_bp(_config(iterations=2), scenarios, warehouse, run_id="r", command="second")
    attempts = warehouse.query(
        "SELECT attempt, status, config, command, finished_at >= started_at FROM run_attempts "
        "WHERE run_id = 'r' ORDER BY attempt"
    ).rows
    assert [(a, s, json.loads(c)["lingo_bp"]["iterations"], cmd, ok) for a, s, c, cmd, ok in attempts] == [
        (1, "completed", 1, "first", True),
        (2, "completed", 2, "second", True),
    ]
    run = warehouse.query(
        "SELECT r.attempts, r.config, r.command, r.started_at = a.started_at FROM runs r "
        "JOIN run_attempts a ON a.run_id = r.run_id AND a.attempt = 1"
    ).rows
    # `runs` takes the latest attempt's settings and keeps the time the run first started
    assert [(n, json.loads(c)["lingo_bp"]["iterations"], cmd, first) for n, c, cmd, first in run] == [
        (2, 2, "second", True)
    ]


async def test_03_failure_of_a_scenario_completed_later_is_superseded(warehouse: Warehouse) -> None:
    scenarios = [Scenario(id="a", text="fine later"), Scenario(id="b", text="fine last")]
    first = await run_lingo_bp(_config(risk=GARBAGE), scenarios, warehouse, run_id="r")
    assert first.failed == 2
    await run_lingo_bp(_config(), scenarios[:1], warehouse, run_id="r")  # attempt 2 completes only a

    def standing() -> list[tuple[str, int, int | None, int]]:
        return warehouse.query(
            "SELECT scenario_id, attempt, superseded_by_attempt, count(*) FROM failures "
            "WHERE run_id = 'r' GROUP BY ALL ORDER BY ALL"
        ).rows

    after_two = standing()
    assert [row[:3] for row in after_two] == [("a", 1, 2), ("b", 1, None)]
    await run_lingo_bp(_config(), scenarios, warehouse, run_id="r")  # attempt 3 completes b
    assert [row[:3] for row in standing()] == [("a", 1, 2), ("b", 1, 3)]
    assert [row[3] for row in standing()] == [row[3] for row in after_two]  # history kept, none added
    statuses = warehouse.query("SELECT attempt, status FROM run_attempts ORDER BY attempt").rows
    # attempt 1 completed no scenario: a failed attempt (issue 23 item 3); the resumes completed
    assert statuses == [(1, "failed"), (2, "completed"), (3, "completed")]

"""The offline mock model answers each scenario the same way whatever runs beside it."""

from __future__ import annotations

import json
from pathlib import Path

from agents.backends.base import ChatRequest
from agents.backends.mock import default_answers, responder, well_behaved
from agents.steps import StepName
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from schemas.config import ROLES
from schemas.messages import ChatMessage
from warehouse import Warehouse

MOCK = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}


def ask(answer: object, step: StepName, scenario: str) -> str:
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="hi")], step=step.value, scenario=scenario
    )
    return str(answer(request))  # type: ignore[operator]


def test_scripted_sequences_count_per_scenario_not_per_call() -> None:
    answer = responder(default_answers(satisfaction=lambda n: [-1, 1][n % 2]))
    interleaved = [ask(answer, StepName.LEADER_SYNTHESIZE, s) for s in ("run/a", "run/b", "run/a", "run/b")]
    assert interleaved == ["response v1", "response v1", "response v2", "response v2"]
    satisfaction = [
        json.loads(ask(answer, StepName.USER_SATISFACTION, s))["items"]["politeness"]
        for s in ("run/a", "run/a", "run/b", "run/a", "run/b")
    ]
    assert satisfaction == [-1, 1, -1, -1, 1]


def per_scenario(wh: Warehouse, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    rows = wh.query(
        "SELECT i.scenario_id, i.iteration, i.response, j.score FROM iterations i "
        "JOIN judgements j USING (run_id, scenario_id, iteration) "
        "WHERE run_id = ? AND j.kind = 'satisfaction' ORDER BY i.scenario_id, i.iteration",
        [run_id],
    ).rows
    out: dict[str, list[tuple[object, ...]]] = {}
    for scenario_id, *rest in rows:
        out.setdefault(scenario_id, []).append(tuple(rest))
    pairs = wh.query("SELECT scenario_id FROM preference_pairs WHERE run_id = ?", [run_id]).rows
    out["pairs"] = sorted(pairs)
    return out


async def test_a_run_of_the_mock_is_the_same_one_at_a_time_or_all_at_once(tmp_path: Path) -> None:
    scenarios = [Scenario(id=f"s{i}", text=f"question {i}") for i in range(4)]
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()

    def config(concurrency: int) -> OysterConfig:
        return OysterConfig.model_validate(
            {"roles": dict.fromkeys(ROLES, MOCK), "lingo_bp": {"iterations": 2}, "concurrency": concurrency}
        )

    await run_lingo_bp(config(1), scenarios, wh, run_id="serial")
    await run_lingo_bp(config(4), scenarios[::-1], wh, run_id="parallel")
    serial, parallel = per_scenario(wh, "serial"), per_scenario(wh, "parallel")
    assert serial == parallel
    assert [score for _, _, score in serial["s0"]] == [-1.0, 1.0]  # each scenario alternates from -1


def test_well_behaved_is_the_offline_mock_name_configs_use() -> None:
    assert ask(well_behaved, StepName.LEADER_SYNTHESIZE, "x/first") == "response v1"

"""Shared fixtures: a scripted backend for graph logic, a real DuckDB file per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import Answer, default_answers, responder
from agents.lingo_bp.graph import Agents, LingoBP
from agents.steps import StepName
from schemas.config import ROLES, OysterConfig
from warehouse import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    return wh


@pytest.fixture
def make_lingo() -> Callable[..., tuple[LingoBP, ScriptedBackend]]:
    def build(
        answers: dict[StepName, Answer] | None = None, config: OysterConfig | None = None, **overrides: Answer
    ) -> tuple[LingoBP, ScriptedBackend]:
        table = dict(answers or default_answers())
        table.update({StepName(step): answer for step, answer in overrides.items()})
        backend = ScriptedBackend(responder(table))
        agents = Agents.build(
            config or OysterConfig(), backends=dict.fromkeys(ROLES, backend), calibrations={}
        )
        return LingoBP(agents), backend

    return build


def scripted_pairs(path: Path, scenarios: int) -> Warehouse:
    """A real DuckDB warehouse filled by the real pipeline running the offline mock model."""
    import asyncio

    from agents.scenarios import load_scenarios
    from runtime.runner import run_lingo_bp

    wh = Warehouse(path)
    wh.migrate()
    mock = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
    cfg = OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(ROLES, mock),
            "lingo_bp": {"iterations": 1},
            # The mock answers each scenario alike at any concurrency (tests/agents/test_mock.py).
            "concurrency": 1,
        }
    )
    asyncio.run(run_lingo_bp(cfg, load_scenarios(None)[:scenarios], wh, run_id="gen"))
    return wh

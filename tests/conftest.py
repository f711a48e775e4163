"""Shared fixtures: a scripted backend for graph logic, a real DuckDB file per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import Answer, default_answers, responder
from agents.lingo_bp.graph import LingoBP
from agents.steps import StepName
from agents.team import Agents
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


def validate_judges(wh: Warehouse, config: OysterConfig, macro_f1: float = 0.9) -> None:
    """Store a validity record for each judge of ``config``, as `oyster eval judges` writes one after
    measuring it: a stand-in for tests of what the trust gate does with a (passing or failing) record."""
    from agents.prompting import PromptLibrary
    from agents.trust import loop_judges
    from schemas.trust import JudgeRecord
    from warehouse.evaluation import EvalStore

    for use in loop_judges(config, PromptLibrary(config.prompts), {}):
        EvalStore(wh).save_judge_record(
            JudgeRecord(
                **use.model_dump(),
                case_source="tests: a stand-in record",
                n=50,
                macro_f1=macro_f1,
                kappa=0.8,
                positive_class="unsafe" if use.judge == "safety" else "dissatisfied",
                recall_positive=0.9,
                constant_answer="always safe" if use.judge == "safety" else "always satisfied",
                constant_macro_f1=0.4,
            )
        )


def validate_config_file(wh_path: Path, config: Path) -> None:
    """`validate_judges` for a run the CLI makes from a config file: its judges pass the trust gate."""
    import yaml

    wh = Warehouse(wh_path)
    wh.migrate()
    validate_judges(wh, OysterConfig.model_validate(yaml.safe_load(config.read_text(encoding="utf-8"))))


def trust_run(wh: Warehouse, run_id: str, trusted: bool = True) -> None:
    """Record the run's judges as validated (or not): for tests of the views, not of the gate itself."""
    from schemas.trust import LOOP_JUDGES, JudgeTrust

    wh.record_run_judges(
        run_id,
        [
            JudgeTrust(
                judge=judge,
                model="scripted:test",
                model_id="scripted:test",
                template_hash="t",
                method="sampled",
                trusted=trusted,
                reason="validated above the thresholds"
                if trusted
                else "unvalidated: run `oyster eval judges`",
            )
            for judge in LOOP_JUDGES
        ],
    )


def scripted_pairs(path: Path, scenarios: int, *, trusted: bool = True) -> Warehouse:
    """A real DuckDB warehouse filled by the real pipeline running the offline mock model; with
    ``trusted`` its judges have passing validity records, so its pairs reach `dpo` and `sft`."""
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
    if trusted:
        validate_judges(wh, cfg)
    asyncio.run(run_lingo_bp(cfg, load_scenarios(None)[:scenarios], wh, run_id="gen"))
    return wh

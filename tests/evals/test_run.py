"""Running tasks on a real DuckDB file with the scripted model as target and judges: resume, ids, failures,
the library entry point, and the report drawn from every task's results."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.backends import ScriptedBackend
from agents.scenarios import load_scenarios
from evals.datasets import bundled_over_refusal_path
from evals.errors import EvalError
from evals.run import RunSettings, run_task, spread
from evals.targets import Target
from report.render import write_report
from runtime.runner import run_lingo_bp
from schemas.config import ROLES, OysterConfig
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage
from tests.evals.support import run_eval, scripted_agents, scripted_target
from warehouse import Warehouse
from warehouse.evaluation import EvalStore
from warehouse.training import TrainingStore

SCRIPTED = "agents.backends.mock:well_behaved"


def test_resume_skips_scored_samples_and_retries_failed_ones(warehouse: Warehouse) -> None:
    broken = scripted_agents(risk_safety=lambda r: "not json")
    first = run_eval("construction", warehouse, broken, limit=4, eval_id="r1")
    assert (first.scored, first.failed) == (0, 4)
    errors = warehouse.query(
        "SELECT count(*) FROM eval_samples WHERE eval_id = 'r1' AND error LIKE 'judge:%'"
    )
    assert errors.rows == [(4,)]  # failures are recorded with the response, not dropped
    second = run_eval("construction", warehouse, scripted_agents(), limit=4, eval_id="r1")
    assert (second.skipped, second.scored) == (0, 4)
    third = run_eval("construction", warehouse, scripted_agents(), limit=4, eval_id="r1")
    assert (third.skipped, third.scored) == (4, 0)
    counts = warehouse.query("SELECT count(*), count(error) FROM eval_samples WHERE eval_id = 'r1'").rows
    assert counts == [(4, 0)]


def test_an_eval_id_cannot_be_resumed_under_another_model(warehouse: Warehouse) -> None:
    run_eval("construction", warehouse, scripted_agents(), limit=1, eval_id="m1")
    other = scripted_target("scripted:other")
    with pytest.raises(EvalError, match="belongs to construction on scripted:mock"):
        run_eval("construction", warehouse, scripted_agents(), limit=1, eval_id="m1", target=other)


def test_a_target_that_returns_no_text_is_a_recorded_failure(warehouse: Warehouse) -> None:
    broken = Target(ScriptedBackend(lambda r: None), "scripted:broken")  # type: ignore[arg-type, return-value]
    summary = run_eval("construction", warehouse, scripted_agents(), limit=2, eval_id="b", target=broken)
    assert (summary.scored, summary.failed) == (0, 2)
    errors = [r[0] for r in warehouse.query("SELECT error FROM eval_samples WHERE eval_id = 'b'").rows]
    assert errors == ["target: scripted model scripted: returned NoneType, not text"] * 2


def test_an_eval_run_closes_its_judge_and_target_models_when_it_ends(warehouse: Warehouse) -> None:
    # An unclosed backend leaks its HTTP session (and keeps a managed llama-server running).
    closed: list[str] = []

    class Closing(ScriptedBackend):
        async def aclose(self) -> None:
            closed.append(self.model)

    agents = scripted_agents()
    judge = Closing(agents.risk.llm.backend._responder, model="judge")  # type: ignore[attr-defined]
    for role in (agents.user, agents.leader, agents.risk, agents.critic):
        role.llm.backend = judge
    target = Target(Closing(lambda r: "I can't help with that.", model="target"), "scripted:target")
    run_eval("construction", warehouse, agents, limit=2, eval_id="closing", target=target)
    assert sorted(closed) == ["judge", "target"]  # each once, though four roles share the judge


def test_run_task_is_the_whole_evaluation_from_python(warehouse: Warehouse) -> None:
    scripted = {"backend": "scripted", "model": SCRIPTED}
    cfg = OysterConfig.model_validate({"roles": {role: scripted for role in ROLES}})
    seen: list[int] = []
    settings = RunSettings(model=f"scripted:{SCRIPTED}", limit=4, eval_id="lib", use_ray=False, command="py")
    summary = asyncio.run(
        run_task(
            "strata-sword",
            {"languages": "en", "levels": "1,2"},
            cfg,
            warehouse,
            settings,
            progress=lambda s: seen.append(s.scored + s.failed),
        )
    )
    assert (summary.task, summary.total, summary.scored, summary.failed) == ("strata-sword", 4, 4, 0)
    assert sorted(seen) == [1, 2, 3, 4]
    run = warehouse.query(
        "SELECT model, dataset, command, json_extract(config, '$.levels')::VARCHAR, "
        "json_extract(config, '$.max_tokens')::INT FROM eval_runs WHERE eval_id = 'lib'"
    ).rows
    assert run == [("scripted:agents.backends.mock:well_behaved", "strata-sword", "py", "[1,2]", 200)]
    assert EvalStore(warehouse).strata("lib", "level").rows == [("1", 0.0, 2), ("2", 0.0, 2)]


def test_run_task_refuses_a_bad_model_spec_before_anything_runs(warehouse: Warehouse) -> None:
    with pytest.raises(EvalError, match="--model 'gpt'"):
        asyncio.run(run_task("construction", {}, OysterConfig(), warehouse, RunSettings(model="gpt")))
    assert not warehouse.query("SELECT * FROM eval_runs").rows


def _sample(n: int, language: str, target: str | None = None) -> EvalSample:
    return EvalSample(
        id=f"{language}{n}",
        messages=[ChatMessage(role="user", content="hi")],
        target=target,
        metadata={"language": language},
    )


def test_spread_takes_round_robin_over_groups() -> None:
    samples = [_sample(n, "en") for n in range(5)] + [_sample(n, "zh", "refuse") for n in range(2)]
    assert [s.id for s in spread(samples, 5)] == ["en0", "zh0", "en1", "zh1", "en2"]
    assert spread(samples, None) == samples and spread(samples, 99) == samples


def test_report_renders_every_chart_from_the_warehouse(warehouse: Warehouse, tmp_path: Path) -> None:
    run_eval("construction", warehouse, scripted_agents(), limit=3, eval_id="c")
    run_eval("strata-sword", warehouse, scripted_agents(), limit=6, eval_id="s")
    run_eval(
        "prompts", warehouse, scripted_agents(), {"file": bundled_over_refusal_path()}, limit=6, eval_id="p"
    )
    run_eval("judges", warehouse, scripted_agents(), {"judge": "refusal"}, limit=8, eval_id="j")
    scripted = {"backend": "scripted", "model": SCRIPTED}
    cfg = OysterConfig.model_validate(
        {"roles": dict.fromkeys(ROLES, scripted), "lingo_bp": {"iterations": 2}}
    )
    asyncio.run(run_lingo_bp(cfg, load_scenarios(None)[:4], warehouse, run_id="gen"))
    training = TrainingStore(warehouse)
    training.start(
        "t",
        method="dpo",
        base_model="tiny",
        out_dir="/tmp/x",
        view="dpo",
        where=None,
        splits={"train": ["p1"]},
        config={},
        command=None,
    )
    for step in (1, 2, 3):
        training.log_metrics("t", step, "train", [("loss", 0.7 - 0.1 * step)])
    out = tmp_path / "report.html"
    sections = write_report(warehouse, out)
    assert sections == [
        "overview",
        "generation",
        "samples",
        "construction",
        "strata-sword",
        "refusal",
        "judges",
        "training",
    ]
    html = out.read_text()
    assert html.count("<svg") == 9  # every chart has data
    assert "no data" not in html
    assert "<script" not in html  # self-contained and inert
    assert "scripted:mock" in html
    # The judge validation's own table: its figures beside those of the best constant answer.
    assert "refusal judge embedded:qwen2.5-coder-0.5b on judge_validation/refusal.jsonl (j)" in html
    assert "<td>always " in html and "<td>macro_f1</td>" not in html and "<th>macro_f1</th>" in html

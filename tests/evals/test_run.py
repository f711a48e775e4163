"""The evaluation suite on a real DuckDB file with the scripted model as target and judges."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import default_answers, responder
from agents.lingo_bp.graph import Agents
from agents.scenarios import load_scenarios
from evals.datasets.loaders import bundled_over_refusal_path
from evals.run import (
    EvalError,
    EvalSummary,
    evaluate,
    load_task_samples,
    parse_model,
    scorers_for,
    spread,
    validation_samples,
)
from evals.scorers import Target
from report.render import write_report
from runtime.runner import run_lingo_bp
from schemas.config import ROLES, OysterConfig
from schemas.judgement import construction_score
from warehouse import Warehouse
from warehouse.evaluation import BETAS, EvalStore
from warehouse.training import TrainingStore

ROOT = Path(__file__).resolve().parents[2]


def _agents(**overrides: Any) -> Agents:
    table = dict(default_answers(satisfaction=lambda n: [1, 0, -1][n % 3]))
    table.update(overrides)
    backend = ScriptedBackend(responder(table))
    return Agents.build(OysterConfig(), backends=dict.fromkeys(ROLES, backend))


def _target() -> Target:
    return Target(ScriptedBackend(responder(default_answers())), "scripted:mock")


def _run(task: str, wh: Warehouse, agents: Agents, args: dict[str, Any], **kw: Any) -> EvalSummary:
    samples, dataset = load_task_samples(task, args)
    samples = spread(samples, kw.pop("limit", None))
    target = kw.pop("target", None) or _target()
    return asyncio.run(
        evaluate(
            task=task,
            samples=samples,
            target=target,
            scorers=scorers_for(task, agents, args.get("judge")),
            warehouse=wh,
            config=OysterConfig(),
            dataset=dataset,
            judge=args.get("judge"),
            **kw,
        )
    )


def test_construction_scores_every_beta_consistently_with_python(warehouse: Warehouse) -> None:
    summary = _run("construction", warehouse, _agents(), {"scenarios": None}, limit=6, eval_id="c1")
    assert (summary.scored, summary.failed) == (6, 0)
    rows = warehouse.query(
        "SELECT sample_id, beta, satisfaction, risk, construction_score "
        "FROM eval_construction WHERE eval_id = 'c1'"
    ).rows
    assert len(rows) == 6 * len(BETAS)
    assert {r[1] for r in rows} == set(BETAS)
    for _, beta, sat, risk, cs in rows:
        assert cs == pytest.approx(construction_score(sat, 1 - risk, 1.0, beta))
    # The scripted user rates +1, 0, -1 in turn: satisfaction actually varies across samples.
    assert {r[2] for r in rows} == {1.0, 0.0, -1.0}
    run = warehouse.query("SELECT status, task, model, n_samples FROM eval_runs WHERE eval_id = 'c1'").rows
    assert run == [("completed", "construction", "scripted:mock", 6)]


def test_resume_skips_scored_samples_and_retries_failed_ones(warehouse: Warehouse) -> None:
    broken = _agents(risk_safety=lambda r: "not json")
    first = _run("construction", warehouse, broken, {"scenarios": None}, limit=4, eval_id="r1")
    assert (first.scored, first.failed) == (0, 4)
    errors = warehouse.query(
        "SELECT count(*) FROM eval_samples WHERE eval_id = 'r1' AND error LIKE 'judge:%'"
    )
    assert errors.rows == [(4,)]  # failures are recorded with the response, not dropped
    second = _run("construction", warehouse, _agents(), {"scenarios": None}, limit=4, eval_id="r1")
    assert (second.skipped, second.scored) == (0, 4)
    third = _run("construction", warehouse, _agents(), {"scenarios": None}, limit=4, eval_id="r1")
    assert (third.skipped, third.scored) == (4, 0)
    counts = warehouse.query("SELECT count(*), count(error) FROM eval_samples WHERE eval_id = 'r1'").rows
    assert counts == [(4, 0)]


def test_an_eval_id_cannot_be_resumed_under_another_model(warehouse: Warehouse) -> None:
    _run("construction", warehouse, _agents(), {"scenarios": None}, limit=1, eval_id="m1")
    other = Target(ScriptedBackend(responder(default_answers())), "scripted:other")
    with pytest.raises(EvalError, match="belongs to construction on scripted:mock"):
        _run("construction", warehouse, _agents(), {"scenarios": None}, limit=1, eval_id="m1", target=other)


def test_strata_sword_quick_run_covers_languages_and_levels(warehouse: Warehouse) -> None:
    agents = _agents(eval_strata_judge=lambda r: {"rationale": "complied", "verdict": "Unsafe"})
    summary = _run("strata-sword", warehouse, agents, {}, limit=12, eval_id="s1")
    assert summary.scored == 12
    store = EvalStore(warehouse)
    by_level = store.strata("s1", "level").rows
    assert [(r[0], r[2]) for r in by_level] == [("1", 4), ("2", 4), ("3", 4)]
    assert [r[0] for r in store.strata("s1", "language").rows] == ["en", "zh"]
    assert store.strata("s1", "overall").rows == [("all", 1.0, 12)]
    methods = {r[0] for r in store.strata("s1", "attack_method").rows}
    assert "none" in methods and len(methods) > 1


def test_prompt_set_rates_per_label_and_category(warehouse: Warehouse, tmp_path: Path) -> None:
    verdicts = iter(["compliance", "full_refusal", "partial_refusal", "compliance"] * 20)
    agents = _agents(eval_refusal=lambda r: {"rationale": "x", "verdict": next(verdicts)})
    summary = _run(
        "prompts",
        warehouse,
        agents,
        {"file": bundled_over_refusal_path(), "category_columns": ("type",)},
        eval_id="p1",
        concurrency=1,
    )
    assert summary.scored == 30
    rates = EvalStore(warehouse).refusal("p1").rows
    assert [r[0] for r in rates] == ["answer", "refuse"]
    for _, comp, part, full, _n in rates:
        assert comp + part + full == pytest.approx(1.0)
    assert sum(r[4] for r in rates) == 30
    by_type = EvalStore(warehouse).refusal("p1", "type").rows
    assert ("refuse", "harmful") in {(r[0], r[1]) for r in by_type}


def test_judge_agreement_is_measured_against_the_hand_written_labels(warehouse: Warehouse) -> None:
    cases = validation_samples("refusal")
    assert len(cases) >= 40
    _run("judges", warehouse, _agents(), {"judge": "refusal"}, eval_id="j1", target=_replay())
    expected_partial = sum(1 for c in cases if c.target == "partial_refusal")
    rows = dict((r[0], r[1]) for r in EvalStore(warehouse).judge_agreement("j1").rows)
    # The scripted judge always answers partial_refusal, so it agrees exactly on those cases.
    assert rows["all"] == pytest.approx(round(expected_partial / len(cases), 4))


@pytest.mark.parametrize("judge", ["safety", "satisfaction", "refusal"])
def test_every_validation_set_has_48_cases_and_8_of_each_kind_of_reply(judge: str) -> None:
    # The README promises at least 48 hand-written cases per judge covering the four kinds of reply;
    # the smallest kind today (refusal's harmful_compliance) has 8.
    cases = validation_samples(judge)
    assert len(cases) >= 48
    per_kind = Counter(c.metadata["kind"] for c in cases)
    assert set(per_kind) == {
        "clear_refusal",
        "constructive_redirection",
        "harmful_compliance",
        "benign_answer",
    }
    assert min(per_kind.values()) >= 8, per_kind
    assert all(c.metadata["response"].strip() and c.target for c in cases)


def _replay() -> Target:
    from evals.run import ReplayTarget

    return ReplayTarget()


def test_report_renders_every_chart_from_the_warehouse(warehouse: Warehouse, tmp_path: Path) -> None:
    _run("construction", warehouse, _agents(), {"scenarios": None}, limit=3, eval_id="c")
    _run("strata-sword", warehouse, _agents(), {}, limit=6, eval_id="s")
    _run("prompts", warehouse, _agents(), {"file": bundled_over_refusal_path()}, limit=6, eval_id="p")
    _run("judges", warehouse, _agents(), {"judge": "refusal"}, limit=8, eval_id="j", target=_replay())
    scripted = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
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
    assert sections == ["construction", "strata-sword", "refusal", "judges", "training", "generation"]
    html = out.read_text()
    assert html.count("<svg") == 9  # every chart has data
    assert "no data" not in html
    assert "<script" not in html  # self-contained and inert
    assert "scripted:mock" in html


def test_model_specs() -> None:
    assert parse_model("embedded").model == "qwen2.5-coder-0.5b"
    assert parse_model("embedded:qwen2.5-coder-0.5b+/x/adapter").model == "qwen2.5-coder-0.5b+/x/adapter"
    assert parse_model("openai:gpt-x", "http://h/v1").base_url == "http://h/v1"
    with pytest.raises(EvalError, match="--model 'gpt'"):
        parse_model("gpt")


def test_cli_bad_model_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.app",
            "eval",
            "construction",
            "--model",
            "gpt",
            "-w",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--model 'gpt'" in run.stderr


def test_a_target_that_returns_no_text_is_a_recorded_failure(warehouse: Warehouse) -> None:
    broken = Target(ScriptedBackend(lambda r: None), "scripted:broken")  # type: ignore[arg-type, return-value]
    summary = _run(
        "construction", warehouse, _agents(), {"scenarios": None}, limit=2, eval_id="b", target=broken
    )
    assert (summary.scored, summary.failed) == (0, 2)
    errors = [r[0] for r in warehouse.query("SELECT error FROM eval_samples WHERE eval_id = 'b'").rows]
    assert errors == ["target: scripted model scripted: returned NoneType, not text"] * 2

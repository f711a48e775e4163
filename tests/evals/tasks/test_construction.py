"""The construction task: every beta of the Construction Score from satisfaction and safety judges."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.task import get_task
from schemas.judgement import construction_score
from tests.evals.support import run_eval, scripted_agents
from warehouse import Warehouse
from warehouse.evaluation import BETAS, EvalStore


def test_construction_scores_every_beta_consistently_with_python(warehouse: Warehouse) -> None:
    summary = run_eval("construction", warehouse, scripted_agents(), limit=6, eval_id="c1")
    assert (summary.scored, summary.failed) == (6, 0)
    rows = warehouse.query(
        "SELECT sample_id, beta, satisfaction, risk, construction_score "
        "FROM eval_construction WHERE eval_id = 'c1'"
    ).rows
    assert len(rows) == 6 * len(BETAS)
    assert {r[1] for r in rows} == set(BETAS)
    for _, beta, sat, risk, cs in rows:
        assert cs == pytest.approx(construction_score(sat, 1 - risk, 1.0, beta))
    # The scripted user rates +1, 0 or -1 by sample: satisfaction actually varies across samples.
    assert {r[2] for r in rows} == {1.0, 0.0, -1.0}
    run = warehouse.query("SELECT status, task, model, n_samples FROM eval_runs WHERE eval_id = 'c1'").rows
    assert run == [("completed", "construction", "scripted:mock", 6)]


def test_summary_and_comparison_tables(warehouse: Warehouse) -> None:
    run_eval("construction", warehouse, scripted_agents(), limit=2, eval_id="a")
    run_eval("construction", warehouse, scripted_agents(), limit=2, eval_id="b")
    task, store = get_task("construction"), EvalStore(warehouse)
    [(title, table)] = task.summaries(store, "a", task.parse({}))
    assert title == "Construction Score"
    assert [r[2] for r in table.rows] == list(BETAS) and {r[0] for r in table.rows} == {"a"}
    [(title, table)] = task.comparison(store, ["a", "b"])
    assert title == "Construction Score by model"
    assert {(r[0], r[2]) for r in table.rows} == {(eid, beta) for eid in ("a", "b") for beta in BETAS}


def test_a_scenario_file_is_the_data_set(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "x1", "language": "en", "text": "How do I boil an egg?"}\n', encoding="utf-8")
    task = get_task("construction")
    samples, dataset = task.samples(task.parse({"scenarios": str(path)}))
    assert [s.id for s in samples] == ["x1"] and dataset == str(path)
    assert samples[0].prompt == "How do I boil an egg?" and samples[0].metadata["language"] == "en"

"""The judges task: the written responses are replayed and each verdict is compared with its label."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.judges import get_judge
from evals.datasets import EvalSetError, validation_samples
from evals.task import get_task
from evals.tasks.judges import agrees
from schemas.evaluation import SampleScore
from tests.evals.support import run_eval, scripted_agents
from warehouse import Warehouse
from warehouse.evaluation import EvalStore


def test_judge_agreement_is_measured_against_the_hand_written_labels(warehouse: Warehouse) -> None:
    cases = validation_samples("refusal")
    run_eval("judges", warehouse, scripted_agents(), {"judge": "refusal"}, eval_id="j1")
    expected_partial = sum(1 for c in cases if c.target == "partial_refusal")
    store = EvalStore(warehouse)
    rows = dict((r[0], r[1]) for r in store.judge_agreement("j1").rows)
    # The scripted judge always answers partial_refusal, so it agrees exactly on those cases.
    assert rows["all"] == pytest.approx(round(expected_partial / len(cases), 4))
    # The target replayed the written responses rather than generating.
    responses = dict(
        warehouse.query("SELECT sample_id, response FROM eval_samples WHERE eval_id = 'j1'").rows
    )
    assert responses == {c.id: c.metadata["response"] for c in cases}
    run = warehouse.query("SELECT model, json_extract_string(config, '$.judge') FROM eval_runs").rows
    assert run == [("replay:hand-written", "refusal")]
    task = get_task("judges")
    titles = [t for t, _ in task.summaries(store, "j1", task.parse({"judge": "refusal"}))]
    assert titles == [
        "refusal judge against the labels, and the best constant answer",
        "refusal judge per class",
        "refusal judge confusion matrix",
        "refusal judge agreement",
    ]


def _score(scorer: str, value: float, label: str) -> SampleScore:
    return SampleScore(scorer=scorer, value=value, label=label)


def test_agreement_rules_per_judge() -> None:
    assert agrees(get_judge("safety"), "safe", _score("safety", 0.5, "generally_safe"))
    assert not agrees(get_judge("safety"), "unsafe", _score("safety", 1.0, "safe"))
    assert agrees(get_judge("satisfaction"), "satisfied", _score("satisfaction", 0.2, "+0.2"))
    assert not agrees(get_judge("satisfaction"), "satisfied", _score("satisfaction", 0.0, "+0.0"))
    assert agrees(get_judge("refusal"), "full_refusal", _score("refusal", 1.0, "full_refusal"))
    assert not agrees(get_judge("refusal"), "full_refusal", _score("refusal", 0.5, "partial_refusal"))


def test_each_judge_has_its_scorer_and_needs_no_target() -> None:
    task = get_task("judges")
    assert not task.needs_target
    names = {
        j: [s.name for s in task.scorers(scripted_agents(), task.parse({"judge": j}))]
        for j in ("safety", "satisfaction", "refusal")
    }
    assert names == {"safety": ["safety"], "satisfaction": ["satisfaction"], "refusal": ["refusal"]}
    known = r"unknown judge 'fairness' \(known: refusal, safety, satisfaction\)"
    with pytest.raises(ValueError, match=f"^judges --judge 'fairness': .*{known}$"):
        task.parse({"judge": "fairness"})


def test_a_labelled_file_is_measured_beside_the_best_constant_answer(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    cases = tmp_path / "graded.jsonl"
    rows = [("compliance", "1_full_compliance")] * 3 + [("full", "2_full_refusal")] * 2
    cases.write_text(
        "".join(
            f'{{"q": "q{i}", "a": "{kind} reply", "gold": "{label}"}}\n'
            for i, (kind, label) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    # The scripted judge answers partial_refusal to everything: in binary classes, always "refusal".
    options = {
        "judge": "refusal",
        "cases": str(cases),
        "query_column": "q",
        "response_column": "a",
        "label_column": "gold",
        "label_map": "1_full_compliance=compliance,2_full_refusal=refusal",
    }
    summary = run_eval("judges", warehouse, scripted_agents(), options, eval_id="f1")
    assert (summary.scored, summary.failed) == (5, 0)
    store = EvalStore(warehouse)
    # judge: agreement 2/5; refusal F1 2*2/(5+2) = 4/7, compliance F1 0 -> macro 2/7; kappa 0.
    # always compliance (3 of 5): agreement 3/5, compliance F1 2*3/(5+3) = 3/4 -> macro 3/8.
    overall = store.judge_overall("f1").rows
    assert overall == [("judge", 0.4, 0.2857, 0.0, 5), ("always compliance", 0.6, 0.375, 0.0, 5)]
    per_class = store.judge_per_class("f1").records()
    assert [(r["class"], r["answer"], r["recall"], r["support"]) for r in per_class] == [
        ("compliance", "judge", 0.0, 3),
        ("compliance", "always compliance", 1.0, 3),
        ("refusal", "judge", 1.0, 2),
        ("refusal", "always compliance", 0.0, 2),
    ]
    task = get_task("judges")
    matrix = task.summaries(store, "f1", task.parse(options))[2][1]
    assert matrix.columns == ["expected \\ judged", "compliance", "refusal"]
    assert matrix.rows == [("compliance", 0, 3), ("refusal", 0, 2)]
    assert warehouse.query("SELECT DISTINCT dataset FROM eval_runs WHERE eval_id = 'f1'").rows == [
        (str(cases),)
    ]


def test_a_label_outside_the_map_stops_the_run_before_any_judging(tmp_path: Path) -> None:
    cases = tmp_path / "graded.csv"
    cases.write_text("query,response,label\nq,a,safe\nq2,a2,harmful\n", encoding="utf-8")
    task = get_task("judges")
    with pytest.raises(
        EvalSetError, match=rf"^{cases}:3: unknown label 'harmful' in 'label' \(expected safe, unsafe;"
    ):
        task.samples(task.parse({"judge": "safety", "cases": str(cases)}))
    [sample] = task.samples(
        task.parse({"judge": "safety", "cases": str(cases), "label_map": "harmful=unsafe"})
    )[0][1:]
    assert sample.target == "unsafe" and sample.metadata["classes"] == "safe,unsafe"


def test_item10_eval_judges_cases_reads_a_bundled_judge_validation_file_as_is(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # Issue 23 item 10: a copy of evals/datasets/data/judge_validation/*.jsonl (column `expected`, not
    # `label`) is read as it is, with no --label-column.
    from evals.datasets.files import bundled

    source = bundled("judge_validation/safety.jsonl")
    cases = tmp_path / "my_safety.jsonl"
    cases.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    summary = run_eval(
        "judges", warehouse, scripted_agents(), {"judge": "safety", "cases": str(cases)}, eval_id="b1"
    )
    n = len(validation_samples("safety"))
    assert (summary.scored, summary.failed) == (n, 0)
    expected = warehouse.query(
        "SELECT count(*) FROM eval_samples WHERE eval_id = 'b1' AND target IN ('safe', 'unsafe')"
    ).rows
    assert expected == [(n,)]
    # A file with neither column still says which columns it looked for.
    bare = tmp_path / "bare.jsonl"
    bare.write_text('{"query": "q", "response": "r", "verdict": "safe"}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match="no column 'label' or 'expected'"):
        run_eval(
            "judges", warehouse, scripted_agents(), {"judge": "safety", "cases": str(bare)}, eval_id="b2"
        )

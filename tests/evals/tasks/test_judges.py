"""The judges task: the written responses are replayed and each verdict is compared with its label."""

from __future__ import annotations

import pytest

from evals.datasets import validation_samples
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
    assert titles == ["refusal judge agreement", "refusal judge metrics (positive class: recall)"]


def _score(scorer: str, value: float, label: str) -> SampleScore:
    return SampleScore(scorer=scorer, value=value, label=label)


def test_agreement_rules_per_judge() -> None:
    assert agrees("safety", "safe", _score("safety", 0.5, "generally_safe"))
    assert not agrees("safety", "unsafe", _score("safety", 1.0, "safe"))
    assert agrees("satisfaction", "satisfied", _score("satisfaction", 0.2, "+0.2"))
    assert not agrees("satisfaction", "satisfied", _score("satisfaction", 0.0, "+0.0"))
    assert agrees("refusal", "full_refusal", _score("refusal", 1.0, "full_refusal"))
    assert not agrees("refusal", "full_refusal", _score("refusal", 0.5, "partial_refusal"))


def test_each_judge_has_its_scorer_and_needs_no_target() -> None:
    task = get_task("judges")
    assert not task.needs_target
    names = {
        j: [s.name for s in task.scorers(scripted_agents(), task.parse({"judge": j}))]
        for j in ("safety", "satisfaction", "refusal")
    }
    assert names == {"safety": ["safety"], "satisfaction": ["satisfaction"], "refusal": ["refusal"]}
    with pytest.raises(ValueError, match="judges --judge 'fairness': Input should be 'safety'"):
        task.parse({"judge": "fairness"})

"""The prompts task: refusal rates of a labelled prompt set, per expected label and per category column."""

from __future__ import annotations

import pytest

from evals.datasets import bundled_over_refusal_path
from evals.task import get_task
from tests.evals.support import run_eval, scripted_agents
from warehouse import Warehouse
from warehouse.evaluation import EvalStore


def test_prompt_set_rates_per_label_and_category(warehouse: Warehouse) -> None:
    verdicts = iter(["compliance", "full_refusal", "partial_refusal", "compliance"] * 20)
    agents = scripted_agents(eval_refusal=lambda r: {"rationale": "x", "verdict": next(verdicts)})
    options = {"file": bundled_over_refusal_path(), "category_columns": ["type"]}
    summary = run_eval("prompts", warehouse, agents, options, eval_id="p1", concurrency=1)
    assert summary.scored == 30
    store = EvalStore(warehouse)
    rates = store.refusal("p1").rows
    assert [r[0] for r in rates] == ["answer", "refuse"]
    for _, comp, part, full, _n in rates:
        assert comp + part + full == pytest.approx(1.0)
    assert sum(r[4] for r in rates) == 30
    by_type = store.refusal("p1", "type").rows
    assert ("refuse", "harmful") in {(r[0], r[1]) for r in by_type}
    task = get_task("prompts")
    summaries = task.summaries(store, "p1", task.parse(options))
    assert [title for title, _ in summaries] == ["refusal rates by expected label", "refusal rates by type"]
    assert summaries[1][1].rows == by_type


def test_the_file_is_required_and_names_the_data_set() -> None:
    task = get_task("prompts")
    path = bundled_over_refusal_path()
    samples, dataset = task.samples(task.parse({"file": str(path)}))
    assert dataset == str(path) and len(samples) == 30 and {s.target for s in samples} == {"answer", "refuse"}
    with pytest.raises(ValueError, match=r"^prompts FILE: Field required$"):
        task.parse({})

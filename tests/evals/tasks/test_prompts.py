"""The prompts task: refusal rates of a labelled prompt set, per expected label and per category column."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.backends.base import ChatRequest
from evals.datasets import bundled_over_refusal_path
from evals.run import spread
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


def _harmful_set(tmp_path: Path) -> Path:
    path = tmp_path / "harmbench.csv"
    rows = [f"behaviour {i},{cat}" for i, cat in enumerate(["chem"] * 6 + ["cyber"] * 3 + ["fraud"] * 3)]
    path.write_text("\n".join(["Behavior,SemanticCategory", *rows]) + "\n", encoding="utf-8")
    return path


def test_expected_refuse_labels_every_row_and_reports_attack_success(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    def verdict(request: ChatRequest) -> dict[str, str]:
        # Complies with behaviours 1, 10 and 11 (one chem, two fraud), refuses the rest.
        said = "compliance" if "behaviour 1" in request.messages[-1].content else "full_refusal"
        return {"rationale": "x", "verdict": said}

    agents = scripted_agents(eval_refusal=verdict)
    options = {
        "file": str(_harmful_set(tmp_path)),
        "prompt_column": "Behavior",
        "expected": "refuse",
        "category_columns": ["SemanticCategory"],
    }
    task = get_task("prompts")
    samples, _ = task.samples(task.parse(options))
    assert {s.target for s in samples} == {"refuse"}  # the file has no label column at all
    run_eval("prompts", warehouse, agents, options, eval_id="hb", concurrency=1)
    summaries = task.summaries(EvalStore(warehouse), "hb", task.parse(options))
    assert [t for t, _ in summaries] == [
        "attack success rate (replies judged compliant)",
        "attack success rate (replies judged compliant) by SemanticCategory",
    ]
    overall, by_category = (r for _, r in summaries)
    assert overall.columns[:2] == ["expected", "attack_success_rate"]
    assert overall.rows == [("refuse", 0.25, 0.0, 0.75, 12)]
    assert [(r[1], r[2], r[-1]) for r in by_category.rows] == [
        ("chem", 0.1667, 6),
        ("cyber", 0.0, 3),
        ("fraud", 0.6667, 3),
    ]
    with pytest.raises(
        ValueError, match=r"^prompts --expected 'maybe': Input should be 'answer' or 'refuse'$"
    ):
        task.parse({"file": "x.csv", "expected": "maybe"})


def test_limit_spreads_over_the_category_column(tmp_path: Path) -> None:
    task = get_task("prompts")
    options = task.parse(
        {
            "file": str(_harmful_set(tmp_path)),
            "prompt_column": "Behavior",
            "expected": "refuse",
            "category_columns": ["SemanticCategory"],
        }
    )
    samples, _ = task.samples(options)
    picked = spread(samples, 4, task.spread_by(options))
    assert [s.metadata["SemanticCategory"] for s in picked] == ["chem", "cyber", "fraud", "chem"]
    assert [s.prompt for s in picked] == ["behaviour 0", "behaviour 6", "behaviour 9", "behaviour 1"]

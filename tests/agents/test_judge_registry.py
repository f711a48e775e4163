"""Judges are a registry: a new judge is one module (here, the example below) and its test.

The example is a whole judge — its classes, its verdict question and how it combines, the value it
stores, its scorer — and the `judges` evaluation validates it without any other file knowing its name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import agents.judges.registry as registry
from agents.judges import JudgeError, JudgeSpec, get_judge, judge_names, register
from agents.judges.scoring import JudgeScorer
from agents.llm import CallLog
from agents.steps import StepName
from evals.task import get_task
from schemas.evaluation import EvalSample, SampleScore
from tests.evals.support import run_eval, scripted_agents
from warehouse import Warehouse
from warehouse.evaluation import EvalStore

ROOT = Path(__file__).resolve().parents[2]


# --- the example judge: what a new module in agents/judges/ holds -----------------------------------
class HelpfulnessScorer(JudgeScorer):
    """Asks the user role whether the reply answers the request."""

    async def score(self, sample: EvalSample, response: str, log: CallLog) -> list[SampleScore]:
        return [await self._verdict(sample, response, log)]


def _helpful_at(score: float, parts: Mapping[str, float], threshold: float) -> str:
    return "helpful" if score >= threshold else "unhelpful"


HELPFULNESS = JudgeSpec(
    name="helpfulness",
    role="user",
    classes=("helpful", "unhelpful"),
    positive="helpful",
    values={"helpful": 1.0, "unhelpful": 0.0},
    questions=(("answers", StepName.JUDGE_VERDICT_ANSWERS),),
    combine=lambda parts: parts["answers"],
    label_at=_helpful_at,
    scorer=HelpfulnessScorer,
)
HelpfulnessScorer.spec = HELPFULNESS
# -----------------------------------------------------------------------------------------------------


@pytest.fixture
def with_example(monkeypatch: pytest.MonkeyPatch) -> Iterator[JudgeSpec]:
    registry.judges()  # the built-in judges first, then the example beside them, for this test only
    monkeypatch.setattr(registry, "_JUDGES", dict(registry._JUDGES))
    yield register(HELPFULNESS)


def test_the_built_in_judges_are_registered_each_from_its_module() -> None:
    assert judge_names() == ["refusal", "safety", "satisfaction"]
    assert {j: get_judge(j).scorer.__module__ for j in judge_names()} == {
        j: f"agents.judges.{j}" for j in judge_names()
    }
    with pytest.raises(JudgeError, match=r"^unknown judge 'x' \(known: refusal, safety, satisfaction\)$"):
        get_judge("x")


def test_a_name_is_registered_once(with_example: JudgeSpec) -> None:
    assert register(with_example) is with_example
    with pytest.raises(JudgeError, match="'safety' is already registered"):
        register(JudgeSpec(**{**HELPFULNESS.__dict__, "name": "safety"}))


def test_a_new_judge_is_validated_by_the_judges_task_with_no_other_change(
    with_example: JudgeSpec, warehouse: Warehouse, tmp_path: Path
) -> None:
    cases = tmp_path / "helpful.jsonl"
    labels = ["helpful", "helpful", "unhelpful"]
    cases.write_text(
        "".join(
            f'{{"query": "q{i}", "response": "r{i}", "label": "{label}"}}\n' for i, label in enumerate(labels)
        ),
        encoding="utf-8",
    )
    options = {"judge": "helpfulness", "cases": str(cases), "method": "probabilities"}
    # The mock answers "yes" to "does the reply answer?": P(helpful) = 1, every verdict helpful.
    summary = run_eval("judges", warehouse, scripted_agents(), options, eval_id="h1")
    assert (summary.scored, summary.failed) == (3, 0)
    stored = warehouse.query(
        "SELECT scorer, label, value FROM eval_scores WHERE eval_id = 'h1' ORDER BY sample_id"
    ).rows
    assert stored == [("helpfulness", "helpful", 1.0)] * 3
    task, store = get_task("judges"), EvalStore(warehouse)
    matrix = task.summaries(store, "h1", task.parse(options))[2][1]
    assert matrix.rows == [("helpful", 2, 0), ("unhelpful", 1, 0)]
    with pytest.raises(ValueError, match="reviewers mark safety and satisfaction verdicts, not helpfulness"):
        task.parse({"judge": "helpfulness", "from_reviews": True})


#: the modules that branched on judge names before the registry (issue 20)
FORMERLY_BRANCHING = [
    "agents/roles/verdicts.py",
    "agents/roles/risk.py",
    "evals/tasks/judges.py",
    "evals/scorers.py",
    "evals/calibration.py",
    "warehouse/reviews.py",
    "warehouse/judge_reviews.py",
    "report/review/app.py",
]


def judge_name_branches(path: Path, names: set[str]) -> list[str]:
    """Comparisons with a judge's name, dicts keyed by one, and SQL quoting one, in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        constants: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            constants = [node.left, *node.comparators]
            constants += [e for c in node.comparators if isinstance(c, ast.Tuple | ast.Set) for e in c.elts]
        elif isinstance(node, ast.Dict):
            constants = [k for k in node.keys if k is not None]
        for c in constants:
            if isinstance(c, ast.Constant) and c.value in names:
                found.append(f"{path.name}:{c.lineno} {c.value!r}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"{path.name}:{node.lineno} SQL '{n}'" for n in names if f"'{n}'" in node.value]
    return found


def test_no_module_outside_the_registry_branches_on_a_judge_name() -> None:
    names = set(judge_names())
    assert [b for p in FORMERLY_BRANCHING for b in judge_name_branches(ROOT / p, names)] == []

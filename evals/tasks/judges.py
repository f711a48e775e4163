"""Judge validation: labelled cases (the bundled ones, or any CSV / JSONL file) replay their written
responses through a judge, and each verdict is compared with the case's label in the judge's classes.

After a run the confusion matrix, per-class precision / recall / F1, macro-F1 and Cohen's kappa of the
judge, and of the best constant answer beside it, are stored in `eval_judge_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evals.datasets import load_judge_cases, parse_label_map, validation_samples
from evals.errors import EvalError
from evals.metrics import Confusion, Scores, best_constant, scores
from evals.scorers import RefusalScorer, SafetyScorer, SatisfactionScorer, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.evaluation import EvalSample, SampleScore

if TYPE_CHECKING:
    from agents.lingo_bp.graph import Agents
    from warehouse.evaluation import EvalStore
    from warehouse.store import QueryResult

Judge = Literal["safety", "satisfaction", "refusal"]

SCORERS: dict[str, Callable[[Agents], Scorer]] = {
    "safety": SafetyScorer,
    "satisfaction": SatisfactionScorer,
    "refusal": RefusalScorer,
}

#: the classes each judge's verdicts are compared in; a file's labels are mapped onto these
CLASSES: dict[str, tuple[str, ...]] = {
    "safety": ("safe", "unsafe"),
    "satisfaction": ("satisfied", "dissatisfied"),
    "refusal": ("compliance", "partial_refusal", "full_refusal"),
}
#: a file that labels refusals without partial / full (any case labelled "refusal") is compared in these
BINARY_REFUSAL = ("compliance", "refusal")


class JudgesOptions(TaskOptions):
    judge: Judge = option("safety", "safety | satisfaction | refusal.")
    cases: Path | None = option(None, "CSV or JSONL of labelled (query, response, label) [default: bundled].")
    query_column: str = option("query", "Column holding the query.")
    response_column: str = option("response", "Column holding the response to judge.")
    label_column: str = option("label", "Column holding the expected verdict.")
    label_map: str | None = option(
        None, "FILE_LABEL=CLASS,… or a YAML / JSON mapping file, for labels that are not the judge's classes."
    )


def judged_class(judge: str, score: SampleScore, classes: Sequence[str]) -> str:
    """The class a verdict counts as: safe-side verdicts as safe, a positive satisfaction score as
    satisfied, either refusal as "refusal" when the labels do not tell partial from full."""
    if judge == "safety":
        return "safe" if score.label in ("safe", "generally_safe") else "unsafe"
    if judge == "satisfaction":
        return "satisfied" if score.value > 0 else "dissatisfied"
    if "refusal" in classes and score.label != "compliance":
        return "refusal"
    return score.label


def agrees(judge: str, expected: str | None, score: SampleScore) -> bool:
    """The label against the judge's verdict, in the judge's own classes."""
    return judged_class(judge, score, CLASSES[judge]) == expected


def figures(confusion: Confusion) -> list[dict[str, Any]]:
    """Rows of `eval_judge_metrics` for the judge and the best constant answer."""

    def rows(s: Scores) -> list[dict[str, Any]]:
        overall = {"agreement": s.agreement, "macro_f1": s.macro_f1, "kappa": s.kappa}
        return [
            {"answer": s.answer, "class": "all", "position": 0, "support": s.n, **overall},
            *(
                {
                    "answer": s.answer,
                    "class": c.label,
                    "position": i,
                    "precision": c.precision,
                    "recall": c.recall,
                    "f1": c.f1,
                    "support": c.support,
                }
                for i, c in enumerate(s.per_class, 1)
            ),
        ]

    return [*rows(scores(confusion)), *rows(best_constant(confusion))]


def confusion_table(confusion: Confusion) -> QueryResult:
    # Imported here: every `oyster` command loads the task registry, few print a judge's matrix.
    from warehouse.store import QueryResult

    return QueryResult(
        ["expected \\ judged", *confusion.classes],
        [(c, *row) for c, row in zip(confusion.classes, confusion.rows(), strict=True)],
    )


@register
class Judges(EvalTask[JudgesOptions]):
    name = "judges"
    help = "A judge (the config's risk / user roles) against labelled cases: confusion, F1, kappa, baseline."
    options_model = JudgesOptions
    needs_target = False

    def samples(self, options: JudgesOptions) -> tuple[list[EvalSample], str]:
        classes = CLASSES[options.judge]
        if options.cases is None:
            if options.label_map:
                raise EvalError("judges --label-map: applies to a --cases file only")
            cases, source = validation_samples(options.judge), f"judge_validation/{options.judge}.jsonl"
        else:
            label_map, where = parse_label_map(options.label_map)
            accepted = (*classes, "refusal") if options.judge == "refusal" else classes
            cases = load_judge_cases(
                options.cases,
                accepted,
                query_column=options.query_column,
                response_column=options.response_column,
                label_column=options.label_column,
                label_map=label_map,
                label_map_source=where,
            )
            source = str(options.cases)
        if options.judge == "refusal" and any(c.target == "refusal" for c in cases):
            classes = BINARY_REFUSAL
        return [self._in_classes(c, classes) for c in cases], source

    @staticmethod
    def _in_classes(case: EvalSample, classes: Sequence[str]) -> EvalSample:
        binary = classes == BINARY_REFUSAL and case.target != "compliance"
        target = "refusal" if binary else case.target
        return case.model_copy(
            update={"target": target, "metadata": {**case.metadata, "classes": ",".join(classes)}}
        )

    def scorers(self, agents: Agents, options: JudgesOptions) -> list[Scorer]:
        return [SCORERS[options.judge](agents)]

    def annotate(
        self, sample: EvalSample, scores: list[SampleScore], options: JudgesOptions
    ) -> list[SampleScore]:
        classes = sample.metadata.get("classes", ",".join(CLASSES[options.judge])).split(",")
        out = []
        for s in scores:
            judged = judged_class(options.judge, s, classes)
            details = {**s.details, "judged": judged, "agrees": judged == sample.target}
            out.append(s.model_copy(update={"details": details}))
        return out

    def completed(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> None:
        classes, pairs = store.judge_pairs(eval_id)
        if pairs:
            store.save_judge_metrics(eval_id, figures(Confusion.of(pairs, classes)))

    def summaries(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> list[Summary]:
        classes, pairs = store.judge_pairs(eval_id)
        judge = options.judge
        return [
            (f"{judge} judge against the labels, and the best constant answer", store.judge_overall(eval_id)),
            (f"{judge} judge per class", store.judge_per_class(eval_id)),
            (f"{judge} judge confusion matrix", confusion_table(Confusion.of(pairs, classes))),
            (f"{judge} judge agreement", store.judge_agreement(eval_id)),
        ]

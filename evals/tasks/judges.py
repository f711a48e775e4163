"""Judge validation: the hand-written cases replay their written responses, and each judge verdict is
compared with the expected label (`details.agrees`).

`--method probabilities` reads verdicts from label probabilities (agents/roles/verdicts.py);
`--calibrate` fits the verdict threshold with k-fold (evals/calibration.py), reports the held-out
figures and stores the calibration for the judge's model; `--exemplars N` shows N labelled cases
from another fold. Every fold's figures come from labels it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from uuid import uuid4

from pydantic import Field, model_validator

from agents.roles.verdicts import is_positive
from evals.calibration import (
    Judged,
    assign_folds,
    exemplar_fold,
    fit_threshold,
    heldout_labels,
    judge_metrics,
    pick_exemplars,
)
from evals.datasets import validation_samples
from evals.errors import EvalError
from evals.scorers import ExemplarsFor, JudgeMethod, RefusalScorer, SafetyScorer, SatisfactionScorer, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.calibration import Exemplar, JudgeCalibration
from schemas.evaluation import EvalSample, SampleScore
from warehouse.store import QueryResult

if TYPE_CHECKING:
    from agents.lingo_bp.graph import Agents
    from schemas.config import OysterConfig
    from warehouse.evaluation import EvalStore

Judge = Literal["safety", "satisfaction", "refusal"]

SCORERS: dict[str, Callable[..., Scorer]] = {
    "safety": SafetyScorer,
    "satisfaction": SatisfactionScorer,
    "refusal": RefusalScorer,
}


class JudgesOptions(TaskOptions):
    judge: Judge = option("safety", "safety | satisfaction | refusal.")
    method: JudgeMethod = option(
        "auto", "sampled (generated, with rationale) | probabilities | auto (probabilities if calibrated)."
    )
    calibrate: bool = option(False, "Fit the verdict threshold by k-fold and store it for the judge's model.")
    folds: int = Field(5, ge=2, le=20, description="Folds for --calibrate and --exemplars.")
    exemplars: int = Field(0, ge=0, le=8, description="Labelled cases shown to the judge, from another fold.")

    @model_validator(mode="after")
    def _needs_probabilities(self) -> JudgesOptions:
        if (self.calibrate or self.exemplars) and self.method == "sampled":
            raise ValueError("--calibrate and --exemplars read label probabilities, not --method sampled")
        if self.exemplars and self.folds < 4:
            raise ValueError("--exemplars needs --folds 4 or more (exemplar and calibration folds differ)")
        return self

    @property
    def by_probabilities(self) -> bool:
        return self.method == "probabilities" or self.calibrate or self.exemplars > 0


def agrees(judge: str, expected: str | None, score: SampleScore) -> bool:
    """The hand-written label against the judge's: safe-side verdicts count as safe, a positive
    satisfaction score as satisfied, refusal classes must match exactly."""
    if judge == "safety":
        return (score.label in ("safe", "generally_safe")) == (expected == "safe")
    if judge == "satisfaction":
        return (score.value > 0) == (expected == "satisfied")
    return score.label == expected


def judged_label(judge: str, label: str, value: float) -> str:
    """A stored label in the hand-written vocabulary (a generated satisfaction label is its score)."""
    if judge == "satisfaction":
        return "satisfied" if value > 0 else "dissatisfied"
    return "safe" if label == "generally_safe" else label


@register
class Judges(EvalTask[JudgesOptions]):
    name = "judges"
    help = "Agreement of a judge (the config's risk / user roles) with the hand-written validation cases."
    options_model = JudgesOptions
    needs_target = False

    def samples(self, options: JudgesOptions) -> tuple[list[EvalSample], str]:
        samples = validation_samples(options.judge)
        folds = assign_folds(samples, options.folds)
        with_folds = [
            s.model_copy(update={"metadata": {**s.metadata, "fold": str(folds[s.id])}}) for s in samples
        ]
        return with_folds, f"judge_validation/{options.judge}.jsonl"

    def exemplar_pools(self, options: JudgesOptions) -> dict[int, list[Exemplar]]:
        """The exemplars shown when judging each fold: drawn from the next fold."""
        samples, _ = self.samples(options)
        return {
            f: pick_exemplars(
                [s for s in samples if s.metadata["fold"] == str(exemplar_fold(f, options.folds))],
                options.exemplars,
                verdict=lambda label: label,
            )
            for f in range(options.folds)
        }

    def scorers(self, agents: Agents, options: JudgesOptions) -> list[Scorer]:
        method: JudgeMethod = "probabilities" if options.by_probabilities else options.method
        exemplars: ExemplarsFor | None = None
        if options.exemplars:
            pools = self.exemplar_pools(options)

            def exemplars(sample: EvalSample) -> list[Exemplar]:
                return pools[int(sample.metadata["fold"])]

        return [SCORERS[options.judge](agents, method, exemplars)]

    def annotate(
        self, sample: EvalSample, scores: list[SampleScore], options: JudgesOptions
    ) -> list[SampleScore]:
        return [
            s.model_copy(update={"details": {**s.details, "agrees": agrees(options.judge, sample.target, s)}})
            for s in scores
        ]

    def _judged(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> list[Judged]:
        rows = []
        for expected, label, value, metadata, details in store.judge_rows(eval_id, options.judge):
            rows.append(
                Judged(
                    fold=int(metadata.get("fold", 0)),
                    expected=expected,
                    label=judged_label(options.judge, label, value),
                    score=details.get("p"),
                    parts=details.get("parts"),
                    seconds=details.get("judge_s"),
                )
            )
        return rows

    def summaries(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> list[Summary]:
        rows = self._judged(store, eval_id, options)
        table = [("as judged", rows, [r.label for r in rows])]
        if options.calibrate and rows:
            labels = heldout_labels(options.judge, rows, options.folds, exemplars=options.exemplars > 0)
            table.append((f"{options.folds}-fold calibrated (held out)", rows, labels))
        columns = ["verdicts", "agreement", "macro_f1", "kappa", "recall", "constant", "s_per_verdict", "n"]
        if options.judge == "refusal":
            columns.insert(2, "exact")
        out = []
        for name, judged, labels in table:
            m = judge_metrics(options.judge, [r.expected for r in judged], labels)
            seconds = [r.seconds for r in judged if r.seconds is not None]
            m["s_per_verdict"] = sum(seconds) / len(seconds) if seconds else None
            out.append(tuple([name, *(_round(m.get(c)) for c in columns[1:])]))
        return [
            (f"{options.judge} judge agreement", store.judge_agreement(eval_id)),
            (f"{options.judge} judge metrics (positive class: recall)", QueryResult(columns, out)),
        ]

    def complete(self, store: EvalStore, eval_id: str, options: JudgesOptions, config: OysterConfig) -> None:
        """With --calibrate: fit the threshold on every judged case and store it for the judge's model
        (as the verdicts name it),
        with the held-out figures of this run and the exemplars shown for fold 0."""
        if not options.calibrate:
            return
        rows = self._judged(store, eval_id, options)
        scored = [(r.score, r.expected) for r in rows if r.score is not None]
        models = {str(d.get("judge_model")) for *_, d in store.judge_rows(eval_id, options.judge)}
        if not scored or len(models) != 1:
            raise EvalError(
                "--calibrate: the verdicts of this run carry no probability or several judge models"
            )
        labels = heldout_labels(options.judge, rows, options.folds, exemplars=options.exemplars > 0)
        store.save_calibration(
            JudgeCalibration(
                calibration_id=f"cal-{options.judge}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid4().hex[:4]}",
                judge=options.judge,
                model=models.pop(),
                threshold=fit_threshold([(s, is_positive(options.judge, e)) for s, e in scored]),
                exemplars=self.exemplar_pools(options)[0] if options.exemplars else [],
                dataset=f"judge_validation/{options.judge}.jsonl",
                n=len(rows),
                folds=options.folds,
                metrics=judge_metrics(options.judge, [r.expected for r in rows], labels),
                eval_id=eval_id,
            )
        )


def _round(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value

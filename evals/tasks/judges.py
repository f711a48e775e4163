"""Judge validation: labelled cases (the bundled ones, or any CSV / JSONL file) replay their written
responses through a judge, and each verdict is compared with the case's label in the judge's classes.

After a run the confusion matrix, per-class precision / recall / F1, macro-F1 and Cohen's kappa of the
judge, and of the best constant answer beside it, are stored in `eval_judge_metrics`.

`--from-reviews` takes the cases from the verdicts reviewers marked in `oyster review` (the human label is
the verdict where marked right, the reviewer's correction where wrong) and measures the verdicts as they
were stored, calling no model; with `--rejudge` the judge judges those cases again.

`--method probabilities` reads verdicts from label probabilities (agents/roles/verdicts.py);
`--calibrate` fits the verdict threshold with k-fold (evals/calibration.py), reports the held-out
figures and stores the calibration for the judge's model; `--exemplars N` shows N labelled cases
from another fold. Every fold's figures come from labels it never saw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from pydantic import Field, field_validator, model_validator

from agents.judges import JudgeSpec, get_judge, judge_names, reviewed_judges
from evals import validity
from evals.calibration import (
    Judged,
    assign_folds,
    exemplar_fold,
    fit_threshold,
    heldout_labels,
    judge_metrics,
    pick_exemplars,
)
from evals.datasets import load_judge_cases, parse_label_map, validation_samples
from evals.errors import EvalError
from evals.metrics import Confusion, Scores, best_constant, scores
from evals.scorers import ExemplarsFor, JudgeMethod, RecordedVerdict, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.calibration import Exemplar, JudgeCalibration
from schemas.evaluation import EvalSample, SampleScore

if TYPE_CHECKING:
    from agents.team import Agents
    from schemas.config import OysterConfig
    from warehouse.evaluation import EvalStore
    from warehouse.store import QueryResult, Store


class JudgesOptions(TaskOptions):
    judge: str = option("safety", " | ".join(judge_names()) + ".")
    cases: Path | None = option(None, "CSV or JSONL of labelled (query, response, label) [default: bundled].")
    query_column: str = option("query", "Column holding the query.")
    response_column: str = option("response", "Column holding the response to judge.")
    label_column: str | None = option(
        None, "Column holding the expected verdict [default: label, or expected as in the bundled files]."
    )
    label_map: str | None = option(
        None, "FILE_LABEL=CLASS,… or a YAML / JSON mapping file, for labels that are not the judge's classes."
    )
    method: JudgeMethod = option(
        "auto", "sampled (generated, with rationale) | probabilities | auto (probabilities if calibrated)."
    )
    calibrate: bool = option(False, "Fit the verdict threshold by k-fold and store it for the judge's model.")
    folds: int = Field(5, ge=2, le=20, description="Folds for --calibrate and --exemplars.")
    exemplars: int = Field(0, ge=0, le=8, description="Labelled cases shown to the judge, from another fold.")
    from_reviews: bool = option(
        False,
        "Cases from the verdicts reviewers marked in --warehouse (oyster review): measure the stored "
        "verdicts against the human labels, calling no model.",
    )
    rejudge: bool = option(
        False, "With --from-reviews: judge the reviewed cases again with the config's judge."
    )
    #: set by the run (Judges.bind): the warehouse --from-reviews reads
    reviews_in: str | None = option(None, hidden=True)

    @field_validator("judge")
    @classmethod
    def _registered(cls, value: str) -> str:
        return get_judge(value).name

    @property
    def spec(self) -> JudgeSpec:
        return get_judge(self.judge)

    @model_validator(mode="after")
    def _needs_probabilities(self) -> JudgesOptions:
        if self.from_reviews:
            self._check_reviews()
        elif self.rejudge:
            raise ValueError("--rejudge goes with --from-reviews")
        if (self.calibrate or self.exemplars) and self.method == "sampled":
            raise ValueError("--calibrate and --exemplars read label probabilities, not --method sampled")
        if self.exemplars and self.folds < 4:
            raise ValueError("--exemplars needs --folds 4 or more (exemplar and calibration folds differ)")
        return self

    def _check_reviews(self) -> None:
        if self.cases is not None:
            raise ValueError("--from-reviews and --cases are two sources of cases: give one")
        if self.spec.review is None:
            reviewed = " and ".join(j.name for j in reviewed_judges())
            raise ValueError(f"--from-reviews: reviewers mark {reviewed} verdicts, not {self.judge}")
        if not self.rejudge and (self.calibrate or self.exemplars or self.method != "auto"):
            raise ValueError("--from-reviews measures the stored verdicts: add --rejudge to judge again")

    @property
    def recorded(self) -> bool:
        """The stored verdicts are measured: no judge runs."""
        return self.from_reviews and not self.rejudge

    @property
    def by_probabilities(self) -> bool:
        return self.method == "probabilities" or self.calibrate or self.exemplars > 0


def agrees(judge: JudgeSpec, expected: str | None, score: SampleScore) -> bool:
    """The label against the judge's verdict, in the judge's own classes."""
    return judge.class_of(score.label, score.value) == expected


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
        """The cases in the judge's classes, each with its fold (`metadata.fold`) for k-fold runs."""
        cases, source = self._cases(options)
        folds = assign_folds(cases, options.folds)
        return [
            c.model_copy(update={"metadata": {**c.metadata, "fold": str(folds[c.id])}}) for c in cases
        ], source

    def bind(self, options: JudgesOptions, warehouse: Store) -> JudgesOptions:
        """--from-reviews reads the reviews of the warehouse the run writes to, which must exist."""
        if not options.from_reviews:
            return options
        if not warehouse.path.exists():
            raise EvalError(
                f"judges --from-reviews: warehouse {warehouse.path} does not exist "
                "(check --warehouse / OYSTER_WAREHOUSE)"
            )
        return options.model_copy(update={"reviews_in": str(warehouse.path)})

    def _cases(self, options: JudgesOptions) -> tuple[list[EvalSample], str]:
        judge = options.spec
        if options.cases is None and options.label_map:
            raise EvalError("judges --label-map: applies to a --cases file only")
        if options.from_reviews:
            cases, source = self._reviewed(options)
        elif options.cases is None:
            cases, source = validation_samples(options.judge), f"judge_validation/{options.judge}.jsonl"
        else:
            label_map, where = parse_label_map(options.label_map)
            cases = load_judge_cases(
                options.cases,
                judge.accepted_labels(),
                query_column=options.query_column,
                response_column=options.response_column,
                label_column=options.label_column,
                label_map=label_map,
                label_map_source=where,
            )
            source = str(options.cases)
        classes = judge.classes_for({str(c.target) for c in cases})
        return [self._in_classes(judge, c, classes) for c in cases], source

    @staticmethod
    def _reviewed(options: JudgesOptions) -> tuple[list[EvalSample], str]:
        """The reviewed verdicts as cases, each human label in the judge's classes."""
        from evals.datasets.reviews import reviewed_cases
        from warehouse.store import Store

        if options.reviews_in is None:
            raise EvalError("judges --from-reviews: no warehouse given to read the reviews from")
        review = options.spec.review
        if review is None:
            raise EvalError(f"judges --from-reviews: reviewers do not mark {options.judge} verdicts")
        cases = reviewed_cases(Store(options.reviews_in), review)
        if not cases:
            raise EvalError(
                f"judges --from-reviews: no {options.judge} verdict reviewed in {options.reviews_in} yet "
                "(mark verdicts right or wrong in `oyster review`)"
            )
        judge = options.spec
        cases = [c.model_copy(update={"target": judge.class_of(str(c.target))}) for c in cases]
        return cases, f"reviews in {options.reviews_in}"

    @staticmethod
    def _in_classes(judge: JudgeSpec, case: EvalSample, classes: tuple[str, ...]) -> EvalSample:
        target = judge.class_of(str(case.target), classes=classes)
        return case.model_copy(
            update={"target": target, "metadata": {**case.metadata, "classes": ",".join(classes)}}
        )

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

        return [options.spec.scorer(agents, method, exemplars)]

    def recorded_scorers(self, options: JudgesOptions) -> list[Scorer] | None:
        """--from-reviews without --rejudge: the verdicts as stored, no judge called."""
        return [RecordedVerdict(options.spec)] if options.recorded else None

    def annotate(
        self, sample: EvalSample, scores: list[SampleScore], options: JudgesOptions
    ) -> list[SampleScore]:
        judge = options.spec
        classes = tuple(sample.metadata.get("classes", ",".join(judge.classes)).split(","))
        out = []
        for s in scores:
            judged = judge.class_of(s.label, s.value, classes)
            details = {**s.details, "judged": judged, "agrees": judged == sample.target}
            out.append(s.model_copy(update={"details": details}))
        return out

    def _judged(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> list[Judged]:
        """Each judged case of the run, its label in the run's classes (details.judged)."""
        return [
            Judged(
                fold=int(metadata.get("fold", 0)),
                expected=expected,
                label=str(details.get("judged", label)),
                score=details.get("p"),
                parts=details.get("parts"),
                seconds=details.get("judge_s"),
            )
            for expected, label, _, metadata, details in store.judge_rows(eval_id, options.judge)
        ]

    def _heldout(
        self, store: EvalStore, eval_id: str, options: JudgesOptions
    ) -> tuple[list[Judged], list[str]]:
        """The run's judged cases, and each one's label at the threshold fitted without its fold."""
        classes, _ = store.judge_pairs(eval_id)
        rows = self._judged(store, eval_id, options)
        labels = heldout_labels(options.spec, rows, options.folds, exemplars=options.exemplars > 0)
        return rows, [options.spec.class_of(x, classes=tuple(classes)) for x in labels]

    def completed(self, store: EvalStore, eval_id: str, options: JudgesOptions, config: OysterConfig) -> None:
        """Store the run's figures; with --calibrate also fit the threshold on every judged case and
        store it for the judge's model (as the verdicts name it), with the held-out figures of this run
        and the exemplars shown for fold 0."""
        classes, pairs = store.judge_pairs(eval_id)
        if pairs:
            store.save_judge_metrics(eval_id, figures(Confusion.of(pairs, classes)))
        if not options.calibrate:
            record = validity.plain_run_record(self, store, eval_id, options, config, classes, pairs)
            if record is not None:
                store.save_judge_record(record)
            return
        failed = store.failed_samples(eval_id)
        if failed:
            raise EvalError(f"--calibrate: {failed} case(s) failed; run again with the same --eval-id first")
        rows, labels = self._heldout(store, eval_id, options)
        scored = [(r.score, r.expected) for r in rows if r.score is not None]
        models = {str(d.get("judge_model")) for *_, d in store.judge_rows(eval_id, options.judge)}
        if not scored or len(models) != 1:
            raise EvalError(
                "--calibrate: the verdicts of this run carry no probability or several judge models"
            )
        calibration = JudgeCalibration(
            calibration_id=f"cal-{options.judge}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid4().hex[:4]}",
            judge=options.judge,
            model=models.pop(),
            threshold=fit_threshold([(s, options.spec.is_positive(e)) for s, e in scored]),
            exemplars=self.exemplar_pools(options)[0] if options.exemplars else [],
            dataset=self._cases(options)[1],
            n=len(rows),
            folds=options.folds,
            metrics=judge_metrics(options.spec, [r.expected for r in rows], labels),
            eval_id=eval_id,
        )
        store.save_calibration(calibration)
        store.save_judge_record(
            validity.record_of_calibration(
                config=config, calibration=calibration, expected=[r.expected for r in rows], heldout=labels
            )
        )

    def summaries(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> list[Summary]:
        classes, pairs = store.judge_pairs(eval_id)
        judge = options.judge
        out: list[Summary] = [
            (f"{judge} judge against the labels, and the best constant answer", store.judge_overall(eval_id)),
            (f"{judge} judge per class", store.judge_per_class(eval_id)),
            (f"{judge} judge confusion matrix", confusion_table(Confusion.of(pairs, classes))),
            (f"{judge} judge agreement", store.judge_agreement(eval_id)),
        ]
        if options.calibrate:
            out.append(
                (
                    f"{judge} judge, {options.folds}-fold calibrated (held out)",
                    self._calibrated(store, eval_id, options),
                )
            )
        return out

    def _calibrated(self, store: EvalStore, eval_id: str, options: JudgesOptions) -> QueryResult:
        """Binary figures (the judge's positive class against the rest) as judged and at the held-out
        thresholds, with seconds per verdict."""
        from warehouse.store import QueryResult

        rows, heldout = self._heldout(store, eval_id, options)
        columns = ["verdicts", "agreement", "macro_f1", "kappa", "recall", "constant", "s_per_verdict", "n"]
        if len(options.spec.classes) > 2:
            columns.insert(2, "exact")
        seconds = [r.seconds for r in rows if r.seconds is not None]
        out = []
        for name, labels in (("as judged", [r.label for r in rows]), ("calibrated (held out)", heldout)):
            m = judge_metrics(options.spec, [r.expected for r in rows], labels)
            m["s_per_verdict"] = sum(seconds) / len(seconds) if seconds else None
            out.append(tuple([name, *(_round(m.get(c)) for c in columns[1:])]))
        return QueryResult(columns, out)


def _round(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value

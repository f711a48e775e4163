"""A judge validation run's figures as the judge's validity record (schemas.trust), which the trust
gate of later Lingo-BP runs looks up (agents.trust).

Only figures from cases the judge was not tuned or calibrated on make a record: a plain run (its
threshold is 0.5, fitted on nothing), or the held-out figures of a `--calibrate` run. A run that
judged with a calibration fitted on the same cases makes none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agents.judges import get_judge
from agents.prompting import PromptLibrary
from agents.trust import model_identity, template_hash
from evals.metrics import Confusion, best_constant, scores
from schemas.calibration import JudgeCalibration
from schemas.config import OysterConfig
from schemas.trust import JudgeRecord

if TYPE_CHECKING:
    from warehouse.evaluation import EvalStore


def recall_of_positive(judge: str, pairs: Sequence[tuple[str, str]]) -> float | None:
    """Of the cases labelled with the judge's most important class, the share it found."""
    spec = get_judge(judge)
    wanted = [(e, j) for e, j in pairs if spec.is_critical(e)]
    if not wanted:
        return None
    return sum(spec.is_critical(j) for _, j in wanted) / len(wanted)


def plain_run_record(
    task: Any,
    store: EvalStore,
    eval_id: str,
    options: Any,
    config: OysterConfig,
    classes: Sequence[str],
    pairs: Sequence[tuple[str, str]],
) -> JudgeRecord | None:
    """The record of a judges run that did not calibrate, or None where its figures cannot stand for
    the judge: verdicts stored by another run (--from-reviews), exemplars shown, a calibration fitted
    on these very cases, or nothing judged."""
    if not pairs or options.recorded or options.exemplars:
        return None
    judge: str = options.judge
    case_source = str(task._cases(options)[1])
    rm = config.roles.get(get_judge(judge).role)
    calibration = store.calibrations().get((judge, rm.label())) if options.method == "auto" else None
    if rm.guard is not None and judge != "satisfaction":
        method = "guard"
    elif options.method == "probabilities" or calibration is not None:
        method = "probabilities"
    else:
        method = "sampled"
    if calibration is not None and calibration.dataset == case_source:
        return None  # agreement on the cases it was calibrated on says nothing
    return record_of_run(
        judge=judge,
        config=config,
        method=method,
        case_source=case_source,
        classes=classes,
        pairs=pairs,
        eval_id=eval_id,
        calibration=calibration,
    )


def record_of_run(
    *,
    judge: str,
    config: OysterConfig,
    method: str,
    case_source: str,
    classes: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    eval_id: str | None,
    calibration: JudgeCalibration | None = None,
    recall: float | None = None,
) -> JudgeRecord:
    """The record of a judge judged at its default threshold (or with a calibration fitted elsewhere);
    ``recall`` of the critical class where ``pairs`` are not in the judge's own labels."""
    confusion = Confusion.of(pairs, classes)
    mine, constant = scores(confusion), best_constant(confusion)
    rm = config.roles.get(get_judge(judge).role)
    return JudgeRecord(
        judge=judge,
        model=rm.label(),
        model_id=model_identity(rm),
        template_hash=template_hash(PromptLibrary(config.prompts), judge, method),
        method=method,
        calibration=calibration.calibration_id if calibration else None,
        case_source=case_source,
        n=mine.n,
        macro_f1=mine.macro_f1,
        kappa=mine.kappa,
        positive_class=get_judge(judge).critical_class,
        recall_positive=recall if recall is not None else recall_of_positive(judge, pairs),
        constant_answer=constant.answer,
        constant_macro_f1=constant.macro_f1,
        constant_kappa=constant.kappa,
        eval_id=eval_id,
    )


def record_of_calibration(
    *,
    config: OysterConfig,
    calibration: JudgeCalibration,
    expected: Sequence[str],
    heldout: Sequence[str],
) -> JudgeRecord:
    """The record of a freshly calibrated judge: each case labelled at the threshold fitted without
    its fold (the k-fold held-out figures), in the judge's binary classes."""
    judge = calibration.judge
    positive = get_judge(judge).critical_class

    def side(label: str) -> str:
        return positive if get_judge(judge).is_critical(label) else f"not {positive}"

    pairs = [(side(e), side(x)) for e, x in zip(expected, heldout, strict=True)]
    return record_of_run(
        judge=judge,
        config=config,
        method="probabilities",
        case_source=f"{calibration.dataset} (held-out folds of {calibration.folds})",
        classes=(positive, f"not {positive}"),
        pairs=pairs,
        eval_id=calibration.eval_id,
        calibration=calibration,
        recall=recall_of_positive(judge, list(zip(expected, heldout, strict=True))),
    )

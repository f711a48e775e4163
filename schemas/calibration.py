"""A judge's calibration: the verdict threshold fitted on a labelled file, and its few-shot exemplars."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import Field

from schemas.base import Record


class Exemplar(Record):
    """A labelled case shown to a judge before the case it judges."""

    prompt: str
    response: str
    #: the label, in the judge's vocabulary (unsafe, full_refusal, satisfied, ...)
    verdict: str


class JudgeCalibration(Record):
    """One fitted threshold per judge and judge model; the newest one is the one in use."""

    calibration_id: str
    #: a registered judge (agents/judges)
    judge: str
    #: the judge's role model, backend:model
    model: str
    #: a verdict is the positive class (unsafe / a refusal / satisfied) when P(positive) >= threshold
    threshold: float = Field(ge=0.0, le=1.0)
    exemplars: list[Exemplar] = Field(default_factory=list)
    dataset: str = ""
    n: int = 0
    folds: int = 0
    #: held-out figures of the k-fold run that fitted it (agreement, macro_f1, kappa, ...)
    metrics: dict[str, Any] = Field(default_factory=dict)
    eval_id: str | None = None
    created_at: datetime | None = None


#: calibrations as judges look them up: by (judge, judge model)
Calibrations = dict[tuple[str, str], JudgeCalibration]


def keyed(calibrations: Iterable[JudgeCalibration]) -> Calibrations:
    """Calibrations by (judge, model); a later one for the same key wins."""
    return {(c.judge, c.model): c for c in calibrations}

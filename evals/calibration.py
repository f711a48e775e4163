"""Honest k-fold calibration of a judge: thresholds and exemplars never come from the evaluated fold.

Folds are stratified by label and deterministic. To judge fold f:
- exemplars are drawn from fold f+1;
- the threshold is fitted on the scores of the other folds, except f-1: a case of fold f-1 was
  scored with exemplars from fold f, so its score carries fold f's labels.
So the agreement reported on fold f never used a label of fold f. Without exemplars the threshold
is fitted on every other fold.

The metrics here are binary (the judge's positive class against the rest), computed by `evals/metrics.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.judges import JudgeSpec
from agents.roles.verdicts import DEFAULT_THRESHOLD
from evals.metrics import Confusion, best_constant, scores
from schemas.calibration import Exemplar
from schemas.evaluation import EvalSample

#: the two sides of a binary matrix: the judge's positive class (unsafe / a refusal / satisfied), the rest
POSITIVE_SIDE, NEGATIVE_SIDE = "positive", "negative"


def assign_folds(samples: Sequence[EvalSample], k: int) -> dict[str, int]:
    """Sample id -> fold, dealt round-robin within each label so every fold holds every label."""
    out: dict[str, int] = {}
    n = 0
    for label in sorted({s.target or "" for s in samples}):
        for s in sorted((s for s in samples if (s.target or "") == label), key=lambda s: s.id):
            out[s.id] = n % k
            n += 1
    return out


def exemplar_fold(fold: int, k: int) -> int:
    return (fold + 1) % k


def calibration_folds(fold: int, k: int, *, exemplars: bool) -> set[int]:
    """The folds whose scores fit the threshold used on ``fold``."""
    excluded = {fold, exemplar_fold(fold, k), (fold - 1) % k} if exemplars else {fold}
    return set(range(k)) - excluded


def pick_exemplars(samples: Sequence[EvalSample], n: int, verdict: Callable[[str], str]) -> list[Exemplar]:
    """``n`` cases taken round-robin over their labels (sorted), so a few exemplars show each label."""
    by_label: dict[str, list[EvalSample]] = {}
    for s in sorted(samples, key=lambda s: s.id):
        by_label.setdefault(s.target or "", []).append(s)
    queues = [by_label[label] for label in sorted(by_label)]
    out: list[Exemplar] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                s = q.pop(0)
                response = s.metadata.get("response", "")
                out.append(Exemplar(prompt=s.prompt, response=response, verdict=verdict(s.target or "")))
    return out


def fit_threshold(scored: Sequence[tuple[float, bool]]) -> float:
    """The threshold on P(positive) with the best macro-F1 on ``scored`` (score, is positive); ties go
    to the threshold nearest 0.5, and no data leaves 0.5."""
    if not scored:
        return DEFAULT_THRESHOLD
    values = sorted({s for s, _ in scored})
    candidates = {DEFAULT_THRESHOLD, values[0] / 2, (values[-1] + 1.0) / 2}
    candidates |= {(a + b) / 2 for a, b in itertools.pairwise(values)}
    truth = [t for _, t in scored]

    def quality(threshold: float) -> tuple[float, float]:
        predicted = [s >= threshold for s, _ in scored]
        return binary_metrics(truth, predicted)["macro_f1"], -abs(threshold - DEFAULT_THRESHOLD)

    return max(sorted(candidates), key=quality)


@dataclass(frozen=True)
class Judged:
    """One judged case as stored: its fold, hand-written label, score and the judge's own label."""

    fold: int
    expected: str
    label: str
    score: float | None = None
    parts: dict[str, float] | None = None
    seconds: float | None = None


def heldout_labels(judge: JudgeSpec, rows: Sequence[Judged], k: int, *, exemplars: bool) -> list[str]:
    """Each row's label at the threshold fitted on its calibration folds."""
    thresholds = {
        f: fit_threshold(
            [
                (r.score, judge.is_positive(r.expected))
                for r in rows
                if r.fold in calibration_folds(f, k, exemplars=exemplars) and r.score is not None
            ]
        )
        for f in range(k)
    }
    return [
        r.label if r.score is None else judge.label_at(r.score, r.parts or {}, thresholds[r.fold])
        for r in rows
    ]


def _binary(truth: Sequence[bool], predicted: Sequence[bool]) -> Confusion:
    """The 2 x 2 matrix of the judge's positive class against the rest."""
    side = {True: POSITIVE_SIDE, False: NEGATIVE_SIDE}
    pairs = [(side[t], side[p]) for t, p in zip(truth, predicted, strict=True)]
    return Confusion.of(pairs, (POSITIVE_SIDE, NEGATIVE_SIDE))


def binary_metrics(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Agreement, macro-F1, Cohen's kappa (evals.metrics) and recall of the positive class."""
    s = scores(_binary(truth, predicted))
    return {
        "agreement": s.agreement,
        "macro_f1": s.macro_f1,
        "kappa": s.kappa,
        "recall": s.per_class[0].recall,
    }


def judge_metrics(judge: JudgeSpec, expected: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """The binary metrics of a judge's labels, the best constant answer's agreement beside them, and
    for a judge of more than two classes (refusal) the agreement over all of them ("exact")."""
    truth = [judge.is_positive(e) for e in expected]
    out: dict[str, Any] = binary_metrics(truth, [judge.is_positive(x) for x in labels])
    out["constant"] = best_constant(_binary(truth, truth)).agreement
    if len(judge.classes) > 2:
        out["exact"] = scores(Confusion.of(zip(expected, labels, strict=True))).agreement
    out["n"] = len(truth)
    return out

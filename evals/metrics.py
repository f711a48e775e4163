"""Agreement of a classifier (a judge) with labels: confusion matrix, per-class precision / recall / F1,
macro-F1, Cohen's kappa, and the same figures for the best constant answer beside them.

Pure functions on (expected, judged) pairs, so every figure can be checked by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Confusion:
    """Counts of (expected, judged) label pairs over a fixed class order."""

    classes: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]], classes: Sequence[str] = ()) -> Confusion:
        """The matrix of `pairs`; `classes` fixes the order, and labels seen but not listed follow it."""
        counts = Counter(pairs)
        seen = [label for pair in counts for label in pair]
        return cls(tuple(dict.fromkeys([*classes, *seen])), dict(counts))

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def count(self, expected: str, judged: str) -> int:
        return self.counts.get((expected, judged), 0)

    def support(self, label: str) -> int:
        """Cases whose expected label is `label`."""
        return sum(self.count(label, j) for j in self.classes)

    def judged(self, label: str) -> int:
        """Cases the judge labelled `label`."""
        return sum(self.count(e, label) for e in self.classes)

    def rows(self) -> list[list[int]]:
        """The matrix, expected labels down, judged labels across, in class order."""
        return [[self.count(e, j) for j in self.classes] for e in self.classes]

    def constant(self, label: str) -> Confusion:
        """What always answering `label` would have scored on the same cases."""
        return Confusion(self.classes, {(e, label): self.support(e) for e in self.classes if self.support(e)})


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """What one answer (the judge, or a constant) achieved on the labelled cases."""

    answer: str
    n: int
    agreement: float
    macro_f1: float
    kappa: float
    per_class: tuple[ClassScore, ...]


def _ratio(num: float, den: float) -> float:
    # A class never predicted (or never expected) has no precision (recall); 0 is the usual convention.
    return num / den if den else 0.0


def class_score(m: Confusion, label: str) -> ClassScore:
    tp = m.count(label, label)
    predicted, support = m.judged(label), m.support(label)
    return ClassScore(
        label=label,
        precision=_ratio(tp, predicted),
        recall=_ratio(tp, support),
        f1=_ratio(2 * tp, predicted + support),
        support=support,
    )


def kappa(m: Confusion) -> float:
    """Cohen's kappa: agreement beyond what the two label frequencies give by chance."""
    n = m.n
    if not n:
        return 0.0
    observed = sum(m.count(c, c) for c in m.classes) / n
    chance = sum(m.support(c) * m.judged(c) for c in m.classes) / (n * n)
    # chance == 1: one label on both sides; agreement then says nothing beyond chance.
    return _ratio(observed - chance, 1 - chance) if chance < 1 else 0.0


def scores(m: Confusion, answer: str = "judge") -> Scores:
    """Agreement, macro-F1 (over the classes that were expected or judged at least once) and kappa."""
    per_class = tuple(class_score(m, c) for c in m.classes)
    present = [s for s in per_class if s.support or m.judged(s.label)]
    return Scores(
        answer=answer,
        n=m.n,
        agreement=_ratio(sum(m.count(c, c) for c in m.classes), m.n),
        macro_f1=_ratio(sum(s.f1 for s in present), len(present)),
        kappa=kappa(m),
        per_class=per_class,
    )


def best_constant(m: Confusion) -> Scores:
    """The figures of always giving the most frequent expected label (first in class order on a tie):
    the best agreement and macro-F1 any constant answer reaches, with kappa 0."""
    label = max(m.classes, key=m.support)
    return scores(m.constant(label), answer=f"always {label}")

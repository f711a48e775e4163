"""What a judge is: its classes, its verdict questions and how they combine, the value it stores, its
scorer, how its labels map and how reviewers correct it — one `JudgeSpec`, made by the judge's module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.steps import StepName
from warehouse.reviews import ReviewedJudge

if TYPE_CHECKING:
    from agents.judges.scoring import ExemplarsFor, JudgeMethod, Scorer
    from agents.team import Agents

#: builds the judge's scorer for an evaluation: (agents, method, exemplars) -> Scorer
ScorerFactory = Callable[["Agents", "JudgeMethod", "ExemplarsFor | None"], "Scorer"]
#: the verdict at a threshold on P(positive), from the score and the questions' P(yes)
LabelAt = Callable[[float, Mapping[str, float], float], str]


@dataclass(frozen=True)
class JudgeSpec:
    """One judge. Every judge-specific rule lives here; code elsewhere asks the spec."""

    name: str
    #: the config role whose model gives the verdicts ("risk", "user")
    role: str
    #: the classes verdicts are compared in when the judge is validated, the positive one among them
    classes: tuple[str, ...]
    positive: str
    #: every label the judge gives -> the value stored with it (`SampleScore.value`, on the scorer's scale)
    values: Mapping[str, float]
    #: the yes/no questions of the verdict-only form, by the name each part is stored under
    questions: tuple[tuple[str, StepName], ...]
    #: P(positive class) from the questions' P(yes)
    combine: Callable[[Mapping[str, float]], float]
    #: the verdict-only label at a threshold
    label_at: LabelAt
    scorer: ScorerFactory
    #: labels (the judge's or hand-written) that count as the positive class
    positives: frozenset[str] = frozenset()
    #: label -> the class it counts as, where that is not the label itself (e.g. generally_safe -> safe)
    as_class: Mapping[str, str] = field(default_factory=dict)
    #: the coarser classes a labelled file may use instead (e.g. compliance / refusal), and the map onto them
    coarse_classes: tuple[str, ...] = ()
    coarse: Mapping[str, str] = field(default_factory=dict)
    #: how reviewers correct its verdicts in `oyster review`; None: they do not
    review: ReviewedJudge | None = None
    #: the templates of its generated form (rationale first, as the Lingo-BP loop asks it): with the
    #: questions' templates, what a validity record of the judge was measured on (agents.trust)
    generated: tuple[StepName, ...] = ()
    #: the class whose misses matter most (a validity record reports the judge's recall of it);
    #: empty: the positive class
    critical: str = ""

    def __post_init__(self) -> None:
        if self.positive not in (*self.classes, *self.coarse_classes):
            raise ValueError(f"judge {self.name}: positive class {self.positive!r} is not one of its classes")
        if self.review is not None and (self.review.name, self.review.role) != (self.name, self.role):
            raise ValueError(f"judge {self.name}: its review names another judge or role")

    @property
    def critical_class(self) -> str:
        return self.critical or self.positive

    def is_critical(self, label: str) -> bool:
        """Whether a label counts as the class whose misses matter most."""
        hit = self.is_positive(label)
        return hit if self.critical_class == self.positive else not hit

    def is_positive(self, label: str) -> bool:
        """Whether a label (the judge's or a hand-written one) is the positive class."""
        return label == self.positive or label in self.positives

    def value(self, label: str) -> float:
        """The value a verdict-only label stores."""
        return self.values[label]

    def class_of(self, label: str, value: float | None = None, classes: tuple[str, ...] = ()) -> str:
        """The class a verdict counts as, in ``classes`` (the judge's own by default, or its coarse ones).

        A label the judge does not name as such (a score written as "+0.6") counts by its value's sign.
        """
        found = self.as_class.get(label, label)
        if found not in self.values and found not in self.classes and value is not None:
            found = self.positive if value > 0 else next(c for c in self.classes if c != self.positive)
        if classes and classes == self.coarse_classes:
            found = self.coarse.get(found, found)
        return found

    def accepted_labels(self) -> tuple[str, ...]:
        """The labels a file of cases may use: the classes and the coarse ones."""
        return (*self.classes, *(c for c in self.coarse_classes if c not in self.classes))

    def classes_for(self, labels: set[str]) -> tuple[str, ...]:
        """The classes a set of cases is compared in: the coarse ones when a label is only coarse."""
        coarse_only = set(self.coarse_classes) - set(self.classes)
        return self.coarse_classes if labels & coarse_only else self.classes

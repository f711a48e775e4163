"""One scenario's history through Lingo-BP, and the preference pair it yields."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Record
from schemas.chain import DraftAnswer, ReasoningChain
from schemas.gradient import ActiveLoss, EditOperation, TextGradient
from schemas.judgement import Judgement
from schemas.messages import ChatMessage
from schemas.records import Failure, new_id
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import Scenario
from schemas.stackelberg import ReactionPrediction, StackelbergResult


class Iteration(Record):
    """Iteration 0 is the initial chain and response; 1..T are Lingo-BP steps."""

    index: int
    chain: ReasoningChain
    response: str
    #: the reply was cut to the configured cap before it was judged
    truncated: bool = False
    judgement: Judgement | None = None
    active_loss: ActiveLoss | None = None
    frozen: list[str] = Field(default_factory=list)
    gradients: list[TextGradient] = Field(default_factory=list)
    edits: list[EditOperation] = Field(default_factory=list)

    @property
    def score(self) -> float | None:
        return None if self.judgement is None else self.judgement.construction_score


class SkippedStep(Record):
    """A Lingo-BP step whose strategy edit was `none` or rejected: the chain did not change, so there was
    no backward pass, no re-synthesis and no judging (a new reply would differ only by sampling)."""

    index: int
    active_loss: ActiveLoss
    reason: str
    gradients: list[TextGradient] = Field(default_factory=list)
    edits: list[EditOperation] = Field(default_factory=list)


class ScoreCard(Record):
    satisfaction: float
    safety: float
    construction: float


class PairKind(StrEnum):
    #: a constructive reply over a less safe or clearly worse one: what `dpo` trains on
    CONSTRUCTIVE = "constructive"
    #: a safe refusal over unsafe compliance, where no reply was constructive: its own view, not `dpo`
    REFUSAL_OVER_HARM = "refusal_over_harm"


class PreferencePair(Record):
    pair_id: str = Field(default_factory=new_id)
    run_id: str
    scenario_id: str
    prompt: list[ChatMessage]
    chosen: str
    rejected: str
    chosen_iteration: int
    rejected_iteration: int
    chosen_chain: ReasoningChain
    rejected_chain: ReasoningChain
    chosen_scores: ScoreCard
    rejected_scores: ScoreCard
    margin: float
    rule: str
    #: 1 = the trajectory's best pair; further pairs share the chosen reply
    rank: int = 1
    kind: PairKind = PairKind.CONSTRUCTIVE


class PairStatus(StrEnum):
    PAIR = "pair"
    NO_PAIR = "no_pair"


class PairDecision(Record):
    status: PairStatus
    reason: str
    rule: str
    #: iteration index -> why its reply may not be chosen (reply checks, non-finite score)
    excluded: dict[int, str] = Field(default_factory=dict)


class TrajectoryStatus(StrEnum):
    COMPLETED = "completed"
    #: a step failed after two or more iterations were judged: those are kept and may yield pairs
    PARTIAL = "partial"
    FAILED = "failed"


class Trajectory(Record):
    run_id: str
    scenario: Scenario
    status: TrajectoryStatus = TrajectoryStatus.COMPLETED
    risk: RiskAssessment | None = None
    guidelines: list[GuidelineRule] = Field(default_factory=list)
    stackelberg: StackelbergResult | None = None
    draft: DraftAnswer | None = None
    iterations: list[Iteration] = Field(default_factory=list)
    skipped: list[SkippedStep] = Field(default_factory=list)
    stop_reason: str = ""
    pairs: list[PreferencePair] = Field(default_factory=list)
    pair_decision: PairDecision | None = None
    next_move: ReactionPrediction | None = None
    failures: list[Failure] = Field(default_factory=list)

    @property
    def scenario_id(self) -> str:
        return self.scenario.id

    @property
    def pair(self) -> PreferencePair | None:
        """The best-ranked pair, the one `dpo` takes."""
        return self.pairs[0] if self.pairs else None

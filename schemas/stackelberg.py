"""The Stackelberg step: the leader commits to a strategy given the follower's predicted reaction."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from schemas.base import LLMOutput, Record, omit_defaults
from schemas.chain import Item
from schemas.dialogue import FollowerTurn
from schemas.judgement import UserProfile
from schemas.risk import RiskAssessment
from schemas.scenario import FollowerReaction


class CandidateStrategy(LLMOutput):
    name: str = Field(max_length=40, description="short label, e.g. 'firm refusal', 'safe partial help'")
    description: str = Field(max_length=120)
    usefulness: list[Item] = Field(max_length=3)
    safety: list[Item] = Field(max_length=3)


class StrategyCandidates(LLMOutput):
    candidates: list[CandidateStrategy] = Field(max_length=6)


class ReactionPrediction(LLMOutput):
    reaction: FollowerReaction
    predicted_satisfaction: float = Field(ge=-1.0, le=1.0)
    next_user_turn: str = Field(max_length=400)
    rationale: str = Field(max_length=400)


class CandidateRisk(LLMOutput):
    risk: float = Field(
        ge=0.0, le=1.0, description="0 = no risk of harm from this strategy, 1 = certain harm"
    )
    rationale: str = Field(max_length=300)


class CandidateOutcome(LLMOutput):
    """What following one candidate strategy would lead to: reasoning first, then the numbers."""

    rationale: str = Field(max_length=300)
    reaction: FollowerReaction
    next_user_turn: str = Field(max_length=300)
    predicted_satisfaction: float = Field(ge=-1.0, le=1.0)
    risk: float = Field(
        ge=0.0, le=1.0, description="0 = no risk of harm from this strategy, 1 = certain harm"
    )


class CandidateOutcomes(LLMOutput):
    """One judge call per Stackelberg step: the follower's profile, then one outcome per candidate,
    in the candidates' order (its predicted reaction and the strategy's own risk of harm)."""

    profile: UserProfile
    outcomes: list[CandidateOutcome] = Field(max_length=6)

    def predictions(self) -> list[ReactionPrediction]:
        return [
            ReactionPrediction(
                reaction=o.reaction,
                predicted_satisfaction=o.predicted_satisfaction,
                next_user_turn=o.next_user_turn,
                rationale=o.rationale,
            )
            for o in self.outcomes
        ]

    def risks(self) -> list[CandidateRisk]:
        return [CandidateRisk(risk=o.risk, rationale=o.rationale) for o in self.outcomes]


class AssessedOutcomes(LLMOutput):
    """A later turn of a dialogue: the risk assessment of its last user turn and the Stackelberg
    prediction, in one judge call (the candidates were proposed under the previous turn's assessment)."""

    risk: RiskAssessment
    profile: UserProfile
    outcomes: list[CandidateOutcome] = Field(max_length=6)

    def prediction(self) -> CandidateOutcomes:
        return CandidateOutcomes(profile=self.profile, outcomes=self.outcomes)


class PayoffRow(Record):
    candidate: str
    reaction: FollowerReaction
    predicted_satisfaction: float
    strategy_risk: float
    reaction_risk: float
    risk: float
    payoff: float
    committed: bool = False


class Rollout(Record):
    """One candidate played out: its short reply, the follower's actual next turn after it, and the
    verdict-only judges' reading of that continuation."""

    candidate: str
    reply: str
    follower: FollowerTurn
    #: P(the follower is satisfied with the reply)
    p_satisfied: float = Field(ge=0.0, le=1.0)
    #: P(unsafe) of the conversation continued by the follower's turn, after the reply; when the
    #: follower leaves, P(harm) of its request answered in full (elsewhere)
    p_unsafe: float = Field(ge=0.0, le=1.0)


class StackelbergResult(Record):
    candidates: list[CandidateStrategy] = Field(max_length=6)
    profile: UserProfile
    predictions: list[ReactionPrediction] = Field(max_length=6)
    candidate_risks: list[CandidateRisk]
    payoff_table: list[PayoffRow]
    committed: int
    #: with ``stackelberg: rollout``, what each candidate led to (in the candidates' order)
    rollouts: list[Rollout] | None = None

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        return omit_defaults(handler(self), {"rollouts": None})

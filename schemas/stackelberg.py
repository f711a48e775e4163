"""The Stackelberg step: the leader commits to a strategy given the follower's predicted reaction."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import LLMOutput, Record
from schemas.chain import Item
from schemas.judgement import UserProfile


class CandidateStrategy(LLMOutput):
    name: str = Field(max_length=40, description="short label, e.g. 'firm refusal', 'safe partial help'")
    description: str = Field(max_length=120)
    usefulness: list[Item] = Field(max_length=3)
    safety: list[Item] = Field(max_length=3)


class StrategyCandidates(LLMOutput):
    candidates: list[CandidateStrategy] = Field(max_length=6)


class FollowerReaction(StrEnum):
    ACCEPTS_GUIDANCE = "accepts_guidance"
    REPHRASES_OR_RETRIES = "rephrases_or_retries"
    ESCALATES_OR_ATTACKS = "escalates_or_attacks"
    LEAVES_FOR_RISKIER_PLACE = "leaves_for_riskier_place"


class ReactionPrediction(LLMOutput):
    reaction: FollowerReaction
    predicted_satisfaction: float = Field(ge=-1.0, le=1.0)
    next_user_turn: str = Field(max_length=200)
    rationale: str = Field(max_length=120)


class FollowerPredictions(LLMOutput):
    """The follower's profile and one predicted reaction per candidate, in the candidates' order."""

    profile: UserProfile
    predictions: list[ReactionPrediction] = Field(max_length=6)


class CandidateRisk(LLMOutput):
    risk: float = Field(
        ge=0.0, le=1.0, description="0 = no risk of harm from this strategy, 1 = certain harm"
    )
    rationale: str = Field(max_length=120)


class CandidateRisks(LLMOutput):
    risks: list[CandidateRisk] = Field(max_length=6)


class PayoffRow(Record):
    candidate: str
    reaction: FollowerReaction
    predicted_satisfaction: float
    strategy_risk: float
    reaction_risk: float
    risk: float
    payoff: float
    committed: bool = False


class StackelbergResult(Record):
    candidates: list[CandidateStrategy] = Field(max_length=6)
    profile: UserProfile
    predictions: list[ReactionPrediction] = Field(max_length=6)
    candidate_risks: list[CandidateRisk]
    payoff_table: list[PayoffRow]
    committed: int

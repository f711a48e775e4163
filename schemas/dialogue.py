"""Dialogues: the follower moves. Each turn is one Lingo-BP trajectory over the conversation so far."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import LLMOutput, Record, UnicodeText
from schemas.messages import ChatMessage
from schemas.risk import RiskAssessment
from schemas.scenario import FollowerReaction, Scenario, UserType

#: what a persona wants when its scenario states no objective (the user_next_turn template says so too)
DEFAULT_OBJECTIVE: dict[UserType, str] = {
    UserType.BENIGN: "get a useful answer to the first question and follow up on it",
    UserType.VULNERABLE: "be heard and helped with what troubles them",
    UserType.MALICIOUS: "get usable help with the harmful part of the first request",
}


def persona_of(scenario: Scenario, risk: RiskAssessment | None) -> UserType:
    """The follower's type: the scenario's, else the risk assessor's reading of it, else benign."""
    if scenario.user_type is not None:
        return scenario.user_type
    return risk.likely_user_type if risk is not None else UserType.BENIGN


class FollowerTurn(LLMOutput):
    """The simulated user's next move after the assistant's reply: reasoning first, then the message."""

    rationale: str = Field(max_length=400, description="what the user wants now, given the last reply")
    reaction: FollowerReaction
    ends_dialogue: bool = Field(
        description="true when the user says goodbye or leaves (for another place) instead of replying"
    )
    message: str = Field(
        max_length=600, description="the user's next message, in their language (a farewell when leaving)"
    )


class DialogueOutcome(StrEnum):
    RUNNING = "running"
    #: the last turn was answered
    MAX_TURNS = "max_turns"
    #: the follower said goodbye or left instead of writing a next turn
    FOLLOWER_LEFT = "follower_left"
    #: a malicious follower got what it came for: the reply the dialogue went on from was judged
    #: unsafe in the context of the whole dialogue (a failure of the leader, kept as data)
    OBJECTIVE_ACHIEVED = "objective_achieved"
    #: a turn's Lingo-BP failed (a resume runs that turn again)
    FAILED = "failed"


def turn_scenario_id(dialogue_id: str, turn: int) -> str:
    """The scenario id of a dialogue's turn: its trajectory, iterations and pairs are stored under it."""
    return f"{dialogue_id}#t{turn}"


class DialogueTurn(Record):
    """One finished turn: the conversation it answered, the reply the dialogue went on from, and the
    follower's move that wrote its user message (None on the first turn, which the scenario gives)."""

    run_id: str
    dialogue_id: str
    turn: int = Field(ge=1)
    scenario_id: str
    messages: list[ChatMessage]
    reply: UnicodeText
    reply_iteration: int | None = None
    move: FollowerTurn | None = None
    status: str
    safety_verdict: str | None = None
    #: the turn's risk assessment (its trajectory's): the next turn's candidates are proposed under it
    risk: RiskAssessment | None = None


class DialogueRecord(Record):
    """One scenario played as a dialogue: who the follower is, what it wants, and how it ended."""

    run_id: str
    dialogue_id: str
    persona: UserType = Field(
        description="benign | vulnerable | malicious, from the scenario or its risk assessment"
    )
    objective: str = Field(
        description="what the follower is after (a malicious goal is judged achieved or not at every turn)"
    )
    max_turns: int = Field(ge=1, description="the configured `lingo_bp.turns`")
    turns: int = Field(
        default=0, ge=0, description="the turns finished so far (a resume goes on after the last)"
    )
    outcome: DialogueOutcome = DialogueOutcome.RUNNING
    #: the turn the outcome happened at (the turn the follower would have written, when it left)
    outcome_turn: int | None = None
    #: the follower's last move when it ended the dialogue
    final_move: FollowerTurn | None = None

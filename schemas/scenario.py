"""Scenario: one conversation the pipeline optimises a response for."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from schemas.base import LLMOutput, Record, UnicodeText, omit_defaults
from schemas.messages import ChatMessage, transcript


class FollowerReaction(StrEnum):
    """How the follower answers the leader's reply (METHOD section 1)."""

    ACCEPTS_GUIDANCE = "accepts_guidance"
    REPHRASES_OR_RETRIES = "rephrases_or_retries"
    ESCALATES_OR_ATTACKS = "escalates_or_attacks"
    LEAVES_FOR_RISKIER_PLACE = "leaves_for_riskier_place"


class UserType(StrEnum):
    BENIGN = "benign"
    VULNERABLE = "vulnerable"
    MALICIOUS = "malicious"


class RiskLevel(StrEnum):
    NO_RISK = "no_risk"
    ETHICAL = "ethical"
    REGULATORY = "regulatory"
    ADVERSARIAL = "adversarial"


class Scenario(Record):
    """A single-turn ``text`` or a multi-turn ``messages`` history that ends with the user's turn."""

    id: str = Field(min_length=1, max_length=200)
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")
    text: UnicodeText | None = None
    messages: list[ChatMessage] | None = None
    user_type: UserType | None = None
    risk_level: RiskLevel | None = None
    category_l1: str | None = None
    category_l2: str | None = None
    source: str = "user"
    #: what the follower wants from the conversation (a malicious one's goal; optional): the simulated
    #: user pursues it over the turns of a dialogue (``lingo_bp.turns``)
    objective: UnicodeText | None = Field(default=None, max_length=600)
    #: the dialogue turn this conversation is (set by the dialogue driver; None outside dialogues):
    #: the judges then read the last turn against everything asked before it
    turn: int | None = Field(default=None, ge=1)

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        return omit_defaults(handler(self), {"objective": None, "turn": None})

    @model_validator(mode="after")
    def _one_form(self) -> Scenario:
        if (self.text is None) == (self.messages is None):
            raise ValueError("give exactly one of 'text' or 'messages'")
        if self.text is not None and not self.text.strip():
            raise ValueError("'text' is empty")
        if self.messages is not None:
            if not self.messages:
                raise ValueError("'messages' is empty")
            if self.messages[-1].role != "user":
                raise ValueError("'messages' must end with a user turn")
        return self

    def conversation(self) -> list[ChatMessage]:
        """The scenario as chat messages (what the leader answers)."""
        if self.messages is not None:
            return list(self.messages)
        assert self.text is not None
        return [ChatMessage(role="user", content=self.text)]

    @property
    def query(self) -> str:
        """The user's last turn: what is being answered."""
        return self.conversation()[-1].content

    def history(self) -> str:
        """Earlier turns as plain text (empty for a single-turn scenario)."""
        return transcript(self.conversation()[:-1])

    def transcript(self) -> str:
        """The whole conversation as plain text, for judge prompts."""
        return transcript(self.conversation())


class ScenarioDraft(LLMOutput):
    text: str = Field(max_length=400)
    risk_level: RiskLevel
    objective: str = Field(
        default="",
        max_length=300,
        description="what this user wants to get out of a whole conversation, for multi-turn dialogues",
    )


class ScenarioDrafts(LLMOutput):
    scenarios: list[ScenarioDraft] = Field(max_length=8)

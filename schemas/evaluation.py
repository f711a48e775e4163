"""Evaluation nouns (inspect_ai style): a data set of samples, a target model, scorers, results."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.base import LLMOutput, Record
from schemas.dialogue import DialogueRecord, FollowerTurn
from schemas.messages import ChatMessage


class EvalSample(Record):
    """One input to the target model; `metadata` holds the columns results are grouped by."""

    id: str
    messages: list[ChatMessage] = Field(min_length=1)
    target: str | None = None  # expected label where the data set has one (e.g. "answer" / "refuse")
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return self.messages[-1].content


class StrataVerdict(StrEnum):
    SAFE = "Safe"
    UNSAFE = "Unsafe"


class StrataJudgement(LLMOutput):
    """Category-rule judge: the prompt was classified into the taxonomy first; this judges the reply
    against that category's rule."""

    rationale: str = Field(max_length=200)
    verdict: StrataVerdict


class RefusalVerdict(StrEnum):
    COMPLIANCE = "compliance"
    PARTIAL_REFUSAL = "partial_refusal"
    FULL_REFUSAL = "full_refusal"


class RefusalJudgement(LLMOutput):
    rationale: str = Field(max_length=200)
    verdict: RefusalVerdict


class SampleScore(Record):
    """What one scorer said of one response; `value` is numeric so SQL can aggregate it."""

    scorer: str
    value: float
    label: str
    explanation: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class TurnResult(Record):
    """One turn of a dialogue evaluation: the user message it answered (the scenario's on turn 1, then the
    follower's), the target's reply, and that reply's scores, judged on the whole dialogue so far."""

    turn: int = Field(ge=1)
    user_message: str
    response: str
    #: the follower's move that wrote `user_message` (None on turn 1, which the scenario gives)
    move: FollowerTurn | None = None
    scores: list[SampleScore] = Field(default_factory=list)
    latency_s: float | None = None


class SampleResult(Record):
    sample: EvalSample
    response: str | None
    scores: list[SampleScore] = Field(default_factory=list)
    error: str | None = None
    latency_s: float | None = None
    #: a dialogue evaluation: each turn played (also those before a failure), and how the dialogue ended
    turns: list[TurnResult] = Field(default_factory=list)
    dialogue: DialogueRecord | None = None

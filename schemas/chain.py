"""The structured reasoning chain z_u -> z_I -> z_G -> z_S -> y (METHOD section 3)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.base import LLMOutput


class ChainNode(StrEnum):
    USER_NEEDS = "user_needs"
    RISK_INTENT = "risk_intent"
    SAFETY_GUIDELINES = "safety_guidelines"
    STRATEGIES = "strategies"


#: Order of the forward pass; the backward pass walks it in reverse from STRATEGIES.
FORWARD_ORDER: tuple[ChainNode, ...] = (
    ChainNode.USER_NEEDS,
    ChainNode.RISK_INTENT,
    ChainNode.SAFETY_GUIDELINES,
    ChainNode.STRATEGIES,
)
BACKWARD_ORDER: tuple[ChainNode, ...] = (
    ChainNode.SAFETY_GUIDELINES,
    ChainNode.RISK_INTENT,
    ChainNode.USER_NEEDS,
)


# Free-text fields carry length bounds: llama.cpp's grammar enforces them while decoding, which stops a
# small model from rambling until max_tokens cuts the JSON in half.
Item = Annotated[str, StringConstraints(max_length=120)]
#: a plain-text reply longer than this is a runaway generation, not an answer
MAX_REPLY_CHARS = 4000


class Strategies(LLMOutput):
    usefulness: list[Item] = Field(
        default_factory=list, max_length=5, description="strategies that satisfy the user"
    )
    safety: list[Item] = Field(
        default_factory=list, max_length=5, description="strategies that keep the answer safe"
    )

    def render(self) -> str:
        use = "\n".join(f"- {s}" for s in self.usefulness) or "- (none)"
        safe = "\n".join(f"- {s}" for s in self.safety) or "- (none)"
        return f"Usefulness strategies:\n{use}\nSafety strategies:\n{safe}"


class ReasoningChain(LLMOutput):
    user_needs: str = Field(max_length=300)
    risk_intent: str = Field(max_length=200)
    safety_guidelines: str = Field(max_length=400)
    strategies: Strategies

    def text_of(self, node: ChainNode) -> str:
        if node is ChainNode.STRATEGIES:
            return self.strategies.render()
        return str(getattr(self, node.value))

    def with_node(self, node: ChainNode, text: str) -> ReasoningChain:
        if node is ChainNode.STRATEGIES:
            raise ValueError("strategies change only through an EditOperation")
        return self.model_copy(update={node.value: text})


class DraftAnswer(LLMOutput):
    """The leader's first answer with free reasoning, before extraction into the chain."""

    think: str = Field(max_length=400)
    response: str = Field(max_length=1000)


class Response(LLMOutput):
    response: str = Field(max_length=MAX_REPLY_CHARS)

"""The structured reasoning chain z_u -> z_I -> z_G -> z_S -> y (METHOD section 3)."""

from __future__ import annotations

import re
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


# The one table of length ceilings for chain text. ReasoningChain, NodeUpdate and the JSON schemas sent to
# models all read it; llama.cpp's grammar enforces the bounds while decoding, which stops a small model
# from rambling until max_tokens cuts the JSON in half. A JSON string field stays at or under 1000
# characters, the most llama.cpp's grammar compiler accepts ("exceeds sane defaults" above it); that is
# room for a 32B-class model's analysis of one node. The reply is plain text, outside any grammar, so
# its cap is far higher. `lingo_bp.limits` may set lower caps.
JSON_FIELD_MAX_CHARS = 1000
NODE_MAX_CHARS: dict[ChainNode, int] = {
    ChainNode.USER_NEEDS: JSON_FIELD_MAX_CHARS,
    ChainNode.RISK_INTENT: JSON_FIELD_MAX_CHARS,
    ChainNode.SAFETY_GUIDELINES: JSON_FIELD_MAX_CHARS,
}
STRATEGY_ITEM_MAX_CHARS = 300
STRATEGIES_PER_LIST = 8
#: a plain-text reply longer than this is a runaway generation, not an answer
MAX_REPLY_CHARS = 12000
DRAFT_THINK_MAX_CHARS = JSON_FIELD_MAX_CHARS

Item = Annotated[str, StringConstraints(max_length=STRATEGY_ITEM_MAX_CHARS)]


class Strategies(LLMOutput):
    usefulness: list[Item] = Field(
        default_factory=list, max_length=STRATEGIES_PER_LIST, description="strategies that satisfy the user"
    )
    safety: list[Item] = Field(
        default_factory=list,
        max_length=STRATEGIES_PER_LIST,
        description="strategies that keep the answer safe",
    )

    def render(self) -> str:
        use = "\n".join(f"- {s}" for s in self.usefulness) or "- (none)"
        safe = "\n".join(f"- {s}" for s in self.safety) or "- (none)"
        return f"Usefulness strategies:\n{use}\nSafety strategies:\n{safe}"


class ReasoningChain(LLMOutput):
    user_needs: str = Field(max_length=NODE_MAX_CHARS[ChainNode.USER_NEEDS])
    risk_intent: str = Field(max_length=NODE_MAX_CHARS[ChainNode.RISK_INTENT])
    safety_guidelines: str = Field(max_length=NODE_MAX_CHARS[ChainNode.SAFETY_GUIDELINES])
    strategies: Strategies

    def text_of(self, node: ChainNode) -> str:
        if node is ChainNode.STRATEGIES:
            return self.strategies.render()
        return str(getattr(self, node.value))

    def with_node(self, node: ChainNode, text: str) -> ReasoningChain:
        if node is ChainNode.STRATEGIES:
            raise ValueError("strategies change only through an EditOperation")
        # Validated, not copied: an over-long update must fail here, where it is made, and not on
        # the Ray driver when the whole trajectory is re-validated.
        return type(self).model_validate({**self.model_dump(), node.value: text})


class DraftAnswer(LLMOutput):
    """The leader's first answer with free reasoning, before extraction into the chain."""

    think: str = Field(max_length=DRAFT_THINK_MAX_CHARS)
    response: str = Field(max_length=JSON_FIELD_MAX_CHARS)


class Response(LLMOutput):
    response: str = Field(max_length=MAX_REPLY_CHARS)
    #: the reply was cut to the configured cap (it stopped mid-text, so it is never chosen)
    truncated: bool = False


#: what a small model writes into a JSON field when it copies the schema instead of filling it
_PLACEHOLDER = re.compile(
    r"\W*(?:response|think|answer|reply|text|content|string|\.\.\.|…)?\W*", re.IGNORECASE
)


def is_placeholder(reply: str) -> bool:
    """The reply is empty or only a field name (`"response"`), not an answer."""
    return len(reply) < 40 and _PLACEHOLDER.fullmatch(reply) is not None

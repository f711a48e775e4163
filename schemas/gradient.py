"""Textual gradients and the edits they cause."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import LLMOutput, Record
from schemas.chain import JSON_FIELD_MAX_CHARS, NODE_MAX_CHARS, STRATEGY_ITEM_MAX_CHARS, ChainNode


class ActiveLoss(StrEnum):
    """Which loss drives an epoch; the others' nodes may be frozen."""

    JOINT = "joint"
    SAFETY = "safety"
    SATISFACTION = "satisfaction"


class EditOp(StrEnum):
    UPDATE = "update"
    DELETE = "delete"
    ADD = "add"
    NONE = "none"


class StrategyList(StrEnum):
    USEFULNESS = "usefulness"
    SAFETY = "safety"


class StrategyEdit(LLMOutput):
    """The single strategy change a gradient asks for (the minimal-step rule)."""

    op: EditOp
    target_list: StrategyList
    index: int | None = Field(default=None, description="0-based position for update/delete")
    text: str | None = Field(
        default=None, max_length=STRATEGY_ITEM_MAX_CHARS, description="new strategy text for update/add"
    )


class NodeUpdate(LLMOutput):
    """The backward message a node receives and its rewritten text."""

    critique: str = Field(
        max_length=JSON_FIELD_MAX_CHARS, description="what in this node no longer fits the node below it"
    )
    #: the largest node's ceiling; each node's own limit is checked where the update is made
    updated: str = Field(
        max_length=max(NODE_MAX_CHARS.values()),
        description="the node rewritten; empty only when no risk remains",
    )


class StepUpdate(LLMOutput):
    """One critic call per Lingo-BP step: the gradient at z_S and its edit, then the backward pass
    through the guidelines, the intent and the needs, in that order (frozen nodes are left out)."""

    critique: str = Field(max_length=400, description="why the plan led to this reply and what to change")
    edit: StrategyEdit
    safety_guidelines: NodeUpdate | None = None
    risk_intent: NodeUpdate | None = None
    user_needs: NodeUpdate | None = None

    def update_for(self, node: ChainNode) -> NodeUpdate | None:
        value = getattr(self, node.value, None)
        return value if isinstance(value, NodeUpdate) else None


class TextGradient(Record):
    iteration: int
    target: ChainNode
    #: the node whose change the message reports (the nearest updated node below ``target``)
    source: ChainNode | None = None
    critique: str
    loss: ActiveLoss


class EditOperation(Record):
    iteration: int
    node: ChainNode
    op: EditOp
    target_list: StrategyList | None = None
    index: int | None = None
    old: str
    new: str
    distance: float
    accepted: bool
    reason: str = ""

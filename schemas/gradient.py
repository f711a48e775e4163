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


class StrategyGradient(LLMOutput):
    """Critic output at z_S: a critique plus exactly one edit."""

    critique: str = Field(max_length=JSON_FIELD_MAX_CHARS)
    edit: StrategyEdit


class NodeUpdate(LLMOutput):
    """Critic output for an upstream node: the message it receives and its rewritten text."""

    critique: str = Field(max_length=JSON_FIELD_MAX_CHARS)
    #: the largest node's ceiling; each node's own limit is checked where the update is made
    updated: str = Field(max_length=max(NODE_MAX_CHARS.values()))


class TextGradient(Record):
    iteration: int
    target: ChainNode
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

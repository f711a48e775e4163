"""Textual gradients and the edits they cause."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import LLMOutput, Record
from schemas.chain import ChainNode


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
    text: str | None = Field(default=None, max_length=120, description="new strategy text for update/add")


class StrategyGradient(LLMOutput):
    """Critic output at z_S: a critique plus exactly one edit."""

    critique: str = Field(max_length=200)
    edit: StrategyEdit


class NodeUpdate(LLMOutput):
    """Critic output for an upstream node: the message it receives and its rewritten text."""

    critique: str = Field(max_length=200)
    updated: str = Field(max_length=400)


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

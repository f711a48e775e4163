"""Chat messages, the unit every backend consumes."""

from __future__ import annotations

from typing import Literal

from schemas.base import Record, UnicodeText

Role = Literal["system", "user", "assistant"]


class ChatMessage(Record):
    role: Role
    content: UnicodeText


def as_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def transcript(messages: list[ChatMessage]) -> str:
    """Messages as plain text, one `ROLE: content` line each, as judge and follower prompts show them."""
    return "\n".join(f"{m.role.upper()}: {m.content}" for m in messages)

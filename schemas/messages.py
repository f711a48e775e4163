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

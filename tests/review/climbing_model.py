"""A scripted model whose replies get better at every Lingo-BP iteration (run it one scenario at a time,
T = 3): each trajectory ranks three pairs, the best reply against each earlier one."""

from __future__ import annotations

from agents.backends.base import ChatRequest
from agents.backends.mock import default_answers, responder

_CLIMBING = responder(default_answers(satisfaction=lambda n: [-1, -1, 0, 1][n % 4]))


def climbing(request: ChatRequest) -> str:
    return _CLIMBING(request)

"""A mock model for the kill -9 test: the offline mock, except that the process dies outright
(SIGKILL, no Python cleanup) in the middle of a dialogue's second turn when OYSTER_TEST_KILL is set."""

from __future__ import annotations

import os
import signal

from agents.backends.base import ChatRequest
from agents.backends.mock import default_answers, responder

_ANSWER = responder(default_answers())


def dies_in_turn_two(request: ChatRequest) -> str:
    in_turn_two = any("and what should I do next?" in m.content for m in request.messages)
    if os.environ.get("OYSTER_TEST_KILL") and request.step == "critic_step" and in_turn_two:
        os.kill(os.getpid(), signal.SIGKILL)
    return _ANSWER(request)

"""Mock models for the scripted backend (`backend: scripted, model: testing.models:NAME`) that exist to
exercise failure paths and timing: latency, a dying process, invalid output, label probabilities."""

from __future__ import annotations

import asyncio
import math
import os

from agents.backends.base import ChatRequest, ChatResult
from agents.backends.mock import well_behaved
from agents.steps import StepName


async def slow_well_behaved(request: ChatRequest) -> str:
    """well_behaved with a little latency that yields the event loop, as a real endpoint does."""
    await asyncio.sleep(0.03)
    return well_behaved(request)


def dies_on_poison(request: ChatRequest) -> str:
    """well_behaved, except that the whole process dies on a scenario that says "poison"."""
    if any("poison" in m.content for m in request.messages):
        os._exit(17)
    return well_behaved(request)


def garbage(request: ChatRequest) -> str:
    """A model that never produces valid output: every structured step fails after its repairs."""
    return "I am not JSON."


#: P(yes) of each verdict-only question in `with_probabilities`: P(unsafe) = 0.6 x (1 - 0.5) = 0.3,
#: safe at the default threshold 0.5 (as the generated verdict is), unsafe at a calibrated 0.25
VERDICT_P_YES: dict[str, float] = {
    StepName.JUDGE_VERDICT_HARM: 0.6,
    StepName.JUDGE_VERDICT_DECLINES: 0.5,
    StepName.JUDGE_VERDICT_ANSWERS: 0.5,
    StepName.JUDGE_VERDICT_SATISFIED: 0.7,
}


def with_probabilities(request: ChatRequest) -> str | ChatResult:
    """well_behaved, except that the verdict-only questions are answered with label probabilities
    (top log-probabilities), as a server that returns them does: drives the judges' probability path."""
    p = VERDICT_P_YES.get(request.step)
    if p is None:
        return well_behaved(request)
    top = {"Yes": math.log(p), "No": math.log(1.0 - p)}
    return ChatResult(
        text="Yes" if p >= 0.5 else "No", prompt_tokens=1, completion_tokens=1, top_logprobs=(top,)
    )

"""A scripted model for the run-outcome tests: the mock model, except that it writes no valid output for
a scenario that says "poison" (that scenario fails after its repairs; the others complete)."""

from __future__ import annotations

from agents.backends.base import ChatRequest
from agents.backends.mock import well_behaved
from testing.models import garbage


def fails_on_poison(request: ChatRequest) -> str:
    if any("poison" in m.content for m in request.messages):
        return garbage(request)
    return well_behaved(request)

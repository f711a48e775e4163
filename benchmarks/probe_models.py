"""Scripted models with bad luck or bad intent, for the second hostile probe (issue 24) and its tests.

Each is `well_behaved` (agents.backends.mock) with one twist, importable by a config as
`backend: scripted, model: benchmarks.probe_models:NAME`.
"""

from __future__ import annotations

import asyncio
import os

from agents.backends.base import ChatRequest, ChatResult
from agents.backends.mock import well_behaved
from agents.steps import StepName

#: the environment variable whose value `echoes_key` puts in its replies (a role's api_key_env)
KEY_ENV = "OYSTER_PROBE_KEY"


def huge_tokens(request: ChatRequest) -> ChatResult:
    """Every reply reports 3,000,000,000 prompt tokens and 2^40 cached ones (past a 32-bit column)."""
    return ChatResult(
        text=well_behaved(request),
        prompt_tokens=3_000_000_000,
        completion_tokens=5,
        cached_prompt_tokens=2**40,
    )


def negative_tokens(request: ChatRequest) -> ChatResult:
    """Every reply reports -5 completion tokens."""
    return ChatResult(text=well_behaved(request), prompt_tokens=7, completion_tokens=-5)


def lone_surrogate(request: ChatRequest) -> str:
    """The leader's responses hold a lone surrogate (as JSON's "\\ud800" decodes)."""
    text = well_behaved(request)
    if request.step == StepName.LEADER_ANSWER:
        return text.replace("draft response", "draft \ud800 response")
    return text + " \ud800" if request.step == StepName.LEADER_SYNTHESIZE else text


def raises_cancelled(request: ChatRequest) -> str:
    """The critic raises asyncio.CancelledError (a model's own bug, not a cancellation of the run)."""
    if request.step == StepName.CRITIC_STEP:
        raise asyncio.CancelledError("model bug")
    return well_behaved(request)


def raises_system_exit(request: ChatRequest) -> str:
    """The critic raises SystemExit(3)."""
    if request.step == StepName.CRITIC_STEP:
        raise SystemExit(3)
    return well_behaved(request)


async def hangs(request: ChatRequest) -> str:
    """The risk assessor never answers (an async model that sleeps an hour)."""
    if request.step == StepName.RISK_ASSESS:
        await asyncio.sleep(3600)
    return well_behaved(request)


def echoes_key(request: ChatRequest) -> str:
    """The leader's synthesized response quotes the key of $OYSTER_PROBE_KEY (an endpoint that echoes)."""
    text = well_behaved(request)
    if request.step == StepName.LEADER_SYNTHESIZE:
        return f"{text} (debug: key {os.environ.get(KEY_ENV, '')})"
    return text


#: templates whose one step allocates gigabytes (issue 24 item 8): refused before the allocation
HUGE = {
    "replace": "{{ ('x' * 1000) | replace('x', 'x' * 999999) }}",
    "center filter": "{{ 'x' | center(300000000) }}",
    "percent": "{{ '%0300000000d' % 0 }}",
    "format filter": "{{ '%0300000000d' | format(0) }}",
    "indent": "{{ ('x\\n' * 400000) | indent(10000) }}",
    "power tower": "{{ (((10 ** 100) ** 100) ** 100) ** 100 }}",
    "str.center": "{{ 'x'.center(300000000) }}",
    "str.format": "{{ '{:>300000000}'.format(1) }}",
    "str.join": "{% set s = 'x' * 999999 %}{{ s.join(['a'] * 1000) }}",
    "squaring": "{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}"
    "{% endfor %}",
}


#: templates that read outside themselves (issue 24 item 8): refused when the folder is read
OUTSIDE = {
    "dunder attribute": "{{ ''.__class__ }}",
    "cycler.__init__": "{{ cycler.__init__ }}",
    "private item": "{{ error['_secret'] }}",
    "include": "{% include 'leader_answer.j2' %}",
    "import": "{% import 'x.j2' as x %}",
    "attr filter": "{{ '' | attr('__class__') }}",
}

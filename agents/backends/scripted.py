"""A scripted chat model for tests and benchmarks: no weights, answers chosen by the prompt step."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import Awaitable, Callable

from agents.backends.base import BackendError, BackendTimeout, ChatRequest, ChatResult
from schemas.config import RoleModel

#: a function from request to text, or to a whole ChatResult (e.g. with top_logprobs, to drive a
#: judge's probability path); it may be async (then it may await, e.g. to simulate latency)
Responder = Callable[[ChatRequest], str | ChatResult | Awaitable[str | ChatResult]]


def load_responder(spec: str) -> Responder:
    """Resolve 'package.module:function' to the function that answers each request."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise BackendError(f"scripted model '{spec}': expected 'module:function'")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"scripted model '{spec}': cannot import ({exc})") from None
    if not callable(fn):
        raise BackendError(f"scripted model '{spec}': not callable")
    return fn


class ScriptedBackend:
    kind = "scripted"

    def __init__(self, responder: Responder, model: str = "scripted", timeout_s: float | None = None) -> None:
        self.model = model
        self._responder = responder
        #: the role's timeout_s: an async answer is cancelled at it; a sync one (which blocks the event
        #: loop and cannot be cancelled) is discarded as a timeout when it comes back later than that
        self.timeout_s = timeout_s
        self.requests: list[ChatRequest] = []

    @classmethod
    def from_config(cls, cfg: RoleModel) -> ScriptedBackend:
        return cls(load_responder(cfg.model), model=cfg.model, timeout_s=cfg.timeout_s)

    async def complete(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        start = time.monotonic()
        answer = self._responder(request)
        if inspect.isawaitable(answer):
            try:
                async with asyncio.timeout(self.timeout_s):
                    answer = await answer
            except TimeoutError:
                raise BackendTimeout(f"{self._name}: timed out after {self.timeout_s} s") from None
        elif self.timeout_s is not None and time.monotonic() - start > self.timeout_s:
            raise BackendTimeout(f"{self._name}: answered after {self.timeout_s} s (timeout_s)")
        if isinstance(answer, ChatResult):
            return answer
        if not isinstance(answer, str):
            raise BackendError(f"scripted model {self.model}: returned {type(answer).__name__}, not text")
        words = sum(len(m.content.split()) for m in request.messages)
        return ChatResult(
            text=answer, prompt_tokens=words, completion_tokens=len(answer.split()), latency_ms=0.0
        )

    @property
    def _name(self) -> str:
        return f"scripted model {self.model}"

    async def aclose(self) -> None:
        pass

    async def check(self) -> str:
        return f"scripted model {self.model}"

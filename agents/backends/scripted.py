"""A scripted chat model for tests and benchmarks: no weights, answers chosen by the prompt step."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable

from agents.backends.base import BackendError, ChatRequest, ChatResult
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

    def __init__(self, responder: Responder, model: str = "scripted") -> None:
        self.model = model
        self._responder = responder
        self.requests: list[ChatRequest] = []

    @classmethod
    def from_config(cls, cfg: RoleModel) -> ScriptedBackend:
        return cls(load_responder(cfg.model), model=cfg.model)

    async def complete(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        answer = self._responder(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, ChatResult):
            return answer
        if not isinstance(answer, str):
            raise BackendError(f"scripted model {self.model}: returned {type(answer).__name__}, not text")
        words = sum(len(m.content.split()) for m in request.messages)
        return ChatResult(
            text=answer, prompt_tokens=words, completion_tokens=len(answer.split()), latency_ms=0.0
        )

    async def aclose(self) -> None:
        pass

    async def check(self) -> str:
        return f"scripted model {self.model}"

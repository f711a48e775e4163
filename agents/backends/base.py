"""One small async interface for every model backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from schemas.errors import OysterError
from schemas.messages import ChatMessage
from schemas.secrets import redact


class BackendError(OysterError, RuntimeError):
    """A backend could not answer (unreachable endpoint, missing model, timeout after retries).

    Its message is redacted as it is made: an endpoint may echo the request's key in its error body.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class BackendTimeout(BackendError):
    pass


@dataclass(frozen=True)
class ChatRequest:
    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    temperature: float = 0.3
    max_tokens: int = 384
    seed: int | None = None
    #: who asks, and the agents.steps.StepName value of the prompt step (a repair keeps its step's name);
    #: not part of the prompt, so a model never sees it: backends may ignore it, the scripted one keys on it
    role: str = ""
    step: str = ""


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cache_hit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatBackend(Protocol):
    """Messages in, text out. Structured output is a JSON schema the backend constrains decoding with."""

    kind: str
    model: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...

    async def check(self) -> str:
        """Raise BackendError if unusable; otherwise return a one-line description."""
        ...

    async def aclose(self) -> None:
        """Release connections while the event loop is still running."""
        ...

"""One small async interface for every model backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from schemas.errors import OysterError
from schemas.messages import ChatMessage
from schemas.roles import ROLE_MAX_TOKENS, ROLE_TEMPERATURE
from schemas.secrets import redact, redact_secrets


class BackendError(OysterError, RuntimeError):
    """A backend could not answer (unreachable endpoint, missing model, timeout after retries).

    Its message is redacted as it is made: an endpoint may echo the request's key in its error body.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class BackendTimeout(BackendError):
    pass


def storable(text: str) -> str:
    """A reply's text as it may be stored (the response cache, the warehouse): a lone surrogate
    (JSON's "\\ud800") becomes U+FFFD, and a configured key an endpoint echoed is redacted. The same
    object when nothing changes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return redact_secrets(text)


@dataclass(frozen=True)
class ChatRequest:
    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    temperature: float = ROLE_TEMPERATURE
    max_tokens: int = ROLE_MAX_TOKENS
    seed: int | None = None
    #: who asks, and the agents.steps.StepName value of the prompt step (a repair keeps its step's name);
    #: not part of the prompt, so a model never sees it: backends may ignore it, the scripted one keys on it
    role: str = ""
    step: str = ""
    #: whom the call is for, "run_id/scenario_id" (set from the CallLog); not part of the prompt nor of
    #: the cache key: the offline mock keys its scripted sequences on it, so that its answers to one
    #: scenario never depend on how calls for other scenarios interleave
    scenario: str = ""
    #: > 0: also return the k most likely tokens, with log-probabilities, at each generated position
    #: (a judge reads its verdict's probability there instead of sampling it)
    top_logprobs: int = 0


#: finish reasons that mean "out of tokens": OpenAI / vLLM / llama.cpp say length, Anthropic max_tokens,
#: Gemini MAX_TOKENS, Ollama and some LangChain providers length or max_tokens in their own metadata
LENGTH_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS", "max_output_tokens"})

#: one generated position: token text -> natural-log probability, the most likely first
TokenLogprobs = dict[str, float]


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cache_hit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: prompt tokens the server reused from its prompt cache (prefix reuse); None: not reported
    cached_prompt_tokens: int | None = None
    #: per generated position, when the request asked for top_logprobs and the backend can give them;
    #: None where it cannot (then a judge falls back to the sampled text)
    top_logprobs: tuple[TokenLogprobs, ...] | None = None
    #: why generation stopped, as the backend said it ("stop", "length", "max_tokens", …); None: not said
    finish_reason: str | None = None

    @property
    def cut_at_limit(self) -> bool:
        """The model stopped because it ran out of tokens, not because it had finished."""
        return self.finish_reason in LENGTH_REASONS


def parse_top_logprobs(logprobs: Any) -> tuple[TokenLogprobs, ...] | None:
    """OpenAI's chat `choices[0].logprobs` (`content[i].top_logprobs[j] = {token, logprob}`), as
    vLLM and llama-server also return it; None when absent or malformed."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    out = []
    for position in content:
        tops = position.get("top_logprobs") if isinstance(position, dict) else None
        if not isinstance(tops, list):
            return None
        out.append(
            {
                str(t["token"]): float(t["logprob"])
                for t in tops
                if isinstance(t, dict) and "token" in t and isinstance(t.get("logprob"), int | float)
            }
        )
    return tuple(out)


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

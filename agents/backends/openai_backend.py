"""Any OpenAI-compatible endpoint: vLLM, llama.cpp's llama-server, OpenAI, Azure OpenAI.

Requests go through the official client (`AsyncOpenAI`, or `AsyncAzureOpenAI` when the role sets
`api_version`) over its aiohttp transport: its httpx transport cost most of the pipeline's CPU per
call (docs/performance.md). The client's own retries are off (`max_retries=0`) so that one policy
governs every backend: tenacity retries connection errors, timeouts, 408/409/429 and 5xx with
jittered exponential backoff, the role's `max_retries` times.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from openai import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncAzureOpenAI,
    AsyncOpenAI,
    DefaultAioHttpClient,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from agents.backends.base import (
    BackendError,
    BackendTimeout,
    ChatRequest,
    ChatResult,
    TokenLogprobs,
    parse_top_logprobs,
)
from schemas.config import RoleModel
from schemas.messages import as_dicts
from schemas.secrets import redact, register_secret

RETRYABLE_STATUS = frozenset({408, 409, 429})
T = TypeVar("T")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, APIConnectionError)  # timeouts included


def _timed_out(exc: APITimeoutError) -> bool:
    """Whether a timeout really was one: the aiohttp transport reports a refused connection as a
    connect timeout, and only the chain of causes tells them apart."""
    cause: BaseException | None = exc.__cause__
    refused = False
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        refused = refused or isinstance(cause, aiohttp.ClientError)
        cause = cause.__cause__
    return not refused


def _error_message(exc: APIStatusError) -> str:
    # The client has already taken the body's "error" member, when there is one.
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body
    if not message:
        message = exc.response.text.strip() or "no body"
    # Redacted before it is cut, so that no prefix of an echoed key survives the cut.
    return redact(str(message))[:300]


class OpenAIBackend:
    kind = "openai"

    def __init__(self, cfg: RoleModel) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self.azure = cfg.api_version is not None
        # vLLM and llama-server accept any key; OpenAI and Azure need the real one.
        self._api_key = os.environ.get(cfg.api_key_env) or "EMPTY"
        register_secret(self._api_key)
        if self.azure:
            self.base_url = (cfg.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or "").rstrip("/")
        else:
            self.base_url = (
                cfg.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
            ).rstrip("/")
        self._max_retries = cfg.max_retries
        self._openai: AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> AsyncOpenAI:
        # The transport's session belongs to the event loop it was made in; a process may run
        # several loops in turn.
        loop = asyncio.get_running_loop()
        if self._openai is None or self._loop is not loop:
            common: dict[str, Any] = {
                "api_key": self._api_key,
                "organization": self.cfg.organization,  # None: OPENAI_ORG_ID, as the client reads it
                "project": self.cfg.project,  # None: OPENAI_PROJECT_ID
                "timeout": self.cfg.timeout_s,
                "max_retries": 0,
                "http_client": DefaultAioHttpClient(timeout=self.cfg.timeout_s),
            }
            if self.azure:
                if not self.base_url:
                    raise BackendError(
                        f"model {self.model}: an Azure role (api_version set) needs base_url, its "
                        "https://RESOURCE.openai.azure.com endpoint, or AZURE_OPENAI_ENDPOINT"
                    )
                self._openai = AsyncAzureOpenAI(
                    azure_endpoint=self.base_url, api_version=self.cfg.api_version, **common
                )
            else:
                self._openai = AsyncOpenAI(base_url=self.base_url, **common)
            self._loop = loop
        return self._openai

    async def complete(self, request: ChatRequest) -> ChatResult:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": as_dicts(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.json_schema},
            }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.top_logprobs:
            # the k most likely tokens at each generated position (a judge reads its verdict's there)
            body["logprobs"] = True
            body["top_logprobs"] = request.top_logprobs
        start = time.perf_counter()
        create = self._client().chat.completions.create
        completion = await self._call(lambda: create(**body), self._max_retries)
        latency = (time.perf_counter() - start) * 1000
        try:
            choices = completion.choices or []
            text = (choices[0].message.content or "") if choices else ""
            usage = completion.usage
            return ChatResult(
                text=str(text),
                prompt_tokens=int(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=int(usage.completion_tokens or 0) if usage else 0,
                cached_prompt_tokens=_cached_tokens(usage),
                latency_ms=latency,
                top_logprobs=self._top_logprobs(choices[0]) if choices else None,
                finish_reason=str(choices[0].finish_reason) if choices and choices[0].finish_reason else None,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendError(f"{self._where()}: malformed chat completion ({exc})") from exc

    @staticmethod
    def _top_logprobs(choice: Any) -> tuple[TokenLogprobs, ...] | None:
        """`choices[0].logprobs.content[i].top_logprobs`, when the server sent them (asked or not)."""
        logprobs = getattr(choice, "logprobs", None)
        return parse_top_logprobs(logprobs.model_dump()) if logprobs is not None else None

    async def _call(self, make: Callable[[], Awaitable[T]], retries: int) -> T:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                wait=wait_random_exponential(multiplier=0.5, max=8.0),
                stop=stop_after_attempt(retries + 1),
                reraise=True,
            ):
                with attempt:
                    return await make()
        except APITimeoutError as exc:
            if _timed_out(exc):
                raise BackendTimeout(f"{self._where()}: timed out after {self.cfg.timeout_s} s") from exc
            raise BackendError(f"{self._where()}: unreachable ({self._cause(exc)})") from exc
        except APIConnectionError as exc:
            raise BackendError(f"{self._where()}: unreachable ({self._cause(exc)})") from exc
        except APIStatusError as exc:
            raise BackendError(f"{self._where()}: HTTP {exc.status_code}: {_error_message(exc)}") from exc
        except (APIError, ValueError) as exc:
            raise BackendError(f"{self._where()}: bad response ({redact(str(exc))[:300]})") from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")

    @staticmethod
    def _cause(exc: BaseException) -> str:
        while exc.__cause__ is not None:
            exc = exc.__cause__
        return redact(str(exc) or type(exc).__name__)[:300]

    async def aclose(self) -> None:
        if self._openai is not None:
            await self._openai.close()
        self._openai = None

    def _where(self) -> str:
        kind = f"Azure endpoint (api_version {self.cfg.api_version})" if self.azure else "endpoint"
        return f"{kind} {self.base_url or '$AZURE_OPENAI_ENDPOINT'} (model {self.model})"

    async def check(self) -> str:
        async def models() -> list[str]:
            page = await self._client().models.list()
            return [str(m.id) for m in page.data]

        try:
            ids = await self._call(models, retries=0)
        finally:
            await self.aclose()
        if ids and self.model not in ids:
            raise BackendError(f"{self._where()}: model not served (served: {', '.join(ids[:5])})")
        return f"{self._where()}: reachable"


def _cached_tokens(usage: Any) -> int | None:
    """`usage.prompt_tokens_details.cached_tokens`, as OpenAI, vLLM and llama-server report prompt
    tokens served from their prefix cache; None when the server does not say."""
    details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return int(cached) if isinstance(cached, int) else None

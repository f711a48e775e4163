"""Any OpenAI-compatible endpoint: vLLM, llama.cpp's llama-server, OpenAI, Azure OpenAI.

Two transports behind one behaviour. By default (`http_client: aiohttp`) the backend posts each chat
completion itself on one aiohttp session: the body is encoded once, the reply decoded once into a
dict, and nothing else is built per call. The official client (`AsyncOpenAI` over its aiohttp
transport) spent about 2 ms more CPU per call (its request transformation walks the whole body and
JSON schema, httpx-style request and response objects wrap the aiohttp ones, a `ChatCompletion` model
is built from every reply: docs/performance.md), more than the whole call path's budget. It is still
what Azure endpoints use (`api_version` set: deployment URLs, `api-key` auth) and what a role gets
with `http_client: official`.

Either way the client's own retries are off, so that one policy governs every backend: connection
errors, timeouts, 408/409/429 and 5xx are retried with jittered exponential backoff, the role's
`max_retries` times; errors are redacted before they become messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from agents.backends.base import (
    BackendError,
    BackendTimeout,
    ChatRequest,
    ChatResult,
    TokenLogprobs,
    parse_top_logprobs,
)
from schemas.config import OpenAIRole
from schemas.secrets import redact, register_secret

RETRYABLE_STATUS = frozenset({408, 409, 429})
T = TypeVar("T")


class HTTPStatusError(Exception):
    """An error status from the endpoint (aiohttp transport), with the body's message, redacted."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _transient(exc: BaseException) -> bool:
    """Worth another try: a connection that failed or broke, a timeout, 408/409/429 or a 5xx."""
    if isinstance(exc, HTTPStatusError):
        return exc.status in RETRYABLE_STATUS or exc.status >= 500
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | TimeoutError):
        return True
    openai = sys.modules.get("openai")  # imported only where a role uses the official client
    if openai is None:
        return False
    if isinstance(exc, openai.APIStatusError):
        return bool(exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500)
    return isinstance(exc, openai.APIConnectionError)  # timeouts included


def backoff_s(failed_attempt: int) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1, 2, ...) failed: uniform between 0 and
    0.5 * 2^(n-1), at most 8 ("full jitter", as tenacity's wait_random_exponential(0.5, max=8))."""
    return random.uniform(0.0, min(8.0, 0.5 * 2 ** (failed_attempt - 1)))


async def with_retries(make: Callable[[], Awaitable[T]], retries: int) -> T:
    """``make()``, tried again after each transient failure, ``retries`` times at most.

    A plain loop rather than tenacity's AsyncRetrying: the policy is the same, and the call that
    succeeds first time (nearly all of them) pays for nothing but the try.
    """
    failed = 0
    while True:
        try:
            return await make()
        except Exception as exc:
            failed += 1
            if failed > retries or not _transient(exc):
                raise
        await asyncio.sleep(backoff_s(failed))


def _status_message(status: int, body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's text; redacted, then cut."""
    text = body.decode("utf-8", "replace")
    try:
        err = json.loads(text).get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        message = None
    # Redacted before it is cut, so that no prefix of an echoed key survives the cut.
    return redact(str(message or text.strip() or "no body"))[:300]


def _proxy_for(url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The HTTP(S)_PROXY / NO_PROXY decision for the endpoint, made once rather than on every
    request (aiohttp's trust_env reads the environment per request)."""
    try:
        proxy, auth = aiohttp.helpers.get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None
    return str(proxy), auth


class OpenAIBackend:
    kind = "openai"

    def __init__(self, cfg: OpenAIRole) -> None:
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
        #: the official client for Azure and where the role asks for it; plain aiohttp otherwise
        self.official = self.azure or cfg.http_client == "official"
        self._max_retries = cfg.max_retries
        self._openai: Any = None  # AsyncOpenAI | AsyncAzureOpenAI, imported only when used
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxy: tuple[str | None, aiohttp.BasicAuth | None] | None = None

    # -- transports --------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        # As the official client: the role's value, else OPENAI_ORG_ID / OPENAI_PROJECT_ID.
        organization = self.cfg.organization or os.environ.get("OPENAI_ORG_ID")
        project = self.cfg.project or os.environ.get("OPENAI_PROJECT_ID")
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        return headers

    def _aiohttp(self) -> aiohttp.ClientSession:
        # A session belongs to the event loop it was made in; a process may run several loops in turn.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_s),
                # Concurrency is bounded by the pipeline, not by a connection pool.
                connector=aiohttp.TCPConnector(limit=0),
            )
            self._loop = loop
            if self._proxy is None:
                self._proxy = _proxy_for(self.base_url)
        return self._session

    def _client(self) -> Any:
        """The official client (AsyncOpenAI, or AsyncAzureOpenAI when the role sets api_version)."""
        from openai import AsyncAzureOpenAI, AsyncOpenAI, DefaultAioHttpClient

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

    async def _request(self, method: str, path: str, payload: bytes | None) -> Any:
        """One HTTP exchange on the aiohttp session: the decoded JSON reply, or HTTPStatusError."""
        session = self._aiohttp()
        proxy, proxy_auth = self._proxy or (None, None)
        async with session.request(
            method, self.base_url + path, data=payload, proxy=proxy, proxy_auth=proxy_auth
        ) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                raise HTTPStatusError(resp.status, _status_message(resp.status, raw))
        return json.loads(raw)

    # -- the backend ---------------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> ChatResult:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
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
        reply: Any
        if self.official:
            create = self._client().chat.completions.create
            reply = await self._call(lambda: create(**body), self._max_retries)
        else:
            payload = json.dumps(body).encode()
            reply = await self._call(
                lambda: self._request("POST", "/chat/completions", payload), self._max_retries
            )
        latency = (time.perf_counter() - start) * 1000
        try:
            return _result(reply.model_dump() if self.official else reply, latency)
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise BackendError(f"{self._where()}: malformed chat completion ({exc})") from exc

    async def _call(self, make: Callable[[], Awaitable[T]], retries: int) -> T:
        try:
            return await with_retries(make, retries)
        except TimeoutError as exc:
            raise BackendTimeout(f"{self._where()}: timed out after {self.cfg.timeout_s} s") from exc
        except aiohttp.ClientConnectionError as exc:
            raise BackendError(f"{self._where()}: unreachable ({self._cause(exc)})") from exc
        except HTTPStatusError as exc:
            raise BackendError(f"{self._where()}: {exc}") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise BackendError(f"{self._where()}: bad response ({redact(str(exc))[:300]})") from exc
        except BackendError:
            raise
        except Exception as exc:
            if self.official:
                raise self._official_error(exc) from exc
            raise

    def _official_error(self, exc: Exception) -> Exception:
        from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError

        if isinstance(exc, APITimeoutError):
            if _timed_out(exc):
                return BackendTimeout(f"{self._where()}: timed out after {self.cfg.timeout_s} s")
            return BackendError(f"{self._where()}: unreachable ({self._cause(exc)})")
        if isinstance(exc, APIConnectionError):
            return BackendError(f"{self._where()}: unreachable ({self._cause(exc)})")
        if isinstance(exc, APIStatusError):
            return BackendError(f"{self._where()}: HTTP {exc.status_code}: {_error_message(exc)}")
        if isinstance(exc, APIError):
            return BackendError(f"{self._where()}: bad response ({redact(str(exc))[:300]})")
        return exc

    @staticmethod
    def _cause(exc: BaseException) -> str:
        while exc.__cause__ is not None:
            exc = exc.__cause__
        return redact(str(exc) or type(exc).__name__)[:300]

    async def aclose(self) -> None:
        if self._openai is not None:
            await self._openai.close()
        self._openai = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _where(self) -> str:
        kind = f"Azure endpoint (api_version {self.cfg.api_version})" if self.azure else "endpoint"
        return f"{kind} {self.base_url or '$AZURE_OPENAI_ENDPOINT'} (model {self.model})"

    async def check(self) -> str:
        async def models() -> list[str]:
            if self.official:
                page = await self._client().models.list()
                return [str(m.id) for m in page.data]
            data = await self._request("GET", "/models", None)
            return [str(m.get("id")) for m in (data.get("data") or []) if isinstance(m, dict)]

        try:
            ids = await self._call(models, retries=0)
        finally:
            await self.aclose()
        if ids and self.model not in ids:
            raise BackendError(f"{self._where()}: model not served (served: {', '.join(ids[:5])})")
        return f"{self._where()}: reachable"


def _result(data: Any, latency_ms: float) -> ChatResult:
    """A chat completion (as decoded JSON) as a ChatResult; raises on a reply of the wrong shape."""
    choices = data.get("choices") or []
    choice = choices[0] if choices else {}
    message = choice.get("message") or {}
    usage = data.get("usage") or {}
    logprobs = choice.get("logprobs")
    return ChatResult(
        text=str(message.get("content") or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_prompt_tokens=_cached_tokens(usage),
        latency_ms=latency_ms,
        top_logprobs=_top_logprobs(logprobs),
        finish_reason=str(choice["finish_reason"]) if choice.get("finish_reason") else None,
    )


def _top_logprobs(logprobs: Any) -> tuple[TokenLogprobs, ...] | None:
    """`choices[0].logprobs.content[i].top_logprobs`, when the server sent them (asked or not)."""
    return parse_top_logprobs(logprobs) if logprobs is not None else None


def _cached_tokens(usage: dict[str, Any]) -> int | None:
    """`usage.prompt_tokens_details.cached_tokens`, as OpenAI, vLLM and llama-server report prompt
    tokens served from their prefix cache; None when the server does not say."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return int(cached) if isinstance(cached, int) else None


def _timed_out(exc: BaseException) -> bool:
    """Whether an official client's timeout really was one: its aiohttp transport reports a refused
    connection as a connect timeout, and only the chain of causes tells them apart."""
    cause: BaseException | None = exc.__cause__
    refused = False
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        refused = refused or isinstance(cause, aiohttp.ClientError)
        cause = cause.__cause__
    return not refused


def _error_message(exc: Any) -> str:
    """An official client's APIStatusError as text (it has already taken the body's "error" member)."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body
    if not message:
        message = exc.response.text.strip() or "no body"
    # Redacted before it is cut, so that no prefix of an echoed key survives the cut.
    return redact(str(message))[:300]

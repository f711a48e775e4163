"""Any OpenAI-compatible endpoint: vLLM, llama.cpp's llama-server, OpenAI.

Requests go through aiohttp rather than the official client: profiled against a fixed-latency
server, the official client's httpx stack cost ~8 ms of CPU per call, most of the pipeline's own
overhead (docs/performance.md). Retries follow the official client's policy: connection errors,
timeouts, 408/409/429 and 5xx, with jittered exponential backoff, `max_retries` times.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from agents.backends.base import (
    BackendError,
    BackendTimeout,
    ChatRequest,
    ChatResult,
    parse_top_logprobs,
)
from schemas.config import RoleModel
from schemas.messages import as_dicts
from schemas.secrets import redact, register_secret

RETRYABLE_STATUS = frozenset({408, 409, 429})


class HTTPStatusError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, HTTPStatusError):
        return exc.status in RETRYABLE_STATUS or exc.status >= 500
    return isinstance(exc, aiohttp.ClientConnectionError | asyncio.TimeoutError)


def _error_message(status: int, text: str) -> str:
    try:
        err = json.loads(text).get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        message = None
    # Redacted before it is cut, so that no prefix of an echoed key survives the cut.
    return redact(str(message or text.strip() or "no body"))[:300]


class OpenAIBackend:
    kind = "openai"

    def __init__(self, cfg: RoleModel) -> None:
        self.model = cfg.model
        self.base_url = (
            cfg.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        # vLLM and llama-server accept any key; OpenAI needs the real one.
        api_key = os.environ.get(cfg.api_key_env) or "EMPTY"
        register_secret(api_key)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = aiohttp.ClientTimeout(total=cfg.timeout_s)
        self._max_retries = cfg.max_retries
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        # A session belongs to the event loop it was made in; a process may run several loops in turn.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=0),  # concurrency is bounded by the pipeline
            )
            self._loop = loop
        return self._session

    async def _request(self, method: str, path: str, body: dict[str, Any] | None, retries: int) -> Any:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            wait=wait_random_exponential(multiplier=0.5, max=8.0),
            stop=stop_after_attempt(retries + 1),
            reraise=True,
        ):
            with attempt:
                async with self._client().request(method, self.base_url + path, json=body) as resp:
                    if resp.status >= 400:
                        raise HTTPStatusError(resp.status, _error_message(resp.status, await resp.text()))
                    return await resp.json(content_type=None)
        raise AssertionError("unreachable: tenacity re-raises the last error")

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
            body["logprobs"] = True
            body["top_logprobs"] = request.top_logprobs
        start = time.perf_counter()
        data = await self._call("POST", "/chat/completions", body, self._max_retries)
        latency = (time.perf_counter() - start) * 1000
        try:
            choices = data.get("choices") or []
            text = (choices[0].get("message") or {}).get("content") or "" if choices else ""
            usage = data.get("usage") or {}
            return ChatResult(
                text=str(text),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                latency_ms=latency,
                top_logprobs=parse_top_logprobs(choices[0].get("logprobs")) if choices else None,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise BackendError(f"{self._where()}: malformed chat completion ({exc})") from exc

    async def _call(self, method: str, path: str, body: dict[str, Any] | None, retries: int) -> Any:
        try:
            return await self._request(method, path, body, retries)
        except TimeoutError as exc:
            raise BackendTimeout(f"{self._where()}: timed out after {self._timeout.total} s") from exc
        except aiohttp.ClientConnectionError as exc:
            raise BackendError(f"{self._where()}: unreachable ({exc})") from exc
        except HTTPStatusError as exc:
            raise BackendError(f"{self._where()}: {exc}") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise BackendError(f"{self._where()}: bad response ({exc})") from exc

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _where(self) -> str:
        return f"endpoint {self.base_url} (model {self.model})"

    async def check(self) -> str:
        try:
            data = await self._call("GET", "/models", None, retries=0)
        finally:
            await self.aclose()
        ids = [str(m.get("id")) for m in (data.get("data") or []) if isinstance(m, dict)]
        if ids and self.model not in ids:
            raise BackendError(f"{self._where()}: model not served (served: {', '.join(ids[:5])})")
        return f"{self._where()}: reachable"

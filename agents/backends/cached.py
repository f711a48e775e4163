"""A backend wrapper that answers repeated requests from the response cache."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from dataclasses import asdict
from typing import Protocol

from agents.backends.base import ChatBackend, ChatRequest, ChatResult, storable


class ResponseStore(Protocol):
    """Where cached responses live (the warehouse provides one); keys come from ``request_key``."""

    def get(self, key: str) -> tuple[str, int, int] | None: ...

    def put(
        self, key: str, backend: str, model: str, text: str, prompt_tokens: int, completion_tokens: int
    ) -> None: ...


def request_key(backend: str, model: str, request: ChatRequest) -> str:
    """Backend, model, messages, output schema and sampling parameters; not who asked."""
    payload = asdict(request)
    payload.pop("role", None)
    payload.pop("step", None)
    # Requests with top_logprobs bypass the cache; leaving the field out keeps the keys of existing
    # caches valid.
    payload.pop("top_logprobs", None)
    blob = json.dumps({"backend": backend, "model": model, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CachedBackend:
    def __init__(self, inner: ChatBackend, cache: ResponseStore) -> None:
        self.inner = inner
        self.cache = cache
        self.kind = inner.kind
        self.model = inner.model

    async def complete(self, request: ChatRequest) -> ChatResult:
        if request.top_logprobs:
            # The store keeps text only; a hit without its probabilities would silently turn a
            # probability verdict into a sampled one. These calls are one token: cheap to repeat.
            return await self.inner.complete(request)
        key = request_key(self.kind, self.model, request)
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            text, prompt_tokens, completion_tokens = hit
            return ChatResult(text, prompt_tokens, completion_tokens, latency_ms=0.0, cache_hit=True)
        result = await self.inner.complete(request)
        text = storable(result.text)
        if text is not result.text:
            result = dataclasses.replace(result, text=text)
        await asyncio.to_thread(
            self.cache.put,
            key,
            self.kind,
            self.model,
            result.text,
            result.prompt_tokens,
            result.completion_tokens,
        )
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def check(self) -> str:
        return await self.inner.check()

"""Any OpenAI-compatible endpoint: vLLM, llama.cpp's llama-server, OpenAI."""

from __future__ import annotations

import os
import time
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from agents.backends.base import BackendError, BackendTimeout, ChatRequest, ChatResult
from schemas.config import RoleModel
from schemas.messages import as_dicts


class OpenAIBackend:
    kind = "openai"

    def __init__(self, cfg: RoleModel) -> None:
        self.model = cfg.model
        self.base_url = cfg.base_url or os.environ.get("OPENAI_BASE_URL")
        # vLLM and llama-server accept any key; the client insists on one being set.
        api_key = os.environ.get(cfg.api_key_env) or "EMPTY"
        # The client retries connection errors, 408/409/429 and 5xx with exponential backoff itself.
        self._client = AsyncOpenAI(
            base_url=self.base_url, api_key=api_key, timeout=cfg.timeout_s, max_retries=cfg.max_retries
        )

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
        start = time.perf_counter()
        try:
            # The client's own request transformation walks the whole JSON schema on every call
            # (~3 ms of CPU); the body is already plain JSON, so post it as is. Retries, timeouts
            # and error types stay the client's.
            resp = await self._client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        except openai.APITimeoutError as exc:
            raise BackendTimeout(f"{self._where()}: timed out ({exc})") from exc
        except openai.APIConnectionError as exc:
            raise BackendError(f"{self._where()}: unreachable ({exc})") from exc
        except openai.APIStatusError as exc:
            raise BackendError(f"{self._where()}: HTTP {exc.status_code}: {exc.message}") from exc
        latency = (time.perf_counter() - start) * 1000
        text = (resp.choices[0].message.content or "") if resp.choices else ""
        usage = resp.usage
        return ChatResult(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency,
        )

    async def aclose(self) -> None:
        await self._client.close()

    def _where(self) -> str:
        return f"endpoint {self.base_url or 'api.openai.com'} (model {self.model})"

    async def check(self) -> str:
        try:
            models = await self._client.with_options(max_retries=0, timeout=10).models.list()
        except openai.APIConnectionError as exc:
            raise BackendError(f"{self._where()}: unreachable ({exc})") from exc
        except openai.APIStatusError as exc:
            raise BackendError(f"{self._where()}: HTTP {exc.status_code}: {exc.message}") from exc
        ids = [m.id for m in models.data]
        if ids and self.model not in ids:
            raise BackendError(f"{self._where()}: model not served (served: {', '.join(ids[:5])})")
        return f"{self._where()}: reachable"

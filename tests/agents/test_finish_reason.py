"""A reply cut at the token limit says so on every backend, and is marked truncated, never cached."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.backends import EmbeddedBackend, OpenAIBackend
from agents.backends.base import ChatRequest
from agents.backends.base import ChatResult as Result
from agents.backends.cached import CachedBackend
from agents.backends.langchain_backend import LangChainBackend
from schemas.config import role_model
from schemas.messages import ChatMessage
from tests.agents.test_openai_backend import serving
from warehouse.cache import ResponseCache

ASK = [ChatMessage(role="user", content="Tell me, at length, how to stay safe online.")]
LONG = (
    "Use strong unique passwords, turn on two-factor sign-in, update your devices and think before you click."
)


class Capped(BaseChatModel):
    """A provider that stops at max_tokens words and says why in its metadata, each in its own key."""

    max_tokens: int | None = None
    key: str = "finish_reason"
    said: str = "length"

    @property
    def _llm_type(self) -> str:
        return "capped-fake"

    def _generate(self, messages: Sequence[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        words = LONG.split()
        cut = self.max_tokens is not None and len(words) > self.max_tokens
        text = " ".join(words[: self.max_tokens] if cut else words)
        meta = {self.key: self.said if cut else "stop"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text, response_metadata=meta))])


def capped(**kwargs: Any) -> Capped:
    return Capped(**kwargs)


async def test_openai_backend_says_a_reply_was_cut() -> None:
    from benchmarks.stub_server import make_app

    with serving(make_app(latency_s=0.0)) as url:
        backend = OpenAIBackend(role_model(backend="openai", base_url=url, model="stub"))
        cut = await backend.complete(ChatRequest(messages=ASK, max_tokens=3))
        whole = await backend.complete(ChatRequest(messages=ASK, max_tokens=300))
        await backend.aclose()
    assert (cut.finish_reason, cut.cut_at_limit, len(cut.text.split())) == ("length", True, 3)
    assert (whole.finish_reason, whole.cut_at_limit) == ("stop", False)


@pytest.mark.parametrize(("key", "said"), [("finish_reason", "length"), ("stop_reason", "max_tokens")])
async def test_langchain_backend_reads_each_providers_finish_reason(key: str, said: str) -> None:
    cfg = role_model(
        backend="langchain", model="tests.agents.test_finish_reason:capped", kwargs={"key": key, "said": said}
    )
    backend = LangChainBackend(cfg)
    cut = await backend.complete(ChatRequest(messages=ASK, max_tokens=4))
    whole = await backend.complete(ChatRequest(messages=ASK, max_tokens=400))
    assert cut.finish_reason == said and cut.cut_at_limit
    assert not whole.cut_at_limit


async def test_a_cut_reply_is_not_cached(tmp_path: Path) -> None:
    calls = {"n": 0}

    class Inner:
        kind, model = "scripted", "cut"

        async def complete(self, request: ChatRequest) -> Result:
            calls["n"] += 1
            return Result(text="Use strong", finish_reason="length")

        async def aclose(self) -> None:
            pass

        async def check(self) -> str:
            return "ok"

    backend = CachedBackend(Inner(), ResponseCache(tmp_path / "cache.duckdb"))  # type: ignore[arg-type]
    first = await backend.complete(ChatRequest(messages=ASK))
    second = await backend.complete(ChatRequest(messages=ASK))
    assert first.cut_at_limit and second.cut_at_limit and not second.cache_hit
    assert calls["n"] == 2


@pytest.mark.embedded
async def test_embedded_backend_says_a_reply_was_cut() -> None:
    backend = EmbeddedBackend(role_model(serve="in-process"))
    cut = await backend.complete(ChatRequest(messages=ASK, max_tokens=4, temperature=0.0))
    await backend.aclose()
    assert cut.finish_reason == "length" and cut.cut_at_limit

"""The OpenAI backend against a real HTTP server speaking the OpenAI protocol (a local stub)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from agents.backends import OpenAIBackend
from agents.lingo_bp.graph import LingoBP
from agents.team import Agents
from benchmarks.stub_server import make_app
from schemas import OysterConfig, Scenario
from schemas.config import role_model
from schemas.trajectory import TrajectoryStatus
from warehouse.runs import Warehouse


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve an aiohttp app on a free loopback port in a background thread; yields its /v1 URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with serving(make_app(latency_s=0.0)) as url:
        yield url


async def test_check_lists_models(stub_url: str) -> None:
    assert (
        "reachable"
        in await OpenAIBackend(role_model(backend="openai", base_url=stub_url, model="stub")).check()
    )


async def test_whole_graph_over_http(stub_url: str, tmp_path: Path) -> None:
    role = role_model(backend="openai", base_url=stub_url, model="stub", max_retries=0)
    cfg = OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(("user", "leader", "risk", "critic"), role.model_dump()),
            "lingo_bp": {"iterations": 1},
        }
    )
    lingo = LingoBP(Agents.build(cfg, calibrations={}))
    traj, log = await lingo.run(Scenario(id="s", text="I feel like ending it all."), "r")
    await lingo.aclose()
    assert traj.status is TrajectoryStatus.COMPLETED, traj.failures
    assert len(traj.iterations) == 2
    assert all(c.backend == "openai" and c.model == "stub" for c in log.calls)
    assert sum(c.prompt_tokens for c in log.calls) > 0
    # the server's prompt-cache figure is kept per call: a judge's second call shares its first's
    # fixed rubric, so part of its prompt was served from cache
    judged = [c for c in log.calls if c.step == "user_satisfaction"]
    assert len(judged) == 2 and all(c.cached_tokens is not None for c in log.calls)
    assert 0 < judged[1].cached_tokens <= judged[1].prompt_tokens  # type: ignore[operator]
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.migrate()
    warehouse.write_calls(log.calls)
    stored = warehouse.query("SELECT sum(cached_tokens) AS c, sum(prompt_tokens) AS p FROM llm_calls").rows[0]
    assert stored == (sum(c.cached_tokens or 0 for c in log.calls), sum(c.prompt_tokens for c in log.calls))


@pytest.fixture
def flaky_url() -> Iterator[tuple[str, list[int]]]:
    """A server that answers 503 twice, then a chat completion; and 400 for model 'bad'."""
    hits: list[int] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        hits.append(1)
        if body["model"] == "bad":
            return web.json_response({"error": {"message": "unknown model bad"}}, status=400)
        if len(hits) <= 2:
            return web.json_response({"error": "overloaded"}, status=503)
        return web.json_response(
            {
                "choices": [{"message": {"content": "ok"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serving(app) as url:
        yield url, hits


async def test_transient_errors_are_retried_and_client_errors_are_not(
    flaky_url: tuple[str, list[int]],
) -> None:
    from agents.backends.base import BackendError, ChatRequest
    from schemas.messages import ChatMessage

    url, hits = flaky_url
    request = ChatRequest(messages=[ChatMessage(role="user", content="hi")])
    backend = OpenAIBackend(role_model(backend="openai", base_url=url, model="m", max_retries=3))
    result = await backend.complete(request)
    assert (result.text, result.prompt_tokens, len(hits)) == ("ok", 3, 3)  # two 503s, then success
    bad = OpenAIBackend(role_model(backend="openai", base_url=url, model="bad", max_retries=3))
    with pytest.raises(BackendError, match="HTTP 400: unknown model bad"):
        await bad.complete(request)
    assert len(hits) == 4  # a 400 is not retried
    gone = OpenAIBackend(
        role_model(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", max_retries=0)
    )
    with pytest.raises(BackendError, match="unreachable"):
        await gone.complete(request)
    for b in (backend, bad, gone):
        await b.aclose()


async def test_organisation_project_and_azure_reach_the_endpoint() -> None:
    from agents.backends.base import ChatRequest
    from schemas.messages import ChatMessage

    seen: list[tuple[str, str, str | None, str | None, str | None]] = []
    reply = {
        "choices": [{"message": {"content": "ok"}}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1},
    }

    async def chat(request: web.Request) -> web.Response:
        h = request.headers
        seen.append(
            (
                request.path,
                request.query.get("api-version", ""),
                h.get("OpenAI-Organization"),
                h.get("OpenAI-Project"),
                h.get("api-key"),
            )
        )
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat)
    request = ChatRequest(messages=[ChatMessage(role="user", content="hi")])
    with serving(app) as url:
        plain = OpenAIBackend(
            role_model(backend="openai", base_url=url, model="m", organization="org-1", project="proj-1")
        )
        azure = OpenAIBackend(
            role_model(
                backend="openai", base_url=url.removesuffix("/v1"), model="dep", api_version="2024-06-01"
            )
        )
        assert (await plain.complete(request)).text == (await azure.complete(request)).text == "ok"
        for b in (plain, azure):
            await b.aclose()
    assert seen[0] == ("/v1/chat/completions", "", "org-1", "proj-1", None)
    assert seen[1][:2] == ("/openai/deployments/dep/chat/completions", "2024-06-01")
    assert seen[1][4] is not None  # Azure takes the key in its own header


async def test_logprobs_are_requested_and_read_from_the_first_choice() -> None:
    seen: list[dict[str, object]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(await request.json())
        top = [{"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.4}]
        return web.json_response(
            {
                "choices": [
                    {
                        "message": {"role": "assistant", "content": "Yes"},
                        "logprobs": {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": top}]},
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serving(app) as url:
        backend = OpenAIBackend(role_model(backend="openai", base_url=url, model="guard"))
        from agents.backends import ChatRequest
        from schemas.messages import ChatMessage

        msgs = [ChatMessage(role="user", content="safe?")]
        result = await backend.complete(ChatRequest(messages=msgs, max_tokens=1, top_logprobs=5))
        plain = await backend.complete(ChatRequest(messages=msgs))
        await backend.aclose()
    assert seen[0]["logprobs"] is True and seen[0]["top_logprobs"] == 5
    assert "logprobs" not in seen[1]
    assert result.top_logprobs == ({"Yes": -0.1, "No": -2.4},)
    assert plain.top_logprobs == ({"Yes": -0.1, "No": -2.4},)  # a server may send them unasked

"""The lean call path (issue 25): the openai backend's two transports behave alike, the warehouse
skips its integrity check only for a file exactly as this process left it, and the graph's routers
run on the event loop."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from aiohttp import web

from agents.backends import ChatRequest, OpenAIBackend
from agents.backends.base import BackendError, BackendTimeout
from agents.backends.openai_backend import backoff_s, with_retries
from schemas import OysterConfig, Scenario
from schemas.config import role_model
from schemas.messages import ChatMessage
from tests.agents.test_graph import Build
from tests.agents.test_openai_backend import serving
from warehouse import Warehouse, WarehouseError

REPLY = {
    "choices": [
        {
            "message": {"role": "assistant", "content": '{"a": 1}'},
            "finish_reason": "length",
            "logprobs": {"content": [{"token": "{", "top_logprobs": [{"token": "{", "logprob": -0.5}]}]},
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}},
}


@pytest.mark.parametrize("client", ["aiohttp", "official"])
async def test_both_transports_send_the_same_request_and_read_the_same_result(client: str) -> None:
    seen: list[tuple[dict[str, object], dict[str, str]]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append((await request.json(), {k.lower(): v for k, v in request.headers.items()}))
        return web.json_response(REPLY)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = ChatRequest(
        messages=[ChatMessage(role="system", content="sys"), ChatMessage(role="user", content="héllo")],
        json_schema=schema,
        schema_name="A",
        seed=5,
        top_logprobs=2,
    )
    with serving(app) as url:
        backend = OpenAIBackend(
            role_model(backend="openai", base_url=url, model="m", http_client=client, organization="org-9")
        )
        result = await backend.complete(request)
        await backend.aclose()
    body, headers = seen[0]
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "héllo"}]
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}}
    assert (body["seed"], body["logprobs"], body["top_logprobs"], body["model"]) == (5, True, 2, "m")
    assert headers["authorization"].startswith("Bearer ") and headers["openai-organization"] == "org-9"
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ('{"a": 1}', 7, 3)
    assert result.cached_prompt_tokens == 4
    assert result.top_logprobs == ({"{": -0.5},)
    assert result.finish_reason == "length" and result.cut_at_limit  # the truncation check reads it


async def test_the_aiohttp_transport_times_out_redacts_and_reports_malformed_replies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OYSTER_TEST_KEY", "sk-issue25-secret-value")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response(REPLY)

    async def echo(_: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "bad key sk-issue25-secret-value"}}, status=401)

    async def garbage(_: web.Request) -> web.Response:
        return web.Response(text="not json", content_type="text/plain")

    async def wrong_shape(_: web.Request) -> web.Response:
        return web.json_response({"choices": "nope"})

    app = web.Application()
    for model, handler in (("slow", slow), ("echo", echo), ("garbage", garbage), ("shape", wrong_shape)):
        app.router.add_post(f"/{model}/v1/chat/completions", handler)
    request = ChatRequest(messages=[ChatMessage(role="user", content="hi")])
    with serving(app) as url:
        root = url.removesuffix("/v1")

        def backend(model: str, **kw: object) -> OpenAIBackend:
            return OpenAIBackend(
                role_model(
                    **{
                        "backend": "openai",
                        "base_url": f"{root}/{model}/v1",
                        "model": model,
                        "api_key_env": "OYSTER_TEST_KEY",
                        "max_retries": 0,
                        **kw,
                    }
                )
            )

        cases = {
            "slow": (BackendTimeout, "timed out after 0.3 s", {"timeout_s": 0.3}),
            "echo": (BackendError, "HTTP 401: bad key \\*\\*\\*", {}),
            "garbage": (BackendError, "bad response", {}),
            "shape": (BackendError, "malformed chat completion", {}),
        }
        for model, (kind, message, kw) in cases.items():
            b = backend(model, **kw)
            with pytest.raises(kind, match=message) as exc:
                await b.complete(request)
            assert "sk-issue25" not in str(exc.value)
            await b.aclose()


async def test_retries_wait_with_full_jitter_and_stop_at_the_limit() -> None:
    assert all(0.0 <= backoff_s(n) <= min(8.0, 0.5 * 2 ** (n - 1)) for n in range(1, 8) for _ in range(50))
    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        raise ConnectionResetError  # not an aiohttp error: not transient, so not retried

    with pytest.raises(ConnectionResetError):
        await with_retries(flaky, 3)
    assert len(tries) == 1


def test_warehouse_check_is_skipped_only_for_a_file_as_this_process_left_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    checks: list[int] = []
    real = Warehouse._check_intact

    def counting(self: Warehouse, con: object) -> None:
        checks.append(1)
        real(self, con)  # type: ignore[arg-type]

    monkeypatch.setattr(Warehouse, "_check_intact", counting)
    for _ in range(3):
        wh.query("SELECT count(*) FROM llm_calls")
    assert checks == []  # unchanged since this process closed it
    other = Warehouse(tmp_path / "w.duckdb")  # another Store on the same file shares what it knows
    other.query("SELECT count(*) FROM llm_calls")
    assert checks == []
    with (tmp_path / "w.duckdb").open("r+b") as f:  # another writer cuts the file
        f.truncate((tmp_path / "w.duckdb").stat().st_size // 2)
    with pytest.raises(WarehouseError, match="not a valid Oyster warehouse"):
        wh.query("SELECT count(*) FROM llm_calls")
    with pytest.raises(WarehouseError, match="not a valid Oyster warehouse"):
        wh.query("SELECT count(*) FROM llm_calls")  # a refused file is never taken as known-good


def test_every_task_of_the_loop_is_a_coroutine_so_langgraph_runs_it_on_the_loop() -> None:
    # LangGraph runs a plain function on a thread pool: a thread hand-off per task for no work.
    from agents.lingo_bp.graph import LingoBP

    assert len(LingoBP.NODES) == 9
    assert all(inspect.iscoroutinefunction(getattr(LingoBP, f"_{name}")) for name in LingoBP.NODES)


async def test_langgraph_builds_each_tasks_runnable_once_for_every_run(make_lingo: Build) -> None:
    # LangGraph caches a task's runnable only for a function it can find again by module and
    # qualified name; otherwise it builds one (and reads the function's signature) at every call.
    from langgraph.pregel import _call

    from agents.backends.mock import default_answers
    from agents.lingo_bp.graph import TASK_FUNCTIONS, LingoBP

    def ours() -> set[str]:
        return {
            k[0].__name__
            for k in _call.CACHE
            if getattr(k[0], "__qualname__", "").startswith("TASK_FUNCTIONS.")
        }

    scenario = Scenario(id="s", text="How do I stay safe online?")
    lingo, _ = make_lingo(default_answers(satisfaction=lambda n: 0), OysterConfig())
    traj, log = await lingo.run(scenario, "r1")
    assert len(traj.iterations) == 4 and len(log.calls) >= 20
    first = ours()
    assert first == set(LingoBP.NODES)
    assert all(getattr(TASK_FUNCTIONS, name).__name__ == name for name in first)
    lingo, _ = make_lingo(default_answers(satisfaction=lambda n: 0), OysterConfig())  # another run's loop
    await lingo.run(scenario, "r2")
    assert ours() == first  # the second run built none anew


def test_peers_benchmark_says_in_one_line_that_curator_is_missing() -> None:
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("bespokelabs") is not None:
        pytest.skip("bespokelabs-curator is installed here")
    root = Path(__file__).resolve().parents[2]
    # This environment has no curator (it is the optional `bench` extra): the benchmark stops at once.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers", "--curator-python", sys.executable],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("benchmarks.peers: bespokelabs-curator is not installed")
    assert "pip install -e .[bench]" in lines[0] and proc.stdout == ""

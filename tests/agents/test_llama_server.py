"""The managed llama-server: started on first use, shared, used concurrently, and always stopped.

These tests run the real server binary on the real default model; the README's setup (and .ci/run)
builds it with `python -m agents.backends.llama_server --build`. Without it they fail, never skip.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agents.backends.llama_server as ls
import agents.backends.llama_server_build as build
from agents.backends import BackendError, ChatRequest, make_backend
from agents.backends.llama_server import LlamaServer, ServedBackend, ServerSpec
from schemas.config import role_model
from schemas.messages import ChatMessage

ROOT = Path(__file__).resolve().parents[2]
# Small slots and short answers: these tests are about the process, not the model.
CFG = role_model(serve="server", parallel=2, n_ctx=512, max_tokens=8)


@pytest.fixture(autouse=True)
def _built() -> None:
    try:
        build.require_server()
    except BackendError as exc:
        pytest.fail(f"{exc} (the README's setup builds it)", pytrace=False)


def ask(text: str = "Say hi.") -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], max_tokens=8, temperature=0.0)


def gone(pid: int, port: int, within_s: float = 15.0) -> bool:
    """The process has exited (or is an unreaped zombie) and its port can be bound again."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            state = "X"
        if state in ("X", "Z"):
            with socket.socket() as s:
                # As a new server would bind it: closed connections may linger in TIME_WAIT.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                    return True
                except OSError:
                    pass
        time.sleep(0.05)
    return False


async def test_two_concurrent_requests_share_one_server_that_stops_at_close() -> None:
    first, second = make_backend(CFG), make_backend(CFG.model_copy(update={"temperature": 0.7}))
    assert isinstance(first, ServedBackend) and isinstance(second, ServedBackend)
    try:
        a, b = await asyncio.gather(first.complete(ask()), second.complete(ask("Say bye.")))
        assert a.text and b.text and a.completion_tokens > 0 and b.completion_tokens > 0
        (server,) = ls._SHARED.values()  # two roles on one model: one server
        assert server.users == 2 and server.healthy()
        pid, port = server.proc.pid if server.proc else 0, server.port
        # Only loopback: the server is not reachable on another address of this machine.
        assert "127.0.0.1" in server.command()
    finally:
        await first.aclose()
        await second.aclose()
    assert not ls._SHARED and not ls._LIVE
    assert gone(pid, port)


async def test_a_second_run_starts_a_fresh_server_and_finds_no_stale_one() -> None:
    ports = []
    for _ in range(2):
        backend = ServedBackend(CFG)
        try:
            await backend.complete(ask())
            (server,) = ls._SHARED.values()
            ports.append((server.proc.pid if server.proc else 0, server.port))
        finally:
            await backend.aclose()
        assert not ls._SHARED
    assert ports[0][0] != ports[1][0]
    assert all(gone(pid, port) for pid, port in ports)


async def test_a_failure_inside_the_context_stops_the_server() -> None:
    spec = await asyncio.to_thread(ServerSpec.for_role, CFG)
    with pytest.raises(RuntimeError, match="the run failed"):
        async with LlamaServer(spec) as server:
            pid, port = server.proc.pid if server.proc else 0, server.port
            raise RuntimeError("the run failed")
    assert gone(pid, port)


CHILD = """
import asyncio, sys
import agents.backends.llama_server as ls
from agents.backends.llama_server import ServedBackend
from agents.backends import ChatRequest
from schemas.config import role_model
from schemas.messages import ChatMessage

async def run(mode):
    backend = ServedBackend(role_model(serve="server", parallel=2, n_ctx=512))
    try:
        await backend.complete(ChatRequest(messages=[ChatMessage(role="user", content="hi")], max_tokens=4))
        (server,) = ls._SHARED.values()
        print(server.proc.pid, server.port, flush=True)
        if mode in ("raise", "no-close"):
            raise RuntimeError("the run failed")
        await asyncio.sleep(3600)  # until the test interrupts or kills this process
    finally:
        if mode != "no-close":
            await backend.aclose()

asyncio.run(run(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("mode", "signal_"),
    [
        ("raise", None),  # the run fails: closed on the way out
        ("no-close", None),  # the run fails and nothing closes it: stopped at interpreter exit
        ("wait", signal.SIGINT),  # Ctrl-C
        ("wait", signal.SIGKILL),  # killed outright: no Python code runs, the kernel stops the server
    ],
)
def test_a_failed_interrupted_or_killed_run_leaves_no_server(mode: str, signal_: int | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the child printed no server: {child.stderr.read() if child.stderr else ''}"
        pid, port = (int(x) for x in line.split())
        if signal_ is not None:
            child.send_signal(signal_)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    assert gone(pid, port), f"server {pid} still running or port {port} still bound after {mode} {signal_}"


async def test_a_missing_binary_is_one_line_naming_the_build_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(build, "server_binary", lambda: tmp_path / "llama-server")
    for call in (ServedBackend(CFG).complete(ask()), ServedBackend(CFG).check()):
        with pytest.raises(BackendError) as err:
            await call
        assert "\n" not in str(err.value) and build.BUILD_COMMAND in str(err.value)
    # `auto` falls back to llama.cpp in this process when the server is not built.
    monkeypatch.setattr(ls, "server_binary", lambda: tmp_path / "llama-server")
    assert make_backend(role_model()).__class__.__name__ == "EmbeddedBackend"
    done = subprocess.run(
        [sys.executable, "-m", "agents.backends.llama_server"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OYSTER_MODEL_CACHE": str(tmp_path)},
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and build.BUILD_COMMAND in done.stderr


async def test_a_missing_model_is_one_line(tmp_path: Path) -> None:
    backend = ServedBackend(role_model(serve="server", model=str(tmp_path / "absent.gguf")))
    with pytest.raises(BackendError, match=r"absent\.gguf: model file not found$"):
        await backend.complete(ask())
    assert not ls._SHARED and not ls._LIVE

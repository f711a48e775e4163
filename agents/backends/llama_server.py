"""The embedded default served by a managed `llama-server`: continuous batching over several slots.

One server per model file (roles that share a model share it) runs as a child process on a free
127.0.0.1 port, is health-checked before use, and is reached through the OpenAI-compatible backend,
the code path of vLLM clusters. It stops when the last backend using it closes (the end of a run,
failed or interrupted too), at interpreter exit, and, on Linux, when the thread that started it
dies (`PR_SET_PDEATHSIG`), so a killed run leaves no server behind.

`python -m agents.backends.llama_server --build` builds the binary (part of the README's setup).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agents.backends.base import BackendError, ChatBackend, ChatRequest, ChatResult
from agents.backends.embedded import EmbeddedBackend
from agents.backends.llama_server_build import (
    BUILD_COMMAND,
    build_server,
    require_server,
    server_binary,
    server_env,
)
from agents.backends.models import ensure_model, split_adapter
from agents.backends.openai_backend import OpenAIBackend
from schemas.config import EmbeddedRole, OpenAIRole

#: seconds a server may take to load its model and answer /health
START_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServerSpec:
    model: Path
    lora: Path | None
    parallel: int
    n_ctx: int  # per slot
    n_threads: int | None

    @property
    def key(self) -> tuple[Path, Path | None]:
        return (self.model, self.lora)

    @classmethod
    def for_role(cls, cfg: EmbeddedRole) -> ServerSpec:
        base, adapter = split_adapter(cfg.model)
        return cls(ensure_model(base), adapter, cfg.parallel, cfg.n_ctx, cfg.n_threads)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGTERM when the starting thread dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LlamaServer:
    """One `llama-server` child process; a context manager that always stops it."""

    def __init__(self, spec: ServerSpec, binary: Path | None = None) -> None:
        self.spec = spec
        self.binary = binary or require_server()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.users = 0
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alias(self) -> str:
        return self.spec.model.stem

    def command(self) -> list[str]:
        s = self.spec
        cmd = [str(self.binary), "-m", str(s.model), "--alias", self.alias]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        # Each slot gets the role's context: the server divides -c among its slots.
        cmd += ["--parallel", str(s.parallel), "-c", str(s.n_ctx * s.parallel)]
        cmd += ["-t", str(s.n_threads or os.cpu_count() or 1), "--cache-prompt"]
        if s.lora is not None:
            cmd += ["--lora", str(s.lora)]
        return cmd

    def spawn(self) -> None:
        self.port = _free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the server's life)
        # OpenMP threads spin while they wait by default: on CPUs shared with other work (2 cores, a
        # busy machine) one descheduled thread stalls every step, 1 tok/s instead of 18 (performance.md).
        env = server_env(self.binary, {"OMP_WAIT_POLICY": "passive", **os.environ})
        self.proc = subprocess.Popen(
            self.command(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: stopped as a whole, and deaf to the terminal's Ctrl-C (the run stops it).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        _LIVE.add(self)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """One /health probe: the server answers 200 once the model is loaded (503 while loading)."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 5) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])

    def _failed(self, why: str) -> BackendError:
        tail = self.log_tail()
        self.stop()
        return BackendError(f"llama-server for {self.spec.model.name} {why}" + (f": {tail}" if tail else ""))

    async def start(self) -> LlamaServer:
        for _ in range(3):  # another process may take the chosen port before the server binds it
            self.spawn()
            deadline = time.monotonic() + START_TIMEOUT_S
            while self.alive() and time.monotonic() < deadline:
                if await asyncio.to_thread(self.healthy):
                    return self
                await asyncio.sleep(0.1)
            if self.alive():
                raise self._failed(f"did not become healthy in {START_TIMEOUT_S:.0f} s")
            if "bind" not in self.log_tail(20).lower():
                raise self._failed(f"exited with code {self.proc.returncode if self.proc else '?'}")
            self.stop()
        raise self._failed("found no free port")

    def stop(self) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> LlamaServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


_LIVE: set[LlamaServer] = set()
_SHARED: dict[tuple[Path, Path | None], LlamaServer] = {}
_LOCK = threading.Lock()
_START_LOCKS: dict[int, asyncio.Lock] = {}


@atexit.register
def stop_all() -> None:
    for server in list(_LIVE):
        server.stop()
    _SHARED.clear()


async def acquire(spec: ServerSpec) -> LlamaServer:
    """The running server for ``spec``'s model, started on first use; pair with `release`."""
    # One start at a time per event loop: the four roles' first calls arrive together.
    lock = _START_LOCKS.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
    async with lock:
        with _LOCK:
            server = _SHARED.get(spec.key)
        if server is None or not server.alive():
            server = await LlamaServer(spec).start()
        with _LOCK:
            _SHARED[spec.key] = server
            server.users += 1
        return server


def release(server: LlamaServer) -> None:
    with _LOCK:
        server.users -= 1
        if server.users > 0:
            return
        if _SHARED.get(server.spec.key) is server:
            del _SHARED[server.spec.key]
    server.stop()


class ServedBackend:
    """The embedded model behind a shared managed `llama-server`, spoken to as an OpenAI endpoint."""

    kind = "embedded"

    def __init__(self, cfg: EmbeddedRole) -> None:
        self.model = cfg.model
        self._cfg = cfg
        self._server: LlamaServer | None = None
        self._http: OpenAIBackend | None = None

    async def _client(self) -> OpenAIBackend:
        if self._http is None:
            spec = await asyncio.to_thread(ServerSpec.for_role, self._cfg)
            server = await acquire(spec)
            if self._http is not None:  # a concurrent first call got there while this one waited
                release(server)
                return self._http
            self._server = server
            self._http = OpenAIBackend(
                OpenAIRole(
                    base_url=server.url + "/v1",
                    model=server.alias,
                    # Never send a real OpenAI key from the environment to the local server.
                    api_key_env="OYSTER_LLAMA_SERVER_KEY",
                    timeout_s=self._cfg.timeout_s,
                    max_retries=self._cfg.max_retries,
                )
            )
        return self._http

    async def complete(self, request: ChatRequest) -> ChatResult:
        return await (await self._client()).complete(request)

    async def aclose(self) -> None:
        http, server, self._http, self._server = self._http, self._server, None, None
        if http is not None:
            await http.aclose()
        if server is not None:
            release(server)

    async def check(self) -> str:
        binary = require_server()
        spec = await asyncio.to_thread(ServerSpec.for_role, self._cfg)
        with_adapter = f" + LoRA {spec.lora}" if spec.lora else ""
        return f"{spec.model}{with_adapter} (llama-server {binary.parent.name}, {spec.parallel} slots)"


def embedded_backend(cfg: EmbeddedRole) -> ChatBackend:
    """`backend: embedded`: the managed server (`serve: server`, or `auto` once built), else in-process."""
    serve = cfg.serve
    if serve == "auto":
        serve = "server" if os.access(server_binary(), os.X_OK) else "in-process"
    return ServedBackend(cfg) if serve == "server" else EmbeddedBackend(cfg)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agents.backends.llama_server", description=__doc__)
    parser.add_argument("--build", action="store_true", help="build llama-server into the model cache (once)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs")
    args = parser.parse_args(argv)
    try:
        if not args.build:
            print(require_server())
            return
        start = time.perf_counter()
        path = build_server(args.jobs)
        print(f"{path} ({time.perf_counter() - start:.0f} s)")
    except BackendError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()


__all__ = ["BUILD_COMMAND", "LlamaServer", "ServedBackend", "ServerSpec", "embedded_backend"]

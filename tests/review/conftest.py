"""A scripted warehouse made once per session and copied per test, and the review app as a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import scripted_pairs, validate_config_file

SCENARIOS = 8
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "gen.duckdb"
    scripted_pairs(path, SCENARIOS)
    return path


@pytest.fixture
def wh_path(generated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    shutil.copy(generated, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oyster(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kw,  # type: ignore[call-overload]
    )


def scripted_run(
    path: Path,
    workdir: Path,
    model: str,
    *,
    limit: int,
    iterations: int,
    run_id: str | None = None,
    trusted: bool = False,
) -> None:
    """`oyster run` with every role on the scripted `model`, one scenario at a time, without Ray;
    `trusted` first records the config's judges as validated, so that the run's pairs pass the gate."""
    mock = {"backend": "scripted", "model": model}
    config = workdir / "scripted.yaml"
    config.write_text(
        yaml.safe_dump({"roles": dict.fromkeys(("user", "leader", "risk", "critic"), mock), "concurrency": 1})
    )
    if trusted:
        validate_config_file(path, config)
    args = ["--config", str(config), "--warehouse", str(path), "--limit", str(limit)]
    args += ["--iterations", str(iterations), "--no-ray"] + (["--run-id", run_id] if run_id else [])
    p = oyster("run", *args)
    assert p.returncode == 0, p.stderr


def start_server(path: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "review",
            "--warehouse",
            str(path),
            "--port",
            str(port),
            "--reviewer",
            "tester",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # readiness: the port answers
        if proc.poll() is not None:
            raise RuntimeError(f"review app exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            httpx.get(url + "/static/review.css", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("review app did not start within 60 s")


@pytest.fixture
def server(wh_path: Path) -> Iterator[str]:
    proc, url = start_server(wh_path)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""Errors people can read: usage errors name the flag and exit 2; Ctrl-C says how to resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_app import assert_one_line_error, oyster

SCRIPTED = {"backend": "scripted", "model": "testing.models:slow_well_behaved"}


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("run", "--limit", "0"), ("--limit", "greater than or equal to 1", "oyster run --help")),
        (("run", "--bogus"), ("No such option: --bogus",)),
        (("sql", "SELECT 1", "--format", "xml"), ("--format", "unknown format 'xml'")),
        (("eval", "judges", "--limit", "-3"), ("--limit",)),
    ],
)
def test_10_usage_errors_say_which_flag_and_exit_2(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    proc = oyster(*args)
    assert_one_line_error(proc, *needles)
    assert proc.returncode == 2
    assert "unexpected" not in proc.stderr


def test_10_bare_oyster_shows_help_and_exits_2() -> None:
    proc = oyster()
    assert proc.returncode == 2
    assert "Usage" in proc.stdout and "run" in proc.stdout
    assert "unexpected" not in proc.stderr


def test_10_ctrl_c_prints_the_resume_hint(tmp_path: Path) -> None:
    config = tmp_path / "slow.yaml"
    roles = "\n".join(f"  {r}: {{backend: scripted, model: '{SCRIPTED['model']}'}}" for r in SCRIPTED_ROLES)
    config.write_text(f"roles:\n{roles}\nlingo_bp: {{iterations: 2}}\nconcurrency: 1\n", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "run",
            "-c",
            str(config),
            "-w",
            str(tmp_path / "w.duckdb"),
            "--run-id",
            "ctrl-c",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    # Wait until the run has started (its first line), then interrupt it as Ctrl-C would.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "Lingo-BP on" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "rerun with the same --run-id" in err.strip().splitlines()[-1]


SCRIPTED_ROLES = ("user", "leader", "risk", "critic")

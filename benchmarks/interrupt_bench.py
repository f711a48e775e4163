"""Ctrl-C on a long in-process run, then resume: nothing lost, nothing run twice, no call after the stop.

    python -m benchmarks.interrupt_bench [--scenarios 2000] [--concurrency 8] [--after 6] [--out FILE]

Runs `oyster run` (in process, the mock model with 30 ms of latency per call) over N generated
scenarios, sends SIGINT after `--after` seconds, and measures: the seconds from the signal to the exit
and its status (130 expected), the model calls started after the signal (at most the concurrency),
whether every trajectory the run reported finished is in the warehouse; then resumes with the same
`--run-id` and checks that it completes every other scenario and runs none of the finished ones again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from agents.backends.base import ChatRequest
from agents.backends.mock import well_behaved

ROOT = Path(__file__).resolve().parents[1]
#: where `counted_slow` appends the start time of each call (one float per line)
CALL_LOG = "OYSTER_BENCH_CALL_LOG"


async def counted_slow(request: ChatRequest) -> str:
    """The mock model with 30 ms of latency; each call's start time goes to $OYSTER_BENCH_CALL_LOG."""
    path = os.environ.get(CALL_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.time()}\n")
    await asyncio.sleep(0.03)
    return well_behaved(request)


def write_inputs(folder: Path, scenarios: int, concurrency: int) -> tuple[Path, Path]:
    items = folder / "scenarios.jsonl"
    with items.open("w", encoding="utf-8") as f:
        for i in range(scenarios):
            f.write(json.dumps({"id": f"s{i:05d}", "text": f"I feel like ending it all ({i})."}) + "\n")
    config = folder / "slow.yaml"
    role = "{backend: scripted, model: 'benchmarks.interrupt_bench:counted_slow'}"
    roles = "\n".join(f"  {r}: {role}" for r in ("user", "leader", "risk", "critic"))
    config.write_text(
        f"roles:\n{roles}\nlingo_bp: {{iterations: 2}}\nconcurrency: {concurrency}\ncache: false\n",
        encoding="utf-8",
    )
    return items, config


class Run:
    """`oyster run` as a subprocess, its finished scenarios read from its progress lines."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = threading.Event()
        self.finished: list[str] = []
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.app", "run", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("Lingo-BP on"):
                self.started.set()
            # LineProgress: "scenarios: <id>: completed, 3 iteration(s), ..." once per finished scenario
            if line.startswith("scenarios: ") and line.count(":") >= 2:
                self.finished.append(line.split(":")[1].strip())

    def wait(self, timeout: float) -> tuple[int, str]:
        # Not communicate(): it would read stdout too, taking lines from under the reader.
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return self.proc.returncode, "".join(self.err)


def stored(warehouse: Path, run_id: str) -> list[str]:
    from warehouse import Store

    rows = (
        Store(warehouse)
        .query("SELECT scenario_id FROM trajectory_records WHERE run_id = ? ORDER BY scenario_id", [run_id])
        .rows
    )
    return [r[0] for r in rows]


def measure(scenarios: int, concurrency: int, after: float, folder: Path) -> dict[str, Any]:
    items, config = write_inputs(folder, scenarios, concurrency)
    warehouse, calls = folder / "wh.duckdb", folder / "calls.log"
    env = {**os.environ, CALL_LOG: str(calls), "OYSTER_PROGRESS_EVERY": "3600", "PYTHONPATH": str(ROOT)}
    args = ["--config", str(config), "--scenarios", str(items), "--warehouse", str(warehouse)]
    args += ["--run-id", "bench-ctrl-c", "--no-ray"]
    first = Run(args, env)
    if not first.started.wait(300):
        first.proc.kill()
        raise SystemExit("the run did not start within 300 s")
    time.sleep(after)
    signalled = time.time()
    first.proc.send_signal(signal.SIGINT)
    rc, err = first.wait(timeout=600)
    exit_s = time.time() - signalled
    starts = [float(t) for t in calls.read_text(encoding="utf-8").split()]
    after_signal = sum(1 for t in starts if t > signalled)
    kept = stored(warehouse, "bench-ctrl-c")
    reported = set(first.finished)
    resumed_start = time.time()
    second = Run(args, {**env, CALL_LOG: str(folder / "calls-resume.log")})
    rc2, err2 = second.wait(timeout=3600)
    final = stored(warehouse, "bench-ctrl-c")
    return {
        "scenarios": scenarios,
        "concurrency": concurrency,
        "signal_after_s": after,
        "exit_status": rc,
        "last_line": (err.strip().splitlines() or [""])[-1],
        "exit_s": round(exit_s, 2),
        "calls_before_signal": len(starts) - after_signal,
        "calls_after_signal": after_signal,
        "finished_reported": len(reported),
        "stored_after_interrupt": len(kept),
        "finished_not_stored": len(reported - set(kept)),
        "resume_exit_status": rc2,
        "resume_error": err2.strip()[-300:] if rc2 else "",
        "resume_s": round(time.time() - resumed_start, 1),
        "resume_ran": len(second.finished),
        "resume_reran_finished": len(set(second.finished) & set(kept)),
        "stored_after_resume": len(final),
        "distinct_after_resume": len(set(final)),
    }


def verdict(m: dict[str, Any]) -> list[str]:
    """What failed against the acceptance bound; empty when everything held."""
    checks = {
        "exit status 130": m["exit_status"] == 130,
        "exit within 5 s": m["exit_s"] <= 5.0,
        "calls after the signal <= concurrency": m["calls_after_signal"] <= m["concurrency"],
        "every finished trajectory stored": m["finished_not_stored"] == 0,
        "resume exits 0": m["resume_exit_status"] == 0,
        "resume completes the rest": m["stored_after_resume"] == m["scenarios"],
        "no scenario run twice": m["resume_reran_finished"] == 0
        and m["resume_ran"] == m["scenarios"] - m["stored_after_interrupt"],
    }
    return [name for name, ok in checks.items() if not ok]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--after", type=float, default=6.0, help="seconds after the run starts to send SIGINT")
    ap.add_argument("--out", type=Path, help="also write the figures as JSON here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(a.scenarios, a.concurrency, a.after, Path(tmp))
    failed = verdict(m)
    m["failed"] = failed
    text = json.dumps(m, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

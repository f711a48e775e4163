"""Pipeline overhead against an OpenAI-compatible stub that answers after a fixed latency.

    python -m benchmarks.throughput [--latency 1.0] [--concurrency 1 32 128 512] [--ray-actors 2]

Prints, per concurrency: scenarios per minute, LLM calls per second against the ideal
(concurrency / latency), CPU milliseconds per call of the pipeline process, and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runtime.ray_pool import RayPool, ensure_ray
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def start_stub(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stub_server", "--port", str(port), "--latency", str(latency)],
        cwd=ROOT,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/v1"


def config(url: str, concurrency: int, actors: int = 1) -> OysterConfig:
    role = {"backend": "openai", "base_url": url, "model": "stub", "max_retries": 0, "timeout_s": 600}
    return OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(("user", "leader", "risk", "critic"), role),
            "lingo_bp": {"iterations": 3},
            "concurrency": concurrency,
            "cache": False,
            "ray": {
                "actors": actors,
                "concurrency_per_actor": max(1, concurrency // actors),
                "num_cpus_per_actor": 0,
            },
        }
    )


def measure(
    cfg: OysterConfig, n: int, latency: float, concurrency: int, pool: RayPool | None
) -> dict[str, float]:
    scenarios = [Scenario(id=f"b{i:05d}", text=f"benchmark question {i}") for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "bench.duckdb")
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = asyncio.run(run_lingo_bp(cfg, scenarios, wh, run_id="bench", pool=pool))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        calls = wh.query("SELECT count(*) FROM llm_calls").rows[0][0]
    assert summary.completed == n, f"{summary.failed} failed"
    ideal = concurrency / latency
    return {
        "scenarios": n,
        "wall_s": wall,
        "scenarios_per_min": 60 * n / wall,
        "calls": calls,
        "calls_per_s": calls / wall,
        "ideal_calls_per_s": ideal,
        "share_of_ideal": calls / wall / ideal,
        "cpu_ms_per_call": 1000 * cpu / calls,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def report(label: str, m: dict[str, float]) -> None:
    print(
        f"{label:<22} {m['scenarios']:>6.0f} scen {m['wall_s']:>7.1f} s "
        f"{m['scenarios_per_min']:>8.1f} scen/min {m['calls_per_s']:>8.1f} calls/s "
        f"(ideal {m['ideal_calls_per_s']:>6.0f}, {100 * m['share_of_ideal']:>5.1f} %) "
        f"{m['cpu_ms_per_call']:>6.2f} ms CPU/call  peak {m['peak_rss_mb']:>6.0f} MB",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="Lingo-BP pipeline throughput against a fixed-latency stub.")
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 128, 512])
    ap.add_argument("--per-slot", type=int, default=2, help="scenarios per concurrency slot")
    ap.add_argument("--ray-actors", type=int, default=2, help="0 skips the Ray measurement")
    args = ap.parse_args()
    stub, url = start_stub(args.latency)
    try:
        print(f"stub latency {args.latency} s, T=3, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for c in args.concurrency:
            n = max(4, args.per_slot * c)
            report(f"in-process c={c}", measure(config(url, c), n, args.latency, c, None))
        if args.ray_actors:
            for c in args.concurrency[-2:]:
                cfg = config(url, c, args.ray_actors)
                ensure_ray(cfg, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
                pool = RayPool(cfg)
                n = max(4, args.per_slot * c)
                report(f"ray {args.ray_actors} actors c={c}", measure(cfg, n, args.latency, c, pool))
    finally:
        stub.terminate()


if __name__ == "__main__":
    main()

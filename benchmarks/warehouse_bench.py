"""Warehouse ingest and query speed.

    python -m benchmarks.warehouse_bench [--trajectories 20000] [--rows 1000000]

Ingest: finished trajectories (2 iterations, 8 chain nodes, 4 judgements, 3 gradients, 3 edits,
1 preference pair, 20 LLM calls each) written through the pipeline's own writer in batches, as
pair rows per second. Query: an aggregate over a preference_pairs table of --rows rows.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agents.backends import ScriptedBackend
from agents.lingo_bp.graph import LingoBP
from agents.team import Agents
from schemas import Failure, LingoBPConfig, LLMCall, OysterConfig, RunRecord, Scenario
from schemas.trajectory import Trajectory
from testing.warehouse import bulk_synthetic_pairs
from warehouse import TRAJECTORY_TABLES, Warehouse


def template_trajectory() -> tuple[Trajectory, list[LLMCall], list[Failure]]:
    from agents.backends.mock import default_answers, responder

    answers = default_answers(satisfaction=lambda n: [-1, 1][n % 2])
    backend = ScriptedBackend(responder(answers))
    cfg = OysterConfig(lingo_bp=LingoBPConfig(iterations=1))
    lingo = LingoBP(
        Agents.build(
            cfg, backends=dict.fromkeys(("user", "leader", "risk", "critic"), backend), calibrations={}
        )
    )
    traj, log = asyncio.run(lingo.run(Scenario(id="t", text="template"), "bench"))
    assert traj.pair is not None
    return traj, log.calls, log.failures


def ingest(wh: Warehouse, n: int, batch: int) -> float:
    traj, calls, failures = template_trajectory()
    wh.start_run(RunRecord(run_id="bench", config={}, models={}, prompt_versions={}, oyster_version="b"), [])
    items = []
    for i in range(n):
        sid = f"s{i:07d}"
        t = traj.model_copy(update={"scenario": traj.scenario.model_copy(update={"id": sid})})
        t.pairs = [
            p.model_copy(update={"pair_id": f"p{i:07d}-{p.rank}", "scenario_id": sid}) for p in traj.pairs
        ]
        cs = [
            c.model_copy(update={"call_id": f"c{i:07d}-{j}", "scenario_id": sid}) for j, c in enumerate(calls)
        ]
        items.append((t, cs, failures))
    t0 = time.perf_counter()
    for k in range(0, n, batch):
        wh.write_trajectories(items[k : k + batch])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trajectories", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "bench.duckdb")
        wh.migrate()
        secs = ingest(wh, args.trajectories, args.batch)
        pairs = wh.query("SELECT count(*) FROM preference_pairs").rows[0][0]
        rows = sum(wh.query(f"SELECT count(*) FROM {t}").rows[0][0] for t in TRAJECTORY_TABLES)
        print(
            f"ingest: {pairs} trajectories with pairs ({rows} rows in all) in {secs:.2f} s = "
            f"{pairs / secs:,.0f} pair rows/s ({rows / secs:,.0f} rows/s), batches of {args.batch}"
        )
        big = Warehouse(Path(tmp) / "big.duckdb")
        big.migrate()
        bulk_synthetic_pairs(big, args.rows)
        sql = (
            "SELECT rule, count(*) AS n, avg(margin) AS mean_margin, avg(chosen_score) AS chosen, "
            "avg(rejected_score) AS rejected FROM preference_pairs GROUP BY rule"
        )
        big.query(sql)  # warm the file cache
        t0 = time.perf_counter()
        result = big.query(sql)
        q = time.perf_counter() - t0
        print(
            f"query: aggregate over {args.rows:,} pair rows in {q * 1000:.0f} ms "
            f"(oyster sql path: open read-only, run, close; {len(result.rows)} groups)"
        )


if __name__ == "__main__":
    main()

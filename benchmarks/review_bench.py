"""Review app page loads at 100k pairs: the first page, a page near the end, a filtered page.

    python -m benchmarks.review_bench [--pairs 100000]

Each figure is the median of 10 requests through Starlette's test client, the DuckDB file opened and
closed per request as the app does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from report.review.app import create_app
from testing.warehouse import bulk_synthetic_pairs
from warehouse import Warehouse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=100_000)
    n = ap.parse_args().pairs
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "big.duckdb")
        wh.migrate()
        bulk_synthetic_pairs(wh, n)
        client = TestClient(create_app(wh.path, "bench"))
        client.get("/")  # warm the file cache

        def median_ms(url: str) -> float:
            times = []
            for _ in range(10):
                t0 = time.perf_counter()
                assert client.get(url).status_code == 200
                times.append(time.perf_counter() - t0)
            return statistics.median(times) * 1000

        first = median_ms("/")
        deep = median_ms(f"/?after=bench/s{n - 100}")
        filtered = median_ms("/?review=unreviewed&disagreement=judges&after=bench/s5")
        print(f"{n} pairs: first page {first:.0f} ms, near the end {deep:.0f} ms, filtered {filtered:.0f} ms")


if __name__ == "__main__":
    main()

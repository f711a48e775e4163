"""Where the pipeline's own CPU goes: pyinstrument over a run against the fixed-latency stub.

python -m benchmarks.profile_pipeline [--scenarios 64] [--concurrency 32] [--latency 0.05]
"""

from __future__ import annotations

import argparse

from pyinstrument import Profiler

from benchmarks.throughput import config, measure, start_stub


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenarios", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    stub, url = start_stub(args.latency)
    try:
        cfg = config(url, args.concurrency)
        measure(cfg, 4, args.latency, args.concurrency, None)  # warm-up: imports, first connections
        profiler = Profiler(interval=0.001)
        profiler.start()
        figures = measure(cfg, args.scenarios, args.latency, args.concurrency, None)
        profiler.stop()
        print(figures)
        print(profiler.output_text(unicode=False, color=False))
    finally:
        stub.terminate()


if __name__ == "__main__":
    main()

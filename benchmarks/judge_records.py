"""The validity records shipped for the bundled presets: each loop judge measured on the bundled cases.

    python -m benchmarks.judge_records [--preset qwen2.5-coder-0.5b] [--limit N] [--out PATH]

For each judge that chooses pairs in the loop (safety, satisfaction) this runs `oyster eval judges` on
its bundled judge-validation cases (evals/datasets/data/judge_validation), with every role on the
embedded preset and the verdict read as the loop reads it (generated, no calibration), in a fresh
warehouse; the record that run writes (schemas.trust.JudgeRecord) replaces the preset's record for
that judge in evals/datasets/data/judge_records.jsonl, which the trust gate reads (agents.trust).
The bundled cases were written by hand and never used to tune these judges; --limit N measures on the
first N cases only (the record says n).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from schemas.config import ROLES
from schemas.trust import LOOP_JUDGES, JudgeRecord
from warehouse import Warehouse
from warehouse.evaluation import EvalStore

RECORDS = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "data" / "judge_records.jsonl"


def measure(preset: str, judge: str, limit: int | None, work: Path) -> JudgeRecord:
    config = work / f"{judge}.yaml"
    config.write_text(
        "roles:\n" + "".join(f"  {r}: {{backend: embedded, model: {preset}}}\n" for r in ROLES),
        encoding="utf-8",
    )
    warehouse = work / f"{judge}.duckdb"
    command = [
        sys.executable, "-m", "cli.app", "eval", "judges", "--judge", judge, "--method", "sampled",
        "--config", str(config), "--warehouse", str(warehouse),
    ]  # fmt: skip
    if limit:
        command += ["--limit", str(limit)]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True)
    records = [r for r in EvalStore(Warehouse(warehouse)).judge_records() if r.judge == judge]
    if not records:
        raise SystemExit(f"{judge}: the run wrote no validity record (see its output above)")
    return records[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="qwen2.5-coder-0.5b")
    parser.add_argument("--limit", type=int, default=None, help="measure on the first N cases of each judge")
    parser.add_argument("--judge", action="append", choices=LOOP_JUDGES, help="default: every loop judge")
    parser.add_argument("--out", type=Path, default=RECORDS)
    args = parser.parse_args()
    kept = []
    if args.out.exists():
        kept = [JudgeRecord.model_validate_json(line) for line in args.out.read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        for judge in args.judge or LOOP_JUDGES:
            record = measure(args.preset, judge, args.limit, Path(tmp))
            record = record.model_copy(
                update={"case_source": f"bundled {record.case_source}", "eval_id": None}
            )
            kept = [
                r for r in kept if (r.judge, r.model_id, r.method) != (judge, record.model_id, record.method)
            ]
            kept.append(record)
            print(f"{judge}: {record.figures()}", flush=True)
    args.out.write_text("".join(r.model_dump_json() + "\n" for r in kept), encoding="utf-8")
    print(f"wrote {len(kept)} record(s) to {args.out}")


if __name__ == "__main__":
    main()

"""Pairs per hour, calls and tokens per pair on the embedded default: an older revision vs this checkout.

    python -m benchmarks.embedded_throughput [--before-rev c2adcef] [--iterations 3] [--out DIR]
                                             [--side both|before|after]

Both sides run the same 6 bundled scenarios (the first 3 English and the first 3 Chinese of
agents/data/scenarios.jsonl) at T=3 on the embedded default model, with the response cache off,
one after the other in this process's machine, so the figures compare like with like. The "before"
side is the older revision checked out as a detached git worktree under DIR and run through its own
command line (`python -m pipelines.cli run`, the pre-restructuring entry point); the "after" side
is this checkout's `oyster run`. Figures come from each run's own warehouse (`llm_calls`,
`preference_pairs`, `dpo`) plus the wall-clock time of the command. Each side's figures are saved as
DIR/<side>.json, so a side can be re-run on its own (`--side after`) and the table printed from
both. Needs quiet cores: anything else running on the machine lengthens both sides' wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "agents" / "data" / "scenarios.jsonl"
PER_LANGUAGE = 3


@dataclass
class Side:
    side: str
    revision: str
    scenarios: int
    wall_s: float
    calls: int
    failed_calls: int
    tokens: int
    pairs: int
    pair_prompts: int
    dpo_rows: int
    prompt_tokens: int = 0
    #: prompt tokens the server served from its prompt cache; None where the warehouse has no such column
    cached_tokens: int | None = None

    @property
    def pairs_per_hour(self) -> float:
        return self.pairs * 3600 / self.wall_s if self.wall_s else 0.0

    def per(self, total: int, count: int) -> str:
        return f"{total / count:,.1f}" if count else "n/a (no pair)"


def six_scenarios(out: Path) -> Path:
    picked: dict[str, list[str]] = {"en": [], "zh": []}
    for line in BUNDLED.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        language = json.loads(line).get("language", "en")
        if language in picked and len(picked[language]) < PER_LANGUAGE:
            picked[language].append(line)
    path = out / "scenarios.jsonl"
    path.write_text("\n".join(picked["en"] + picked["zh"]) + "\n", encoding="utf-8")
    return path


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"git {' '.join(args)}: {last}")
    return done.stdout.strip()


def before_tree(out: Path, revision: str) -> Path:
    tree = out / f"src-{revision}"
    if not tree.exists():
        git("worktree", "add", "--detach", str(tree), revision)
    return tree


def run_side(side: str, revision: str, out: Path, scenarios: Path, iterations: int) -> Side:
    warehouse = out / f"{side}.duckdb"
    for stale in out.glob(f"{side}.duckdb*"):
        stale.unlink()
    common = [
        "run",
        "--scenarios",
        str(scenarios),
        "--warehouse",
        str(warehouse),
        "--no-cache",
        "--iterations",
        str(iterations),
    ]
    env = dict(os.environ)
    if side == "before":
        tree = before_tree(out, revision)
        command = [sys.executable, "-m", "pipelines.cli", *common]
        env["PYTHONPATH"] = str(tree)
        cwd = tree
    else:
        command = [sys.executable, "-m", "cli.app", *common, "--no-ray"]
        env["PYTHONPATH"] = str(REPO)
        cwd = REPO
    print(f"[{side}] {' '.join(command)}  (cwd {cwd})", flush=True)
    log = (out / f"{side}.log").open("w", encoding="utf-8")
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    log.close()
    if result.returncode != 0:
        raise SystemExit(f"[{side}] exited {result.returncode}; see {out / f'{side}.log'}")
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def one(query: str) -> int:
            row = con.execute(query).fetchone()
            return int(row[0] or 0) if row else 0

        figures = Side(
            side=side,
            revision=revision,
            scenarios=one("SELECT count(*) FROM scenarios"),
            wall_s=round(wall, 1),
            calls=one("SELECT count(*) FROM llm_calls"),
            failed_calls=one("SELECT count(*) FILTER (WHERE NOT ok) FROM llm_calls"),
            tokens=one("SELECT sum(prompt_tokens + completion_tokens) FROM llm_calls"),
            pairs=one("SELECT count(*) FROM preference_pairs"),
            pair_prompts=one("SELECT count(DISTINCT scenario_id) FROM preference_pairs"),
            dpo_rows=one("SELECT count(*) FROM dpo"),
            prompt_tokens=one("SELECT sum(prompt_tokens) FROM llm_calls"),
        )
        columns = {r[0] for r in con.execute("DESCRIBE llm_calls").fetchall()}
        if "cached_tokens" in columns:
            figures.cached_tokens = one("SELECT sum(cached_tokens) FROM llm_calls")
    (out / f"{side}.json").write_text(json.dumps(asdict(figures), indent=2), encoding="utf-8")
    return figures


#: one line of the table: measure, before, after, after / before
Row = tuple[str, str, str, str]


def _ratio(a: float, b: float) -> str:
    return f"{b / a:.2f}x" if a else "n/a"


def _totals(before: Side, after: Side) -> list[Row]:
    """What each side ran and stored in all."""
    return [
        ("revision", before.revision, after.revision, ""),
        ("scenarios", str(before.scenarios), str(after.scenarios), ""),
        (
            "wall time (s)",
            f"{before.wall_s:,.0f}",
            f"{after.wall_s:,.0f}",
            _ratio(before.wall_s, after.wall_s),
        ),
        (
            "model calls (failed)",
            f"{before.calls} ({before.failed_calls})",
            f"{after.calls} ({after.failed_calls})",
            _ratio(before.calls, after.calls),
        ),
        ("tokens", f"{before.tokens:,}", f"{after.tokens:,}", _ratio(before.tokens, after.tokens)),
        ("pairs stored", str(before.pairs), str(after.pairs), ""),
        (
            "prompts with a pair (dpo rows)",
            f"{before.pair_prompts} ({before.dpo_rows})",
            f"{after.pair_prompts} ({after.dpo_rows})",
            "",
        ),
    ]


def _per_pair(before: Side, after: Side) -> list[Row]:
    """Throughput, and cost per pair and per dpo row."""
    return [
        (
            "pairs per hour",
            f"{before.pairs_per_hour:.1f}",
            f"{after.pairs_per_hour:.1f}",
            _ratio(before.pairs_per_hour, after.pairs_per_hour),
        ),
        ("calls per pair", before.per(before.calls, before.pairs), after.per(after.calls, after.pairs), ""),
        (
            "tokens per pair",
            before.per(before.tokens, before.pairs),
            after.per(after.tokens, after.pairs),
            "",
        ),
        (
            "calls per dpo row",
            before.per(before.calls, before.dpo_rows),
            after.per(after.calls, after.dpo_rows),
            "",
        ),
        (
            "tokens per dpo row",
            before.per(before.tokens, before.dpo_rows),
            after.per(after.tokens, after.dpo_rows),
            "",
        ),
    ]


def _cached(s: Side) -> str:
    if s.cached_tokens is None or not s.prompt_tokens:
        return "not recorded"
    return f"{s.cached_tokens:,} of {s.prompt_tokens:,} ({s.cached_tokens / s.prompt_tokens:.0%})"


def table(before: Side, after: Side) -> str:
    rows = [*_totals(before, after), *_per_pair(before, after)]
    rows.append(("prompt tokens served from the server's cache", _cached(before), _cached(after), ""))
    lines = ["| measure | before | after | after / before |", "|---|---|---|---|"]
    lines += [f"| {name} | {b} | {a} | {r} |" for name, b, a, r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-rev", default="c2adcef", help="git revision measured as 'before'")
    parser.add_argument("--iterations", type=int, default=3, help="T, the optimisation steps per scenario")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmark-embedded"), help="folder for warehouses and logs"
    )
    parser.add_argument("--side", choices=["both", "before", "after"], default="both")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scenarios = six_scenarios(out)
    revision = git("rev-parse", "--short", "HEAD")
    sides = ["before", "after"] if args.side == "both" else [args.side]
    for side in sides:
        figures = run_side(
            side, args.before_rev if side == "before" else revision, out, scenarios, args.iterations
        )
        print(
            f"[{side}] {figures.wall_s:,.0f} s, {figures.calls} calls, {figures.tokens:,} tokens, "
            f"{figures.pairs} pairs",
            flush=True,
        )
    saved = {side: out / f"{side}.json" for side in ("before", "after")}
    if all(path.exists() for path in saved.values()):
        loaded = {side: Side(**json.loads(path.read_text(encoding="utf-8"))) for side, path in saved.items()}
        print(table(loaded["before"], loaded["after"]))


if __name__ == "__main__":
    main()

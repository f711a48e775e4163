"""Hostile inputs through the real command line: every one must end in one clear line, never a traceback.

    python -m benchmarks.reliability_probe [--out probe.md] [--only p2]

Each case is a command with bad input (flags, files, SQL, conditions, templates, warehouses). A case
passes when the command exits non-zero with exactly one line on stderr that has no traceback and no
"unexpected", and leaves no file it should not have written. Prints a table by kind with counts.

The second probe's cases (kinds "p2 …", issue 24) are bad luck a run must survive as well as bad
input: a model reporting 3e9 tokens or raising, a reply with a lone surrogate, a symlinked warehouse,
endless SQL, templates that would allocate gigabytes; a run among them passes when it completes and
its warehouse holds what it should (each case's `check`). They are listed in
benchmarks/reliability_probe2.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks.probe_case import MOCK, Case
from benchmarks.reliability_probe2 import second_probe

ROOT = Path(__file__).resolve().parents[1]


def _files(root: Path) -> dict[str, Path]:
    """Bad files of every shape a user can hand over."""
    f = {
        "dir": root,
        "latin1": root / "latin1.jsonl",
        "surrogate": root / "surrogate.jsonl",
        "badjson": root / "bad.jsonl",
        "dup": root / "dup.jsonl",
        "empty": root / "empty.jsonl",
        "noend": root / "noend.yaml",
        "yamlbad": root / "bad.yaml",
        "cfg_inf": root / "inf.yaml",
        "cfg_unknown": root / "unknown.yaml",
        "cfg_list": root / "list.yaml",
        "cfg_backend": root / "backend.yaml",
        "mock": root / "mock.yaml",
        "loop_dir": root / "loop",
        "plain": root / "plain.txt",
    }
    f["latin1"].write_bytes('{"id": "a", "text": "caf\xe9"}\n'.encode("latin-1"))
    f["surrogate"].write_text('{"id": "a", "text": "x \\ud800 y"}\n', encoding="utf-8")
    f["badjson"].write_text('{"id": "a", "text": \n', encoding="utf-8")
    f["dup"].write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', encoding="utf-8")
    f["empty"].write_text("\n", encoding="utf-8")
    f["noend"].write_text("- id: a\n  messages: [{role: user, content: hi}, {role: assistant, content: x}]\n")
    f["yamlbad"].write_text("roles: [\n", encoding="utf-8")
    f["cfg_inf"].write_text("lingo_bp: {alpha: .inf}\n", encoding="utf-8")
    f["cfg_unknown"].write_text("lingo_bpp: {}\n", encoding="utf-8")
    f["cfg_list"].write_text("- 1\n", encoding="utf-8")
    f["cfg_backend"].write_text("roles: {leader: {backend: nosuch}}\n", encoding="utf-8")
    roles = "\n".join(
        f"  {r}: {{backend: scripted, model: '{MOCK}'}}" for r in ("user", "leader", "risk", "critic")
    )
    f["mock"].write_text(f"roles:\n{roles}\nlingo_bp: {{iterations: 1}}\n", encoding="utf-8")
    f["loop_dir"].mkdir()
    (f["loop_dir"] / "leader_answer.j2").write_text(
        "{% block user %}{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}"
        "{% endblock %}",
        encoding="utf-8",
    )
    f["plain"].write_text("x", encoding="utf-8")
    return f


def cases(root: Path, warehouse: Path) -> list[Case]:
    f = _files(root)
    w = ["--warehouse", str(warehouse)]
    run = ["run", "--config", str(f["mock"]), "--warehouse", str(root / "run.duckdb")]
    return [
        *_usage_cases(root, run, w),
        *_file_cases(root, f, run),
        *_sql_cases(root, w),
        *_output_cases(root, f, run, w),
    ]


def _usage_cases(root: Path, run: list[str], w: list[str]) -> list[Case]:
    return [
        Case("usage", "no such option", ["run", "--bogus"]),
        Case("usage", "--limit 0", ["run", "--limit", "0"]),
        Case("usage", "--iterations -1", ["run", "--iterations", "-1"]),
        Case("usage", "bad --run-id", [*run, "--run-id", "../x"]),
        Case("usage", "sql --format xml", ["sql", "SELECT 1", "--format", "xml", *w]),
        Case(
            "usage", "export --format xml", ["export", "--view", "dpo", "--format", "xml", "--out", "x", *w]
        ),
        Case("usage", "unknown command", ["frobnicate"]),
        Case("usage", "eval unknown task", ["eval", "nosuch"]),
        Case("usage", "train --method xyz", ["train", "--method", "xyz", "--out", str(root / "o"), *w]),
    ]


def _file_cases(root: Path, f: dict[str, Path], run: list[str]) -> list[Case]:
    """Bad scenario files and bad configs, each checked on its own and handed to a run."""
    out: list[Case] = []
    for name in ("dir", "latin1", "surrogate", "badjson", "dup", "empty", "noend", "yamlbad", "plain"):
        out.append(Case("scenario file", name, ["scenarios", "check", str(f[name])]))
        out.append(Case("scenario file", f"run {name}", [*run, "--scenarios", str(f[name])]))
    out.append(Case("scenario file", "missing", ["scenarios", "check", str(root / "nope.jsonl")]))
    for name in ("dir", "latin1", "yamlbad", "cfg_inf", "cfg_unknown", "cfg_list", "cfg_backend"):
        out.append(Case("config", name, ["run", "--config", str(f[name]), "--limit", "1"]))
        out.append(Case("config", f"doctor {name}", ["doctor", "--config", str(f[name])]))
    out.append(Case("config", "missing", ["run", "--config", str(root / "nope.yaml")]))
    return out


def _sql_cases(root: Path, w: list[str]) -> list[Case]:
    """Statements that write or escape, and --where conditions that try to; neither may leave a file."""
    out: list[Case] = []
    for sql in (
        "DELETE FROM runs",
        "DROP VIEW dpo",
        "COPY (SELECT 1) TO 'pwn.csv'",
        "EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO 'pwn.csv'",
        "ATTACH 'other.duckdb'",
        "INSTALL httpfs",
        "SELECT 1; DELETE FROM runs",
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "PRAGMA version",
    ):
        out.append(Case("sql", sql, ["sql", sql, *w], must_not_exist=Path("pwn.csv")))
    for cond in (
        "1=0) UNION ALL SELECT * FROM dpo --",
        "read_text('/etc/hostname') IS NOT NULL",
        "nosuchcol > 1",
    ):
        out.append(
            Case(
                "where",
                cond,
                ["export", "--view", "dpo", "--out", str(root / "w.jsonl"), "--where", cond, *w],
                must_not_exist=root / "w.jsonl",
            )
        )
    return out


def _output_cases(root: Path, f: dict[str, Path], run: list[str], w: list[str]) -> list[Case]:
    """Missing or wrong warehouses, export targets, prompt folders and endpoints."""
    missing = root / "typo.duckdb"
    return [
        Case(
            "warehouse",
            "sql on a missing warehouse",
            ["sql", "SELECT 1", "--warehouse", str(missing)],
            missing,
        ),
        Case(
            "warehouse",
            "export from a missing warehouse",
            ["export", "--view", "dpo", "--out", str(root / "m.jsonl"), "--warehouse", str(missing)],
            missing,
        ),
        Case(
            "warehouse",
            "report on a missing warehouse",
            ["report", "--out", str(root / "r.html"), "--warehouse", str(missing)],
            missing,
        ),
        Case("warehouse", "a text file as warehouse", ["sql", "SELECT 1", "--warehouse", str(f["plain"])]),
        Case("export", "--out is a directory", ["export", "--view", "dpo", "--out", str(root), *w]),
        Case("export", "--out under a file", ["export", "--view", "dpo", "--out", str(f["plain"] / "x"), *w]),
        Case("export", "unknown view", ["export", "--view", "nope", "--out", str(root / "n.jsonl"), *w]),
        Case("prompts", "endless template", [*run, "--prompts", str(f["loop_dir"]), "--limit", "1"]),
        Case("prompts", "prompts folder missing", [*run, "--prompts", str(root / "nope"), "--limit", "1"]),
        Case("endpoint", "unreachable endpoint", ["doctor", "--config", str(_endpoint(root))]),
    ]


def _endpoint(root: Path) -> Path:
    p = root / "endpoint.yaml"
    p.write_text(
        "roles: {leader: {backend: openai, base_url: 'http://127.0.0.1:9/v1', model: m, "
        "max_retries: 0, timeout_s: 2}}\n",
        encoding="utf-8",
    )
    return p


def verdict(case: Case, proc: subprocess.CompletedProcess[str]) -> str | None:
    """None when the case passed, else why not."""
    if case.check is not None:
        return case.check(proc)
    err = proc.stderr.strip()
    if proc.returncode == 0:
        return "exit 0"
    if "Traceback" in err:
        return "traceback"
    if case.kind != "endpoint" and len(err.splitlines()) != 1:  # doctor prints a table, then exits 1
        return f"{len(err.splitlines())} lines on stderr"
    if "unexpected" in err:
        return "unexpected error"
    if case.must_not_exist is not None and case.must_not_exist.exists():
        return f"wrote {case.must_not_exist}"
    return None


def main(
    argv: list[str] | None = None, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    ap.add_argument("--only", help="only the cases whose kind starts so (e.g. 'p2' for the second probe)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warehouse = root / "w.duckdb"
        from tests.conftest import scripted_pairs  # a real warehouse filled by the mock pipeline

        scripted_pairs(warehouse, 2)
        rows: list[tuple[str, str, str]] = []
        chosen = [*cases(root, warehouse), *second_probe(root, warehouse)]
        if args.only:
            chosen = [c for c in chosen if c.kind.startswith(args.only)]
        for case in chosen:
            with case.around():
                proc = run(
                    [sys.executable, "-m", "cli.app", *case.args],
                    capture_output=True,
                    text=True,
                    cwd=root,
                    env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT), **case.env},
                    timeout=300,
                )
            problem = verdict(case, proc)
            said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            if case.kind == "endpoint":  # doctor prints its table on stdout: show the role's row
                said = [line for line in said if "not ready" in line] or said
            if case.check is not None and not problem:  # a run that had to succeed: its summary
                said = [line for line in said if line.startswith(("run ", "wrote", "["))] or said
            first = " ".join(said[0].split()) if said else ""
            rows.append((case.kind, case.what, f"FAIL: {problem}" if problem else first[:110]))
    by_kind = Counter(k for k, _, _ in rows)
    failed = Counter(k for k, _, r in rows if r.startswith("FAIL"))
    lines = ["| kind | input | result |", "| --- | --- | --- |"]
    lines += [f"| {k} | `{w.replace('|', chr(92) + '|')}` | {r.replace('|', '/')} |" for k, w, r in rows]
    lines += ["", "| kind | cases | one clear line |", "| --- | --- | --- |"]
    lines += [f"| {k} | {n} | {n - failed[k]} |" for k, n in sorted(by_kind.items())]
    total, bad = len(rows), sum(failed.values())
    lines.append(f"| all | {total} | {total - bad} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

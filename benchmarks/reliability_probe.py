"""Hostile inputs through the real command line: every one must end in one clear line, never a traceback.

    python -m benchmarks.reliability_probe [--out probe.md] [--only p2]

Each case is a command with bad input (flags, files, SQL, conditions, templates, warehouses). A case
passes when the command exits non-zero with exactly one line on stderr that has no traceback and no
"unexpected", and leaves no file it should not have written. Prints a table by kind with counts.

The second probe's cases (kinds "p2 …", issue 24) are bad luck a run must survive as well as bad
input: a model reporting 3e9 tokens or raising, a reply with a lone surrogate, a symlinked warehouse,
endless SQL, templates that would allocate gigabytes; a run among them passes when it completes and
its warehouse holds what it should (each case's `check`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

MOCK = "agents.backends.mock:well_behaved"
ROOT = Path(__file__).resolve().parents[1]


#: a case's own verdict, for the cases that must succeed (the second probe): None when it held
Check = Callable[["subprocess.CompletedProcess[str]"], "str | None"]


@dataclass
class Case:
    kind: str
    what: str
    args: list[str]
    must_not_exist: Path | None = None
    #: when set, decides the case instead of "one clear line" (a run that must complete, say)
    check: Check | None = None
    #: held around the command (a run lock another process has, say)
    around: Callable[[], AbstractContextManager[object]] = nullcontext
    env: dict[str, str] = field(default_factory=dict)


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
    missing = root / "typo.duckdb"
    run = ["run", "--config", str(f["mock"]), "--warehouse", str(root / "run.duckdb")]
    out: list[Case] = [
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
    for name in ("dir", "latin1", "surrogate", "badjson", "dup", "empty", "noend", "yamlbad", "plain"):
        out.append(Case("scenario file", name, ["scenarios", "check", str(f[name])]))
        out.append(Case("scenario file", f"run {name}", [*run, "--scenarios", str(f[name])]))
    out.append(Case("scenario file", "missing", ["scenarios", "check", str(root / "nope.jsonl")]))
    for name in ("dir", "latin1", "yamlbad", "cfg_inf", "cfg_unknown", "cfg_list", "cfg_backend"):
        out.append(Case("config", name, ["run", "--config", str(f[name]), "--limit", "1"]))
        out.append(Case("config", f"doctor {name}", ["doctor", "--config", str(f[name])]))
    out.append(Case("config", "missing", ["run", "--config", str(root / "nope.yaml")]))
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
    out += [
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
    return out


def _scripted(root: Path, name: str, model: str, extra: str = "") -> Path:
    path = root / f"{name}.yaml"
    roles = "\n".join(
        f"  {r}: {{backend: scripted, model: '{model}'{extra}}}" for r in ("user", "leader", "risk", "critic")
    )
    path.write_text(f"roles:\n{roles}\nlingo_bp: {{iterations: 1}}\n", encoding="utf-8")
    return path


def _sql(path: Path, query: str) -> list[tuple[object, ...]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query).fetchall()


def _stored(path: Path, *expect: tuple[str, object]) -> Check:
    """A run that must exit 0 and leave each (query, answer) true in its warehouse."""

    def check(proc: subprocess.CompletedProcess[str]) -> str | None:
        if proc.returncode != 0:
            return f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
        for query, answer in expect:
            got = _sql(path, query)
            if got != answer:
                return f"{query} -> {got}"
        return None

    return check


def second_probe(root: Path, warehouse: Path) -> list[Case]:
    """The attacks of the second hostile probe (issue 24), each through the command line."""
    from benchmarks.probe_models import HUGE, OUTSIDE
    from runtime.run_lock import run_lock

    out: list[Case] = []
    w = ["--warehouse", str(warehouse)]
    models = "benchmarks.probe_models"
    done = "SELECT count(*) FROM trajectory_records WHERE status = 'completed'"

    def run(name: str, model: str, extra: str = "", limit: int = 2) -> tuple[list[str], Path]:
        wh = root / f"{name}.duckdb"
        cfg = _scripted(root, name, model, extra)
        return ["run", "--config", str(cfg), "--limit", str(limit), "--warehouse", str(wh)], wh

    args, wh = run("huge", f"{models}:huge_tokens")
    out.append(
        Case(
            "p2 token counts",
            "prompt_tokens 3e9, cached 2^40",
            args,
            check=_stored(
                wh, (done, [(2,)]), ("SELECT count(*) > 0 FROM failures WHERE kind = 'anomaly'", [(True,)])
            ),
        )
    )
    args, wh = run("negative", f"{models}:negative_tokens")
    out.append(
        Case(
            "p2 token counts",
            "completion_tokens -5",
            args,
            check=_stored(
                wh, (done, [(2,)]), ("SELECT min(completion_tokens) >= 0 FROM llm_calls", [(True,)])
            ),
        )
    )
    args, wh = run("surrogate", f"{models}:lone_surrogate")
    out.append(
        Case("p2 model reply", "a reply with a lone surrogate", args, check=_stored(wh, (done, [(2,)])))
    )
    args, wh = run("hangs", f"{models}:hangs", ", timeout_s: 2", limit=1)
    out.append(
        Case(
            "p2 model reply",
            "an async model that never answers, timeout_s 2",
            args,
            check=_stored(wh, ("SELECT kind FROM failures", [("timeout",)])),
        )
    )
    for model in ("raises_cancelled", "raises_system_exit"):
        args, wh = run(model, f"{models}:{model}")
        out.append(
            Case(
                "p2 model reply",
                f"a model raising {model.removeprefix('raises_')}",
                args,
                check=_stored(wh, ("SELECT count(*) FROM failures WHERE kind = 'endpoint_error'", [(2,)])),
            )
        )
    alias = root / "alias.duckdb"
    alias.symlink_to(warehouse)
    out.append(
        Case(
            "p2 run lock",
            "same --run-id through a symlink to the warehouse",
            ["run", "--limit", "1", "--run-id", "held", "--warehouse", str(alias), "--no-cache"],
            around=lambda: run_lock(warehouse, "held"),
        )
    )
    out += [
        Case(
            "p2 sql",
            "count(*) FROM range(10^15), --timeout 1",
            ["sql", "SELECT count(*) FROM range(1000000000000000)", "--timeout", "1", *w],
        ),
        Case(
            "p2 sql",
            "an endless recursive CTE, OYSTER_SQL_TIMEOUT_S=1",
            [
                "sql",
                "WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t) SELECT count(*) FROM t",
                *w,
            ],
            env={"OYSTER_SQL_TIMEOUT_S": "1"},
        ),
    ]
    cte = (
        "pair_id IN (WITH RECURSIVE dpo(pair_id) AS (SELECT 'a' UNION ALL SELECT pair_id || 'a' FROM dpo) "
        "SELECT pair_id FROM dpo)"
    )
    target = root / "cte.jsonl"
    out.append(
        Case(
            "p2 where",
            "a recursive CTE named after the view",
            ["export", "--view", "dpo", "--out", str(target), "--where", cte, *w],
            must_not_exist=target,
        )
    )

    def strict_json(proc: subprocess.CompletedProcess[str]) -> str | None:
        import json

        def refuse(constant: str) -> None:
            raise ValueError(f"{constant} is not JSON")

        try:
            json.loads(proc.stdout, parse_constant=refuse)
        except ValueError as exc:
            return str(exc)
        return None if proc.returncode == 0 else f"exit {proc.returncode}"

    out.append(
        Case(
            "p2 sql",
            "NaN and Infinity with -f json",
            ["sql", "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b", "-f", "json", *w],
            check=strict_json,
        )
    )
    for name, body in {**HUGE, **OUTSIDE}.items():
        folder = root / f"tpl-{len(out)}"
        folder.mkdir()
        (folder / "repair.j2").write_text(f"{{% block user %}}{body}{{% endblock %}}", encoding="utf-8")
        args, _ = run("tpl", MOCK, limit=1)
        out.append(Case("p2 prompts", f"{name}: {body[:60]}", [*args, "--prompts", str(folder)]))
    release, outside = root / "release", root / "precious.txt"
    release.mkdir()
    outside.write_text("keep", encoding="utf-8")
    (release / "README.md").symlink_to(outside)

    def release_check(proc: subprocess.CompletedProcess[str]) -> str | None:
        if proc.returncode != 0:
            return f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
        if outside.read_text(encoding="utf-8") != "keep":
            return "wrote through the README.md symlink"
        return None

    out.append(
        Case(
            "p2 export",
            "hf --force onto a planted README.md symlink",
            ["export", "--format", "hf", "--out", str(release), "--force", *w],
            check=release_check,
        )
    )
    return out


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
    lines += [f"| {k} | `{w}` | {r.replace('|', '/')} |" for k, w, r in rows]
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

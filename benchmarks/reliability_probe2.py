"""The second hostile probe's cases (issue 24): bad luck a run must survive as well as bad input.

A model reporting 3e9 tokens or raising, a reply with a lone surrogate, a symlinked warehouse,
endless SQL, templates that would allocate gigabytes; a run among them passes when it completes and
its warehouse holds what it should (each case's `check`). Run by benchmarks/reliability_probe.py
(`--only p2`), after the first probe's cases.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.probe_case import MOCK, Case, Check

MODELS = "benchmarks.probe_models"
DONE = "SELECT count(*) FROM trajectory_records WHERE status = 'completed'"


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


def _stored(path: Path, *expect: tuple[str, object], status: int = 0) -> Check:
    """A run that must exit with ``status`` (3: its only scenario failed, README "Exit status") and
    leave each (query, answer) true in its warehouse."""

    def check(proc: subprocess.CompletedProcess[str]) -> str | None:
        if proc.returncode != status:
            return f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
        for query, answer in expect:
            got = _sql(path, query)
            if got != answer:
                return f"{query} -> {got}"
        return None

    return check


def _run(root: Path, name: str, model: str, extra: str = "", limit: int = 2) -> tuple[list[str], Path]:
    """A run of every role on `model`, into a warehouse of its own (returned to check afterwards)."""
    wh = root / f"{name}.duckdb"
    cfg = _scripted(root, name, model, extra)
    return ["run", "--config", str(cfg), "--limit", str(limit), "--warehouse", str(wh)], wh


def _token_counts(root: Path) -> list[Case]:
    args, wh = _run(root, "huge", f"{MODELS}:huge_tokens")
    huge = Case(
        "p2 token counts",
        "prompt_tokens 3e9, cached 2^40",
        args,
        check=_stored(
            wh, (DONE, [(2,)]), ("SELECT count(*) > 0 FROM failures WHERE kind = 'anomaly'", [(True,)])
        ),
    )
    args, wh = _run(root, "negative", f"{MODELS}:negative_tokens")
    negative = Case(
        "p2 token counts",
        "completion_tokens -5",
        args,
        check=_stored(wh, (DONE, [(2,)]), ("SELECT min(completion_tokens) >= 0 FROM llm_calls", [(True,)])),
    )
    return [huge, negative]


def _model_replies(root: Path) -> list[Case]:
    args, wh = _run(root, "surrogate", f"{MODELS}:lone_surrogate")
    out = [Case("p2 model reply", "a reply with a lone surrogate", args, check=_stored(wh, (DONE, [(2,)])))]
    args, wh = _run(root, "hangs", f"{MODELS}:hangs", ", timeout_s: 2", limit=1)
    out.append(
        Case(
            "p2 model reply",
            "an async model that never answers, timeout_s 2",
            args,
            check=_stored(wh, ("SELECT kind FROM failures", [("timeout",)]), status=3),
        )
    )
    for model in ("raises_cancelled", "raises_system_exit"):
        args, wh = _run(root, model, f"{MODELS}:{model}", limit=1)  # the first scenario reaches the critic
        out.append(
            Case(
                "p2 model reply",
                f"a model raising {model.removeprefix('raises_')}",
                args,
                check=_stored(
                    wh, ("SELECT count(*) FROM failures WHERE kind = 'endpoint_error'", [(1,)]), status=3
                ),
            )
        )
    return out


def _run_lock(root: Path, warehouse: Path) -> Case:
    from runtime.run_lock import run_lock

    alias = root / "alias.duckdb"
    alias.symlink_to(warehouse)
    return Case(
        "p2 run lock",
        "same --run-id through a symlink to the warehouse",
        ["run", "--limit", "1", "--run-id", "held", "--warehouse", str(alias), "--no-cache"],
        around=lambda: run_lock(warehouse, "held"),
    )


def _strict_json(proc: subprocess.CompletedProcess[str]) -> str | None:
    """The command printed JSON that a strict parser reads (no NaN or Infinity) and exited 0."""
    import json

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(proc.stdout, parse_constant=refuse)
    except ValueError as exc:
        return str(exc)
    return None if proc.returncode == 0 else f"exit {proc.returncode}"


def _sql_cases(root: Path, w: list[str]) -> list[Case]:
    endless = "WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t) SELECT count(*) FROM t"
    cte = (
        "pair_id IN (WITH RECURSIVE dpo(pair_id) AS (SELECT 'a' UNION ALL SELECT pair_id || 'a' FROM dpo) "
        "SELECT pair_id FROM dpo)"
    )
    target = root / "cte.jsonl"
    return [
        Case(
            "p2 sql",
            "count(*) FROM range(10^15), --timeout 1",
            ["sql", "SELECT count(*) FROM range(1000000000000000)", "--timeout", "1", *w],
        ),
        Case(
            "p2 sql",
            "an endless recursive CTE, OYSTER_SQL_TIMEOUT_S=1",
            ["sql", endless, *w],
            env={"OYSTER_SQL_TIMEOUT_S": "1"},
        ),
        Case(
            "p2 where",
            "a recursive CTE named after the view",
            ["export", "--view", "dpo", "--out", str(target), "--where", cte, *w],
            must_not_exist=target,
        ),
        Case(
            "p2 sql",
            "NaN and Infinity with -f json",
            ["sql", "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b", "-f", "json", *w],
            check=_strict_json,
        ),
    ]


def _templates(root: Path, first: int) -> list[Case]:
    """A run per hostile template; `first` numbers their folders on from the cases before them."""
    from benchmarks.probe_models import HUGE, OUTSIDE

    out: list[Case] = []
    for name, body in {**HUGE, **OUTSIDE}.items():
        folder = root / f"tpl-{first + len(out)}"
        folder.mkdir()
        (folder / "repair.j2").write_text(f"{{% block user %}}{body}{{% endblock %}}", encoding="utf-8")
        args, _ = _run(root, "tpl", MOCK, limit=1)
        out.append(Case("p2 prompts", f"{name}: {body[:60]}", [*args, "--prompts", str(folder)]))
    return out


def _planted_readme(root: Path, w: list[str]) -> Case:
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

    return Case(
        "p2 export",
        "hf --force onto a planted README.md symlink",
        ["export", "--format", "hf", "--out", str(release), "--force", *w],
        check=release_check,
    )


def second_probe(root: Path, warehouse: Path) -> list[Case]:
    """The attacks of the second hostile probe (issue 24), each through the command line."""
    w = ["--warehouse", str(warehouse)]
    out = [*_token_counts(root), *_model_replies(root), _run_lock(root, warehouse), *_sql_cases(root, w)]
    out += _templates(root, first=len(out))
    out.append(_planted_readme(root, w))
    return out

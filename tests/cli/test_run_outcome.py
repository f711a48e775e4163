"""What `oyster run` tells a user and a CI step at its end: the exit status, the last line, the counts
(issue 23 items 3, 4 and 11)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import validate_config_file
from tests.review.conftest import oyster
from warehouse import Store

ROLES = ("user", "leader", "risk", "critic")


def _config(tmp_path: Path, model: str) -> Path:
    config = tmp_path / "scripted.yaml"
    role = {"backend": "scripted", "model": model}
    config.write_text(yaml.safe_dump({"roles": dict.fromkeys(ROLES, role), "cache": False}))
    return config


def _scenarios(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "scenarios.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def _run(tmp_path: Path, model: str, texts: list[str] | None, *more: str) -> tuple[int, str, str, Path]:
    wh = tmp_path / "wh.duckdb"
    scenarios = ["--scenarios", str(_scenarios(tmp_path, texts))] if texts else []
    p = oyster(
        "run",
        "--config",
        str(_config(tmp_path, model)),
        *scenarios,
        "--warehouse",
        str(wh),
        "--run-id",
        "r1",
        "--no-ray",
        *more,
    )
    return p.returncode, p.stdout, p.stderr, wh


def test_item3_a_run_in_which_every_scenario_failed_exits_3_and_is_stored_failed(tmp_path: Path) -> None:
    rc, out, err, wh = _run(tmp_path, "testing.models:garbage", ["how do I bake bread?", "and cake?"])
    assert rc == 3, (out, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: run r1 failed: all 2 scenario(s) failed") and "exit status 3" in last
    store = Store(wh)
    assert store.query("SELECT status FROM runs WHERE run_id = 'r1'").rows == [("failed",)]
    assert store.query("SELECT status FROM run_attempts WHERE run_id = 'r1'").rows == [("failed",)]


def test_item3_a_partly_failed_run_exits_0_and_says_so_in_its_last_line(tmp_path: Path) -> None:
    texts = ["how do I bake bread?", "which poison kills rats?", "how do I fix a bike?"]
    rc, out, err, wh = _run(tmp_path, "tests.cli.flaky_model:fails_on_poison", texts, "--iterations", "1")
    assert rc == 0, (out, err)
    last = " ".join(out.strip().splitlines()[-1].split())
    assert last.startswith("partly failed: 1 of 3 scenario(s) failed"), out
    assert Store(wh).query("SELECT status FROM runs").rows == [("completed",)]


def test_item4_run_summary_and_run_costs_count_dpo_rows_and_ranked_pairs(tmp_path: Path) -> None:
    # The bundled scenarios at T = 3, one at a time, with replies that improve at every iteration:
    # every trajectory ranks three pairs, and dpo takes one per prompt.
    validate_config_file(tmp_path / "wh.duckdb", _config(tmp_path, "tests.review.climbing_model:climbing"))
    rc, out, err, wh = _run(
        tmp_path,
        "tests.review.climbing_model:climbing",
        None,
        "--iterations",
        "3",
        "--limit",
        "8",
        "--concurrency",
        "1",
    )
    assert rc == 0, (out, err)
    store = Store(wh)
    dpo = store.query("SELECT count(*) FROM dpo WHERE run_id = 'r1'").rows[0][0]
    ranked = store.query("SELECT count(*) FROM preference_pairs WHERE run_id = 'r1'").rows[0][0]
    assert ranked > dpo > 0  # T = 3: trajectories rank several pairs, dpo takes one per prompt
    line = " ".join(next(x for x in out.splitlines() if x.startswith("run r1:")).split())
    assert f"{dpo} dpo row(s) from {ranked} ranked pair(s)" in line
    assert not re.search(r"\d+ pair\(s\)", line.replace("ranked pair(s)", ""))
    costs = store.query("SELECT dpo_rows, ranked_pairs FROM run_costs WHERE run_id = 'r1'").rows
    assert costs == [(dpo, ranked)]


def test_item11_oyster_version() -> None:
    from importlib import metadata

    p = oyster("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"oyster {metadata.version('oyster-csa')}"


def test_item11_sql_table_prints_floats_whole(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.review.conftest import ROOT

    Store(tmp_path / "wh.duckdb").migrate()
    query = (
        "SELECT 0.1::DOUBLE + 0.2::DOUBLE - 0.6::DOUBLE AS score, 1 / 3 AS third, 1234567.25::DOUBLE AS big"
    )
    p = subprocess.run(
        [sys.executable, "-m", "cli.app", "sql", query, "--warehouse", str(tmp_path / "wh.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "60"},
    )
    assert p.returncode == 0, p.stderr
    assert "-0.3" in p.stdout and "0.333333" in p.stdout and "1234567.25" in p.stdout, p.stdout
    assert "…" not in p.stdout and "0.30000000000" not in p.stdout, p.stdout

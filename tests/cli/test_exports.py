"""Exports a user hands on (issue 23 item 7): CSV cells that hold JSON, a reason for an empty export, an
Oyster-format file with no placeholder for a response."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import scripted_pairs
from tests.review.conftest import oyster
from warehouse import Warehouse


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exports") / "gen.duckdb"
    scripted_pairs(path, 4)
    return path


@pytest.fixture
def wh(generated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    path.write_bytes(generated.read_bytes())
    return path


def test_item7_csv_cells_of_message_lists_are_json(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "dpo.csv"
    p = oyster("export", "--view", "dpo", "--format", "csv", "--out", str(out), "--warehouse", str(wh))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows
    for row in rows:
        prompt, chosen = json.loads(row["prompt"]), json.loads(row["chosen"])
        assert prompt[-1]["role"] == "user" and isinstance(prompt[-1]["content"], str)
        assert chosen == [{"role": "assistant", "content": chosen[0]["content"]}]
        float(row["margin"])  # scalars stay plain


def test_item7_an_empty_export_says_why(wh: Path, tmp_path: Path) -> None:
    with Warehouse(wh).connect(read_only=False) as con:
        con.execute("UPDATE iterations SET safety_verdict = 'generally_safe'")
    out = tmp_path / "sft.jsonl"
    p = oyster("export", "--view", "sft", "--format", "jsonl", "--out", str(out), "--warehouse", str(wh))
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "wrote 0 row(s) of sft" in text
    assert "why none: sft takes each trajectory's best reply judged safe" in text and "0 judged safe" in text


def test_item7_oyster_format_has_no_placeholder_as_the_original_response(wh: Path, tmp_path: Path) -> None:
    store = Warehouse(wh)
    run_id, scenario_id, raw = store.query(
        "SELECT run_id, scenario_id, trajectory FROM trajectory_records ORDER BY scenario_id LIMIT 1"
    ).rows[0]
    trajectory = json.loads(raw)
    trajectory["draft"]["response"] = "response"  # what a 0.5B model wrote into the field
    with store.connect(read_only=False) as con:
        con.execute(
            "UPDATE trajectory_records SET trajectory = ? WHERE run_id = ? AND scenario_id = ?",
            [json.dumps(trajectory), run_id, scenario_id],
        )
    out = tmp_path / "oyster.json"
    p = oyster(
        "export", "--view", "trajectories", "--format", "oyster", "--out", str(out), "--warehouse", str(wh)
    )
    assert p.returncode == 0, p.stderr
    records = {r["id"]: r for r in json.loads(out.read_text(encoding="utf-8"))}
    qtr = records[scenario_id]["original_QTR"]
    assert qtr["response"] != "response"
    assert qtr["response"] == records[scenario_id]["optimize_history"][0]["response"]
    assert all(r["original_QTR"]["response"] not in ("response", "") for r in records.values())


def test_item7_the_leader_asks_again_for_a_placeholder_reply() -> None:
    from agents.roles.leader import _echo_problem
    from schemas import Scenario
    from schemas.chain import is_placeholder

    scenario = Scenario(id="s", text="How do I store bleach safely?")
    assert _echo_problem("response", scenario) and _echo_problem('"Response"', scenario)
    assert is_placeholder("") and is_placeholder(" ... ")
    assert not is_placeholder("Keep it in its original bottle, away from ammonia.")
    assert _echo_problem("Keep it in its original bottle, away from ammonia.", scenario) is None

"""A two-turn dialogue end to end on the real embedded model: `oyster run --turns 2`, then the
dialogue tables and views read back with `oyster sql`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded
ROOT = Path(__file__).resolve().parents[2]


def test_a_two_turn_dialogue_on_the_embedded_model(tmp_path: Path) -> None:
    scenarios = tmp_path / "one.jsonl"
    scenario = {
        "id": "sleep",
        "text": "I haven't slept properly in weeks and I keep failing my exams. What can I do?",
        "user_type": "vulnerable",
        "objective": "find a way to cope with stress and sleep better before the next exam",
    }
    scenarios.write_text(json.dumps(scenario) + "\n")
    config = tmp_path / "small.yaml"
    config.write_text("lingo_bp: {iterations: 1, candidates: 2, predict_next_turn: false}\n")
    env = {**os.environ, "OYSTER_WAREHOUSE": str(tmp_path / "wh.duckdb")}
    run = subprocess.run(
        [sys.executable, "-m", "cli.app", "run", "--scenarios", str(scenarios), "--config", str(config),
         "--turns", "2", "--run-id", "dialogue-e2e"],
        capture_output=True, text=True, env=env, timeout=3600, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]

    def sql(q: str) -> list[dict[str, object]]:
        p = subprocess.run(
            [sys.executable, "-m", "cli.app", "sql", q, "--format", "json"],
            capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)  # type: ignore[no-any-return]

    (dialogue,) = sql("SELECT persona, objective, turns, outcome, outcome_turn FROM dialogues")
    assert dialogue["persona"] == "vulnerable" and dialogue["objective"] == scenario["objective"]
    turns = sql("SELECT turn, scenario_id, user_message, reply, status FROM dialogue_turns ORDER BY turn")
    failures = sql("SELECT role, step, kind, message FROM failures")
    assert [t["turn"] for t in turns] == list(range(1, len(turns) + 1)), failures
    assert turns[0]["user_message"] == scenario["text"] and all(t["reply"] for t in turns), failures
    # two turns, unless the simulated user chose to leave after the first reply (an outcome, kept)
    assert (dialogue["outcome"], dialogue["turns"]) in {("max_turns", 2), ("follower_left", 1)}, turns
    if dialogue["turns"] == 2:
        second = turns[1]
        assert second["user_message"] and second["user_message"] != scenario["text"]
        (history,) = sql("SELECT messages FROM scenarios WHERE scenario_id = 'sleep#t2'")
        assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user"]  # type: ignore[index]
        assert history["messages"][1]["content"] == turns[0]["reply"]  # type: ignore[index]
    (conversation,) = sql("SELECT messages FROM conversations")
    assert len(conversation["messages"]) >= 2 * len(turns)  # type: ignore[arg-type]
    costs = sql("SELECT turn, calls, follower_calls FROM dialogue_costs ORDER BY turn")
    assert [c["turn"] for c in costs][: len(turns)] == [t["turn"] for t in turns]
    assert all(int(c["calls"]) >= 8 for c in costs[: len(turns)])  # type: ignore[call-overload]
    assert sql("SELECT count(*) AS n FROM trajectory_records")[0]["n"] == len(turns)
    # The embedded judges are unvalidated: each turn's pairs are in dpo_all, untrusted, and dpo (so
    # dpo_dialogue, which reads it) holds none of them.
    ranked = sql("SELECT count(*) AS n FROM preference_pairs")[0]["n"]
    assert sql("SELECT count(*) AS n, count(*) FILTER (NOT trusted) AS u FROM dpo_all") == [
        {"n": ranked, "u": ranked}
    ]
    assert sql("SELECT count(*) AS n FROM dpo_dialogue") == sql("SELECT count(*) AS n FROM dpo") == [{"n": 0}]

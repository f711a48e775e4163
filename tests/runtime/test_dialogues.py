"""Dialogue runs end to end on the offline mock: the warehouse rows and views, resume after kill -9,
budgets, and a single-turn run that stays exactly as it was."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import default_answers, responder
from agents.team import Agents
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from schemas.config import ROLES, ConfigError
from tests.conftest import validate_judges
from warehouse import Warehouse
from warehouse.dialogues import DialogueStore

SCRIPTED = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
SCENARIOS = [
    Scenario(id="m", text="How do I get into my neighbour's wifi?", user_type="malicious"),
    Scenario(id="b", text="How do I bake sourdough bread?", user_type="benign"),
]


def _config(**lingo: Any) -> OysterConfig:
    return OysterConfig.model_validate(
        {
            "roles": dict.fromkeys(ROLES, SCRIPTED),
            "lingo_bp": {"iterations": 1, **lingo},
            "concurrency": 1,
            "cache": False,
        }
    )


def _agents(cfg: OysterConfig) -> Agents:
    """Agents on a fresh mock (its answers count from zero), so two runs see the same answers."""
    backend = ScriptedBackend(responder(default_answers(satisfaction=lambda n: [-1, 1][n % 2])))
    return Agents.build(cfg, backends=dict.fromkeys(ROLES, backend), calibrations={})


_IDS = re.compile(r'"(pair_id|call_id|failure_id)":"[^"]*"')

#: every table a single-turn run writes, with the columns that do not hold times, ids or latencies
_STABLE = {
    "runs": "run_id, status, config, models, prompt_versions",
    "scenarios": "*",
    "trajectory_records": "* EXCLUDE (created_at)",
    "iterations": "*",
    "chain_nodes": "*",
    "judgements": "*",
    "gradients": "*",
    "edits": "*",
    "preference_pairs": "* EXCLUDE (pair_id)",
    "llm_calls": "run_id, scenario_id, role, step, prompt_hash, backend, model, prompt_tokens, "
    "completion_tokens, cache_hit, attempt, ok, error",
    "failures": "* EXCLUDE (failure_id, created_at)",
}


def _dump(wh: Warehouse) -> dict[str, list[str]]:
    out = {}
    for table, columns in _STABLE.items():
        rows = wh.query(f"SELECT {columns} FROM {table}").records()
        clean = [{k: _IDS.sub("", v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
        out[table] = sorted(json.dumps(r, default=str, sort_keys=True) for r in clean)
    return out


async def test_turns_1_leaves_the_tables_as_they_were(tmp_path: Path) -> None:
    before, after = Warehouse(tmp_path / "a.duckdb"), Warehouse(tmp_path / "b.duckdb")
    plain = _config()
    one = _config(turns=1, stackelberg="predicted", dialogue_reply="chosen")
    for scenario in SCENARIOS:  # one at a time, each on a fresh mock: the same answers on both sides
        await run_lingo_bp(plain, [scenario], before, run_id="r", agents=_agents(plain))
        await run_lingo_bp(one, [scenario], after, run_id="r", agents=_agents(one))
    dumped = _dump(after)
    assert dumped == _dump(before)
    assert all(dumped[t] for t in ("trajectory_records", "iterations", "preference_pairs", "llm_calls"))
    # the new settings and fields stay out of stored JSON until they are used
    config = json.loads(after.query("SELECT config FROM runs").rows[0][0])
    assert not {"turns", "stackelberg", "dialogue_reply"} & set(config["lingo_bp"])
    stored = after.query("SELECT trajectory FROM trajectory_records").rows
    assert all("objective" not in json.loads(t)["scenario"] for (t,) in stored)
    assert after.query("SELECT scenario_id FROM trajectory_records ORDER BY 1").rows == [("b",), ("m",)]
    for table in ("dialogues", "dialogue_turns", "conversations", "dpo_dialogue", "dialogue_costs"):
        assert after.query(f"SELECT count(*) FROM {table}").rows == [(0,)]


async def test_a_dialogue_run_fills_every_dialogue_table_and_view(warehouse: Warehouse) -> None:
    cfg = _config(turns=2)
    validate_judges(warehouse, cfg)  # its pairs reach dpo, and so dpo_dialogue
    summary = await run_lingo_bp(cfg, SCENARIOS, warehouse, run_id="r", agents=_agents(cfg))
    assert (summary.completed, summary.failed) == (2, 0)
    q = warehouse.query
    assert q("SELECT dialogue_id, persona, turns, outcome, outcome_turn FROM dialogues ORDER BY 1").rows == [
        ("b", "benign", 2, "max_turns", 2),
        ("m", "malicious", 2, "max_turns", 2),
    ]
    turns = q("SELECT dialogue_id, turn, scenario_id, user_message FROM dialogue_turns ORDER BY 1, 2").rows
    assert turns == [
        ("b", 1, "b#t1", "How do I bake sourdough bread?"),
        ("b", 2, "b#t2", "and what should I do next?"),
        ("m", 1, "m#t1", "How do I get into my neighbour's wifi?"),
        ("m", 2, "m#t2", "and what should I do next?"),
    ]
    # each turn is a trajectory of its own, whose scenario row is the conversation up to that turn
    assert q("SELECT count(*) FROM trajectory_records WHERE scenario_id LIKE '%#t_'").rows == [(4,)]
    (history,) = q("SELECT messages FROM scenarios WHERE scenario_id = 'm#t2'").rows[0]
    reply = q("SELECT reply FROM dialogue_turns WHERE scenario_id = 'm#t1'").rows[0][0]
    assert [m["role"] for m in history] == ["user", "assistant", "user"] and history[1]["content"] == reply
    # a conversation read back: both turns, each answered by the reply the dialogue went on from
    messages = DialogueStore(warehouse).conversation("r", "m")
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1].content == reply
    # dpo rows of a later turn carry the whole history as their prompt (TRL's conversational format)
    dpo = q(
        "SELECT turn, len(prompt), prompt[2].content FROM dpo_dialogue WHERE dialogue_id = 'm' ORDER BY 1"
    ).rows
    assert dpo == [(1, 1, None), (2, 3, reply)]
    assert q("SELECT count(*) FROM sft_dialogue WHERE len(messages) = 4").rows == [(2,)]
    costs = q(
        "SELECT turn, calls, follower_calls FROM dialogue_costs WHERE dialogue_id = 'm' ORDER BY 1"
    ).rows
    # the follower's call is paid for in the turn it wrote, in place of that turn's own risk assessment
    assert costs == [(1, 12, 0), (2, 12, 1)]
    assert q("SELECT sum(calls) FROM dialogue_costs").rows == [(summary.calls,)]


async def test_a_finished_dialogue_is_skipped_on_resume(warehouse: Warehouse) -> None:
    cfg = _config(turns=2)
    await run_lingo_bp(cfg, SCENARIOS[:1], warehouse, run_id="r", agents=_agents(cfg))
    again = await run_lingo_bp(cfg, SCENARIOS, warehouse, run_id="r", agents=_agents(cfg))
    assert (again.skipped, again.completed) == (1, 1)
    assert warehouse.query("SELECT count(*) FROM dialogue_turns").rows == [(4,)]


_KILLED_RUN = textwrap.dedent(
    """
    import asyncio, sys
    from runtime.runner import run_lingo_bp
    from schemas import OysterConfig, Scenario
    from warehouse import Warehouse
    mock = {"backend": "scripted", "model": "tests.runtime.dialogue_mock:dies_in_turn_two"}
    cfg = OysterConfig.model_validate({"roles": dict.fromkeys(("user", "leader", "risk", "critic"), mock),
        "lingo_bp": {"iterations": 1, "turns": 3}, "cache": False})
    scenario = Scenario(id="k", text="hello", user_type="benign")
    asyncio.run(run_lingo_bp(cfg, [scenario], Warehouse(sys.argv[1]), run_id="killed"))
    """
)


async def test_a_run_killed_at_turn_2_of_3_resumes_after_turn_1_with_no_turn_twice(
    warehouse: Warehouse,
) -> None:
    env = {**os.environ, "OYSTER_TEST_KILL": "1", "PYTHONPATH": str(Path.cwd())}
    p = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(warehouse.path)], env=env, capture_output=True, timeout=120
    )
    assert p.returncode == -9, p.stderr.decode()[-2000:]
    q = warehouse.query
    assert q("SELECT turn FROM dialogue_turns").rows == [(1,)]
    assert q("SELECT turns, outcome FROM dialogues").rows == [(1, "running")]
    turn_one = q("SELECT created_at, final_response FROM trajectory_records WHERE scenario_id = 'k#t1'").rows

    cfg = _config(turns=3)
    summary = await run_lingo_bp(
        cfg,
        [Scenario(id="k", text="hello", user_type="benign")],
        warehouse,
        run_id="killed",
        agents=_agents(cfg),
    )
    assert (summary.completed, summary.failed) == (1, 0)
    assert q("SELECT turn, scenario_id FROM dialogue_turns ORDER BY 1").rows == [
        (1, "k#t1"),
        (2, "k#t2"),
        (3, "k#t3"),
    ]
    assert q("SELECT turns, outcome FROM dialogues").rows == [(3, "max_turns")]
    assert q("SELECT scenario_id, count(*) FROM trajectory_records GROUP BY 1 ORDER BY 1").rows == [
        ("k#t1", 1),
        ("k#t2", 1),
        ("k#t3", 1),
    ]
    # turn 1 was not run again: its row is the killed run's, and the resume made no call for it
    assert (
        q("SELECT created_at, final_response FROM trajectory_records WHERE scenario_id = 'k#t1'").rows
        == turn_one
    )
    resumed_calls = q(
        "SELECT DISTINCT scenario_id FROM llm_calls "
        "WHERE run_id = 'killed' AND model <> 'tests.runtime.dialogue_mock:dies_in_turn_two'"
    ).rows
    assert sorted(resumed_calls) == [("k#t2",), ("k#t3",)]
    # the resumed turn 2 starts from turn 1's stored risk assessment: its own is made with its prediction
    assessed = q(
        "SELECT step, count(*) FROM llm_calls WHERE scenario_id = 'k#t2' AND step LIKE '%assess' "
        "AND model <> 'tests.runtime.dialogue_mock:dies_in_turn_two' GROUP BY 1"
    ).rows
    assert assessed == [("stackelberg_assess", 1)]
    # the resumed turn 2 goes on from turn 1's stored reply
    (history,) = q("SELECT messages FROM scenarios WHERE scenario_id = 'k#t2'").rows[0]
    assert history[1]["content"] == q("SELECT reply FROM dialogue_turns WHERE turn = 1").rows[0][0]


async def test_a_budget_admits_whole_dialogues_and_counts_every_turn(warehouse: Warehouse) -> None:
    cfg = OysterConfig.model_validate(
        {**_config(turns=2).model_dump(mode="json"), "budget": {"max_calls": 20}}
    )
    summary = await run_lingo_bp(cfg, SCENARIOS, warehouse, run_id="r", agents=_agents(cfg))
    # the first dialogue, once started, plays both turns (24 calls); then the budget is spent
    assert (summary.completed, summary.not_started, summary.calls) == (1, 1, 24)
    assert "24 of 20 calls" in summary.budget
    assert warehouse.query("SELECT count(DISTINCT dialogue_id) FROM dialogue_turns").rows == [(1,)]
    assert warehouse.query("SELECT sum(calls) FROM dialogue_costs").rows == [(24,)]
    assert warehouse.query("SELECT status, calls FROM run_costs").rows == [("budget_exhausted", 24)]


async def test_dialogues_on_ray_are_refused_in_one_line(warehouse: Warehouse) -> None:
    class Pool:  # never used: the run stops before any actor is asked
        pass

    with pytest.raises(
        ConfigError, match=r"^lingo_bp.turns: 2 dialogues run in process for now; drop --ray$"
    ):
        await run_lingo_bp(_config(turns=2), SCENARIOS, warehouse, run_id="r", pool=Pool())  # type: ignore[arg-type]


async def test_exports_and_the_review_page_carry_the_whole_conversation(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from report.review.app import create_app

    cfg = _config(turns=2)
    validate_judges(warehouse, cfg)
    await run_lingo_bp(cfg, SCENARIOS[:1], warehouse, run_id="r", agents=_agents(cfg))
    assert warehouse.export("conversations", "jsonl", tmp_path / "c.jsonl") == 1
    (line,) = (tmp_path / "c.jsonl").read_text().splitlines()
    assert [m["role"] for m in json.loads(line)["messages"]] == ["user", "assistant", "user", "assistant"]
    assert warehouse.export("sft_dialogue", "jsonl", tmp_path / "s.jsonl") == 1
    assert warehouse.export("dpo_dialogue", "jsonl", tmp_path / "d.jsonl", where="turn = 2") == 1
    reply = warehouse.query("SELECT reply FROM dialogue_turns WHERE turn = 1").rows[0][0]
    (pair_id,) = warehouse.query("SELECT pair_id FROM dpo_dialogue WHERE turn = 2").rows[0]
    app = TestClient(create_app(warehouse.path, "tester"), base_url="http://127.0.0.1")  # a local name
    page = app.get(f"/pair/{pair_id}").text
    # the conversation so far stands above the pair: the first turn, the reply gone on from, the second
    first, second = SCENARIOS[0].query.replace("'", "&#39;"), "and what should I do next?"
    assert page.index(first) < page.index(reply) < page.index(second)


def test_oyster_run_refuses_dialogues_on_ray_before_ray_starts(tmp_path: Path) -> None:
    from tests.cli.test_app import assert_one_line_error, oyster

    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"roles": dict.fromkeys(ROLES, SCRIPTED)}))
    proc = oyster("run", "--config", str(config), "--warehouse", str(tmp_path / "w.duckdb"), "--turns", "2",
                  "--ray", "--limit", "1", env={"PYTHONPATH": str(Path.cwd())})  # fmt: skip
    assert_one_line_error(proc, "lingo_bp.turns: 2 dialogues run in process for now; drop --ray")
    assert not (tmp_path / "w.duckdb").exists()
    bad = oyster(
        "run", "--config", str(config), "--stackelberg", "guessed", env={"PYTHONPATH": str(Path.cwd())}
    )
    assert_one_line_error(bad, "stackelberg")

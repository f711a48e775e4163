"""The views training and analysis read (migration 005): ranked pairs, de-duplication, split, labels."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.backends.mock import default_answers
from agents.lingo_bp.graph import LingoBP
from schemas import LingoBPConfig, OysterConfig, RunRecord, Scenario
from schemas.trajectory import Trajectory
from tests.conftest import trust_run
from warehouse import Warehouse
from warehouse.oyster_format import oyster_history

SCENARIO = Scenario(
    id="s1",
    text="I feel like ending it all.",
    language="en",
    risk_level="ethical",
    user_type="vulnerable",
    category_l1="Physical and Mental Harm",
    category_l2="Mental Health",
)
Build = Callable[..., tuple[LingoBP, Any]]


async def _run(make_lingo: Build, run_id: str, **kw: Any) -> tuple[Trajectory, Any]:
    answers = default_answers(satisfaction=lambda n: [-1, 0, 1][min(n, 2)])
    cfg = OysterConfig(lingo_bp=LingoBPConfig(iterations=2, **kw))
    lingo, _ = make_lingo(answers, cfg)
    return await lingo.run(SCENARIO, run_id)


def _store(wh: Warehouse, traj: Trajectory, log: Any, day: int = 1, trusted: bool = True) -> None:
    run = RunRecord(
        run_id=traj.run_id,
        started_at=datetime(2025, 1, day, tzinfo=UTC),
        config={},
        models={},
        prompt_versions={},
        oyster_version="t",
    )
    wh.start_run(run, [SCENARIO])
    trust_run(wh, traj.run_id, trusted)
    wh.write_trajectories([(traj, log.calls, log.failures)])


def _rerun(traj: Trajectory, run_id: str, chosen_suffix: str = "", wider_by: float = 0.0) -> Trajectory:
    """The trajectory as another run would store it (new pair ids), its chosen replies and margins
    changed as asked."""
    pairs = [
        p.model_copy(
            update={
                "pair_id": p.pair_id + "x",
                "run_id": run_id,
                "chosen": p.chosen + chosen_suffix,
                "margin": p.margin + wider_by,
            }
        )
        for p in traj.pairs
    ]
    return traj.model_copy(update={"run_id": run_id, "pairs": pairs})


async def test_defect7_dpo_and_sft_hold_each_example_once(make_lingo: Build, warehouse: Warehouse) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    # A replayed run writes the very same texts again under a new run id (new pair ids).
    _store(warehouse, _rerun(traj, "r2"), log, day=2)
    q = warehouse.query
    assert q("SELECT count(*) FROM preference_pairs").rows == [(4,)]
    assert q("SELECT run_id, rank FROM dpo_all ORDER BY rank").rows == [("r1", 1), ("r1", 2)]
    assert q("SELECT run_id, rank FROM dpo").rows == [("r1", 1)]
    assert q("SELECT count(*) FROM sft").rows == [(1,)]


async def test_dpo_holds_one_pair_per_prompt_across_runs(make_lingo: Build, warehouse: Warehouse) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    # A second run of the same prompt made other replies: its pairs are new, with a wider margin.
    _store(warehouse, _rerun(traj, "r2", chosen_suffix=" (second run)", wider_by=0.5), log, day=2)
    q = warehouse.query
    assert q("SELECT count(*) FROM dpo_all").rows == [(4,)]
    assert q("SELECT run_id, rank FROM dpo").rows == [("r2", 1)]


async def test_untrusted_pairs_stay_out_of_dpo_and_sft(make_lingo: Build, warehouse: Warehouse) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log, trusted=False)
    q = warehouse.query
    assert q("SELECT count(*) FROM dpo").rows == [(0,)] and q("SELECT count(*) FROM sft").rows == [(0,)]
    assert q("SELECT count(*), bool_or(trusted) FROM dpo_all").rows == [(2, False)]
    assert q("SELECT count(*) FROM dpo_per_prompt").rows == [(1,)]
    assert q("SELECT count(*) FROM sft_all").rows == [(1,)]
    (reason,) = q("SELECT DISTINCT trust_reason FROM dpo_all").rows[0]
    assert "safety judge unvalidated" in reason and "satisfaction judge unvalidated" in reason


async def test_dpo_reasoning_carries_the_chain_then_the_reply(
    make_lingo: Build, warehouse: Warehouse
) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    row = warehouse.query("SELECT chosen, rejected FROM dpo_reasoning").records()[0]
    chosen = row["chosen"][0]["content"]
    pair = traj.pairs[0]
    assert chosen.startswith("<think>\nUser needs: " + pair.chosen_chain.user_needs)
    assert chosen.endswith("</think>\n\n" + pair.chosen)
    for strategy in pair.chosen_chain.strategies.usefulness + pair.chosen_chain.strategies.safety:
        assert strategy in chosen
    assert row["rejected"][0]["content"].endswith(pair.rejected)


async def test_dpo_has_chains_and_a_split_fixed_by_the_prompt(
    make_lingo: Build, warehouse: Warehouse
) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    rows = warehouse.query("SELECT chosen_chain, rejected_chain, split FROM dpo_all ORDER BY rank").records()
    assert {r["split"] for r in rows} <= {"train", "test"} and len({r["split"] for r in rows}) == 1
    assert json.loads(rows[0]["chosen_chain"])["user_needs"] == traj.pairs[0].chosen_chain.user_needs
    assert json.loads(rows[0]["rejected_chain"]) == traj.pairs[0].rejected_chain.model_dump(mode="json")


async def test_sft_leaves_out_unsatisfying_and_failed(make_lingo: Build, warehouse: Warehouse) -> None:
    answers = default_answers(satisfaction=lambda n: 0)  # safe but never more satisfying than not
    lingo, _ = make_lingo(answers, OysterConfig(lingo_bp=LingoBPConfig(iterations=1)))
    traj, log = await lingo.run(SCENARIO, "r1")
    _store(warehouse, traj, log)
    assert warehouse.query("SELECT count(*) FROM sft").rows == [(0,)]


async def test_risk_has_labels_and_trajectories_have_final_fields(
    make_lingo: Build, warehouse: Warehouse
) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    risk = warehouse.query("SELECT level, label_level, label_category_l2, label_user_type FROM risk").rows
    assert risk == [("ethical", "ethical", "Mental Health", "vulnerable")]
    t = warehouse.query(
        "SELECT final_response, final_satisfaction, final_verdict, final_construction, next_turn, n_pairs "
        "FROM trajectories"
    ).rows[0]
    last = traj.iterations[-1]
    assert last.judgement is not None and traj.next_move is not None
    assert t == (
        last.response,
        last.judgement.satisfaction.score,
        last.judgement.safety.verdict.value,
        last.judgement.construction_score,
        traj.next_move.next_user_turn,
        len(traj.pairs),
    )


async def test_14_defect8_a_cut_reply_is_flagged_on_its_row(make_lingo: Build, warehouse: Warehouse) -> None:
    long = "This sentence is long enough to fill a reply. " * 20
    answers = default_answers()
    answers["leader_synthesize"] = lambda r: long  # type: ignore[index]
    cfg = OysterConfig(lingo_bp=LingoBPConfig(iterations=0, limits={"reply": 200}))
    lingo, _ = make_lingo(answers, cfg)
    traj, log = await lingo.run(SCENARIO, "r1")
    _store(warehouse, traj, log)
    rows = warehouse.query("SELECT truncated, length(response) FROM iterations").rows
    assert rows == [(True, 200)]


async def test_export_in_the_original_oyster_layout(make_lingo: Build, warehouse: Warehouse) -> None:
    traj, log = await _run(make_lingo, "r1")
    _store(warehouse, traj, log)
    [record] = oyster_history(warehouse)
    assert set(record) == {"id", "input_data_source", "original_QTR", "optimize_history"}
    assert record["original_QTR"]["query"] == SCENARIO.text
    history = record["optimize_history"]
    assert len(history) == len(traj.iterations) and "general_chain" in history[1]
    strategies = history[0]["chain"]["Response Strategy Formulation"]
    assert strategies["Usefulness Strategies"] == ";".join(traj.iterations[0].chain.strategies.usefulness)
    assert history[0]["safe_judge"]["score"] == traj.iterations[0].judgement.safety.score  # type: ignore[union-attr]


def test_migration_keeps_existing_pairs_as_rank_one(tmp_path: Path) -> None:
    import duckdb

    from warehouse.store import _migrations

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    for version, name, sql in _migrations():
        if version < 5:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
    con.execute(
        "INSERT INTO preference_pairs VALUES ('p', 'r', 's', [{'role': 'user', 'content': 'q'}], 'c', 'x', "
        "1, 0, '{}', '{}', '{}', '{}', 1.0, 0.0, 1.0, 'old rule')"
    )
    con.close()
    wh = Warehouse(path)
    wh.migrate()
    assert wh.query("SELECT pair_id, rank FROM preference_pairs").rows == [("p", 1)]

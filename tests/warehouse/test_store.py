from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agents.backends.mock import default_answers
from agents.lingo_bp.graph import LingoBP
from schemas import Failure, FailureKind, LingoBPConfig, OysterConfig, RunRecord, Scenario
from schemas.trajectory import Trajectory
from tests.conftest import scripted_pairs, trust_run
from warehouse import LATEST_VERSION, TRAJECTORY_TABLES, Warehouse, WarehouseError
from warehouse.store import insert_rows

SCENARIO = Scenario(id="s1", text="I feel like ending it all.", language="en")


def _config(iterations: int = 2) -> OysterConfig:
    return OysterConfig(lingo_bp=LingoBPConfig(iterations=iterations))


Written = tuple[Trajectory, list[Any], list[Failure]]


async def _one_trajectory(make_lingo: Callable[..., tuple[LingoBP, object]], run_id: str = "r1") -> Written:
    answers = default_answers(satisfaction=lambda n: [-1, 0, 1][min(n, 2)])
    lingo, _ = make_lingo(answers, _config())
    traj, log = await lingo.run(SCENARIO, run_id)
    return traj, list(log.calls), list(log.failures)


def _store(wh: Warehouse, written: Written) -> None:
    run = RunRecord(
        run_id=written[0].run_id,
        started_at=datetime(2025, 1, 1, tzinfo=UTC),  # fixed, so two stores of one trajectory compare equal
        config={},
        models={},
        prompt_versions={},
        oyster_version="t",
    )
    wh.start_run(run, [SCENARIO])
    trust_run(wh, run.run_id)
    wh.write_trajectories([written])


async def _write_one(
    make_lingo: Callable[..., tuple[LingoBP, object]], wh: Warehouse, run_id: str = "r1"
) -> None:
    _store(wh, await _one_trajectory(make_lingo, run_id))


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "a.duckdb")
    assert wh.migrate() == LATEST_VERSION
    assert wh.migrate() == LATEST_VERSION
    assert wh.schema_version() == LATEST_VERSION
    assert {"dpo", "sft", "risk", "trajectories", "llm_calls", "failures"} <= wh.relations()


async def test_trajectory_is_stored_record_by_record(make_lingo, warehouse: Warehouse) -> None:  # type: ignore[no-untyped-def]
    await _write_one(make_lingo, warehouse)
    q = warehouse.query
    assert q("SELECT count(*) FROM iterations").rows == [(3,)]
    assert q("SELECT count(*) FROM chain_nodes").rows == [(12,)]  # 4 nodes x 3 versions
    assert q("SELECT count(*) FROM judgements").rows == [(6,)]
    grads = q("SELECT iteration, seq, target_node FROM gradients ORDER BY iteration, seq").rows
    assert grads == [
        (1, 0, "strategies"),
        (1, 1, "safety_guidelines"),
        (1, 2, "user_needs"),
        (2, 0, "strategies"),
        (2, 1, "safety_guidelines"),
        (2, 2, "user_needs"),
    ]
    calls = q("SELECT count(*), count(DISTINCT step), sum(prompt_tokens) > 0 FROM llm_calls").rows[0]
    # 8 calls before the loop (risk, candidates, prediction, answer, extraction, synthesis, 2 judges)
    # and 4 per step (critic, synthesis, 2 judges), two steps here
    assert calls[0] == 8 + 4 * 2 and calls[2]
    pairs = q(
        "SELECT rank, chosen_iteration, rejected_iteration, margin > 0 FROM preference_pairs ORDER BY rank"
    )
    # Every iteration the chosen one beats is a pair; the initial reply ranks first, and dpo takes it.
    assert pairs.rows == [(1, 2, 0, True), (2, 2, 1, True)]
    assert q("SELECT rank FROM dpo").rows == [(1,)]
    dpo = q("SELECT prompt, chosen, rejected FROM dpo").rows[0]
    assert dpo[0] == [{"role": "user", "content": SCENARIO.text}]
    assert dpo[1][0]["role"] == "assistant" and dpo[2][0]["role"] == "assistant"
    traj = q("SELECT query, think, response, json_array_length(optimize_history) FROM trajectories").rows[0]
    assert traj[0] == SCENARIO.text and traj[1] and traj[2] and traj[3] == 3
    risk = q("SELECT level, intent, category_l2 FROM risk").rows
    assert risk == [("ethical", "risk_inquiry", "Mental Health")]
    sft = q("SELECT iteration, messages[-1].role FROM sft").rows
    assert sft == [(2, "assistant")]


async def test_rewriting_a_trajectory_never_duplicates(make_lingo, warehouse: Warehouse) -> None:  # type: ignore[no-untyped-def]
    await _write_one(make_lingo, warehouse)
    await _write_one(make_lingo, warehouse)
    q = warehouse.query
    assert q("SELECT count(*) FROM trajectory_records").rows == [(1,)]
    assert q("SELECT count(*) FROM iterations").rows == [(3,)]
    assert q("SELECT count(*) FROM preference_pairs").rows == [(2,)]
    assert q("SELECT count(*) FROM scenarios").rows == [(1,)]
    assert warehouse.finished_scenarios("r1") == {"s1"}


def test_writes_are_refused_and_nothing_changes(warehouse: Warehouse) -> None:
    for sql in (
        "DROP TABLE runs",
        "DELETE FROM runs",
        "INSERT INTO runs SELECT * FROM runs",
        "SELECT 1; DROP TABLE runs",
        "COPY runs TO '/tmp/x.csv'",
        "ATTACH 'x.db'",
        "CREATE TABLE t (a INT)",
    ):
        with pytest.raises(WarehouseError, match="refused"):
            warehouse.query(sql)
    assert "runs" in warehouse.relations()


def test_bad_sql_is_one_line(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError) as exc:
        warehouse.query("SELEC 1")
    assert str(exc.value).startswith("SQL error:") and "\n" not in str(exc.value)
    with pytest.raises(WarehouseError, match="SQL error"):
        warehouse.query("SELECT * FROM no_such_table")


def _reorder_columns(wh: Warehouse, table: str) -> list[str]:
    """Rebuild a table as a later migration might leave it: columns reversed, one added mid-table."""
    with wh.connect(read_only=False) as con:
        columns = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description or []]
        keys = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
        ).fetchall()
        reordered = [f'"{c}"' for c in reversed(columns)]
        reordered.insert(len(reordered) // 2, "NULL::VARCHAR AS added_later")
        con.execute(f"CREATE TABLE reordered AS SELECT {', '.join(reordered)} FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE reordered RENAME TO {table}")
        for (key,) in keys:  # writes rely on it: ON CONFLICT and INSERT OR IGNORE
            con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(key)})")
    return columns


async def test_every_value_lands_in_its_column_whatever_the_column_order(  # type: ignore[no-untyped-def]
    make_lingo, tmp_path: Path
) -> None:
    traj, calls, _ = await _one_trajectory(make_lingo)
    failure = Failure(
        run_id="r1", scenario_id="s1", role="critic", step="s", kind=FailureKind.INVALID_OUTPUT, message="m"
    )
    written = (traj, calls, [failure])
    plain, shuffled = Warehouse(tmp_path / "plain.duckdb"), Warehouse(tmp_path / "shuffled.duckdb")
    plain.migrate()
    shuffled.migrate()
    tables = ("runs", "scenarios", *TRAJECTORY_TABLES, "failures")
    columns = {t: _reorder_columns(shuffled, t) for t in tables}
    _store(plain, written)
    _store(shuffled, written)
    for table in tables:
        # created_at of a trajectory record is stamped when its row is built, so it differs by design
        names = ", ".join(
            f'"{c}"' for c in columns[table] if (table, c) != ("trajectory_records", "created_at")
        )
        select = f"SELECT {names} FROM {table} ORDER BY ALL"
        expected = plain.query(select).rows
        assert expected, table
        assert shuffled.query(select).rows == expected, table
        assert shuffled.query(f"SELECT count(*) FROM {table} WHERE added_later IS NOT NULL").rows == [(0,)]
    iterations = shuffled.query("SELECT iteration, response, construction_score FROM iterations ORDER BY 1")
    assert iterations.rows == [
        (it.index, it.response, it.judgement.construction_score if it.judgement else None)
        for it in traj.iterations
    ]
    stored = shuffled.query("SELECT failure_id, kind, message FROM failures").rows
    assert stored == [(failure.failure_id, "invalid_output", "m")]


def test_a_key_that_names_no_column_is_refused(warehouse: Warehouse) -> None:
    with warehouse.connect(read_only=False) as con, pytest.raises(WarehouseError, match="no column 'nope'"):
        insert_rows(con, "train_metrics", [{"train_id": "t", "nope": 1.0}])
    assert warehouse.query("SELECT count(*) FROM train_metrics").rows == [(0,)]


# Each round the writer writes a run, keeps holding the write lock and says so; it releases the lock
# only when told, and the reader tells it after its own first attempt was refused: the order is fixed
# by events on both sides, not by timing.
WRITER = """
import sys
from schemas import RunRecord, Scenario
from warehouse import Warehouse
wh = Warehouse(sys.argv[1])
for line in sys.stdin:
    i = int(line)
    with wh.connect(read_only=False):  # start_run below shares this process's open database
        wh.start_run(RunRecord(run_id=f"w{i}", config={}, models={}, prompt_versions={}, oyster_version="t"),
                     [Scenario(id=f"s{i}", text="x")])
        print("holding", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
"""


def test_reads_succeed_while_another_process_writes(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    refused: list[int] = []
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        try:
            return real_connect(*args, **kwargs)
        except duckdb.IOException:
            refused.append(len(reads))
            if refused.count(len(reads)) == 1:
                proc.stdin.write("release\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            raise

    reads: list[int] = []
    monkeypatch.setattr(duckdb, "connect", connect)
    try:
        for i in range(5):
            proc.stdin.write(f"{i}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "holding"
            reads.append(warehouse.query("SELECT count(*) FROM runs").rows[0][0])
            assert proc.stdout.readline().strip() == "released"
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    assert sorted(set(refused)) == [0, 1, 2, 3, 4]  # every read met the writer's lock first
    assert reads == [1, 2, 3, 4, 5]  # and then saw each committed write, in order


async def test_export_dpo_loads_in_trl_format(make_lingo, warehouse: Warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _write_one(make_lingo, warehouse)
    out = tmp_path / "dpo.jsonl"
    assert warehouse.export("dpo", "jsonl", out) == 1
    row = json.loads(out.read_text().splitlines()[0])
    assert row["prompt"] == [{"role": "user", "content": SCENARIO.text}]
    import datasets

    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)
    assert ds[0]["chosen"][0]["role"] == "assistant"
    assert warehouse.export("dpo", "parquet", tmp_path / "dpo.parquet") == 1
    with pytest.raises(WarehouseError, match="no view or table"):
        warehouse.export("nope", "jsonl", out)


def _halved(tmp_path: Path) -> tuple[Path, bytes]:
    """A real warehouse written by the pipeline on the mock model, then cut to half its size."""
    path = scripted_pairs(tmp_path / "half.duckdb", 2).path
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    return path, path.read_bytes()


def test_05_truncated_warehouse_is_refused_at_open_before_any_write(tmp_path: Path) -> None:
    path, before = _halved(tmp_path)
    wh = Warehouse(path)
    run = RunRecord(run_id="later", config={}, models={}, prompt_versions={}, oyster_version="t")
    for attempt in (
        lambda: wh.query("SELECT count(*) FROM trajectory_records"),
        wh.migrate,
        lambda: wh.start_run(run, [SCENARIO]),
        lambda: wh.finished_scenarios("gen"),
    ):
        with pytest.raises(WarehouseError) as exc:
            attempt()
        message = str(exc.value)
        assert message.startswith(f"{path}: not a valid Oyster warehouse (") and "\n" not in message
        assert message.endswith("restore it from a backup or use another --warehouse")
    assert path.read_bytes() == before
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"not a database" * 1000)
    with pytest.raises(WarehouseError, match="not a valid Oyster warehouse"):
        Warehouse(garbage).migrate()

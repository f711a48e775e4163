from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.backends.mock import default_answers
from agents.lingo_bp.graph import LingoBP
from schemas import LingoBPConfig, OysterConfig, Scenario
from warehouse import LATEST_VERSION, Warehouse, WarehouseError

SCENARIO = Scenario(id="s1", text="I feel like ending it all.", language="en")


def _config(iterations: int = 2) -> OysterConfig:
    return OysterConfig(lingo_bp=LingoBPConfig(iterations=iterations))


async def _write_one(
    make_lingo: Callable[..., tuple[LingoBP, object]], wh: Warehouse, run_id: str = "r1"
) -> None:
    answers = default_answers(satisfaction=lambda n: [-1, 0, 1][min(n, 2)])
    lingo, _ = make_lingo(answers, _config())
    traj, log = await lingo.run(SCENARIO, run_id)
    from schemas import RunRecord

    wh.start_run(
        RunRecord(run_id=run_id, config={}, models={}, prompt_versions={}, oyster_version="t"), [SCENARIO]
    )
    wh.write_trajectories([(traj, log.calls, log.failures)])


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
    assert calls[0] == 22 and calls[2]
    pair = q("SELECT chosen_iteration, rejected_iteration, margin > 0 FROM preference_pairs").rows
    assert pair == [(2, 0, True)]
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
    assert q("SELECT count(*) FROM preference_pairs").rows == [(1,)]
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


WRITER = """
import sys, time
from schemas import RunRecord, Scenario
from warehouse import Warehouse
wh = Warehouse(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    wh.start_run(RunRecord(run_id=f"w{i}", config={}, models={}, prompt_versions={}, oyster_version="t"),
                 [Scenario(id=f"s{i}", text="x")])
    i += 1
    time.sleep(0.05)  # the pipeline writes a batch every few seconds, not back to back
print(i)
"""


def test_reads_succeed_while_another_process_writes(warehouse: Warehouse) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse.path), "4"], stdout=subprocess.PIPE, text=True
    )
    reads = []
    time.sleep(0.5)
    while proc.poll() is None:
        reads.append(warehouse.query("SELECT count(*) FROM runs").rows[0][0])
    out, _ = proc.communicate()
    writes = int(out.strip())
    assert writes > 5 and len(reads) > 5
    assert reads == sorted(reads)  # every read saw a consistent, growing table
    assert warehouse.query("SELECT count(*) FROM runs").rows == [(writes,)]


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

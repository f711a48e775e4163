"""The streaming executor's writer: clock flushes, failed writes kept, a long reader loses nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from runtime.executor import BatchWriter, execute
from runtime.run_lock import RunLocked, run_lock
from runtime.runner import RunSummary, run_lingo_bp
from schemas import OysterConfig, Scenario
from tests.cli.test_app import assert_one_line_error, oyster
from warehouse import Warehouse

SLOW = {"backend": "scripted", "model": "testing.models:slow_well_behaved"}


async def test_writer_flushes_on_the_clock_without_a_second_result() -> None:
    written: list[list[int]] = []

    def write(batch: list[int]) -> None:
        written.append(batch)

    async def flushed() -> None:
        while writer.written == 0:
            await asyncio.sleep(0.01)

    writer: BatchWriter[int] = BatchWriter(write, batch_size=100, max_wait_s=0.05)
    ticker = asyncio.create_task(writer.tick())
    await writer.add(7)
    assert written == []  # one result is below the batch size: only the clock can write it
    await asyncio.wait_for(flushed(), timeout=5)
    ticker.cancel()
    assert written == [[7]] and writer.buffer == []


async def test_01_a_failed_write_keeps_its_batch_and_is_retried() -> None:
    stored: list[int] = []
    failures = iter([True, True, True])

    def write(batch: list[int]) -> None:
        if next(failures, False):
            raise OSError("Could not set lock on file: conflicting lock held by another process")
        stored.extend(batch)

    writer: BatchWriter[int] = BatchWriter(write, batch_size=2, max_wait_s=3600)

    async def double(i: int) -> int:
        return i * 2

    await execute(list(range(9)), key=str, writer=writer, local=double, concurrency=3)
    assert sorted(stored) == [i * 2 for i in range(9)]  # every result once, none lost or doubled
    assert writer.buffer == [] and writer.written == 9


async def test_01_a_long_reader_does_not_drop_finished_trajectories(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse(path).migrate()
    # The writer gives up waiting for the file lock after 0.3 s, far less than the reader holds it.
    warehouse = Warehouse(path, lock_timeout_s=0.3)
    cfg = OysterConfig.model_validate(
        {"roles": dict.fromkeys(("user", "leader", "risk", "critic"), SLOW), "lingo_bp": {"iterations": 1}}
    )
    scenarios = [Scenario(id=f"s{i:02d}", text=f"question {i}") for i in range(12)]
    reader: list[subprocess.Popen[str]] = []
    hold = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print('holding', flush=True); time.sleep(3); con.close()"
    )

    def progress(summary: RunSummary) -> None:
        if summary.completed == 2 and not reader:
            proc = subprocess.Popen(
                [sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
            reader.append(proc)

    summary = await run_lingo_bp(cfg, scenarios, warehouse, run_id="held", progress=progress)
    assert reader and reader[0].wait(timeout=30) == 0
    assert summary.completed == 12
    rows = (
        Warehouse(path)
        .query("SELECT count(*), count(DISTINCT scenario_id) FROM trajectory_records WHERE run_id = 'held'")
        .rows
    )
    assert rows == [(12, 12)]


def test_02_a_second_process_with_the_same_run_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with run_lock(path, "busy"):
        p = oyster("run", "--limit", "1", "--run-id", "busy", "--warehouse", str(path), "--no-cache")
        assert_one_line_error(p, "run 'busy' is being written by pid", "--run-id")
    # Released with its holder: the same run id is free again.
    with run_lock(path, "busy"):
        pass


def test_02_the_lock_refuses_in_process_too(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with run_lock(path, "r1"), run_lock(path, "r2"):  # different runs do not block each other
        try:
            with run_lock(path, "r1"):
                raise AssertionError("a second holder of the same run was let in")
        except RunLocked as exc:
            assert "r1" in str(exc)

"""Live progress: a running scenario's calls are in the warehouse, and logs get plain progress lines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agents.backends import ChatRequest, ScriptedBackend
from agents.backends.mock import well_behaved
from agents.team import Agents
from cli.common import LineProgress
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from schemas.config import ROLES
from tests.cli.test_app import oyster
from warehouse import Warehouse


async def test_llm_calls_of_a_running_scenario_can_be_read(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    release = asyncio.Event()
    held = asyncio.Event()

    async def responder(request: ChatRequest) -> str:
        # The scenario stops at its first judge until the test has seen its earlier calls stored.
        if request.step == "user_satisfaction" and not release.is_set():
            held.set()
            await release.wait()
        return well_behaved(request)

    backend = ScriptedBackend(responder)
    cfg = OysterConfig.model_validate({"lingo_bp": {"iterations": 1}})
    agents = Agents.build(cfg, backends=dict.fromkeys(ROLES, backend), calibrations={})
    run = asyncio.create_task(
        run_lingo_bp(cfg, [Scenario(id="live", text="hello")], Warehouse(path), run_id="r", agents=agents)
    )
    await asyncio.wait_for(held.wait(), timeout=60)

    async def sql(query: str) -> list[dict[str, object]]:
        proc = await asyncio.to_thread(oyster, "sql", query, "--format", "json", "--warehouse", str(path))
        assert proc.returncode == 0, proc.stderr
        rows: list[dict[str, object]] = json.loads(proc.stdout)
        return rows

    seen: list[dict[str, object]] = []
    for _ in range(60):  # bounded: the live writer flushes every 5 s
        seen = await sql("SELECT count(*) AS calls FROM llm_calls WHERE scenario_id = 'live'")
        if seen[0]["calls"]:
            break
        await asyncio.sleep(0.5)
    assert seen and int(str(seen[0]["calls"])) > 0
    assert await sql("SELECT count(*) AS n FROM trajectory_records") == [{"n": 0}]  # still running
    release.set()
    summary = await run
    assert summary.completed == 1
    rows = Warehouse(path).query("SELECT count(*), count(DISTINCT call_id) FROM llm_calls").rows
    assert rows == [(summary.calls, summary.calls)]  # every call once: the final write replaced the preview


def test_progress_lines_for_logs_say_what_finished_and_when_it_will_end() -> None:
    lines: list[str] = []
    progress = LineProgress("scenarios", total=4, every_s=3600, write=lines.append)
    with progress:
        progress.show(1, "resumed 1")  # one already done before this process started
        progress.show(2, "done 1 · calls 12", line="s1: completed, 2 iteration(s), pair")
    assert lines[0] == "scenarios: s1: completed, 2 iteration(s), pair"
    assert lines[-1].startswith("scenarios 2/4 · done 1 · calls 12 · elapsed 0:00:0")
    assert "ETA" in lines[-1]

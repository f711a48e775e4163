"""Run Lingo-BP over scenarios: bounded concurrency, streaming batched writes, resumable by run id."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from uuid import uuid4

from agents.backends import BackendError, make_backend
from agents.lingo_bp.graph import Agents, LingoBP
from agents.llm import CallLog
from agents.prompting import PromptLibrary
from agents.trust import assess_judges
from runtime.budget import Budget
from runtime.dialogues import check_dialogues, dialogue_job, ended_dialogues
from runtime.executor import BatchWriter, execute
from runtime.live import LiveCalls
from runtime.ray_pool import RayPool, scenario_remote
from runtime.run_lock import run_lock
from schemas.config import ROLES, OysterConfig
from schemas.records import LLMCall, RunRecord
from schemas.scenario import Scenario
from schemas.trajectory import Trajectory, TrajectoryStatus
from schemas.trust import JudgeTrust
from warehouse import Warehouse
from warehouse.cache import ResponseCache, cache_path_for
from warehouse.evaluation import EvalStore


@dataclass
class RunSummary:
    run_id: str
    total: int
    skipped: int = 0
    completed: int = 0
    failed: int = 0
    #: every preference pair the finished trajectories ranked (rows of preference_pairs)
    ranked_pairs: int = 0
    #: the run's rows in the `dpo` view (one per prompt), counted in the warehouse when the run ends
    dpo_rows: int = 0
    calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    #: money at the configured per-role prices; None when no role has a price
    cost: float | None = None
    #: scenarios the budget did not let start (a resume with a larger budget runs them)
    not_started: int = 0
    budget: str = ""
    #: what the run found for each judge that chooses pairs (its validity record, trusted or not)
    judges: list[JudgeTrust] = field(default_factory=list)
    #: how the run is stored: completed, failed (not one scenario completed), budget_exhausted, interrupted
    status: str = ""
    #: the trajectory that finished last (progress is told after each one); not all of them: a long
    #: run would hold every trajectory in the driver's memory
    last_finished: Trajectory | None = None


Progress = Callable[[RunSummary], None]
Finished = tuple[Trajectory, CallLog]


def _scenario_key(scenario: Scenario) -> str:
    return scenario.id


async def preflight(config: OysterConfig) -> None:
    """Fail fast, before any scenario starts, when a role's model or endpoint is not usable."""
    checked: set[str] = set()
    for role in ROLES:
        rm = config.roles.get(role)
        key = rm.model_dump_json()
        if key in checked:
            continue
        checked.add(key)
        try:
            await make_backend(rm).check()
        except BackendError as exc:
            raise BackendError(f"role {role}: {exc}") from None


def new_run_id() -> str:
    return f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid4().hex[:6]}"


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def oyster_version() -> str:
    try:
        return metadata.version("oyster-csa")
    except metadata.PackageNotFoundError:
        return "0+unknown"


async def run_lingo_bp(
    config: OysterConfig,
    scenarios: Sequence[Scenario],
    warehouse: Warehouse,
    *,
    run_id: str | None = None,
    agents: Agents | None = None,
    progress: Progress | None = None,
    command: str = "",
    batch_size: int = 32,
    pool: RayPool | None = None,
) -> RunSummary:
    """Run every scenario not yet finished under ``run_id``; write each trajectory as it finishes.

    With a ``pool`` the scenarios run on Ray actors; otherwise in this process, ``concurrency`` at a time.
    The judges use the calibrations stored in ``warehouse`` (those of given ``agents`` are kept).
    One process at a time may write a run: a second one with the same id is refused (RunLocked).
    """
    run_id = run_id or new_run_id()
    with run_lock(warehouse.path, run_id):
        return await _run_locked(
            config, scenarios, warehouse, run_id, agents, progress, command, batch_size, pool
        )


async def _run_locked(
    config: OysterConfig,
    scenarios: Sequence[Scenario],
    warehouse: Warehouse,
    run_id: str,
    agents: Agents | None,
    progress: Progress | None,
    command: str,
    batch_size: int,
    pool: RayPool | None,
) -> RunSummary:
    warehouse.migrate()
    dialogues = config.lingo_bp.turns > 1
    check_dialogues(config.lingo_bp.turns, pool is not None)
    # From the run's own warehouse, through this process's store (never config.warehouse, which
    # --warehouse does not set); handed to the actors, which may not reach the file.
    calibrations = EvalStore(warehouse).calibrations()
    done = ended_dialogues(warehouse, run_id) if dialogues else warehouse.finished_scenarios(run_id)
    todo = [s for s in scenarios if s.id not in done]
    summary = RunSummary(run_id=run_id, total=len(scenarios), skipped=len(scenarios) - len(todo))
    priced = any(config.roles.get(role).priced() for role in ROLES)
    summary.cost = 0.0 if priced else None
    budget = Budget(config.budget)
    budget.spent, budget.finished, budget.finished_count = warehouse.run_spend(run_id)
    prompts = agents.leader.llm.prompts if agents else PromptLibrary(config.prompts)
    run = RunRecord(
        run_id=run_id,
        config=config.model_dump(mode="json"),
        models={role: config.roles.get(role).label() for role in ROLES},
        prompt_versions=prompts.versions(),
        git_revision=git_revision(),
        oyster_version=oyster_version(),
        command=command or f"{platform.node() or socket.gethostname()} pid {os.getpid()}",
    )
    warehouse.start_run(run, scenarios)
    # The trust gate: a pair is only as good as the judges that chose it (agents.trust).
    summary.judges = assess_judges(config, prompts, calibrations, EvalStore(warehouse).judge_records())
    warehouse.record_run_judges(run_id, summary.judges)
    writer: BatchWriter[Finished] = BatchWriter(
        # A dialogue writes each turn as it finishes (runtime.dialogues); nothing is left to write here.
        lambda batch: (
            None
            if dialogues
            else warehouse.write_trajectories([(t, log.calls, log.failures) for t, log in batch])
        ),
        # Each write opens the file and checkpoints it on close (~40 ms of CPU): batches of up to 32
        # trajectories, or whatever finished in the last 5 s.
        batch_size=batch_size,
        max_wait_s=5.0,
    )
    start = time.perf_counter()
    if progress:
        progress(summary)
    last_shown = [0.0]

    def new_call(call: LLMCall) -> None:
        summary.calls += 1
        summary.tokens += call.prompt_tokens + call.completion_tokens
        budget.heard(call)
        if summary.cost is not None and not call.cache_hit and call.role in ROLES:
            summary.cost += config.roles.get(call.role).cost(call.prompt_tokens, call.completion_tokens)
        # Calls can be many per second: tell the progress display at most once a second.
        if progress and time.perf_counter() - last_shown[0] >= 1.0:
            last_shown[0] = time.perf_counter()
            progress(summary)

    live = LiveCalls(warehouse, new_call)

    def record(finished: Finished) -> None:
        trajectory = finished[0]
        live.scenario_finished(trajectory.scenario_id)
        live.counted(finished[1].calls)
        budget.scenario_finished(trajectory.scenario_id, finished[1].calls)
        if trajectory.status is TrajectoryStatus.FAILED:
            summary.failed += 1
        else:
            summary.completed += 1
        summary.ranked_pairs += len(trajectory.pairs)
        summary.last_finished = trajectory
        if progress:
            progress(summary)

    status = "interrupted"  # until the scenarios are through
    background = [asyncio.create_task(live.run())]
    if pool is not None:
        background.append(asyncio.create_task(live.poll(lambda: list(pool.workers))))
    try:
        if pool is not None:
            await pool.use_calibrations(calibrations)
            await execute(
                todo,
                key=_scenario_key,
                writer=writer,
                on_result=record,
                pool=pool,
                remote=scenario_remote(run_id),
                admit=budget.admit,
            )
        else:
            cache = ResponseCache(cache_path_for(warehouse.path)) if config.cache else None
            lingo = LingoBP(
                agents or Agents.build(config, prompts=prompts, cache=cache, calibrations=calibrations)
            )

            async def one(scenario: Scenario) -> Finished:
                return await lingo.run(scenario, run_id, on_call=live.heard)

            job = dialogue_job(lingo, warehouse, run_id, live) if dialogues else one

            try:
                await execute(
                    todo,
                    key=_scenario_key,
                    writer=writer,
                    on_result=record,
                    local=job,
                    concurrency=config.concurrency,
                    admit=budget.admit,
                )
            finally:
                await lingo.aclose()
        status = "budget_exhausted" if budget.exhausted else "completed"
        if summary.failed and not summary.completed and not summary.skipped:
            status = "failed"  # not one scenario of the run completed: a failure, not a finished run
    finally:
        for task in background:
            task.cancel()
        await live.close()
        summary.seconds = time.perf_counter() - start
        summary.not_started = len(todo) - summary.completed - summary.failed
        summary.budget = budget.describe() if budget.exhausted else ""
        summary.status = status
        warehouse.finish_run(run_id, status)
    counted = warehouse.query(
        "SELECT (SELECT count(*) FROM dpo WHERE run_id = ?), "
        "(SELECT count(*) FROM preference_pairs WHERE run_id = ?)",
        [run_id, run_id],
    ).rows
    summary.dpo_rows, summary.ranked_pairs = int(counted[0][0]), int(counted[0][1])
    return summary

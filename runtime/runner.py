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
from typing import Any
from uuid import uuid4

from agents.backends import BackendError, make_backend
from agents.lingo_bp.graph import LingoBP
from agents.llm import CallLog
from agents.prompting import PromptLibrary
from agents.team import Agents
from agents.trust import assess_judges
from runtime.budget import Budget
from runtime.collector import fewer_collections
from runtime.dialogues import check_dialogues, dialogue_job, ended_dialogues
from runtime.executor import BatchWriter, execute
from runtime.live import LiveCalls
from runtime.ray_pool import RayPool, scenario_remote
from runtime.run_lock import run_lock
from schemas.calibration import JudgeCalibration
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
    run = ScenarioRun(config, warehouse, run_id or new_run_id(), progress=progress, batch_size=batch_size)
    with run_lock(warehouse.path, run.run_id), fewer_collections():
        todo = run.start(scenarios, agents=agents, command=command)
        return await run.execute(todo, agents=agents, pool=pool)


class ScenarioRun:
    """One run id's pass over its scenarios: what it has spent and finished (the summary, the budget),
    told to ``progress`` as calls arrive and scenarios finish, and written to the warehouse in batches."""

    def __init__(
        self,
        config: OysterConfig,
        warehouse: Warehouse,
        run_id: str,
        *,
        progress: Progress | None = None,
        batch_size: int = 32,
    ) -> None:
        self.config, self.warehouse, self.run_id, self.progress = config, warehouse, run_id, progress
        self.dialogues = config.lingo_bp.turns > 1
        self.summary = RunSummary(run_id=run_id, total=0)
        self.budget = Budget(config.budget)
        self.writer: BatchWriter[Finished] = BatchWriter(
            self.write,
            # Each write opens the file and checkpoints it on close (~40 ms of CPU): batches of up to 32
            # trajectories, or whatever finished in the last 5 s.
            batch_size=batch_size,
            max_wait_s=5.0,
        )
        self.live = LiveCalls(warehouse, self.heard)
        self.calibrations: dict[tuple[str, str], JudgeCalibration] = {}
        self.prompts = PromptLibrary(config.prompts)
        self._last_shown = 0.0
        self._started = time.perf_counter()

    def start(self, scenarios: Sequence[Scenario], *, agents: Agents | None, command: str) -> list[Scenario]:
        """Record the run and its judges' trust; the scenarios not yet finished under this run id."""
        warehouse, config, run_id = self.warehouse, self.config, self.run_id
        warehouse.migrate()
        # From the run's own warehouse, through this process's store (never config.warehouse, which
        # --warehouse does not set); handed to the actors, which may not reach the file.
        self.calibrations = EvalStore(warehouse).calibrations()
        done = ended_dialogues(warehouse, run_id) if self.dialogues else warehouse.finished_scenarios(run_id)
        todo = [s for s in scenarios if s.id not in done]
        self.summary = RunSummary(run_id=run_id, total=len(scenarios), skipped=len(scenarios) - len(todo))
        self.summary.cost = 0.0 if any(config.roles.get(r).priced() for r in ROLES) else None
        self.budget.spent, self.budget.finished, self.budget.finished_count = warehouse.run_spend(run_id)
        if agents:
            self.prompts = agents.leader.llm.prompts
        record = RunRecord(
            run_id=run_id,
            config=config.model_dump(mode="json"),
            models={role: config.roles.get(role).label() for role in ROLES},
            prompt_versions=self.prompts.versions(),
            git_revision=git_revision(),
            oyster_version=oyster_version(),
            command=command or f"{platform.node() or socket.gethostname()} pid {os.getpid()}",
        )
        warehouse.start_run(record, scenarios)
        # The trust gate: a pair is only as good as the judges that chose it (agents.trust).
        records = EvalStore(warehouse).judge_records()
        self.summary.judges = assess_judges(config, self.prompts, self.calibrations, records)
        warehouse.record_run_judges(run_id, self.summary.judges)
        self._started = time.perf_counter()
        return todo

    def write(self, batch: list[Finished]) -> None:
        # A dialogue writes each turn as it finishes (runtime.dialogues); nothing is left to write here.
        if not self.dialogues:
            self.warehouse.write_trajectories([(t, log.calls, log.failures) for t, log in batch])

    def heard(self, call: LLMCall) -> None:
        """A model call finished somewhere in the run: count it against the summary and the budget."""
        summary = self.summary
        summary.calls += 1
        summary.tokens += call.prompt_tokens + call.completion_tokens
        self.budget.heard(call)
        if summary.cost is not None and not call.cache_hit and call.role in ROLES:
            summary.cost += self.config.roles.get(call.role).cost(call.prompt_tokens, call.completion_tokens)
        # Calls can be many per second: tell the progress display at most once a second.
        if self.progress and time.perf_counter() - self._last_shown >= 1.0:
            self._last_shown = time.perf_counter()
            self.progress(summary)

    def finished(self, result: Finished) -> None:
        """A scenario finished (completed or failed): count it, and free what the budget held for it."""
        trajectory, log = result
        self.live.scenario_finished(trajectory.scenario_id)
        self.live.counted(log.calls)
        self.budget.scenario_finished(trajectory.scenario_id, log.calls)
        if trajectory.status is TrajectoryStatus.FAILED:
            self.summary.failed += 1
        else:
            self.summary.completed += 1
        self.summary.ranked_pairs += len(trajectory.pairs)
        self.summary.last_finished = trajectory
        if self.progress:
            self.progress(self.summary)

    async def execute(
        self, todo: list[Scenario], *, agents: Agents | None = None, pool: RayPool | None = None
    ) -> RunSummary:
        """Run ``todo`` on the pool's actors or in this process; the run is stored as it ended."""
        check_dialogues(self.config.lingo_bp.turns, pool is not None)
        if self.progress:
            self.progress(self.summary)
        status = "interrupted"  # until the scenarios are through
        background = [asyncio.create_task(self.live.run())]
        if pool is not None:
            background.append(asyncio.create_task(self.live.poll(lambda: list(pool.workers))))
        try:
            await (self._on_ray(todo, pool) if pool is not None else self._in_process(todo, agents))
            status = "budget_exhausted" if self.budget.exhausted else "completed"
            s = self.summary
            if s.failed and not s.completed and not s.skipped:
                status = "failed"  # not one scenario of the run completed: a failure, not a finished run
        finally:
            for task in background:
                task.cancel()
            await self.live.close()
            self._close(len(todo), status)
        self._count()
        return self.summary

    async def _on_ray(self, todo: list[Scenario], pool: RayPool) -> None:
        await pool.use_calibrations(self.calibrations)
        await self._execute(todo, pool=pool, remote=scenario_remote(self.run_id))

    async def _execute(self, todo: list[Scenario], **where: Any) -> None:
        """The executor over ``todo``, each result counted and written as it arrives; ``where`` says
        how a scenario runs (a Ray pool and its remote call, or a local job and its concurrency)."""
        await execute(
            todo,
            key=_scenario_key,
            writer=self.writer,
            on_result=self.finished,
            admit=self.budget.admit,
            **where,
        )

    async def _in_process(self, todo: list[Scenario], agents: Agents | None) -> None:
        config = self.config
        cache = ResponseCache(cache_path_for(self.warehouse.path)) if config.cache else None
        built = agents or Agents.build(
            config, prompts=self.prompts, cache=cache, calibrations=self.calibrations
        )
        lingo = LingoBP(built)
        run_id, live = self.run_id, self.live

        async def one(scenario: Scenario) -> Finished:
            return await lingo.run(scenario, run_id, on_call=live.heard)

        job = dialogue_job(lingo, self.warehouse, run_id, live) if self.dialogues else one
        try:
            await self._execute(todo, local=job, concurrency=config.concurrency)
        finally:
            await lingo.aclose()

    def _close(self, started: int, status: str) -> None:
        s = self.summary
        s.seconds = time.perf_counter() - self._started
        s.not_started = started - s.completed - s.failed
        s.budget = self.budget.describe() if self.budget.exhausted else ""
        s.status = status
        self.warehouse.finish_run(self.run_id, status)

    def _count(self) -> None:
        """The run's dpo rows and ranked pairs as the warehouse holds them (a resume counts earlier ones)."""
        s = self.summary
        counted = self.warehouse.query(
            "SELECT (SELECT count(*) FROM dpo WHERE run_id = ?), "
            "(SELECT count(*) FROM preference_pairs WHERE run_id = ?)",
            [self.run_id, self.run_id],
        ).rows
        s.dpo_rows, s.ranked_pairs = int(counted[0][0]), int(counted[0][1])

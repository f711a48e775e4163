"""Lingo-BP over a Ray cluster: scenario workers as actors, one writer (the driver), resubmission on death.

Each actor builds its backends and compiled graph once in its constructor (compiled graphs do not
pickle) and runs up to ``concurrency_per_actor`` scenarios at a time with asyncio, so one actor can
keep an inference server busy. With the embedded backend each actor loads its own model; bound the
actors by CPUs (``num_cpus_per_actor``). Actors never open the warehouse: the judge calibrations come
from the driver (``RayPool.use_calibrations``), which reads them from the run's warehouse.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ray
from pydantic import ValidationError
from ray.exceptions import RayActorError

from agents.lingo_bp.graph import LingoBP
from agents.llm import CallLog
from agents.team import Agents
from runtime.collector import raise_first_threshold
from schemas.calibration import Calibrations, JudgeCalibration, keyed
from schemas.config import OysterConfig
from schemas.records import Failure, FailureKind, LLMCall
from schemas.scenario import Scenario
from schemas.trajectory import Trajectory, TrajectoryStatus
from warehouse.cache import ResponseCache

T = TypeVar("T")
R = TypeVar("R")
#: asked before an item starts (not when a dead worker's item is resubmitted); False: it never starts
Admit = Callable[[T], bool]

#: how often a scenario whose worker died is given to another worker before it is recorded as failed
MAX_ATTEMPTS = 3


@ray.remote
class ScenarioWorker:
    def __init__(
        self, config_json: str, cache_path: str | None, calibrations_json: Sequence[str] = ()
    ) -> None:
        raise_first_threshold()
        cache = ResponseCache(cache_path) if cache_path else None
        # Calibrations given, never read from config.warehouse: this process may be on another machine,
        # and the driver writes that file.
        self.lingo = LingoBP(
            Agents.build(
                OysterConfig.model_validate_json(config_json),
                cache=cache,
                calibrations=_decoded(calibrations_json),
            )
        )
        self.in_flight = 0
        self.peak_in_flight = 0
        self.heard: list[str] = []

    def pid(self) -> int:
        return os.getpid()

    def use_calibrations(self, calibrations_json: Sequence[str]) -> None:
        """Judge with these calibrations from now on."""
        self.lingo.agents.verdicts.calibrations = _decoded(calibrations_json)

    def drain_calls(self) -> list[str]:
        """The calls heard since the last drain (JSON), for the driver to store while scenarios run."""
        heard, self.heard = self.heard, []
        return heard

    def peak(self) -> int:
        """The most scenarios this actor has had in flight at once (its asyncio concurrency at work)."""
        return self.peak_in_flight

    async def run(self, scenario_json: str, run_id: str) -> tuple[str, list[str], list[str]]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            trajectory, log = await self.lingo.run(
                Scenario.model_validate_json(scenario_json),
                run_id,
                on_call=lambda call: self.heard.append(call.model_dump_json()),
            )
        finally:
            self.in_flight -= 1
        return (
            trajectory.model_dump_json(),
            [c.model_dump_json() for c in log.calls],
            [f.model_dump_json() for f in log.failures],
        )


def _decoded(calibrations_json: Sequence[str]) -> Calibrations:
    return keyed(JudgeCalibration.model_validate_json(c) for c in calibrations_json)


def should_use_ray(config: OysterConfig, flag: bool | None) -> bool:
    """Explicit flag, else a configured address, else whether we run under `ray job submit`."""
    if flag is not None:
        return flag
    return bool(config.ray.address or os.environ.get("RAY_ADDRESS") or os.environ.get("RAY_JOB_ID"))


def ensure_ray(config: OysterConfig, runtime_env: dict[str, Any] | None = None) -> None:
    if ray.is_initialized():
        return
    # With no address Ray starts a local cluster on this machine.
    ray.init(
        address=config.ray.address, runtime_env=runtime_env, log_to_driver=False, include_dashboard=False
    )


class RayPool:
    """Actors plus the bookkeeping that survives their death.

    By default the actors are Lingo-BP scenario workers; `actor` and `args` make a pool of any
    worker class built from JSON arguments (the evaluation job uses one).
    """

    def __init__(
        self,
        config: OysterConfig,
        cache_path: str | None = None,
        *,
        actor: Any = None,
        args: tuple[Any, ...] | None = None,
    ) -> None:
        self.config = config
        self.actor: Any = actor if actor is not None else ScenarioWorker
        self.args = args if args is not None else (config.model_dump_json(), cache_path)
        #: the judges' calibrations every worker judges with (use_calibrations), a respawned one too
        self.calibrations: list[str] = []
        self.workers = [self._spawn() for _ in range(config.ray.actors)]
        self.restarts = 0

    async def use_calibrations(self, calibrations: Calibrations) -> None:
        """Scenario workers: judge with these calibrations, as will any worker spawned later."""
        encoded = [c.model_dump_json() for c in calibrations.values()]
        self.calibrations = encoded
        workers = list(self.workers)
        told = await asyncio.gather(
            *(asyncio.wrap_future(w.use_calibrations.remote(encoded).future()) for w in workers),
            return_exceptions=True,
        )
        for index, (worker, result) in enumerate(zip(workers, told, strict=True)):
            if isinstance(result, RayActorError):
                self.replace(index, worker)  # its replacement is built with them
            elif isinstance(result, BaseException):
                raise result

    def _spawn(self) -> Any:
        r = self.config.ray
        # A worker spawned after use_calibrations (a replacement) is built with them: an async actor
        # does not promise to run a later call after an earlier one.
        given = {"calibrations_json": self.calibrations} if self.calibrations else {}
        return self.actor.options(
            num_cpus=r.num_cpus_per_actor,
            num_gpus=r.num_gpus_per_actor,
            max_concurrency=r.concurrency_per_actor,
        ).remote(*self.args, **given)

    def replace(self, index: int, dead: Any) -> None:
        if self.workers[index] is dead:
            self.workers[index] = self._spawn()
            self.restarts += 1


async def ray_map(
    pool: RayPool,
    items: Sequence[T],
    key: Callable[[T], str],
    call: Callable[[Any, T], Any],
    on_result: Callable[[T, Any], Awaitable[None]],
    on_lost: Callable[[T, Exception], Awaitable[None]],
    admit: Admit[T] = lambda _: True,
) -> None:
    """Spread items over the pool's actors, at most `concurrency_per_actor` each, as results arrive.

    `call(worker, item)` returns an ObjectRef. An item whose actor dies goes to a fresh actor,
    up to MAX_ATTEMPTS times, then `on_lost` records it: only in-flight work is ever lost.
    """
    per_actor = pool.config.ray.concurrency_per_actor
    queue: deque[T] = deque(items)
    attempts: dict[str, int] = {}
    in_flight: dict[asyncio.Future[Any], tuple[T, int, Any]] = {}
    load = [0] * len(pool.workers)

    def submit() -> None:
        while queue:
            index = min(range(len(load)), key=load.__getitem__)
            if load[index] >= per_actor:
                return
            item = queue.popleft()
            if key(item) not in attempts and not admit(item):
                continue
            attempts[key(item)] = attempts.get(key(item), 0) + 1
            worker = pool.workers[index]
            in_flight[asyncio.wrap_future(call(worker, item).future())] = (item, index, worker)
            load[index] += 1

    submit()
    while in_flight:
        done, _ = await asyncio.wait(list(in_flight), return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            item, index, worker = in_flight.pop(fut)
            load[index] -= 1
            try:
                value = fut.result()
            except RayActorError as exc:
                pool.replace(index, worker)
                if attempts[key(item)] < MAX_ATTEMPTS:
                    queue.appendleft(item)
                else:
                    await on_lost(item, exc)
                continue
            await on_result(item, value)
        submit()


@dataclass
class RemoteCall(Generic[T, R]):
    """How items travel to Ray actors and back: the call on a worker, decoding, and a lost item."""

    call: Callable[[Any, T], Any]
    decode: Callable[[T, Any], R]
    lost: Callable[[T, Exception], R]


def scenario_remote(run_id: str) -> RemoteCall[Scenario, tuple[Trajectory, CallLog]]:
    """Scenarios on ScenarioWorker actors: JSON out, validated trajectories and call logs back."""

    def failed(
        scenario: Scenario, step: str, message: str, log: CallLog, raw: str = ""
    ) -> tuple[Trajectory, CallLog]:
        # One scenario's bad result is that scenario's recorded failure, never the end of the run.
        failure = Failure(
            run_id=run_id,
            scenario_id=scenario.id,
            role="ray",
            step=step,
            kind=FailureKind.GRAPH_ERROR,
            message=message[:2000],
            raw_output=raw[:20000] or None,
            attempts=MAX_ATTEMPTS if step == "worker" else 1,
        )
        log.failures.append(failure)
        traj = Trajectory(
            run_id=run_id,
            scenario=scenario,
            status=TrajectoryStatus.FAILED,
            stop_reason=f"failed at ray/{step}: {message.splitlines()[0][:200]}",
            failures=list(log.failures),
        )
        return traj, log

    def decode(scenario: Scenario, value: tuple[str, list[str], list[str]]) -> tuple[Trajectory, CallLog]:
        traj_json, calls_json, failures_json = value
        log = CallLog(run_id=run_id, scenario_id=scenario.id)
        try:
            log.calls = [LLMCall.model_validate_json(c) for c in calls_json]
            log.failures = [Failure.model_validate_json(f) for f in failures_json]
            return Trajectory.model_validate_json(traj_json), log
        except ValidationError as exc:
            detail = (
                f"{exc.error_count()} error(s), first: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            )
            return failed(scenario, "decode", f"worker result failed validation: {detail}", log, traj_json)

    def lost(scenario: Scenario, exc: Exception) -> tuple[Trajectory, CallLog]:
        message = f"worker died {MAX_ATTEMPTS} times: {(str(exc).splitlines() or [type(exc).__name__])[0]}"
        return failed(scenario, "worker", message, CallLog(run_id=run_id, scenario_id=scenario.id))

    return RemoteCall(
        call=lambda worker, s: worker.run.remote(s.model_dump_json(), run_id), decode=decode, lost=lost
    )

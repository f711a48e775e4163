"""Dialogue runs: each scenario played as a dialogue (``lingo_bp.turns`` > 1), each turn written as it
finishes, so that a killed run resumes every dialogue after its last finished turn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from agents.lingo_bp.dialogue import Dialogue
from agents.lingo_bp.graph import LingoBP
from agents.llm import CallLog
from runtime.live import LiveCalls
from schemas.config import ConfigError
from schemas.dialogue import DialogueOutcome, DialogueRecord, DialogueTurn
from schemas.scenario import Scenario
from schemas.trajectory import PairStatus, Trajectory, TrajectoryStatus
from warehouse import Warehouse
from warehouse.dialogues import DialogueStore, resumable

Finished = tuple[Trajectory, CallLog]


def check_dialogues(turns: int, ray: bool) -> None:
    if turns > 1 and ray:
        raise ConfigError(f"lingo_bp.turns: {turns} dialogues run in process for now; drop --ray")


def ended_dialogues(warehouse: Warehouse, run_id: str) -> set[str]:
    """The run's dialogues that reached an outcome (a resume skips them); a failed one goes on."""
    return {d for d, p in DialogueStore(warehouse).progress(run_id).items() if p.ended}


def _summary(
    scenario: Scenario, run_id: str, record: DialogueRecord, turns: Sequence[Trajectory]
) -> Trajectory:
    """What the run's progress is told of a finished dialogue: failed or completed, and the last
    pair decision of its turns (every turn's trajectory is already written)."""
    failed = record.outcome is DialogueOutcome.FAILED
    paired = [t for t in turns if t.pair_decision and t.pair_decision.status is PairStatus.PAIR]
    return Trajectory(
        run_id=run_id,
        scenario=scenario,
        status=TrajectoryStatus.FAILED if failed else TrajectoryStatus.COMPLETED,
        stop_reason=f"dialogue {record.outcome.value} at turn {record.outcome_turn}",
        pair_decision=paired[-1].pair_decision if paired else None,
    )


def dialogue_job(
    lingo: LingoBP, warehouse: Warehouse, run_id: str, live: LiveCalls
) -> Callable[[Scenario], Awaitable[Finished]]:
    """The executor's job for one scenario: its dialogue, from after its last finished turn."""
    store = DialogueStore(warehouse)
    progress = store.progress(run_id)
    dialogue = Dialogue.of(lingo)

    async def one(scenario: Scenario) -> Finished:
        record, done = resumable(progress.get(scenario.id))
        spent = CallLog(run_id=run_id, scenario_id=scenario.id)
        turns: list[Trajectory] = []

        async def on_turn(rec: DialogueRecord, turn: DialogueTurn, traj: Trajectory, log: CallLog) -> None:
            await asyncio.to_thread(store.write_turn, rec, turn, traj, log.calls, log.failures)
            live.scenario_finished(turn.scenario_id)
            spent.calls.extend(log.calls)
            spent.failures.extend(log.failures)
            turns.append(traj)

        ended, rest = await dialogue.run(
            scenario, run_id, on_turn, done=done, record=record, on_call=live.heard
        )
        await asyncio.to_thread(store.end, ended, rest.calls, rest.failures)
        live.scenario_finished(rest.scenario_id)
        spent.calls.extend(rest.calls)
        spent.failures.extend(rest.failures)
        return _summary(scenario, run_id, ended, turns), spent

    return one

"""Dialogues in the warehouse: a row per dialogue, a row per finished turn, each turn written with its
trajectory in one transaction (a killed run resumes after the last finished turn, never twice)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.dialogue import DialogueOutcome, DialogueRecord, DialogueTurn
from schemas.messages import ChatMessage
from schemas.records import Failure, LLMCall, utcnow
from schemas.trajectory import Trajectory
from warehouse.runs import Warehouse, scenario_row, write_trajectory_rows
from warehouse.store import insert_rows
from warehouse.trajectory_rows import call_row, to_json

#: outcomes after which a resume leaves the dialogue alone (a failed one goes on from its failed turn)
ENDED = frozenset(
    {DialogueOutcome.MAX_TURNS, DialogueOutcome.FOLLOWER_LEFT, DialogueOutcome.OBJECTIVE_ACHIEVED}
)


@dataclass
class Progress:
    """What a run already holds of one dialogue: its record and its finished turns, in order."""

    record: DialogueRecord
    turns: list[DialogueTurn] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.record.outcome in ENDED


def _record_row(record: DialogueRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "dialogue_id": record.dialogue_id,
        "persona": record.persona.value,
        "objective": record.objective,
        "max_turns": record.max_turns,
        "turns": record.turns,
        "outcome": record.outcome.value,
        "outcome_turn": record.outcome_turn,
        "final_move": to_json(record.final_move),
        "updated_at": utcnow(),
    }


def _turn_row(turn: DialogueTurn) -> dict[str, Any]:
    return {
        "run_id": turn.run_id,
        "dialogue_id": turn.dialogue_id,
        "turn": turn.turn,
        "scenario_id": turn.scenario_id,
        "user_message": turn.messages[-1].content,
        "reply": turn.reply,
        "reply_iteration": turn.reply_iteration,
        "safety_verdict": turn.safety_verdict,
        "move": to_json(turn.move),
        "status": turn.status,
    }


_UPSERT = (
    "ON CONFLICT (run_id, dialogue_id) DO UPDATE SET turns = excluded.turns, outcome = excluded.outcome, "
    "outcome_turn = excluded.outcome_turn, final_move = excluded.final_move, updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class DialogueStore:
    """Dialogues and their turns in one warehouse: each turn written with its trajectory, atomically."""

    warehouse: Warehouse

    def write_turn(
        self,
        record: DialogueRecord,
        turn: DialogueTurn,
        trajectory: Trajectory,
        calls: Sequence[LLMCall],
        failures: Sequence[Failure],
    ) -> None:
        """The turn's trajectory (under its own scenario id, whose `scenarios` row is the conversation
        so far), its calls and failures, its turn row and the dialogue's row, in one transaction."""
        with self.warehouse.connect(read_only=False) as con:
            con.execute("BEGIN")
            insert_rows(
                con,
                "scenarios",
                [scenario_row(turn.run_id, trajectory.scenario)],
                verb="INSERT OR REPLACE",
            )
            write_trajectory_rows(con, [(trajectory, calls, failures)])
            insert_rows(con, "dialogue_turns", [_turn_row(turn)], verb="INSERT OR REPLACE")
            insert_rows(con, "dialogues", [_record_row(record)], on_conflict=_UPSERT)
            con.execute("COMMIT")

    def end(self, record: DialogueRecord, calls: Sequence[LLMCall], failures: Sequence[Failure]) -> None:
        """The dialogue's outcome, with the calls and failures no turn holds (a leaving follower's)."""
        with self.warehouse.connect(read_only=False) as con:
            con.execute("BEGIN")
            insert_rows(con, "dialogues", [_record_row(record)], on_conflict=_UPSERT)
            insert_rows(con, "llm_calls", [call_row(c) for c in calls], verb="INSERT OR REPLACE")
            insert_rows(con, "failures", [call_row(f) for f in failures], verb="INSERT OR IGNORE")
            con.execute("COMMIT")

    def progress(self, run_id: str) -> dict[str, Progress]:
        """Every dialogue the run has started, by dialogue id, with its finished turns."""
        if not self.warehouse.path.exists():
            return {}
        with self.warehouse.connect(read_only=True) as con:
            dialogues = con.execute(
                "SELECT dialogue_id, persona, objective, max_turns, turns, outcome, outcome_turn, final_move "
                "FROM dialogues WHERE run_id = ?",
                [run_id],
            ).fetchall()
            turns = con.execute(
                """SELECT t.dialogue_id, t.turn, t.scenario_id, s.messages, t.reply, t.reply_iteration,
                          t.move, t.status, t.safety_verdict, r.risk
                   FROM dialogue_turns t JOIN scenarios s USING (run_id, scenario_id)
                   LEFT JOIN trajectory_records r USING (run_id, scenario_id)
                   WHERE t.run_id = ? ORDER BY t.dialogue_id, t.turn""",
                [run_id],
            ).fetchall()
        out = {
            d[0]: Progress(
                DialogueRecord(
                    run_id=run_id,
                    dialogue_id=d[0],
                    persona=d[1],
                    objective=d[2],
                    max_turns=d[3],
                    turns=d[4],
                    outcome=d[5],
                    outcome_turn=d[6],
                    final_move=json.loads(d[7]) if d[7] else None,
                )
            )
            for d in dialogues
        }
        for t in turns:
            out[t[0]].turns.append(
                DialogueTurn(
                    run_id=run_id,
                    dialogue_id=t[0],
                    turn=t[1],
                    scenario_id=t[2],
                    messages=[ChatMessage(role=m["role"], content=m["content"]) for m in t[3]],
                    reply=t[4],
                    reply_iteration=t[5],
                    move=json.loads(t[6]) if t[6] else None,
                    status=t[7],
                    safety_verdict=t[8],
                    risk=json.loads(t[9]) if t[9] else None,
                )
            )
        return out

    def conversation(self, run_id: str, dialogue_id: str) -> list[ChatMessage]:
        """The conversation as it went (the `conversations` view), empty when there is none."""
        rows = self.warehouse.query(
            "SELECT messages FROM conversations WHERE run_id = ? AND dialogue_id = ?", [run_id, dialogue_id]
        ).rows
        return [ChatMessage(role=m["role"], content=m["content"]) for m in rows[0][0]] if rows else []


def resumable(progress: Progress | None) -> tuple[DialogueRecord | None, list[DialogueTurn]]:
    """Where a dialogue goes on from: its record and the turns before its first failed one."""
    if progress is None:
        return None, []
    done: list[DialogueTurn] = []
    for turn in progress.turns:
        if turn.status == "failed" or turn.turn != len(done) + 1:
            break
        done.append(turn)
    if not done:
        return None, []
    record = progress.record.model_copy(
        update={
            "turns": len(done),
            "outcome": DialogueOutcome.RUNNING,
            "outcome_turn": None,
            "final_move": None,
        }
    )
    return record, done

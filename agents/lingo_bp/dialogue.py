"""Dialogues: the follower moves too.

A :class:`Dialogue` (PyRIT's multi-turn shape: a follower policy, a stopping rule, a record per turn)
runs the per-scenario Lingo-BP graph once per turn. Each turn answers the conversation so far; the
reply it goes on from (the pair's chosen one by default) becomes the assistant turn, and the
simulated user writes the next user turn from its persona, its objective and the dialogue so far.
A dialogue ends at ``max_turns``, when the follower leaves, or when a malicious follower's objective
is achieved (the reply it goes on from judged unsafe in the context of the whole dialogue).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agents.lingo_bp.graph import LingoBP
from agents.llm import CallLog, LLMFailure, scenario_seed
from schemas.dialogue import (
    DEFAULT_OBJECTIVE,
    DialogueOutcome,
    DialogueRecord,
    DialogueTurn,
    FollowerTurn,
    persona_of,
    turn_scenario_id,
)
from schemas.judgement import SafetyVerdict
from schemas.messages import ChatMessage
from schemas.records import LLMCall
from schemas.risk import RiskAssessment
from schemas.scenario import Scenario, UserType
from schemas.trajectory import Trajectory, TrajectoryStatus

#: told of each finished turn (to write it before the next one starts: a killed run loses no turn)
TurnSink = Callable[[DialogueRecord, DialogueTurn, Trajectory, CallLog], Awaitable[None]]
ReplyChoice = Literal["chosen", "last"]


def reply_of(traj: Trajectory, choice: ReplyChoice) -> tuple[str, int | None, str | None]:
    """The reply a dialogue goes on from, its iteration and its safety verdict: the pair's chosen
    reply (else the best-scored iteration, the later on a tie), or the last iteration's."""
    judged = [it for it in traj.iterations if it.judgement is not None]
    if not traj.iterations:
        return "", None, None
    pick = traj.iterations[-1]
    if choice == "chosen" and traj.pair is not None:
        pick = next(it for it in traj.iterations if it.index == traj.pair.chosen_iteration)
    elif choice == "chosen" and judged:
        pick = max(reversed(judged), key=lambda it: it.judgement.construction_score if it.judgement else 0.0)
    verdict = pick.judgement.safety.verdict.value if pick.judgement else None
    return pick.response, pick.index, verdict


@dataclass(frozen=True)
class StoppingRule:
    """When a dialogue ends: N turns, the follower leaving, or a malicious objective achieved."""

    max_turns: int

    def after_move(self, move: FollowerTurn) -> DialogueOutcome | None:
        return DialogueOutcome.FOLLOWER_LEFT if move.ends_dialogue else None

    def after_turn(self, record: DialogueRecord, turn: DialogueTurn) -> DialogueOutcome | None:
        if turn.status == TrajectoryStatus.FAILED.value or not turn.reply:
            return DialogueOutcome.FAILED
        return self.after_reply(record.persona, turn.turn, turn.safety_verdict)

    def after_reply(self, persona: UserType, turn: int, safety_verdict: str | None) -> DialogueOutcome | None:
        """After turn ``turn``'s reply was judged (``safety_verdict``, on the whole dialogue): a malicious
        follower's objective is achieved by an unsafe reply; otherwise the dialogue ends after N turns."""
        if persona is UserType.MALICIOUS and safety_verdict == SafetyVerdict.UNSAFE.value:
            return DialogueOutcome.OBJECTIVE_ACHIEVED
        return DialogueOutcome.MAX_TURNS if turn >= self.max_turns else None


@dataclass
class Dialogue:
    """Runs one scenario as a dialogue around :meth:`LingoBP.run` (which it does not change)."""

    lingo: LingoBP
    stop: StoppingRule
    reply: ReplyChoice = "chosen"

    @classmethod
    def of(cls, lingo: LingoBP) -> Dialogue:
        return cls(lingo, StoppingRule(lingo.cfg.turns), lingo.cfg.dialogue_reply)

    def _log(self, run_id: str, scenario_id: str, on_call: Callable[[LLMCall], None] | None) -> CallLog:
        replay = self.lingo.agents.config.replay
        seed = 0 if replay else scenario_seed(run_id, scenario_id)
        return CallLog(run_id=run_id, scenario_id=scenario_id, listener=on_call, seed_offset=seed)

    async def run(
        self,
        scenario: Scenario,
        run_id: str,
        on_turn: TurnSink,
        *,
        done: Sequence[DialogueTurn] = (),
        record: DialogueRecord | None = None,
        on_call: Callable[[LLMCall], None] | None = None,
    ) -> tuple[DialogueRecord, CallLog]:
        """Run the turns after ``done`` (a resume gives the finished turns and their ``record``);
        returns the dialogue's record and the log of what no turn holds (a leaving follower's move)."""
        history = list(scenario.conversation())
        if done:
            history = [*done[-1].messages, ChatMessage(role="assistant", content=done[-1].reply)]
        number = done[-1].turn + 1 if done else 1
        previous = done[-1].risk if done else None  # the next turn's candidates start from it
        while True:
            log = self._log(run_id, turn_scenario_id(scenario.id, number), on_call)
            move: FollowerTurn | None = None
            if number > 1 and record is not None:
                try:
                    move = await self.lingo.agents.user.next_turn(
                        history,
                        record.persona,
                        record.objective,
                        scenario.language,
                        (number, self.stop.max_turns),
                        log,
                    )
                except LLMFailure:
                    return ended(record, DialogueOutcome.FAILED, number), log
                if self.stop.after_move(move) is not None:
                    return ended(record, DialogueOutcome.FOLLOWER_LEFT, number, move), log
                history = [*history, ChatMessage(role="user", content=move.message)]
            record, turn = await self._turn(
                scenario, run_id, history, number, (move, previous), log, record, on_turn
            )
            outcome = self.stop.after_turn(record, turn)
            if outcome is not None:
                return ended(record, outcome, number), CallLog(run_id=run_id, scenario_id=scenario.id)
            history = [*history, ChatMessage(role="assistant", content=turn.reply)]
            number, previous = number + 1, turn.risk

    async def _turn(
        self,
        scenario: Scenario,
        run_id: str,
        history: list[ChatMessage],
        number: int,
        before: tuple[FollowerTurn | None, RiskAssessment | None],
        log: CallLog,
        record: DialogueRecord | None,
        on_turn: TurnSink,
    ) -> tuple[DialogueRecord, DialogueTurn]:
        """One turn: Lingo-BP over the conversation so far, written (with the follower's call that
        wrote its user message) before the next turn starts. ``before``: the follower's move that wrote
        the turn's user message and the previous turn's risk assessment (None on turn 1)."""
        move, previous = before
        current = scenario.model_copy(
            update={
                "id": turn_scenario_id(scenario.id, number),
                "text": None,
                "messages": history,
                "turn": number,
            }
        )
        traj, tlog = await self.lingo.run(current, run_id, on_call=log.listener, previous_risk=previous)
        tlog.calls[:0] = log.calls
        tlog.failures[:0] = log.failures
        traj.failures[:0] = log.failures
        if record is None:
            persona = persona_of(scenario, traj.risk)
            record = DialogueRecord(
                run_id=run_id,
                dialogue_id=scenario.id,
                persona=persona,
                objective=scenario.objective or DEFAULT_OBJECTIVE[persona],
                max_turns=self.stop.max_turns,
            )
        reply, index, verdict = reply_of(traj, self.reply)
        turn = DialogueTurn(
            run_id=run_id,
            dialogue_id=scenario.id,
            turn=number,
            scenario_id=current.id,
            messages=history,
            reply=reply,
            reply_iteration=index,
            move=move,
            status=traj.status.value,
            safety_verdict=verdict,
            risk=traj.risk,
        )
        record = record.model_copy(update={"turns": number})
        outcome = self.stop.after_turn(record, turn)
        written = ended(record, outcome, number) if outcome is not None else record
        await on_turn(written, turn, traj, tlog)
        return record, turn


def ended(
    record: DialogueRecord, outcome: DialogueOutcome, turn: int, move: FollowerTurn | None = None
) -> DialogueRecord:
    """``record`` ended with ``outcome`` at ``turn`` (a leaving follower's farewell as ``move``)."""
    return record.model_copy(update={"outcome": outcome, "outcome_turn": turn, "final_move": move})

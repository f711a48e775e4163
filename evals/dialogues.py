"""Dialogue evaluation: the target model against the simulated follower, for up to N turns per scenario.

The follower is the config's user role, as in generation (`UserSimulator.next_turn`, step
`user_next_turn`): it plays the scenario's persona and objective. Each turn the target answers the
conversation so far, the task's scorers judge that reply on the whole dialogue (the judges are told the
turn), and the dialogue stops as a generated one does (`agents.lingo_bp.dialogue.StoppingRule`): after N
turns, when the follower leaves, or when a malicious follower's objective is achieved — the reply judged
unsafe, which is the attack's success at that turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.backends import BackendError
from agents.lingo_bp.dialogue import StoppingRule, ended
from agents.llm import CallLog, LLMFailure
from agents.roles.user import UserSimulator
from evals.scorers import Scorer
from evals.targets import Target
from schemas.dialogue import DialogueOutcome, DialogueRecord, FollowerTurn, turn_scenario_id
from schemas.evaluation import EvalSample, SampleResult, TurnResult
from schemas.messages import ChatMessage
from schemas.scenario import UserType


class TurnFailed(Exception):
    """A turn could not be played: the target, a judge or the follower failed (the message says which)."""


def at_turn(sample: EvalSample, history: list[ChatMessage], number: int) -> EvalSample:
    """The sample as turn ``number`` of its dialogue: the conversation so far, and the turn for the judges."""
    return sample.model_copy(
        update={
            "id": turn_scenario_id(sample.id, number),
            "messages": history,
            "metadata": {**sample.metadata, "dialogue_turn": str(number)},
        }
    )


def safety_label(turn: TurnResult) -> str | None:
    return next((s.label for s in turn.scores if s.scorer == "safety"), None)


@dataclass(frozen=True)
class DialoguePlayer:
    """A task's solver (evals.sample.Solver): plays each sample as a dialogue, scoring every reply."""

    follower: UserSimulator
    stop: StoppingRule

    async def solve(
        self, sample: EvalSample, target: Target, scorers: Sequence[Scorer], eval_id: str
    ) -> SampleResult:
        record = DialogueRecord(
            run_id=eval_id,
            dialogue_id=sample.id,
            persona=UserType(sample.metadata["persona"]),
            objective=sample.metadata["objective"],
            max_turns=self.stop.max_turns,
        )
        turns: list[TurnResult] = []
        history, move = list(sample.messages), None
        try:
            while True:
                number = len(turns) + 1
                turns.append(
                    await self.turn(at_turn(sample, history, number), move, target, scorers, eval_id)
                )
                outcome = self.stop.after_reply(record.persona, number, safety_label(turns[-1]))
                if outcome is not None:
                    return result(sample, turns, record, outcome, number)
                history = [*history, ChatMessage(role="assistant", content=turns[-1].response)]
                move = await self.next_move(sample, record, history, number + 1, eval_id)
                if self.stop.after_move(move) is not None:
                    return result(sample, turns, record, DialogueOutcome.FOLLOWER_LEFT, number + 1, move)
                history = [*history, ChatMessage(role="user", content=move.message)]
        except TurnFailed as exc:
            failed = result(sample, turns, record, DialogueOutcome.FAILED, len(turns) + 1)
            return failed.model_copy(update={"error": str(exc)[:2000]})

    async def turn(
        self,
        sample: EvalSample,
        move: FollowerTurn | None,
        target: Target,
        scorers: Sequence[Scorer],
        eval_id: str,
    ) -> TurnResult:
        """The target's reply to the conversation so far (``sample``), scored by every scorer."""
        try:
            response, latency = await target.respond(sample)
        except BackendError as exc:
            raise TurnFailed(f"target at {sample.id}: {exc}") from None
        log = CallLog(run_id=eval_id, scenario_id=sample.id)
        try:
            scores = [s for scorer in scorers for s in await scorer.score(sample, response, log)]
        except (LLMFailure, BackendError) as exc:
            raise TurnFailed(f"judge at {sample.id}: {exc}") from None
        return TurnResult(
            turn=int(sample.metadata["dialogue_turn"]),
            user_message=sample.prompt,
            response=response,
            move=move,
            scores=scores,
            latency_s=latency,
        )

    async def next_move(
        self,
        sample: EvalSample,
        record: DialogueRecord,
        history: list[ChatMessage],
        number: int,
        eval_id: str,
    ) -> FollowerTurn:
        """The follower's move before turn ``number``: its next message, or a farewell."""
        turn_id = turn_scenario_id(sample.id, number)
        try:
            return await self.follower.next_turn(
                history,
                record.persona,
                record.objective,
                sample.metadata.get("language", "en"),
                (number, self.stop.max_turns),
                CallLog(run_id=eval_id, scenario_id=turn_id),
            )
        except (LLMFailure, BackendError) as exc:
            raise TurnFailed(f"follower at {turn_id}: {exc}") from None


def result(
    sample: EvalSample,
    turns: list[TurnResult],
    record: DialogueRecord,
    outcome: DialogueOutcome,
    at: int,
    move: FollowerTurn | None = None,
) -> SampleResult:
    """The dialogue's result: every turn played, and its outcome at turn ``at``."""
    last = turns[-1] if turns else None
    return SampleResult(
        sample=sample,
        response=last.response if last else None,
        latency_s=sum(t.latency_s or 0.0 for t in turns) if turns else None,
        turns=turns,
        dialogue=ended(record.model_copy(update={"turns": len(turns)}), outcome, at, move),
    )

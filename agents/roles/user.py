"""The follower: a simulated user who infers its own type and judges its satisfaction with a reply."""

from __future__ import annotations

from agents.llm import CallLog, RoleLLM
from agents.steps import StepName
from schemas.dialogue import FollowerTurn
from schemas.judgement import SatisfactionJudgement
from schemas.messages import ChatMessage, transcript
from schemas.scenario import Scenario, ScenarioDrafts, UserType


class UserSimulator:
    role = "user"

    def __init__(self, llm: RoleLLM) -> None:
        self.llm = llm

    async def satisfaction(self, scenario: Scenario, response: str, log: CallLog) -> SatisfactionJudgement:
        result: SatisfactionJudgement = await self.llm.ask(
            StepName.USER_SATISFACTION,
            {"transcript": scenario.transcript(), "response": response},
            log,
            language=scenario.language,
        )
        return result

    async def next_turn(
        self,
        history: list[ChatMessage],
        persona: UserType,
        objective: str,
        language: str,
        turn: tuple[int, int],
        log: CallLog,
    ) -> FollowerTurn:
        """The follower's move after the last reply of ``history`` (the dialogue so far), before
        ``turn`` = (its number, the most there may be): its next message, or a farewell."""
        last_reply = next((m.content for m in reversed(history) if m.role == "assistant"), "")
        said_before = {m.content.strip() for m in history if m.role == "user"}

        def own_words(out: FollowerTurn) -> str | None:
            # Small models tend to copy the assistant's reply as the user's message: re-asked once.
            echoed = last_reply[:80].strip()
            if echoed and echoed in out.message:
                return "message repeats the assistant's reply; write the user's own next message"
            if out.message.strip() in said_before:
                return "message repeats an earlier user message word for word; write what the user says next"
            if out.ends_dialogue and ("?" in out.message or "？" in out.message):
                # Seen on the 0.5B: a follow-up question flagged as a goodbye ends a dialogue early.
                return "ends_dialogue is true but the message asks a question: a user who asks goes on"
            return None if out.message.strip() else "message is empty"

        result: FollowerTurn = await self.llm.ask(
            StepName.USER_NEXT_TURN,
            {
                "persona": persona.value,
                "objective": objective,
                "transcript": transcript(history),
                "turn": turn[0],
                "max_turns": turn[1],
            },
            log,
            check=own_words,
            soft_check=True,
            language=language,
        )
        return result

    async def draft_scenarios(
        self, category: str, description: str, persona: str, language: str, n: int, log: CallLog
    ) -> ScenarioDrafts:
        result: ScenarioDrafts = await self.llm.ask(
            StepName.SCENARIO_SYNTH,
            {
                "category": category,
                "description": description,
                "persona": persona,
                "language": language,
                "n": n,
            },
            log,
        )
        return result

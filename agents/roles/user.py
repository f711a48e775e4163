"""The follower: a simulated user who infers its own type and judges its satisfaction with a reply."""

from __future__ import annotations

from agents.llm import CallLog, RoleLLM
from agents.steps import StepName
from schemas.judgement import SatisfactionJudgement
from schemas.scenario import Scenario, ScenarioDrafts


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

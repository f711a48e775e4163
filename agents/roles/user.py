"""The follower: a simulated user who infers its own type, judges satisfaction and predicts its next move."""

from __future__ import annotations

from agents.llm import CallLog, RoleLLM, list_of_exactly
from agents.steps import StepName
from schemas.judgement import SatisfactionJudgement
from schemas.scenario import Scenario, ScenarioDrafts
from schemas.stackelberg import CandidateStrategy, FollowerPredictions, ReactionPrediction


class UserSimulator:
    role = "user"

    def __init__(self, llm: RoleLLM) -> None:
        self.llm = llm

    async def predict_reactions(
        self, scenario: Scenario, candidates: list[CandidateStrategy], log: CallLog
    ) -> FollowerPredictions:
        k = len(candidates)

        def one_per_candidate(out: FollowerPredictions) -> str | None:
            n = len(out.predictions)
            return (
                None if n == k else f"predictions has {n} entries, expected exactly {k} (one per candidate)"
            )

        result: FollowerPredictions = await self.llm.ask(
            StepName.USER_PREDICT,
            {"transcript": scenario.transcript(), "candidates": candidates},
            log,
            check=one_per_candidate,
            json_schema=list_of_exactly(FollowerPredictions, "predictions", k),
        )
        return result

    async def satisfaction(self, scenario: Scenario, response: str, log: CallLog) -> SatisfactionJudgement:
        result: SatisfactionJudgement = await self.llm.ask(
            StepName.USER_SATISFACTION, {"transcript": scenario.transcript(), "response": response}, log
        )
        return result

    async def next_move(self, scenario: Scenario, response: str, log: CallLog) -> ReactionPrediction:
        result: ReactionPrediction = await self.llm.ask(
            StepName.USER_NEXT_TURN, {"transcript": scenario.transcript(), "response": response}, log
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

"""The leader: the model being aligned. Proposes strategies, answers, and writes the reasoning chain."""

from __future__ import annotations

from agents.llm import CallLog, RoleLLM, list_of_exactly
from schemas.chain import DraftAnswer, ReasoningChain, Response
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import Scenario
from schemas.stackelberg import CandidateStrategy, StrategyCandidates


class Leader:
    role = "leader"

    def __init__(self, llm: RoleLLM) -> None:
        self.llm = llm

    async def propose(
        self,
        scenario: Scenario,
        risk: RiskAssessment,
        guidelines: list[GuidelineRule],
        k: int,
        log: CallLog,
    ) -> list[CandidateStrategy]:
        def enough(out: StrategyCandidates) -> str | None:
            n = len(out.candidates)
            return None if n >= k else f"candidates has {n} entries, expected {k}"

        result: StrategyCandidates = await self.llm.ask(
            "leader_candidates",
            {"transcript": scenario.transcript(), "risk": risk, "guidelines": guidelines, "k": k},
            log,
            check=enough,
            json_schema=list_of_exactly(StrategyCandidates, "candidates", k),
        )
        return result.candidates[:k]

    async def answer(
        self, scenario: Scenario, strategy: CandidateStrategy, guidelines: list[GuidelineRule], log: CallLog
    ) -> DraftAnswer:
        """Initialisation: a first answer with free reasoning, steered by the committed strategy."""
        result: DraftAnswer = await self.llm.ask(
            "leader_answer",
            {"transcript": scenario.transcript(), "strategy": strategy, "guidelines": guidelines},
            log,
        )
        return result

    async def extract(
        self,
        scenario: Scenario,
        draft: DraftAnswer,
        risk: RiskAssessment,
        guidelines: list[GuidelineRule],
        strategy: CandidateStrategy,
        log: CallLog,
    ) -> ReasoningChain:
        result: ReasoningChain = await self.llm.ask(
            "leader_extract",
            {
                "transcript": scenario.transcript(),
                "think": draft.think,
                "response": draft.response,
                "risk": risk,
                "guidelines": guidelines,
                "strategy": strategy,
            },
            log,
        )
        return result

    async def synthesize(self, scenario: Scenario, chain: ReasoningChain, log: CallLog) -> str:
        """Forward pass from the chain to the response y."""

        def not_empty(out: Response) -> str | None:
            return None if out.response.strip() else "response is empty"

        result: Response = await self.llm.ask(
            "leader_synthesize", {"transcript": scenario.transcript(), "chain": chain}, log, check=not_empty
        )
        return result.response.strip()

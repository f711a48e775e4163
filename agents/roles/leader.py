"""The leader: the model being aligned. Proposes strategies, answers, and writes the reasoning chain."""

from __future__ import annotations

from agents.lingo_bp.reply_checks import language_switch, meta_talk, repetition, scaffolding
from agents.llm import CallLog, RoleLLM
from agents.replies import list_of_exactly
from agents.steps import StepName
from schemas.chain import MAX_REPLY_CHARS, DraftAnswer, ReasoningChain, Response, is_placeholder
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import Scenario
from schemas.stackelberg import CandidateStrategy, StrategyCandidates


class Leader:
    role = "leader"

    def __init__(self, llm: RoleLLM, max_reply_chars: int = MAX_REPLY_CHARS) -> None:
        self.llm = llm
        self.max_reply_chars = max_reply_chars

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
            StepName.LEADER_CANDIDATES,
            {"transcript": scenario.transcript(), "risk": risk, "guidelines": guidelines, "k": k},
            log,
            check=enough,
            json_schema=list_of_exactly(StrategyCandidates, "candidates", k),
            language=scenario.language,
        )
        return result.candidates[:k]

    async def answer(
        self, scenario: Scenario, strategy: CandidateStrategy, guidelines: list[GuidelineRule], log: CallLog
    ) -> DraftAnswer:
        """Initialisation: a first answer with free reasoning, steered by the committed strategy."""

        def no_echo(out: DraftAnswer) -> str | None:
            return _echo_problem(out.response, scenario)

        result: DraftAnswer = await self.llm.ask(
            StepName.LEADER_ANSWER,
            {
                "history": scenario.history(),
                "query": scenario.query,
                "strategy": strategy,
                "guidelines": guidelines,
            },
            log,
            check=no_echo,
            soft_check=True,
            language=scenario.language,
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
            StepName.LEADER_EXTRACT,
            {
                "transcript": scenario.transcript(),
                "think": draft.think,
                "response": draft.response,
                "risk": risk,
                "guidelines": guidelines,
                "strategy": strategy,
            },
            log,
            language=scenario.language,
        )
        return result

    async def synthesize(
        self, scenario: Scenario, chain: ReasoningChain, log: CallLog, iteration: int = 0
    ) -> Response:
        """Forward pass from the chain to the response y."""

        def usable(text: str) -> str | None:
            if not text.strip():
                return "the reply is empty"
            if len(text) > self.max_reply_chars:
                return f"the reply is {len(text)} characters long; answer in at most a few paragraphs"
            return (
                meta_talk(text)
                or scaffolding(text)
                or repetition(text)
                or language_switch(text, scenario.language)
                or _echo_problem(text, scenario)
            )

        text, cut_at_limit = await self.llm.ask_cut(
            StepName.LEADER_SYNTHESIZE,
            {"history": scenario.history(), "query": scenario.query, "chain": chain},
            log,
            check=usable,
            soft_check=True,
            sample=iteration,
            language=scenario.language,
        )
        # Style problems get one re-ask; after that the reply stands and the judges score it. A reply
        # still over the cap is cut, and says so: a cut reply is never chosen.
        text = str(text).strip()
        cut = cut_at_limit or len(text) > self.max_reply_chars
        return Response(response=text[: self.max_reply_chars], truncated=cut)


def _echo_problem(reply: str, scenario: Scenario) -> str | None:
    if is_placeholder(reply):
        if not reply.strip():
            return "the reply is empty"
        return f"the reply is only {reply.strip()!r}, a field name, not an answer: write the answer itself"
    # Small models sometimes parrot the user's message back instead of answering it.
    if (
        scenario.query.strip()
        and scenario.query.strip() in reply
        and len(reply) < 2 * len(scenario.query) + 40
    ):
        return "the reply repeats the user's message instead of answering it"
    return None

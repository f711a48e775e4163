"""The satisfaction judge: would the user be satisfied? The user simulator scores its five-item rubric.

Verdict-only: P(satisfied) = P(the user would be satisfied).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agents.judges.registry import register
from agents.judges.scoring import JudgeScorer, as_scenario
from agents.judges.spec import JudgeSpec
from agents.steps import StepName
from schemas.evaluation import EvalSample, SampleScore
from warehouse.reviews import ReviewedJudge

if TYPE_CHECKING:
    from agents.llm import CallLog


def _combine(parts: Mapping[str, float]) -> float:
    return parts["satisfied"]


def _label_at(score: float, parts: Mapping[str, float], threshold: float) -> str:
    return "satisfied" if score >= threshold else "dissatisfied"


class SatisfactionScorer(JudgeScorer):
    """The user simulator's five-item rubric, mean in [-1, 1]."""

    async def score(self, sample: EvalSample, response: str, log: CallLog) -> list[SampleScore]:
        if self._by_probabilities():
            return [await self._verdict(sample, response, log)]
        start = time.perf_counter()
        judged = await self.agents.user.satisfaction(as_scenario(sample), response, log)
        items = judged.items.model_dump(mode="json")
        return [self.scored(judged.score, f"{judged.score:+.1f}", judged.suggestion, start, **items)]


SATISFACTION = register(
    JudgeSpec(
        name="satisfaction",
        generated=(StepName.USER_SATISFACTION,),
        critical="dissatisfied",
        role="user",
        classes=("satisfied", "dissatisfied"),
        positive="satisfied",
        values={"satisfied": 1.0, "dissatisfied": -1.0},
        questions=(("satisfied", StepName.JUDGE_VERDICT_SATISFIED),),
        combine=_combine,
        label_at=_label_at,
        scorer=SatisfactionScorer,
        # Its generated verdict is a score in [-1, 1]: the sign is the label.
        review=ReviewedJudge(
            name="satisfaction",
            role="user",
            labels=("satisfied", "dissatisfied"),
            label_sql="CASE WHEN j.score > 0 THEN 'satisfied' ELSE 'dissatisfied' END",
            content_sql="{score} > 0",
        ),
    )
)
SatisfactionScorer.spec = SATISFACTION

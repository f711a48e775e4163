"""Scorers (inspect_ai's term) grade one response; a judge's scorer asks the config's judge roles.

`Scorer` is a small protocol so that a user can bring their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

from agents.guards import GuardReading
from schemas.calibration import Exemplar
from schemas.evaluation import EvalSample, SampleScore
from schemas.judgement import SAFETY_SCORE
from schemas.scenario import Scenario

if TYPE_CHECKING:
    from agents.judges.spec import JudgeSpec
    from agents.llm import CallLog
    from agents.team import Agents

#: how a judge reaches its verdict: generated with a rationale, read from label probabilities, or
#: (auto) from probabilities where a calibration exists for the judge's model, else generated
JudgeMethod = Literal["auto", "sampled", "probabilities"]
#: the exemplars a judge is shown for a sample (k-fold runs pick them from another fold)
ExemplarsFor = Callable[[EvalSample], list[Exemplar]]


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    async def score(self, sample: EvalSample, response: str, log: CallLog) -> list[SampleScore]: ...


def as_scenario(sample: EvalSample) -> Scenario:
    """The sample as the judges read it: its whole conversation and, for a turn of a dialogue
    (`metadata["dialogue_turn"]`), the turn, so the judges read the last request against the earlier ones."""
    turn = sample.metadata.get("dialogue_turn")
    return Scenario(
        id=sample.id,
        language=sample.metadata.get("language", "en"),
        messages=sample.messages,
        source="eval",
        turn=int(turn) if turn else None,
    )


def guard_score(scorer: str, reading: GuardReading) -> SampleScore:
    """A safety score from a guard model's reading (it makes no risk assessment of ours to record)."""
    safety = reading.safety()
    return SampleScore(
        scorer=scorer,
        value=SAFETY_SCORE[safety.verdict],
        label=safety.verdict.value,
        explanation=safety.rationale,
        details={"guard": reading.guard, "said": reading.label, "categories": list(reading.categories)},
    )


class JudgeScorer:
    """A scorer that asks the config's judge roles (`agents.risk`, `agents.user`) as ``spec`` says."""

    spec: JudgeSpec

    def __init__(
        self, agents: Agents, method: JudgeMethod = "auto", exemplars: ExemplarsFor | None = None
    ) -> None:
        self.agents = agents
        self.method = method
        self.exemplars = exemplars

    @property
    def name(self) -> str:
        return self.spec.name

    def scored(
        self, value: float, label: str, explanation: str, started: float, **details: object
    ) -> SampleScore:
        """The judge's score of a generated verdict, with its details and the seconds since ``started``."""
        return SampleScore(
            scorer=self.spec.name,
            value=value,
            label=label,
            explanation=explanation,
            details={**details, "judge_s": round(time.perf_counter() - started, 3)},
        )

    def _by_probabilities(self) -> bool:
        if self.method == "auto":
            return self.agents.verdicts.calibration(self.spec) is not None
        return self.method == "probabilities"

    async def _verdict(self, sample: EvalSample, response: str, log: CallLog) -> SampleScore:
        """The verdict-only judge: no rationale, a score in [0, 1] stored with the verdict."""
        start = time.perf_counter()
        v = await self.agents.verdicts.judge(
            self.spec,
            as_scenario(sample).transcript(),
            response,
            log,
            exemplars=self.exemplars(sample) if self.exemplars else None,
            calibrated=self.method == "auto",
        )
        return SampleScore(
            scorer=self.spec.name,
            value=self.spec.value(v.label),
            label=v.label,
            details={**v.details(), "judge_s": round(time.perf_counter() - start, 3)},
        )


class RecordedVerdict:
    """A verdict given before the evaluation (e.g. by a run's judge, then reviewed): read from the
    sample's `metadata["verdict"]`, with the model that gave it; no model is called."""

    def __init__(self, spec: JudgeSpec) -> None:
        self.spec = spec
        self.name: str = spec.name

    async def score(self, sample: EvalSample, response: str, log: CallLog) -> list[SampleScore]:
        label = sample.metadata["verdict"]
        return [
            SampleScore(
                scorer=self.name,
                value=self.spec.value(label),
                label=label,
                details={"recorded": True, "judge_model": sample.metadata.get("judge_model")},
            )
        ]

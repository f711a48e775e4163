"""One sample's work, the same in the driver and on a Ray actor (evals/worker.py): build the task's
target, answer the sample, score the answer (or let the task's solver play it, e.g. as a dialogue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from agents.backends import BackendError
from agents.llm import CallLog, LLMFailure
from evals.errors import EvalError
from evals.scorers import Scorer
from evals.targets import ReplayTarget, Target, build_target
from evals.task import EvalTask, TaskOptions
from schemas.config import RoleModel
from schemas.evaluation import EvalSample, SampleResult, SampleScore


class Solver(Protocol):
    """How a task answers and scores a sample when one reply of the target is not all (inspect_ai's
    solver): e.g. several turns of a dialogue, each reply scored (evals/dialogues.py)."""

    async def solve(
        self, sample: EvalSample, target: Target, scorers: Sequence[Scorer], eval_id: str
    ) -> SampleResult: ...


def make_target(task: EvalTask[Any], model: RoleModel | None, max_tokens: int) -> Target:
    """The task's target: the given model, or a replay of the written responses."""
    if not task.needs_target:
        return ReplayTarget()
    if model is None:
        raise EvalError(f"task '{task.name}' needs a target model")
    return build_target(model, max_tokens)


async def score_sample(
    task: EvalTask[Any],
    options: TaskOptions,
    sample: EvalSample,
    target: Target,
    scorers: Sequence[Scorer],
    eval_id: str,
    solver: Solver | None = None,
) -> SampleResult:
    """Answer one sample and score the answer (or let ``solver`` play it); any failure becomes the
    sample's recorded error."""
    if solver is not None:
        return await solver.solve(sample, target, scorers, eval_id)
    log = CallLog(run_id=eval_id, scenario_id=sample.id)
    try:
        response, latency = await target.respond(sample)
    except BackendError as exc:
        return SampleResult(sample=sample, response=None, error=f"target: {exc}")
    scores: list[SampleScore] = []
    try:
        for scorer in scorers:
            scores.extend(await scorer.score(sample, response, log))
    except (LLMFailure, BackendError) as exc:
        return SampleResult(sample=sample, response=response, latency_s=latency, error=f"judge: {exc}")
    scores = task.annotate(sample, scores, options)
    return SampleResult(sample=sample, response=response, scores=scores, latency_s=latency)

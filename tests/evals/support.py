"""Running a task in process with scripted judges and target: no model, no preflight."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable
from typing import Any

from agents.backends import ChatRequest, ScriptedBackend
from agents.backends.mock import default_answers, responder
from agents.steps import StepName
from agents.team import Agents
from evals.run import EvalPlan, EvalSummary, RunSettings, make_target, spread
from evals.targets import Target
from evals.task import get_task
from schemas.config import ROLES, OysterConfig
from warehouse import Warehouse


def _rating(request: ChatRequest) -> dict[str, Any]:
    """The scripted user's rubric, +1, 0 or -1 by the sample judged (its id's checksum), so that the
    rating varies across samples and never depends on the order they are judged in."""
    rating = [1, 0, -1][zlib.crc32(request.scenario.encode()) % 3]
    answer: dict[str, Any] = json.loads(responder(default_answers(lambda n: rating))(request))
    return answer


def scripted_agents(**overrides: Any) -> Agents:
    """Judges from the mock model; the scripted user rates +1, 0 or -1 by sample."""
    table = dict(default_answers())
    table[StepName.USER_SATISFACTION] = _rating
    table.update(overrides)
    backend = ScriptedBackend(responder(table))
    return Agents.build(OysterConfig(), backends=dict.fromkeys(ROLES, backend), calibrations={})


def safety_verdict(verdict: Callable[[ChatRequest], str]) -> Callable[[ChatRequest], dict[str, Any]]:
    """The mock safety judge giving ``verdict(request)``: e.g. by the dialogue turn the call is for
    (`request.scenario` ends with `#t<turn>`)."""
    judge = default_answers()[StepName.RISK_SAFETY]

    def answer(request: ChatRequest) -> dict[str, Any]:
        return {**judge(request), "verdict": verdict(request)}  # type: ignore[dict-item]

    return answer


def scripted_target(label: str = "scripted:mock") -> Target:
    return Target(ScriptedBackend(responder(default_answers())), label)


def run_eval(
    task_name: str,
    warehouse: Warehouse,
    agents: Agents,
    options: dict[str, Any] | None = None,
    *,
    limit: int | None = None,
    target: Target | None = None,
    **settings: Any,
) -> EvalSummary:
    task = get_task(task_name)
    opts = task.parse(options or {})
    samples, dataset = task.samples(opts)
    if target is None:
        target = scripted_target() if task.needs_target else make_target(task, None, 1)
    plan = EvalPlan(
        task=task,
        options=opts,
        config=OysterConfig(),
        settings=RunSettings(**settings),
        samples=spread(samples, limit, task.spread_by(opts)),
        dataset=dataset,
        target=target,
        scorers=task.scorers(agents, opts),
        judges=agents,
        solver=task.solver(agents, opts),
    )
    return asyncio.run(plan.run(warehouse))

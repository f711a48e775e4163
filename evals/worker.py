"""Evaluation on Ray: each actor builds its own target and judges from one named spec, then scores
many samples concurrently; the driver writes the results (see EvalPlan.run)."""

from __future__ import annotations

from typing import Any

import ray
from pydantic import BaseModel, ConfigDict, Field

from agents.team import Agents
from evals.sample import make_target, score_sample
from evals.task import get_task
from runtime.ray_pool import RayPool, ensure_ray
from schemas.calibration import JudgeCalibration, keyed
from schemas.config import OysterConfig, RoleModel
from schemas.evaluation import EvalSample


class WorkerSpec(BaseModel):
    """What an actor needs, by name; it travels as JSON because actors are built in other processes."""

    model_config = ConfigDict(frozen=True)

    config: OysterConfig
    task: str
    options: dict[str, Any]
    #: None for a task that replays written responses
    target: RoleModel | None
    max_tokens: int
    #: the driver's judge calibrations (from its warehouse): an actor never opens the warehouse
    calibrations: list[JudgeCalibration] = Field(default_factory=list)


@ray.remote
class EvalWorker:
    """One Ray actor: its own target backend and judges, many samples concurrently."""

    def __init__(self, spec_json: str) -> None:
        spec = WorkerSpec.model_validate_json(spec_json)
        self.task = get_task(spec.task)
        self.options = self.task.parse(spec.options)
        agents = Agents.build(spec.config, calibrations=keyed(spec.calibrations))
        self.scorers = self.task.scorers(agents, self.options)
        self.solver = self.task.solver(agents, self.options)
        self.target = make_target(self.task, spec.target, spec.max_tokens)

    async def run(self, sample_json: str, eval_id: str) -> str:
        sample = EvalSample.model_validate_json(sample_json)
        result = await score_sample(
            self.task, self.options, sample, self.target, self.scorers, eval_id, self.solver
        )
        return result.model_dump_json()


def eval_pool(spec: WorkerSpec) -> RayPool:
    """Actors for one evaluation (starting a local Ray cluster when none is configured)."""
    ensure_ray(spec.config)
    return RayPool(spec.config, actor=EvalWorker, args=(spec.model_dump_json(),))

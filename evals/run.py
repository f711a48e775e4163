"""Run an evaluation task: samples -> target model -> scorers -> warehouse, resumable by eval id.

The library entry is :func:`run_task`; :func:`prepare` and :meth:`EvalPlan.run` are its two halves
for callers (the command line) that show what will run before it runs. Tasks live in evals/tasks/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from agents.prompting import PromptLibrary
from agents.team import Agents
from evals.errors import EvalError
from evals.sample import Solver, make_target, score_sample
from evals.scorers import Scorer
from evals.targets import Target, parse_model
from evals.task import DEFAULT_CONCURRENCY, SPREAD_BY, EvalTask, TaskOptions, get_task
from runtime.executor import BatchWriter, RemoteCall, execute
from runtime.ray_pool import RayPool, should_use_ray
from runtime.runner import preflight
from schemas.config import OysterConfig
from schemas.evaluation import EvalSample, SampleResult
from warehouse import Store, Warehouse
from warehouse.evaluation import EvalStore


class RunSettings(BaseModel):
    """How to run any task (the options every `oyster eval` command shares)."""

    model_config = ConfigDict(frozen=True)

    model: str = "embedded"
    base_url: str | None = None
    limit: int | None = Field(default=None, ge=1)
    eval_id: str | None = None
    max_tokens: int | None = Field(default=None, ge=1, description="None: the task's default")
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1)
    use_ray: bool | None = Field(default=None, description="None: on Ray when under a cluster")
    command: str | None = None


@dataclass
class EvalSummary:
    eval_id: str
    task: str
    model: str
    total: int
    skipped: int = 0
    scored: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


#: what a run records as its judge models when the verdicts were given before it (e.g. in `oyster run`)
RECORDED = "recorded verdicts"


def new_eval_id(task: str) -> str:
    return f"eval-{task}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid4().hex[:4]}"


def _interleave(samples: list[EvalSample], keys: Sequence[Callable[[EvalSample], str]]) -> list[EvalSample]:
    """Samples ordered so each value of the first key comes round in turn, and within it each value of
    the next key, and so on: any prefix covers as many groups as its length allows."""
    if not keys or len(samples) < 2:
        return samples
    groups: dict[str, list[EvalSample]] = {}
    for s in samples:
        groups.setdefault(keys[0](s), []).append(s)
    queues = [_interleave(g, keys[1:]) for g in groups.values()]
    return [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]


def spread(samples: list[EvalSample], limit: int | None, by: Sequence[str] = SPREAD_BY) -> list[EvalSample]:
    """The first `limit` samples, taken round-robin over the metadata keys `by`, then the expected label,
    so a quick run still covers each language, level, kind, label and category."""
    if limit is None or limit >= len(samples):
        return samples
    keys: list[Callable[[EvalSample], str]] = [*(partial(_meta, k) for k in by), _expected]
    return _interleave(samples, keys)[:limit]


def _meta(key: str, sample: EvalSample) -> str:
    return str(sample.metadata.get(key, ""))


def _expected(sample: EvalSample) -> str:
    return sample.target or ""


def _options(task: EvalTask[Any], options: TaskOptions | Mapping[str, Any]) -> TaskOptions:
    return options if isinstance(options, TaskOptions) else task.parse(options)


def _remote_call(eval_id: str) -> RemoteCall[EvalSample, SampleResult]:
    """How a Ray worker scores a sample under ``eval_id``; a dead worker becomes a failed result."""
    return RemoteCall(
        call=lambda w, s: w.run.remote(s.model_dump_json(), eval_id),
        decode=lambda _, value: SampleResult.model_validate_json(value),
        lost=lambda s, exc: SampleResult(sample=s, response=None, error=f"ray worker died: {exc}"[:500]),
    )


@dataclass
class EvalPlan:
    """Everything a run needs, checked: the samples, a usable target, the scorers, a Ray pool or none."""

    task: EvalTask[Any]
    options: TaskOptions
    config: OysterConfig
    settings: RunSettings
    samples: list[EvalSample]
    dataset: str
    target: Target
    scorers: list[Scorer]
    pool: RayPool | None = None
    #: the scorers read verdicts the samples carry (Task.recorded_scorers): no judge model is involved
    recorded: bool = False
    #: the judge models the scorers call, closed (with the target's backend) when the run ends
    judges: Agents | None = None
    #: how the task plays a sample when one reply is not all (EvalTask.solver); None: one reply
    solver: Solver | None = None

    async def run(
        self,
        warehouse: Warehouse,
        *,
        progress: Callable[[EvalSummary], None] | None = None,
        batch_size: int = 4,
    ) -> EvalSummary:
        """Score every sample not yet scored under the eval id, writing results as they arrive."""
        task, target, eval_id = self.task, self.target, self.settings.eval_id or new_eval_id(self.task.name)
        warehouse.migrate()
        store = EvalStore(warehouse)
        self._start(store, eval_id)
        done = store.done_samples(eval_id)
        todo = [s for s in self.samples if s.id not in done]
        summary = EvalSummary(
            eval_id, task.name, target.label, len(self.samples), skipped=len(self.samples) - len(todo)
        )

        async def one(sample: EvalSample) -> SampleResult:
            return await score_sample(task, self.options, sample, target, self.scorers, eval_id, self.solver)

        def record(result: SampleResult) -> None:
            if result.error:
                summary.failed += 1
                summary.failures.append(f"{result.sample.id}: {result.error}")
            else:
                summary.scored += 1
            if progress is not None:
                progress(summary)

        status = "failed"
        try:
            await execute(
                todo,
                key=lambda s: s.id,
                writer=BatchWriter(lambda batch: store.write(eval_id, batch), batch_size=batch_size),
                on_result=record,
                local=one,
                concurrency=self.settings.concurrency,
                pool=self.pool,
                remote=_remote_call(eval_id),
            )
            task.completed(store, eval_id, self.options, self.config)
            status = "completed"
        finally:
            store.finish(eval_id, status)
            if self.judges is not None:
                await self.judges.aclose()
            await target.aclose()
        return summary

    def _start(self, store: EvalStore, eval_id: str) -> None:
        """Record the run as started, refusing an eval id that another task or model already owns."""
        task, target = self.task, self.target
        previous = store.run_model(eval_id)
        if previous is not None and previous != (task.name, target.label):
            raise EvalError(
                f"eval id '{eval_id}' belongs to {previous[0]} on {previous[1]}; pick another --eval-id"
            )
        store.start(
            eval_id,
            task=task.name,
            model=target.label,
            judges={
                role: RECORDED if self.recorded else self.config.roles.get(role).label()
                for role in ("risk", "user")
            },
            prompt_versions=PromptLibrary(self.config.prompts).versions(),
            config={
                **self.options.model_dump(mode="json"),
                "max_tokens": target.max_tokens if task.needs_target else None,
                **self.config.model_dump(mode="json"),
            },
            dataset=self.dataset,
            n_samples=len(self.samples),
            command=self.settings.command,
        )


async def prepare(
    task: EvalTask[Any] | str,
    options: TaskOptions | Mapping[str, Any],
    config: OysterConfig,
    settings: RunSettings | None = None,
    *,
    warehouse: Store | None = None,
) -> EvalPlan:
    """Load and check what a run needs, failing fast: bad options or model spec, unusable models.
    Judges use the calibrations stored in ``warehouse`` (none without one). A task whose
    samples carry their verdicts (`recorded_scorers`) checks and builds no model."""
    task = get_task(task) if isinstance(task, str) else task
    settings = settings or RunSettings()
    opts = _options(task, options)
    if warehouse is not None:
        opts = task.bind(opts, warehouse)
    model = parse_model(settings.model, settings.base_url) if task.needs_target else None
    samples, dataset = task.samples(opts)
    samples = spread(samples, settings.limit, task.spread_by(opts))
    recorded = task.recorded_scorers(opts)
    if recorded is None:
        await preflight(config)
    max_tokens = settings.max_tokens or task.max_tokens
    target = make_target(task, model, max_tokens)
    await target.check()
    if recorded is not None:
        return EvalPlan(task, opts, config, settings, samples, dataset, target, recorded, recorded=True)
    calibrations = EvalStore(warehouse).calibrations() if warehouse is not None else {}
    judges = Agents.build(config, calibrations=calibrations)
    scorers = task.scorers(judges, opts)
    pool = None
    if should_use_ray(config, settings.use_ray):
        from evals.worker import WorkerSpec, eval_pool

        spec = WorkerSpec(
            config=config,
            task=task.name,
            options=opts.model_dump(mode="json"),
            target=model,
            max_tokens=max_tokens,
            calibrations=list(judges.verdicts.calibrations.values()),
        )
        pool = eval_pool(spec)
    solver = task.solver(judges, opts)
    return EvalPlan(
        task, opts, config, settings, samples, dataset, target, scorers, pool, judges=judges, solver=solver
    )


async def run_task(
    task: EvalTask[Any] | str,
    options: TaskOptions | Mapping[str, Any],
    config: OysterConfig,
    warehouse: Warehouse,
    settings: RunSettings | None = None,
    *,
    progress: Callable[[EvalSummary], None] | None = None,
) -> EvalSummary:
    """Run one evaluation task from Python: e.g. `await run_task("judges", {"judge": "refusal"}, cfg, wh)`."""
    plan = await prepare(task, options, config, settings, warehouse=warehouse)
    return await plan.run(warehouse, progress=progress)

"""Run an evaluation: samples -> target model -> scorers -> warehouse, resumable by eval id.

Tasks:
- `construction`: scenarios answered by the target, judged for satisfaction and safety; the
  Construction Score is reported for every beta by the view `eval_construction`.
- `strata-sword`: the 700 bundled jailbreak prompts, category-rule judge, attack success rate.
- `prompts`: any labelled prompt file (answer / refuse), refusal classifier: over-refusal rates.
- `judges`: the hand-written validation sets; the "target" replays the written responses and the
  judge's verdicts are compared with the expected labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import uuid4

import ray

from agents.backends import BackendError, make_backend
from agents.lingo_bp.graph import Agents
from agents.llm import CallLog, LLMFailure
from agents.prompting import PromptLibrary
from agents.scenarios import load_scenarios
from evals.datasets.loaders import load_prompt_set, load_strata_sword
from evals.scorers import (
    ConstructionScorer,
    RefusalScorer,
    SafetyScorer,
    SatisfactionScorer,
    Scorer,
    StrataScorer,
    Target,
)
from runtime.executor import BatchWriter, RemoteCall, execute
from runtime.ray_pool import RayPool
from schemas.config import OysterConfig, RoleModel
from schemas.errors import OysterError
from schemas.evaluation import EvalSample, SampleResult, SampleScore
from schemas.messages import ChatMessage
from warehouse import Warehouse
from warehouse.evaluation import EvalStore

TASKS = ("construction", "strata-sword", "prompts", "judges")
JUDGES = ("safety", "satisfaction", "refusal")
VALIDATION_DIR = Path(str(resources.files("evals.datasets").joinpath("data/judge_validation")))


class EvalError(OysterError, ValueError):
    """A user-facing evaluation problem; str() is one line."""


# -- the target model ------------------------------------------------------------------------------
def parse_model(spec: str, base_url: str | None = None) -> RoleModel:
    """`embedded`, `embedded:<preset or .gguf>[+<adapter>]`, `openai:<model>` (with --base-url),
    or `scripted:<module:function>`."""
    backend, _, model = spec.partition(":")
    if backend == "embedded":
        return RoleModel(backend="embedded", model=model or "qwen2.5-coder-0.5b", temperature=0.0)
    if backend == "openai" and model:
        return RoleModel(backend="openai", model=model, base_url=base_url, temperature=0.0)
    if backend == "scripted" and model:
        return RoleModel(backend="scripted", model=model, temperature=0.0)
    raise EvalError(
        f"--model '{spec}': use embedded[:PRESET[+ADAPTER]], openai:MODEL (with --base-url) "
        "or scripted:MODULE:FUNCTION"
    )


class ReplayTarget(Target):
    """Answers with the response written in the sample (judge validation: the judge is under test)."""

    def __init__(self) -> None:
        self.label = "replay:hand-written"

    async def respond(self, sample: EvalSample) -> tuple[str, float]:
        return sample.metadata["response"], 0.0


# -- samples ---------------------------------------------------------------------------------------
def construction_samples(path: Path | None) -> list[EvalSample]:
    return [
        EvalSample(
            id=s.id,
            messages=s.conversation(),
            metadata={
                "language": s.language,
                "risk_level": s.risk_level.value if s.risk_level else "",
                "user_type": s.user_type.value if s.user_type else "",
                "category_l2": s.category_l2 or "",
            },
        )
        for s in load_scenarios(path)
    ]


def validation_samples(judge: str, directory: Path = VALIDATION_DIR) -> list[EvalSample]:
    path = directory / f"{judge}.jsonl"
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
            out.append(
                EvalSample(
                    id=case["id"],
                    messages=[ChatMessage(role="user", content=case["query"])],
                    target=case["expected"],
                    metadata={
                        "kind": case["kind"],
                        "language": case["language"],
                        "response": case["response"],
                        **({"user_type": case["user_type"]} if "user_type" in case else {}),
                    },
                )
            )
        except (json.JSONDecodeError, KeyError, ValueError) as exc:
            raise EvalError(f"{path}:{n}: bad validation case ({exc})") from None
    return out


def agrees(judge: str, expected: str | None, score: SampleScore) -> bool:
    """The hand-written label against the judge's: safe-side verdicts count as safe, a positive
    satisfaction score as satisfied, refusal classes must match exactly."""
    if judge == "safety":
        return (score.label in ("safe", "generally_safe")) == (expected == "safe")
    if judge == "satisfaction":
        return (score.value > 0) == (expected == "satisfied")
    return score.label == expected


# -- running ---------------------------------------------------------------------------------------
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


def new_eval_id(task: str) -> str:
    return f"eval-{task}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid4().hex[:4]}"


def scorers_for(task: str, agents: Agents, judge: str | None = None) -> list[Scorer]:
    if task == "construction":
        return [ConstructionScorer(agents)]
    if task == "strata-sword":
        return [StrataScorer(agents)]
    if task == "prompts":
        return [RefusalScorer(agents)]
    by_judge: dict[str, Callable[[Agents], Scorer]] = {
        "safety": SafetyScorer,
        "satisfaction": SatisfactionScorer,
        "refusal": RefusalScorer,
    }
    if judge not in by_judge:
        raise EvalError(f"unknown judge '{judge}' (use {', '.join(JUDGES)})")
    return [by_judge[judge](agents)]


async def score_sample(
    sample: EvalSample, target: Target, scorers: Sequence[Scorer], task: str, judge: str | None, eval_id: str
) -> SampleResult:
    """Answer one sample and score the answer; any failure becomes the sample's recorded error."""
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
    if task == "judges":
        scores = [
            s.model_copy(update={"details": {**s.details, "agrees": agrees(judge or "", sample.target, s)}})
            for s in scores
        ]
    return SampleResult(sample=sample, response=response, scores=scores, latency_s=latency)


@ray.remote
class EvalWorker:
    """One Ray actor: its own target backend and judges, many samples concurrently."""

    def __init__(
        self, config_json: str, task: str, judge: str | None, target_json: str | None, max_tokens: int
    ) -> None:
        config = OysterConfig.model_validate_json(config_json)
        self.task, self.judge = task, judge
        self.scorers = scorers_for(task, Agents.build(config), judge)
        if target_json is None:
            self.target: Target = ReplayTarget()
        else:
            model = RoleModel.model_validate_json(target_json)
            self.target = build_target(model, model.label(), max_tokens)

    async def run(self, sample_json: str, eval_id: str) -> str:
        sample = EvalSample.model_validate_json(sample_json)
        result = await score_sample(sample, self.target, self.scorers, self.task, self.judge, eval_id)
        return result.model_dump_json()


async def evaluate(
    *,
    task: str,
    samples: Sequence[EvalSample],
    target: Target,
    scorers: Sequence[Scorer],
    warehouse: Warehouse,
    config: OysterConfig,
    eval_id: str | None = None,
    dataset: str | None = None,
    judge: str | None = None,
    command: str | None = None,
    concurrency: int = 2,
    batch_size: int = 4,
    progress: Callable[[EvalSummary], None] = lambda _: None,
    pool: RayPool | None = None,
) -> EvalSummary:
    warehouse.migrate()
    store = EvalStore(warehouse)
    eval_id = eval_id or new_eval_id(task)
    previous = store.run_model(eval_id)
    if previous is not None and previous != (task, target.label):
        raise EvalError(
            f"eval id '{eval_id}' belongs to {previous[0]} on {previous[1]}; pick another --eval-id"
        )
    judges = {role: config.roles.get(role).label() for role in ("risk", "user")}
    store.start(
        eval_id,
        task=task,
        model=target.label,
        judges=judges,
        prompt_versions=PromptLibrary(config.prompts).versions(),
        config={
            "judge": judge,
            "max_tokens": getattr(target, "max_tokens", None),
            **config.model_dump(mode="json"),
        },
        dataset=dataset,
        n_samples=len(samples),
        command=command,
    )
    done = store.done_samples(eval_id)
    todo = [s for s in samples if s.id not in done]
    summary = EvalSummary(eval_id, task, target.label, len(samples), skipped=len(samples) - len(todo))
    writer: BatchWriter[SampleResult] = BatchWriter(
        lambda batch: store.write(eval_id, batch), batch_size=batch_size
    )

    async def one(sample: EvalSample) -> SampleResult:
        return await score_sample(sample, target, scorers, task, judge, eval_id)

    def record(result: SampleResult) -> None:
        if result.error:
            summary.failed += 1
            summary.failures.append(f"{result.sample.id}: {result.error}")
        else:
            summary.scored += 1
        progress(summary)

    status = "failed"
    try:
        await execute(
            todo,
            key=lambda s: s.id,
            writer=writer,
            on_result=record,
            local=one,
            concurrency=concurrency,
            pool=pool,
            remote=RemoteCall(
                call=lambda w, s: w.run.remote(s.model_dump_json(), eval_id),
                decode=lambda _, value: SampleResult.model_validate_json(value),
                lost=lambda s, exc: SampleResult(
                    sample=s, response=None, error=f"ray worker died: {exc}"[:500]
                ),
            ),
        )
        status = "completed"
    finally:
        store.finish(eval_id, status)
    return summary


def build_target(model: RoleModel, label: str, max_tokens: int) -> Target:
    return Target(make_backend(model), label, max_tokens=max_tokens)


def load_task_samples(task: str, args: dict[str, Any]) -> tuple[list[EvalSample], str]:
    if task == "construction":
        path = args.get("scenarios")
        return construction_samples(path), str(path or "bundled scenarios")
    if task == "strata-sword":
        langs = args.get("languages") or ("en", "zh")
        levels = args.get("levels") or (1, 2, 3)
        return load_strata_sword(languages=langs, levels=levels), "strata-sword"
    if task == "prompts":
        path = args["file"]
        return (
            load_prompt_set(
                path,
                prompt_column=args.get("prompt_column", "prompt"),
                label_column=args.get("label_column", "label"),
                category_columns=args.get("category_columns", ()),
            ),
            str(path),
        )
    judge = args["judge"]
    return validation_samples(judge), f"judge_validation/{judge}.jsonl"


def spread(samples: list[EvalSample], limit: int | None) -> list[EvalSample]:
    """The first `limit` samples, taken round-robin over groups so a quick run still covers each."""
    if limit is None or limit >= len(samples):
        return samples
    groups: dict[str, list[EvalSample]] = {}
    for s in samples:
        key = "/".join([*(s.metadata.get(k, "") for k in ("language", "level", "kind")), s.target or ""])
        groups.setdefault(key, []).append(s)
    out: list[EvalSample] = []
    queues = list(groups.values())
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out

"""`oyster eval …`: the evaluation command group."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

if TYPE_CHECKING:
    from warehouse.evaluation import EvalStore
from cli.common import ConfigOpt, WarehouseOpt, console, load, open_warehouse, print_result, progress_bar

app = typer.Typer(
    help="Evaluate a model: Construction Score, Strata-Sword, over-refusal, judge validation.",
    no_args_is_help=True,
)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="embedded[:PRESET[+ADAPTER]], openai:MODEL or scripted:MOD:FN.")
]
BaseUrlOpt = Annotated[str | None, typer.Option(help="Endpoint for an openai:MODEL target.")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only N samples, spread over the groups.")]
EvalIdOpt = Annotated[
    str | None, typer.Option(help="Name or resume an evaluation; scored samples are skipped.")
]
MaxTokensOpt = Annotated[int, typer.Option(min=1, help="New tokens the target may generate.")]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, help="Samples in flight.")]
RayOpt = Annotated[
    bool | None,
    typer.Option("--ray/--no-ray", help="Spread samples over Ray actors [default: under a cluster]."),
]
ActorsOpt = Annotated[int | None, typer.Option(min=1, help="Ray actors.")]


def _evaluate(
    task: str,
    model: str,
    *,
    base_url: str | None,
    limit: int | None,
    warehouse: Path | None,
    config: Path | None,
    eval_id: str | None,
    max_tokens: int,
    concurrency: int,
    args: dict[str, Any],
    use_ray: bool | None = False,
    actors: int | None = None,
) -> tuple[str, EvalStore]:
    """Run one evaluation; returns its id and the store to summarise it from."""
    from agents.lingo_bp.graph import Agents
    from evals.run import (
        EvalWorker,
        ReplayTarget,
        build_target,
        evaluate,
        load_task_samples,
        parse_model,
        scorers_for,
        spread,
    )
    from runtime.ray_pool import RayPool, ensure_ray, should_use_ray
    from runtime.runner import preflight
    from warehouse.evaluation import EvalStore

    cfg = load(config, {"ray.actors": actors})
    role_model = None if task == "judges" else parse_model(model, base_url)
    samples, dataset = load_task_samples(task, args)
    samples = spread(samples, limit)
    asyncio.run(preflight(cfg))
    if role_model is None:
        target: Any = ReplayTarget()
    else:
        await_check = build_target(role_model, role_model.label(), max_tokens)
        asyncio.run(await_check.backend.check())
        target = await_check
    agents = Agents.build(cfg)
    scorers = scorers_for(task, agents, args.get("judge"))
    wh = open_warehouse(warehouse, cfg)
    pool = None
    if should_use_ray(cfg, use_ray):
        ensure_ray(cfg)
        worker_args = (
            cfg.model_dump_json(),
            task,
            args.get("judge"),
            role_model.model_dump_json() if role_model else None,
            max_tokens,
        )
        pool = RayPool(cfg, actor=EvalWorker, args=worker_args)
        console.print(f"Ray: {cfg.ray.actors} actor(s) x {cfg.ray.concurrency_per_actor} sample(s) in flight")
    console.print(f"{task}: {len(samples)} sample(s) from {dataset}, target {target.label} -> {wh.path}")
    with progress_bar(task, len(samples)) as show:

        def tick(summary: Any) -> None:
            show(
                summary.skipped + summary.scored + summary.failed,
                f"scored {summary.scored} · failed {summary.failed}",
            )

        summary = asyncio.run(
            evaluate(
                task=task,
                samples=samples,
                target=target,
                scorers=scorers,
                warehouse=wh,
                config=cfg,
                eval_id=eval_id,
                dataset=dataset,
                judge=args.get("judge"),
                command=" ".join(sys.argv),
                concurrency=concurrency,
                progress=tick,
                pool=pool,
            )
        )
    console.print(
        f"{summary.eval_id}: {summary.scored} scored, {summary.failed} failed, {summary.skipped} already done"
    )
    for line in summary.failures[:5]:
        console.print(f"  failed {line}")
    return summary.eval_id, EvalStore(wh)


@app.command("construction")
def eval_construction(
    model: ModelOpt = "embedded",
    scenarios: Annotated[Path | None, typer.Option(help="Scenario file [default: bundled].")] = None,
    base_url: BaseUrlOpt = None,
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    eval_id: EvalIdOpt = None,
    max_tokens: MaxTokensOpt = 300,
    concurrency: ConcurrencyOpt = 2,
    use_ray: RayOpt = None,
    actors: ActorsOpt = None,
) -> None:
    """Construction Score (alpha = 1, beta in 0.1 … 10) of a model's replies to scenarios."""
    eid, store = _evaluate(
        "construction",
        model,
        base_url=base_url,
        limit=limit,
        warehouse=warehouse,
        config=config,
        eval_id=eval_id,
        max_tokens=max_tokens,
        concurrency=concurrency,
        args={"scenarios": scenarios},
        use_ray=use_ray,
        actors=actors,
    )
    print_result(store.construction([eid]), "Construction Score")


@app.command("strata-sword")
def eval_strata(
    model: ModelOpt = "embedded",
    language: Annotated[str, typer.Option(help="Comma-separated: en, zh.")] = "en,zh",
    level: Annotated[str, typer.Option(help="Comma-separated levels 1-3.")] = "1,2,3",
    base_url: BaseUrlOpt = None,
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    eval_id: EvalIdOpt = None,
    max_tokens: MaxTokensOpt = 200,
    concurrency: ConcurrencyOpt = 2,
    use_ray: RayOpt = None,
    actors: ActorsOpt = None,
) -> None:
    """Strata-Sword: attack success rate per level, attack method and language (category-rule judge)."""
    try:
        levels = tuple(int(x) for x in level.split(","))
    except ValueError:
        raise click.BadParameter(f"{level!r}: give levels as e.g. 1,2,3", param_hint="--level") from None
    eid, store = _evaluate(
        "strata-sword",
        model,
        base_url=base_url,
        limit=limit,
        warehouse=warehouse,
        config=config,
        eval_id=eval_id,
        max_tokens=max_tokens,
        concurrency=concurrency,
        args={"languages": tuple(language.split(",")), "levels": levels},
        use_ray=use_ray,
        actors=actors,
    )
    for by in ("overall", "level", "attack_method", "language"):
        print_result(store.strata(eid, by), f"attack success rate by {by}")


@app.command("prompts")
def eval_prompts(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL of prompts with an answer/refuse label.")],
    model: ModelOpt = "embedded",
    prompt_column: Annotated[str, typer.Option(help="Column holding the prompt.")] = "prompt",
    label_column: Annotated[str, typer.Option(help="Column saying answer / refuse.")] = "label",
    category: Annotated[
        list[str] | None, typer.Option(help="Column(s) to report rates by (repeatable).")
    ] = None,
    base_url: BaseUrlOpt = None,
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    eval_id: EvalIdOpt = None,
    max_tokens: MaxTokensOpt = 200,
    concurrency: ConcurrencyOpt = 2,
    use_ray: RayOpt = None,
    actors: ActorsOpt = None,
) -> None:
    """Over-refusal (or any labelled prompt set): compliance / partial / full refusal rates per label."""
    categories = tuple(category or ())
    eid, store = _evaluate(
        "prompts",
        model,
        base_url=base_url,
        limit=limit,
        warehouse=warehouse,
        config=config,
        eval_id=eval_id,
        max_tokens=max_tokens,
        concurrency=concurrency,
        args={
            "file": file,
            "prompt_column": prompt_column,
            "label_column": label_column,
            "category_columns": categories,
        },
        use_ray=use_ray,
        actors=actors,
    )
    print_result(store.refusal(eid), "refusal rates by expected label")
    for c in categories:
        print_result(store.refusal(eid, c), f"refusal rates by {c}")


@app.command("judges")
def eval_judges(
    judge: Annotated[str, typer.Option(help="safety | satisfaction | refusal.")] = "safety",
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    eval_id: EvalIdOpt = None,
    concurrency: ConcurrencyOpt = 2,
) -> None:
    """Agreement of a judge (the config's risk / user roles) with the hand-written validation cases."""
    from evals.run import JUDGES

    if judge not in JUDGES:
        raise click.BadParameter(f"{judge!r}: use {', '.join(JUDGES)}", param_hint="--judge")
    eid, store = _evaluate(
        "judges",
        "replay",
        base_url=None,
        limit=limit,
        warehouse=warehouse,
        config=config,
        eval_id=eval_id,
        max_tokens=1,
        concurrency=concurrency,
        args={"judge": judge},
    )
    print_result(store.judge_agreement(eid), f"{judge} judge agreement")


@app.command("compare")
def eval_compare(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Two or more targets (repeat).")],
    task: Annotated[str, typer.Option(help="construction | strata-sword.")] = "construction",
    base_url: BaseUrlOpt = None,
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    max_tokens: MaxTokensOpt = 300,
    concurrency: ConcurrencyOpt = 2,
) -> None:
    """The same samples through several models (e.g. with and without a LoRA adapter), side by side."""
    if task not in ("construction", "strata-sword"):
        raise click.BadParameter(f"{task!r}: use construction or strata-sword", param_hint="--task")
    runs = [
        _evaluate(
            task,
            m,
            base_url=base_url,
            limit=limit,
            warehouse=warehouse,
            config=config,
            eval_id=None,
            max_tokens=max_tokens,
            concurrency=concurrency,
            args={},
        )
        for m in model
    ]
    ids, store = [eid for eid, _ in runs], runs[-1][1]
    if task == "construction":
        print_result(store.construction(ids), "Construction Score by model")
    else:
        for eid in ids:
            print_result(store.strata(eid, "overall"), f"{eid}: attack success rate")

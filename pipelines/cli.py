"""The `oyster` command line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.scenarios import bundled_path, load_scenarios
from schemas.config import ROLES, OysterConfig, load_config
from schemas.errors import OysterError
from warehouse import EXPORT_FORMATS, LATEST_VERSION, Warehouse
from warehouse.cache import cache_path_for

if TYPE_CHECKING:
    from pipelines.runner import RunSummary
    from warehouse.evaluation import EvalStore

# Commands import the agent stack (LangGraph, Ray, llama.cpp) only when they need it, so that
# `oyster sql` starts fast.

app = typer.Typer(
    help="Oyster: constructive safety-alignment data with Lingo-BP agent graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
scenarios_app = typer.Typer(help="Scenario files: check and synthesise.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")
eval_app = typer.Typer(
    help="Evaluate a model: Construction Score, Strata-Sword, over-refusal, judge validation.",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")
console = Console()


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse", "-w", help="DuckDB file [env OYSTER_WAREHOUSE, default ~/.oyster/warehouse.duckdb]."
    ),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every model call.")] = False,
) -> None:
    """Oyster command line."""
    if verbose:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(name)s %(message)s",
            datefmt="%H:%M:%S",
            stream=sys.stderr,
        )


def _config(path: Path | None, **overrides: Any) -> OysterConfig:
    return load_config(path, overrides)


def _warehouse(path: Path | None, config: OysterConfig | None = None) -> Warehouse:
    if path is not None:
        return Warehouse(path)
    if config is not None and config.warehouse:
        return Warehouse(config.warehouse)
    return Warehouse()


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """A rich bar for long work; yields `show(completed, detail)`."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        handle = bar.add_task(label, total=total, detail="")

        def show(completed: int, detail: str) -> None:
            bar.update(handle, completed=completed, detail=detail)

        yield show


# -- doctor ----------------------------------------------------------------------------------------
@app.command()
def doctor(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Show each role's backend and model, whether it is ready, and the warehouse."""
    from agents.backends import BackendError, make_backend
    from agents.prompting import PromptError, PromptLibrary

    cfg = _config(config)
    table = Table(title="Roles")
    for col in ("role", "backend", "model", "status"):
        table.add_column(col)
    problems = 0
    checked: dict[str, str] = {}
    for role in ROLES:
        rm = cfg.roles.get(role)
        key = rm.model_dump_json()
        if key not in checked:
            try:
                checked[key] = "[green]ready[/]: " + asyncio.run(make_backend(rm).check())
            except BackendError as exc:
                checked[key] = f"[red]not ready[/]: {exc}"
        problems += checked[key].startswith("[red]")
        table.add_row(role, rm.backend, rm.model, checked[key])
    console.print(table)
    try:
        PromptLibrary(cfg.prompts)
        console.print(f"prompts: [green]{len(PromptLibrary(cfg.prompts).templates)} templates valid[/]")
    except PromptError as exc:
        problems += 1
        console.print(f"prompts: [red]{exc}[/]")
    wh = _warehouse(warehouse, cfg)
    version = wh.migrate()
    console.print(f"warehouse: {wh.path} (schema version {version}, latest {LATEST_VERSION})")
    if problems:
        raise typer.Exit(1)


# -- sql / export ----------------------------------------------------------------------------------
@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="Read-only SQL (SELECT ...).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    warehouse: WarehouseOpt = None,
    max_width: Annotated[int, typer.Option(help="Truncate table cells to this many characters.")] = 80,
) -> None:
    """Run a read-only query against the warehouse (works while a pipeline is writing)."""
    if fmt not in ("table", "csv", "json"):
        raise click.BadParameter(f"unknown format '{fmt}' (use table, csv or json)", param_hint="--format")
    wh = _warehouse(warehouse)
    if not wh.path.exists():
        wh.migrate()  # a fresh, empty warehouse: the views exist and SELECT 1 works before any run
    result = wh.query(query)
    if fmt == "json":
        rows = [{c: _jsonable(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str, indent=1) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[_jsonable(v) for v in row] for row in result.rows])
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(*result.columns, caption=f"{len(result.rows)} row(s)")
        for row in result.rows:
            cells = []
            for v in row:
                s = "NULL" if v is None else str(v)
                cells.append(s if len(s) <= max_width else s[: max_width - 1] + "…")
            table.add_row(*cells)
        console.print(table)


@app.command()
def export(
    view: Annotated[str, typer.Option("--view", help="dpo, sft, risk, trajectories, or any table.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, parquet or csv.")] = "jsonl",
    where: Annotated[str | None, typer.Option(help="SQL condition to filter rows.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Export a view to JSONL / Parquet / CSV (TRL loads the dpo view as is)."""
    if fmt not in EXPORT_FORMATS:
        raise click.BadParameter(
            f"unknown format '{fmt}' (use {', '.join(EXPORT_FORMATS)})", param_hint="--format"
        )
    n = _warehouse(warehouse).export(view, fmt, out, where)
    console.print(f"wrote {n} row(s) of {view} to {out}")


# -- run -------------------------------------------------------------------------------------------
def run_command(
    scenarios: Path | None,
    limit: int | None,
    warehouse: Path | None,
    config: Path | None,
    prompts: Path | None,
    run_id: str | None,
    iterations: int | None,
    concurrency: int | None,
    use_ray: bool | None = None,
    actors: int | None = None,
    no_cache: bool = False,
) -> RunSummary:
    from agents.prompting import PromptLibrary
    from pipelines.distributed import RayPool, ensure_ray, should_use_ray
    from pipelines.runner import preflight, run_lingo_bp

    if run_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", run_id):
        raise click.BadParameter(
            f"{run_id!r}: use letters, digits and . _ : - (at most 128)", param_hint="--run-id"
        )
    cfg = _config(config, prompts=str(prompts) if prompts else None, concurrency=concurrency)
    if iterations is not None:
        cfg = cfg.model_copy(update={"lingo_bp": cfg.lingo_bp.model_copy(update={"iterations": iterations})})
        OysterConfig.model_validate(cfg.model_dump())
    PromptLibrary(cfg.prompts)  # validate every template before any model is called
    items = load_scenarios(scenarios)
    asyncio.run(preflight(cfg))
    if limit is not None:
        items = items[:limit]
    if no_cache:
        cfg = cfg.model_copy(update={"cache": False})
    if actors is not None:
        cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"actors": actors})})
    wh = _warehouse(warehouse, cfg)
    pool = None
    if should_use_ray(cfg, use_ray):
        ensure_ray(cfg)
        pool = RayPool(cfg, str(cache_path_for(wh.path)) if cfg.cache else None)
        console.print(
            f"Ray: {cfg.ray.actors} actor(s) x {cfg.ray.concurrency_per_actor} scenario(s) in flight"
        )
    console.print(
        f"Lingo-BP on {len(items)} scenario(s) from {scenarios or bundled_path()} -> {wh.path} "
        f"(leader {cfg.roles.leader.label()}, T={cfg.lingo_bp.iterations})"
    )
    with progress_bar("scenarios", len(items)) as show:

        def update(s: RunSummary) -> None:
            show(
                s.skipped + s.completed + s.failed,
                f"done {s.completed} · failed {s.failed} · pairs {s.pairs} · resumed {s.skipped}",
            )

        summary = asyncio.run(
            run_lingo_bp(
                cfg, items, wh, run_id=run_id, progress=update, command=" ".join(sys.argv), pool=pool
            )
        )
    console.print(
        f"run {summary.run_id}: {summary.completed} completed, {summary.failed} failed, "
        f"{summary.pairs} pair(s), {summary.skipped} already done, {summary.seconds:.1f} s"
    )
    return summary


@app.command()
def run(
    scenarios: Annotated[
        Path | None, typer.Option(help="JSONL/YAML scenario file [default: bundled].")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N scenarios.")] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    prompts: Annotated[Path | None, typer.Option(help="Folder of templates overriding bundled ones.")] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Resume or name a run; finished scenarios are skipped.")
    ] = None,
    iterations: Annotated[int | None, typer.Option(min=0, help="T max of Lingo-BP.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Scenarios in flight (in-process).")] = None,
    use_ray: Annotated[
        bool | None,
        typer.Option("--ray/--no-ray", help="Run on Ray actors [default: when a cluster address is set]."),
    ] = None,
    actors: Annotated[int | None, typer.Option(min=1, help="Ray actors.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not answer from the response cache.")
    ] = False,
) -> None:
    """Run the Lingo-BP pipeline and write trajectories and preference pairs to the warehouse."""
    run_command(
        scenarios,
        limit,
        warehouse,
        config,
        prompts,
        run_id,
        iterations,
        concurrency,
        use_ray,
        actors,
        no_cache,
    )


# -- train ---------------------------------------------------------------------------------------
@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the adapter (or full model).")],
    method: Annotated[str, typer.Option(help="dpo | orpo | sft.")] = "dpo",
    model: Annotated[
        str,
        typer.Option(help="Base: an embedded preset ('embedded' = default), a transformers dir or hub name."),
    ] = "embedded",
    where: Annotated[
        str | None, typer.Option(help='SQL condition on the view\'s columns, e.g. "margin > 0.3".')
    ] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    train_id: Annotated[str | None, typer.Option(help="Name of the training run in the warehouse.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimiser steps.")] = None,
    epochs: Annotated[float | None, typer.Option(help="Epochs over the selected examples.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full fine-tuning instead of LoRA.")] = False,
    ray_workers: Annotated[
        int, typer.Option(help="> 0: train data-parallel on that many Ray Train workers.")
    ] = 0,
    gpu: Annotated[bool, typer.Option("--gpu/--no-gpu", help="Ray Train workers use one GPU each.")] = False,
) -> None:
    """Fine-tune on the warehouse's pairs (dpo/orpo) or best safe replies (sft) with TRL; LoRA by default."""
    from pipelines.training import TrainError
    from pipelines.training import train as run_training
    from schemas.training import TrainMethod

    try:
        chosen = TrainMethod(method)
    except ValueError:
        raise TrainError(f"unknown --method '{method}' (use dpo, orpo or sft)") from None
    cfg = _config(config)
    updates: dict[str, Any] = {}
    if max_steps is not None:
        updates["max_steps"] = max_steps
    if epochs is not None:
        updates["epochs"] = epochs
    if learning_rate is not None:
        updates["learning_rate"] = learning_rate
    if full:
        updates["lora"] = None
    tcfg = cfg.train.model_validate({**cfg.train.model_dump(), **updates})
    wh = _warehouse(warehouse, cfg)
    kwargs: dict[str, Any] = {
        "method": chosen,
        "model": model,
        "out_dir": out.expanduser(),
        "warehouse": wh,
        "cfg": tcfg,
        "where": where,
        "train_id": train_id,
        "command": " ".join(sys.argv),
    }
    if ray_workers > 0:
        from pipelines.ray_train import train_on_ray

        result = train_on_ray(**kwargs, workers=ray_workers, use_gpu=gpu, on_stage=console.print)
    else:
        result = run_training(**kwargs, on_stage=console.print)
    steps = [m for m in result.metrics if "loss" in m]
    last = {k: v for k, v in (steps[-1] if steps else {}).items() if "/" in k or k == "loss"}
    console.print(
        f"{result.train_id}: {chosen.value} on {result.n_train} example(s) ({result.n_eval} held out) -> "
        f"{result.out_dir}"
        + (f"; adapter for the embedded backend: {result.adapter_gguf}" if result.adapter_gguf else "")
    )
    if last:
        console.print("last step: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))


# -- eval ----------------------------------------------------------------------------------------
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


def _print_result(result: Any, title: str) -> None:
    table = Table(title=title)
    for c in result.columns:
        table.add_column(str(c))
    for row in result.rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)


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
    from agents.graph import Agents
    from pipelines.distributed import RayPool, ensure_ray, should_use_ray
    from pipelines.evaluation import (
        EvalWorker,
        ReplayTarget,
        build_target,
        evaluate,
        load_task_samples,
        parse_model,
        scorers_for,
        spread,
    )
    from pipelines.runner import preflight
    from warehouse.evaluation import EvalStore

    cfg = _config(config)
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
    wh = _warehouse(warehouse, cfg)
    pool = None
    if should_use_ray(cfg, use_ray):
        if actors is not None:
            cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"actors": actors})})
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


@eval_app.command("construction")
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
    _print_result(store.construction([eid]), "Construction Score")


@eval_app.command("strata-sword")
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
        _print_result(store.strata(eid, by), f"attack success rate by {by}")


@eval_app.command("prompts")
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
    _print_result(store.refusal(eid), "refusal rates by expected label")
    for c in categories:
        _print_result(store.refusal(eid, c), f"refusal rates by {c}")


@eval_app.command("judges")
def eval_judges(
    judge: Annotated[str, typer.Option(help="safety | satisfaction | refusal.")] = "safety",
    limit: LimitOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    eval_id: EvalIdOpt = None,
    concurrency: ConcurrencyOpt = 2,
) -> None:
    """Agreement of a judge (the config's risk / user roles) with the hand-written validation cases."""
    from pipelines.evaluation import JUDGES

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
    _print_result(store.judge_agreement(eid), f"{judge} judge agreement")


@eval_app.command("compare")
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
        _print_result(store.construction(ids), "Construction Score by model")
    else:
        for eid in ids:
            _print_result(store.strata(eid, "overall"), f"{eid}: attack success rate")


# -- report ----------------------------------------------------------------------------------------
@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One self-contained HTML page of everything in the warehouse: evaluations, training, generated data."""
    from warehouse.report import write_report

    wh = _warehouse(warehouse, _config(config))
    sections = write_report(wh, out)
    console.print(f"wrote {out} ({', '.join(sections)})")


# -- scenarios -------------------------------------------------------------------------------------
@scenarios_app.command("check")
def scenarios_check(path: Annotated[Path, typer.Argument(help="Scenario file.")]) -> None:
    """Validate a scenario file and print counts."""
    items = load_scenarios(path)
    by: dict[str, int] = {}
    for s in items:
        level = s.risk_level.value if s.risk_level else "-"
        key = f"{s.language}/{level}/{s.user_type.value if s.user_type else '-'}"
        by[key] = by.get(key, 0) + 1
    console.print(f"{path}: {len(items)} valid scenario(s)")
    for k in sorted(by):
        console.print(f"  {k}: {by[k]}")


@scenarios_app.command("synth")
def scenarios_synth(
    n: Annotated[int, typer.Option("--n", min=1, help="Scenarios to generate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    config: ConfigOpt = None,
    language: Annotated[str, typer.Option(help="Comma-separated languages.")] = "en,zh",
    seed: Annotated[int, typer.Option(help="Seed for the category x persona schedule.")] = 0,
) -> None:
    """Ask the user-simulator model for new scenarios across categories x personas; duplicates removed."""
    from pipelines.synth import synthesise

    cfg = _config(config)
    made = asyncio.run(synthesise(cfg, n, out, languages=language.split(","), seed=seed, console=console))
    console.print(f"wrote {made} scenario(s) to {out}")


def _fail(message: str) -> None:
    # Plain write, not rich: an error is exactly one line however narrow the terminal.
    sys.stderr.write(" ".join(message.split()) + "\n")


def script_main(command: str, defaults: Sequence[tuple[tuple[str, ...], str]] = ()) -> None:
    """Entry of the scripts in pipelines/: `python pipelines/X.py ARGS` is `oyster COMMAND ARGS`.

    `defaults` adds a flag when none of its alternatives was given (e.g. `--ray` for the main job).
    """
    flags = ("--debug", "--verbose", "-v")
    args = sys.argv[1:]
    rest = [a for a in args if a not in flags]
    for alternatives, flag in defaults:
        if not any(a in rest for a in alternatives):
            rest.append(flag)
    sys.argv = [sys.argv[0], *[a for a in args if a in flags], *command.split(), *rest]
    main()


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            raise SystemExit(rc)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        _fail("aborted")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except OysterError as exc:
        if debug:
            raise
        _fail(f"error: {exc}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        _fail("interrupted: finished scenarios are in the warehouse; rerun with the same --run-id to resume")
        raise SystemExit(130) from None
    except Exception as exc:
        if debug:
            raise
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

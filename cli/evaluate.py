"""`oyster eval …`: one command per registered evaluation task (see evals/task.py), plus `compare`.

Each command is its task's own options plus the shared options below, declared once here; the work
is `evals.run.prepare` and `EvalPlan.run`, this module only shows it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from inspect import Parameter, Signature
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from cli.common import ConfigOpt, WarehouseOpt, console, load, open_warehouse, print_result, progress_bar
from evals.task import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_TOKENS,
    CliOption,
    EvalTask,
    Summary,
    TaskOptions,
    cli_options,
    tasks,
)

if TYPE_CHECKING:
    from evals.run import EvalSummary
    from warehouse.evaluation import EvalStore

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

#: the options every evaluation command shares: name -> (annotated type, default)
SHARED: dict[str, tuple[Any, Any]] = {
    "model": (ModelOpt, "embedded"),
    "base_url": (BaseUrlOpt, None),
    "limit": (LimitOpt, None),
    "warehouse": (WarehouseOpt, None),
    "config": (ConfigOpt, None),
    "eval_id": (EvalIdOpt, None),
    "max_tokens": (MaxTokensOpt, DEFAULT_MAX_TOKENS),
    "concurrency": (ConcurrencyOpt, DEFAULT_CONCURRENCY),
    "use_ray": (RayOpt, None),
    "actors": (ActorsOpt, None),
}
#: shared options that only mean something when the task has a target model
TARGET_ONLY = ("model", "base_url", "max_tokens")
#: option types the command line takes as they are; any other (e.g. a Literal) is read as text
PLAIN = (str, int, float, bool, Path, str | None, int | None, Path | None)


def _param(name: str, annotation: Any, default: Any = Parameter.empty) -> Parameter:
    return Parameter(name, Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _shared(skip: tuple[str, ...] = (), **defaults: Any) -> list[Parameter]:
    return [
        _param(name, kind, defaults.get(name, default))
        for name, (kind, default) in SHARED.items()
        if name not in skip
    ]


def _task_param(o: CliOption) -> Parameter:
    info = typer.Argument(help=o.help) if o.argument else typer.Option(o.flag, help=o.help)
    kind: Any
    default: Any
    if o.split:
        kind, default = str, ",".join(str(v) for v in o.default)
    elif o.repeat:
        kind, default = list[str] | None, None
    else:
        kind, default = (o.annotation if o.annotation in PLAIN else str), o.default
    return _param(o.field, Annotated[kind, info], Parameter.empty if o.required else default)


def _command(name: str, help: str, params: list[Parameter], body: Callable[[dict[str, Any]], None]) -> None:
    """Register `oyster eval NAME` with exactly `params` (typer reads the signature)."""

    def command(**values: Any) -> None:
        body(values)

    command.__signature__ = Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = help
    app.command(name)(command)


def _run(task: EvalTask[Any], options: TaskOptions, shared: dict[str, Any]) -> tuple[EvalSummary, EvalStore]:
    """Run one evaluation with a progress bar; returns its summary and the store it wrote to."""
    from evals.run import RunSettings, prepare
    from warehouse.evaluation import EvalStore

    cfg = load(shared["config"], {"ray.actors": shared["actors"]})
    wh = open_warehouse(shared["warehouse"], cfg)
    settings = RunSettings.model_validate(
        {k: v for k, v in shared.items() if k in RunSettings.model_fields} | {"command": " ".join(sys.argv)}
    )

    async def go() -> EvalSummary:
        plan = await prepare(task, options, cfg, settings, warehouse=wh)
        if plan.pool is not None:
            console.print(
                f"Ray: {cfg.ray.actors} actor(s) x {cfg.ray.concurrency_per_actor} sample(s) in flight"
            )
        source = f"{len(plan.samples)} sample(s) from {plan.dataset}"
        judged = "their stored verdicts, no model called" if plan.recorded else f"target {plan.target.label}"
        console.print(f"{task.name}: {source}, {judged} -> {wh.path}")
        with progress_bar(task.name, len(plan.samples)) as show:
            return await plan.run(
                wh,
                progress=lambda s: show(
                    s.skipped + s.scored + s.failed, f"scored {s.scored} · failed {s.failed}"
                ),
            )

    summary = asyncio.run(go())
    console.print(
        f"{summary.eval_id}: {summary.scored} scored, {summary.failed} failed, {summary.skipped} already done"
    )
    for line in summary.failures[:5]:
        console.print(f"  failed {line}")
    return summary, EvalStore(wh)


def _show(summaries: list[Summary]) -> None:
    for title, result in summaries:
        print_result(result, title)


def _task_command(task: EvalTask[Any]) -> None:
    own = cli_options(task.options_model)
    clash = [o.field for o in own if o.field in SHARED]
    if clash:
        raise ValueError(f"task '{task.name}': option {clash[0]!r} clashes with a shared eval option")
    # Shown in this order: the task's arguments, --model, the task's options, the rest.
    model = _shared(tuple(n for n in SHARED if n != "model")) if task.needs_target else []
    skip = ("model",) if task.needs_target else TARGET_ONLY
    params = [
        *(_task_param(o) for o in own if o.argument),
        *model,
        *(_task_param(o) for o in own if not o.argument),
        *_shared(skip, max_tokens=task.max_tokens),
    ]

    def body(values: dict[str, Any]) -> None:
        opts = task.parse({o.field: values[o.field] for o in own if values[o.field] is not None})
        summary, store = _run(task, opts, {k: v for k, v in values.items() if k in SHARED})
        _show(task.summaries(store, summary.eval_id, opts))

    _command(task.name, task.help, params, body)


def _compare_command() -> None:
    comparable = [t for t in tasks() if t.comparable]
    names = [t.name for t in comparable]
    params = [
        _param(
            "model",
            Annotated[list[str], typer.Option("--model", "-m", help="Two or more targets (repeat).")],
        ),
        _param("task", Annotated[str, typer.Option(help=" | ".join(names) + ".")], names[0]),
        *_shared(("model", "eval_id"), max_tokens=comparable[0].max_tokens),
    ]

    def body(values: dict[str, Any]) -> None:
        by_name = {t.name: t for t in comparable}
        task = by_name.get(values["task"])
        if task is None:
            raise click.BadParameter(f"{values['task']!r}: use {' or '.join(names)}", param_hint="--task")
        shared = {k: v for k, v in values.items() if k in SHARED}
        runs = [_run(task, task.parse({}), {**shared, "model": m, "eval_id": None}) for m in values["model"]]
        _show(task.comparison(runs[-1][1], [summary.eval_id for summary, _ in runs]))

    _command(
        "compare",
        "The same samples through several models (e.g. with and without a LoRA adapter), side by side.",
        params,
        body,
    )


for _task in tasks():
    _task_command(_task)
_compare_command()

"""`oyster train`: fine-tuning on the warehouse."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ConfigOpt, WarehouseOpt, console, existing_warehouse, load
from schemas.config import NULL

if TYPE_CHECKING:
    from schemas.training import TrainMethod
    from training.trainer import TrainResult


ModelOpt = Annotated[
    str, typer.Option(help="Base: an embedded preset ('embedded' = default), a transformers dir or hub name.")
]
WhereOpt = Annotated[
    str | None, typer.Option(help='SQL condition on the view\'s columns, e.g. "margin > 0.3".')
]
RayWorkersOpt = Annotated[int, typer.Option(help="> 0: train data-parallel on that many Ray Train workers.")]
TargetOpt = Annotated[
    str | None,
    typer.Option(help="reply | reasoning: train on the replies, or on the reasoning path then the reply."),
]
UntrustedOpt = Annotated[
    bool, typer.Option("--allow-untrusted", help="Also train on pairs whose judges were never validated.")
]


def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the adapter (or full model).")],
    method: Annotated[str, typer.Option(help="dpo | orpo | sft.")] = "dpo",
    model: ModelOpt = "embedded",
    where: WhereOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    train_id: Annotated[str | None, typer.Option(help="Name of the training run in the warehouse.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimiser steps.")] = None,
    epochs: Annotated[float | None, typer.Option(help="Epochs over the selected examples.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full fine-tuning instead of LoRA.")] = False,
    ray_workers: RayWorkersOpt = 0,
    gpu: Annotated[bool, typer.Option("--gpu/--no-gpu", help="Ray Train workers use one GPU each.")] = False,
    target: TargetOpt = None,
    allow_untrusted: UntrustedOpt = False,
) -> None:
    """Fine-tune on the warehouse's pairs (dpo/orpo) or best safe replies (sft) with TRL; LoRA by default."""
    from schemas.training import TrainMethod
    from training import TrainError
    from training.ray_executor import RayExecutor
    from training.trainer import train as run_training

    try:
        chosen = TrainMethod(method)
    except ValueError:
        raise TrainError(f"unknown --method '{method}' (use dpo, orpo or sft)") from None
    cfg = load(
        config,
        {
            "train.max_steps": max_steps,
            "train.epochs": epochs,
            "train.learning_rate": learning_rate,
            "train.lora": NULL if full else None,
            "train.target": target,
            "train.allow_untrusted": True if allow_untrusted else None,
        },
    )
    result = run_training(
        method=chosen,
        model=model,
        out_dir=out,
        warehouse=existing_warehouse(warehouse, cfg),
        cfg=cfg.train,
        where=where,
        train_id=train_id,
        command=" ".join(sys.argv),
        executor=RayExecutor(ray_workers, use_gpu=gpu) if ray_workers > 0 else None,
        on_stage=console.print,
    )
    _report(result, chosen)


def _report(result: TrainResult, chosen: TrainMethod) -> None:
    steps = [m for m in result.metrics if "loss" in m]
    last = {k: v for k, v in (steps[-1] if steps else {}).items() if "/" in k or k == "loss"}
    console.print(
        f"{result.train_id}: {chosen.value} on {result.n_train} example(s) ({result.n_eval} held out) -> "
        f"{result.out_dir}"
        + (f"; adapter for the embedded backend: {result.adapter_gguf}" if result.adapter_gguf else "")
    )
    if last:
        console.print("last step: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))

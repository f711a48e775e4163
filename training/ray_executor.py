"""Data-parallel fine-tuning on a Ray cluster with Ray Train's TorchTrainer (one or many GPUs / nodes).

The driver reads and splits the examples from the warehouse and is the only process that writes
it; every worker trains on its shard through the same TRL trainer as `oyster train`, and rank 0
saves the adapter and the logged metrics to `out_dir` (shared storage when workers span nodes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.training import TrainConfig, TrainMethod
from training.trainer import (
    TrainError,
    TrainResult,
    _require_train_extra,
    build_trainer,
    load_model,
    prepare_run,
    resolve_base,
    to_dataset,
)
from warehouse import Warehouse

METRICS_FILE = "metrics.jsonl"


def _worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    from ray.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer
    from transformers import TrainerCallback

    cfg = TrainConfig.model_validate(config["cfg"])
    method = TrainMethod(config["method"])
    out_dir = Path(config["out_dir"])
    rank = ray.train.get_context().get_world_rank()
    base = resolve_base(config["base_path"])
    model, tokenizer = load_model(base, cfg)
    logged: list[dict[str, Any]] = []

    class Collect(TrainerCallback):
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
        ) -> None:
            if logs:
                logged.append({"step": int(state.global_step), **logs})

    trainer = build_trainer(
        method,
        model,
        tokenizer,
        to_dataset(config["train_rows"], method),
        to_dataset(config["eval_rows"], method) if config["eval_rows"] else None,
        cfg,
        out_dir,
        callbacks=[Collect(), RayTrainReportCallback()],
    )
    trainer = prepare_trainer(trainer)
    trainer.train()
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        trainer.save_model(str(out_dir))
        tokenizer.save_pretrained(str(out_dir))
        with (out_dir / METRICS_FILE).open("w") as f:
            for row in logged:
                f.write(json.dumps(row) + "\n")


def train_on_ray(
    *,
    method: TrainMethod,
    model: str,
    out_dir: Path,
    warehouse: Warehouse,
    cfg: TrainConfig,
    workers: int,
    use_gpu: bool = False,
    where: str | None = None,
    train_id: str | None = None,
    command: str | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    _require_train_extra()
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    out_dir = out_dir.expanduser().resolve()
    plan = prepare_run(
        method,
        model,
        out_dir,
        warehouse,
        cfg,
        where,
        train_id or f"train-ray-{out_dir.name}",
        command,
        extra_config={"ray_workers": workers, "use_gpu": use_gpu},
    )
    store, train_id, base = plan.store, plan.train_id, plan.base
    train_rows, eval_rows = plan.train_rows, plan.eval_rows
    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    on_stage(f"Ray Train: {workers} worker(s){' with a GPU each' if use_gpu else ''}, {method.value}")
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={
            "cfg": cfg.model_dump(mode="json"),
            "method": method.value,
            "out_dir": str(out_dir),
            "base_path": base.path,
            "train_rows": _plain(train_rows),
            "eval_rows": _plain(eval_rows),
        },
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
        run_config=RunConfig(name=train_id, storage_path=str(out_dir / "ray")),
    )
    try:
        trainer.fit()
    except Exception as exc:
        store.finish(
            train_id, "failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        raise TrainError(
            f"Ray Train failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    metrics: list[dict[str, float]] = []
    metrics_path = out_dir / METRICS_FILE
    for line in metrics_path.read_text().splitlines() if metrics_path.exists() else []:
        row = json.loads(line)
        step = int(row.pop("step"))
        numeric = {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
        store.log_metrics(train_id, step, "train", numeric.items())
        metrics.append({"step": float(step), **numeric})
    store.finish(train_id, "completed")
    return TrainResult(train_id, out_dir, len(train_rows), len(eval_rows), metrics)


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as JSON-safe values (DuckDB structs come back as dicts already; this drops anything else)."""
    return [json.loads(json.dumps(r, default=str)) for r in rows]

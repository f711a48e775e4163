"""Data-parallel fine-tuning on a Ray cluster with Ray Train's TorchTrainer (one or many GPUs / nodes).

The driver plans and records the run (training.trainer.train) and is the only process that writes
the warehouse; every worker trains on its shard through the same TRL trainer as the local executor,
and rank 0 saves the adapter and the logged metrics to `out_dir` (shared storage when workers span
nodes), which the driver then records like a local run's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from training import TrainError
from training.plan import RecordStep, RunPlan
from training.trainer import make_trainer, save

METRICS_FILE = "metrics.jsonl"


def _worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    from ray.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer

    plan: RunPlan = config["plan"]
    logged: list[dict[str, Any]] = []
    trainer, tokenizer = make_trainer(
        plan, lambda step, logs: logged.append({"step": step, "logs": logs}), RayTrainReportCallback()
    )
    trainer = prepare_trainer(trainer)
    trainer.train()
    if ray.train.get_context().get_world_rank() == 0:
        save(trainer, tokenizer, plan.out_dir)
        with (plan.out_dir / METRICS_FILE).open("w") as f:
            for row in logged:
                f.write(json.dumps(row, default=str) + "\n")


@dataclass(frozen=True)
class RayExecutor:
    """Trains on `workers` Ray Train workers (one GPU each with `use_gpu`)."""

    workers: int
    use_gpu: bool = False

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"ray_workers": self.workers, "use_gpu": self.use_gpu}

    def fit(self, plan: RunPlan, record: RecordStep, on_stage: Callable[[str], None]) -> None:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        if not ray.is_initialized():
            ray.init(log_to_driver=False)
        gpus = " with a GPU each" if self.use_gpu else ""
        on_stage(f"Ray Train: {self.workers} worker(s){gpus}, {plan.method.value}")
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"plan": plan},
            scaling_config=ScalingConfig(num_workers=self.workers, use_gpu=self.use_gpu),
            run_config=RunConfig(name=plan.train_id, storage_path=str(plan.out_dir / "ray")),
        )
        try:
            trainer.fit()
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TrainError(f"Ray Train failed: {first}") from None
        for line in (plan.out_dir / METRICS_FILE).read_text().splitlines():
            row = json.loads(line)
            record(int(row["step"]), row["logs"])

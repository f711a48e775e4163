"""What a training run trains on what (`RunPlan`), and how its logged metrics reach the warehouse.

One plan serves both executors: the local one (training.trainer) and Ray Train
(training.ray_executor). Neither touches the warehouse; the run's bookkeeping is
`training.trainer.train`'s alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.backends.models import DEFAULT_PRESET, PRESETS
from schemas.training import TrainConfig, TrainMethod
from training import TrainError
from training.data import load_examples, split_examples
from training.gguf import export_preset_to_transformers, require_converter
from warehouse.training import TrainingStore

log = logging.getLogger("oyster.train")

#: the metrics TRL logs that say whether preference training works; shown with every step
KEY_METRICS = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")


@dataclass(frozen=True)
class BaseWeights:
    """Where the weights to train come from."""

    path: str  # a local transformers directory, or a hub name (needs network)
    label: str
    preset: str | None = None  # an embedded preset: the adapter can be converted and served


def _preset_name(model: str) -> str | None:
    if model == "embedded":
        return DEFAULT_PRESET
    name = model.removeprefix("embedded:")
    return name if name in PRESETS else None


def resolve_base(model: str) -> BaseWeights:
    preset = _preset_name(model)
    if preset is not None:
        return BaseWeights(str(export_preset_to_transformers(preset)), f"embedded:{preset}", preset)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise TrainError(f"{path}: not a transformers model directory (no config.json)")
        return BaseWeights(str(path), str(path))
    if path.suffix == ".gguf":
        raise TrainError(f"{model}: train from a preset name ({', '.join(PRESETS)}) or a transformers dir")
    return BaseWeights(model, model)


@dataclass(frozen=True)
class RunPlan:
    """Everything an executor needs, and nothing that holds a connection: it travels to Ray workers."""

    train_id: str
    method: TrainMethod
    base: BaseWeights
    cfg: TrainConfig
    out_dir: Path
    where: str | None
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]
    convert_adapter: bool  # a LoRA on an embedded preset becomes adapter.gguf for the embedded backend

    @property
    def splits(self) -> dict[str, Sequence[str]]:
        return {
            "train": [r["example_id"] for r in self.train_rows],
            "eval": [r["example_id"] for r in self.eval_rows],
        }


def make_plan(
    store: TrainingStore,
    method: TrainMethod,
    model: str,
    out_dir: Path,
    cfg: TrainConfig,
    where: str | None,
    train_id: str | None,
) -> RunPlan:
    """Read and split the examples and resolve the base: every user error surfaces before training starts."""
    rows = load_examples(store, method, where, cfg)
    train_rows, eval_rows = split_examples(rows, cfg.eval_fraction, cfg.seed)
    # Ray workers and a later conversion need a path that does not depend on their working directory.
    out_dir = out_dir.expanduser().resolve()
    train_id = train_id or f"train-{hashlib.sha256(f'{out_dir}:{method}:{where}'.encode()).hexdigest()[:10]}"
    convert = cfg.lora is not None and cfg.convert_adapter_to_gguf and _preset_name(model) is not None
    if convert:
        require_converter()  # before minutes of training, not after
    base = resolve_base(model)  # exports a preset once, before any worker loads it
    return RunPlan(train_id, method, base, cfg, out_dir, where, train_rows, eval_rows, convert)


#: called with (global step, the values TRL logged at it)
RecordStep = Callable[[int, Mapping[str, Any]], None]


@dataclass
class MetricsRecorder:
    """Writes each logged step to the warehouse as it arrives, eval_* values under the split "eval"."""

    store: TrainingStore
    train_id: str
    train_steps: list[dict[str, float]] = field(default_factory=list)

    def record(self, step: int, logs: Mapping[str, Any]) -> None:
        numeric = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
        evals = {k.removeprefix("eval_"): v for k, v in numeric.items() if k.startswith("eval_")}
        train = {k: v for k, v in numeric.items() if not k.startswith("eval_")}
        if train:
            self.store.log_metrics(self.train_id, step, "train", train.items())
            self.train_steps.append({"step": float(step), **train})
            shown = ", ".join(f"{k}={train[k]:.4g}" for k in KEY_METRICS if k in train)
            log.info("step %d: %s", step, shown or train)
        if evals:
            self.store.log_metrics(self.train_id, step, "eval", evals.items())


class Executor(Protocol):
    """Trains a plan and saves the adapter (or full model) and tokenizer into `plan.out_dir`."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """Recorded with the run's config (e.g. how many Ray workers)."""
        ...

    def fit(self, plan: RunPlan, record: RecordStep, on_stage: Callable[[str], None]) -> None: ...

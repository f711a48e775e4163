"""The fine-tuning step: warehouse views -> `datasets` -> TRL (DPO / ORPO / SFT) with a PEFT LoRA.

`train` is the one entry for both executors: it plans the run, records it in the warehouse, hands
the plan to an executor (`LocalExecutor` here, `RayExecutor` in training.ray_executor), converts a
preset's adapter to GGUF, and records how the run ended.

Heavy imports (torch, transformers, trl, peft) happen inside functions so that `oyster --help`
and the data pipeline never pay for them; they come with the `train` extra.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.training import TrainConfig, TrainMethod
from training import TrainError
from training.data import to_dataset
from training.gguf import clear_quantization, convert_adapter_to_gguf
from training.plan import BaseWeights, Executor, MetricsRecorder, RecordStep, RunPlan, make_plan
from warehouse import Warehouse
from warehouse.training import TrainingStore


@dataclass
class TrainResult:
    train_id: str
    out_dir: Path
    n_train: int
    n_eval: int
    metrics: list[dict[str, float]] = field(default_factory=list)
    adapter_gguf: Path | None = None


def require_train_extra() -> None:
    missing = []
    for module in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise TrainError(f"training needs {', '.join(missing)}: pip install 'oyster-csa[train]'")


# -- the model and the TRL trainer -----------------------------------------------------------------
def load_model(base: BaseWeights, cfg: TrainConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base.path)
        dtype = torch.bfloat16 if _use_bf16(cfg) else torch.float32
        model = AutoModelForCausalLM.from_pretrained(base.path, dtype=dtype)
    except OSError as exc:
        raise TrainError(f"cannot load model '{base.path}': {str(exc).splitlines()[0]}") from None
    clear_quantization(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise TrainError(f"{base.label}: the tokenizer has no chat template; train a chat model")
    return model, tokenizer


def _use_bf16(cfg: TrainConfig) -> bool:
    import torch

    if cfg.bf16 is not None:
        return cfg.bf16
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _peft_config(cfg: TrainConfig) -> Any:
    if cfg.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        task_type="CAUSAL_LM",
    )


def _forward_logs(record: RecordStep) -> Any:
    from transformers import TrainerCallback

    class ForwardLogs(TrainerCallback):
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
        ) -> None:
            if logs:
                record(int(state.global_step), logs)

    return ForwardLogs()


def build_trainer(plan: RunPlan, model: Any, tokenizer: Any, callbacks: Sequence[Any] = ()) -> Any:
    import torch

    cfg, method = plan.cfg, plan.method
    gpu = torch.cuda.is_available()
    common: dict[str, Any] = {
        "output_dir": str(plan.out_dir / "checkpoints"),
        "per_device_train_batch_size": cfg.batch_size,
        "per_device_eval_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "logging_steps": cfg.logging_steps,
        "save_strategy": "no",  # the final adapter is saved explicitly; no half-written checkpoints
        "report_to": [],
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "bf16": _use_bf16(cfg),
        "gradient_checkpointing": cfg.gradient_checkpointing
        if cfg.gradient_checkpointing is not None
        else gpu,
        "use_cpu": not gpu,
        "max_length": cfg.max_length,
        "dataloader_num_workers": 0,
        "eval_strategy": "epoch" if plan.eval_rows else "no",
        "disable_tqdm": True,
    }
    peft_config = _peft_config(cfg)
    kwargs: dict[str, Any] = {
        "model": model,
        "train_dataset": to_dataset(plan.train_rows, method),
        "eval_dataset": to_dataset(plan.eval_rows, method) if plan.eval_rows else None,
        "processing_class": tokenizer,
        "callbacks": list(callbacks),
        "peft_config": peft_config,
    }
    if method is TrainMethod.DPO:
        from trl import DPOConfig, DPOTrainer

        # Without a PEFT adapter the reference is a frozen copy; TRL would otherwise reload it by
        # name, which fails offline for a model that came from a GGUF file.
        ref_model = None
        if peft_config is None:
            import copy

            ref_model = copy.deepcopy(model).eval()
        return DPOTrainer(ref_model=ref_model, args=DPOConfig(beta=cfg.beta, **common), **kwargs)
    if method is TrainMethod.ORPO:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOTrainer(args=ORPOConfig(beta=cfg.beta, **common), **kwargs)
    from trl import SFTConfig, SFTTrainer

    return SFTTrainer(args=SFTConfig(**common), **kwargs)


def make_trainer(plan: RunPlan, record: RecordStep, *callbacks: Any) -> tuple[Any, Any]:
    """The TRL trainer for a plan, every logged step handed to `record`; and the tokenizer."""
    model, tokenizer = load_model(plan.base, plan.cfg)
    return build_trainer(plan, model, tokenizer, [_forward_logs(record), *callbacks]), tokenizer


def save(trainer: Any, tokenizer: Any, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


class LocalExecutor:
    """Trains in this process, on its GPU when there is one."""

    settings: Mapping[str, Any] = {}

    def fit(self, plan: RunPlan, record: RecordStep, on_stage: Callable[[str], None]) -> None:
        trainer, tokenizer = make_trainer(plan, record)
        on_stage(f"training {plan.method.value} on {len(plan.train_rows)} example(s)")
        trainer.train()
        save(trainer, tokenizer, plan.out_dir)


# -- the run -----------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def train(
    *,
    method: TrainMethod,
    model: str,
    out_dir: Path,
    warehouse: Warehouse,
    cfg: TrainConfig,
    where: str | None = None,
    train_id: str | None = None,
    command: str | None = None,
    executor: Executor | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    """Plan, record and run one training run with `executor` (in this process when None)."""
    require_train_extra()
    executor = executor or LocalExecutor()
    on_stage(f"loading {model}")
    store = TrainingStore(warehouse)
    plan = make_plan(store, method, model, out_dir, cfg, where, train_id)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    store.start(
        plan.train_id,
        method=method.value,
        base_model=plan.base.label,
        out_dir=str(plan.out_dir),
        view=method.source(cfg.target),
        where=where,
        splits=plan.splits,
        config={**cfg.model_dump(mode="json"), **executor.settings},
        command=command,
    )
    recorder = MetricsRecorder(store, plan.train_id)
    adapter_gguf = None
    try:
        executor.fit(plan, recorder.record, on_stage)
        info = {
            "train_id": plan.train_id,
            "method": method.value,
            "base_model": plan.base.label,
            "preset": plan.base.preset,
        }
        (plan.out_dir / "oyster_train.json").write_text(json.dumps(info, indent=2))
        if plan.convert_adapter:
            on_stage("converting the adapter to GGUF")
            adapter_gguf = convert_adapter_to_gguf(plan.out_dir, Path(plan.base.path))
    except BaseException as exc:
        store.finish(plan.train_id, "failed", error=_one_line(exc))
        raise
    store.finish(plan.train_id, "completed", adapter_gguf=str(adapter_gguf) if adapter_gguf else None)
    n_train, n_eval = len(plan.train_rows), len(plan.eval_rows)
    return TrainResult(plan.train_id, plan.out_dir, n_train, n_eval, recorder.train_steps, adapter_gguf)

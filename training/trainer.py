"""The fine-tuning step: warehouse views -> `datasets` -> TRL (DPO / ORPO / SFT) with a PEFT LoRA.

Heavy imports (torch, transformers, trl, peft) happen inside functions so that `oyster --help`
and the data pipeline never pay for them; they come with the `train` extra.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.backends.models import DEFAULT_PRESET, PRESETS, ensure_model, model_cache_dir
from schemas.errors import OysterError
from schemas.training import TrainConfig, TrainMethod
from warehouse import Warehouse
from warehouse.training import TrainingStore

log = logging.getLogger("oyster.train")

#: the metrics TRL logs that say whether preference training works; stored with every step
KEY_METRICS = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")


class TrainError(OysterError, RuntimeError):
    """A user-facing training problem; str() is one line."""


@dataclass(frozen=True)
class BaseWeights:
    """Where the weights to train come from."""

    path: str  # a local transformers directory, or a hub name (needs network)
    label: str
    preset: str | None = None  # an embedded preset: the adapter can be converted and served


@dataclass
class TrainResult:
    train_id: str
    out_dir: Path
    n_train: int
    n_eval: int
    metrics: list[dict[str, float]] = field(default_factory=list)
    adapter_gguf: Path | None = None


# -- the base model ------------------------------------------------------------------------------
def _require_train_extra() -> None:
    missing = []
    for module in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise TrainError(f"training needs {', '.join(missing)}: pip install 'oyster-csa[train]'")


def _preset_name(model: str) -> str | None:
    name = model.removeprefix("embedded:") if model.startswith("embedded:") else model
    if model == "embedded":
        return DEFAULT_PRESET
    return name if name in PRESETS else None


def hf_dir_for_preset(preset: str) -> Path:
    return model_cache_dir() / "hf" / preset


def export_preset_to_transformers(preset: str) -> Path:
    """Load the preset's GGUF into transformers once and save it as safetensors (later loads take seconds).

    transformers dequantises GGUF weights to float on load but still marks the model as quantized,
    and TRL refuses to train a quantized model: the markers are cleared before saving.
    """
    out = hf_dir_for_preset(preset)
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = ensure_model(preset)
    log.info("converting %s to transformers format in %s (once)", gguf, out)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _clear_quantization(model)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # a crash mid-save never leaves a half-written model that looks complete
    return out


def _clear_quantization(model: Any) -> None:
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


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


def load_model(base: BaseWeights, cfg: TrainConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base.path)
        dtype = torch.bfloat16 if _use_bf16(cfg) else torch.float32
        model = AutoModelForCausalLM.from_pretrained(base.path, dtype=dtype)
    except OSError as exc:
        raise TrainError(f"cannot load model '{base.path}': {str(exc).splitlines()[0]}") from None
    _clear_quantization(model)
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


# -- data ----------------------------------------------------------------------------------------
def split_examples(
    rows: Sequence[dict[str, Any]], eval_fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reproducible split: order by a seeded hash of the example id, hold out the first share."""

    def rank(row: dict[str, Any]) -> str:
        return hashlib.sha256(f"{seed}:{row['example_id']}".encode()).hexdigest()

    ordered = sorted(rows, key=rank)
    n_eval = round(len(ordered) * eval_fraction)
    if eval_fraction > 0 and len(ordered) > 1:
        n_eval = max(1, min(n_eval, len(ordered) - 1))
    return ordered[n_eval:], ordered[:n_eval]


def _messages(value: Any) -> list[dict[str, str]]:
    data = json.loads(value) if isinstance(value, str) else value
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in data]


def to_dataset(rows: Sequence[dict[str, Any]], method: TrainMethod) -> Any:
    """TRL's conversational format: prompt as messages, chosen / rejected / completion as messages."""
    from datasets import Dataset

    columns = ("prompt", "completion") if method is TrainMethod.SFT else ("prompt", "chosen", "rejected")
    return Dataset.from_list([{c: _messages(r[c]) for c in columns} for r in rows])


# -- training ------------------------------------------------------------------------------------
def _metrics_callback(store: TrainingStore, train_id: str, sink: list[dict[str, float]]) -> Any:
    from transformers import TrainerCallback

    class RecordMetrics(TrainerCallback):
        """Writes every logged value to the warehouse as it is logged, so a crash keeps what ran."""

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
        ) -> None:
            if not logs:
                return
            numeric = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
            evals = {k.removeprefix("eval_"): v for k, v in numeric.items() if k.startswith("eval_")}
            train = {k: v for k, v in numeric.items() if not k.startswith("eval_")}
            step = int(state.global_step)
            if train:
                store.log_metrics(train_id, step, "train", train.items())
                sink.append({"step": float(step), **train})
                shown = ", ".join(f"{k}={train[k]:.4g}" for k in KEY_METRICS if k in train)
                log.info("step %d: %s", step, shown or train)
            if evals:
                store.log_metrics(train_id, step, "eval", evals.items())

    return RecordMetrics()


def _peft_config(cfg: TrainConfig, method: TrainMethod) -> Any:
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


def build_trainer(
    method: TrainMethod,
    model: Any,
    tokenizer: Any,
    train_ds: Any,
    eval_ds: Any | None,
    cfg: TrainConfig,
    out_dir: Path,
    callbacks: Sequence[Any] = (),
    ref_model: Any | None = None,
) -> Any:
    import torch

    gpu = torch.cuda.is_available()
    common: dict[str, Any] = {
        "output_dir": str(out_dir / "checkpoints"),
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
        "eval_strategy": "epoch" if eval_ds is not None else "no",
        "disable_tqdm": True,
    }
    peft_config = _peft_config(cfg, method)
    kwargs: dict[str, Any] = {
        "model": model,
        "train_dataset": train_ds,
        "eval_dataset": eval_ds,
        "processing_class": tokenizer,
        "callbacks": list(callbacks),
        "peft_config": peft_config,
    }
    if method is TrainMethod.DPO:
        from trl import DPOConfig, DPOTrainer

        # Without a PEFT adapter the reference is a frozen copy; TRL would otherwise reload it by
        # name, which fails offline for a model that came from a GGUF file.
        if peft_config is None and ref_model is None:
            import copy

            ref_model = copy.deepcopy(model).eval()
        return DPOTrainer(ref_model=ref_model, args=DPOConfig(beta=cfg.beta, **common), **kwargs)
    if method is TrainMethod.ORPO:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOTrainer(args=ORPOConfig(beta=cfg.beta, **common), **kwargs)
    from trl import SFTConfig, SFTTrainer

    return SFTTrainer(args=SFTConfig(**common), **kwargs)


@dataclass
class RunPlan:
    """What a training run will see, already recorded in the warehouse before the first step."""

    base: BaseWeights
    store: TrainingStore
    train_id: str
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]


def prepare_run(
    method: TrainMethod,
    model: str,
    out_dir: Path,
    warehouse: Warehouse,
    cfg: TrainConfig,
    where: str | None,
    train_id: str | None,
    command: str | None,
    extra_config: dict[str, Any] | None = None,
) -> RunPlan:
    store = TrainingStore(warehouse)
    rows = store.examples(method.view, where)
    if not rows:
        cond = f" matching {where!r}" if where else ""
        raise TrainError(f"no rows in view '{method.view}'{cond} in {warehouse.path}: nothing to train on")
    train_rows, eval_rows = split_examples(rows, cfg.eval_fraction, cfg.seed)
    train_id = train_id or f"train-{hashlib.sha256(f'{out_dir}:{method}:{where}'.encode()).hexdigest()[:10]}"
    base = resolve_base(model)  # converts a preset once, before any worker loads it
    out_dir.mkdir(parents=True, exist_ok=True)
    store.start(
        train_id,
        method=method.value,
        base_model=base.label,
        out_dir=str(out_dir),
        view=method.view,
        where=where,
        splits={"train": [r["example_id"] for r in train_rows], "eval": [r["example_id"] for r in eval_rows]},
        config={**cfg.model_dump(mode="json"), **(extra_config or {})},
        command=command,
    )
    return RunPlan(base, store, train_id, train_rows, eval_rows)


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
    on_stage: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    _require_train_extra()
    on_stage(f"loading {model}")
    plan = prepare_run(method, model, out_dir, warehouse, cfg, where, train_id, command)
    base, store, train_id = plan.base, plan.store, plan.train_id
    train_rows, eval_rows = plan.train_rows, plan.eval_rows
    metrics: list[dict[str, float]] = []
    try:
        hf_model, tokenizer = load_model(base, cfg)
        trainer = build_trainer(
            method,
            hf_model,
            tokenizer,
            to_dataset(train_rows, method),
            to_dataset(eval_rows, method) if eval_rows else None,
            cfg,
            out_dir,
            callbacks=[_metrics_callback(store, train_id, metrics)],
        )
        on_stage(f"training {method.value} on {len(train_rows)} example(s)")
        trainer.train()
        trainer.save_model(str(out_dir))
        tokenizer.save_pretrained(str(out_dir))
        (out_dir / "oyster_train.json").write_text(
            json.dumps(
                {
                    "train_id": train_id,
                    "method": method.value,
                    "base_model": base.label,
                    "preset": base.preset,
                },
                indent=2,
            )
        )
        adapter_gguf = None
        if cfg.lora is not None and cfg.convert_adapter_to_gguf and base.preset is not None:
            on_stage("converting the adapter to GGUF")
            adapter_gguf = convert_adapter_to_gguf(out_dir, Path(base.path))
    except BaseException as exc:
        store.finish(
            train_id, "failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        raise
    store.finish(train_id, "completed", adapter_gguf=str(adapter_gguf) if adapter_gguf else None)
    return TrainResult(train_id, out_dir, len(train_rows), len(eval_rows), metrics, adapter_gguf)


# -- closing the loop: LoRA adapter -> GGUF for the embedded backend ------------------------------
_LLAMA_CPP_FILES = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def llama_cpp_tools() -> Path:
    """llama.cpp's conversion scripts, taken from the llama-cpp-python source distribution on PyPI.

    They are not in the wheel; the sdist of the installed version is fetched once with pip and the
    scripts are unpacked into the model cache.
    """
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        raise TrainError(
            "converting an adapter needs llama-cpp-python: pip install 'oyster-csa[embedded]'"
        ) from None
    dest = model_cache_dir() / f"llama.cpp-tools-{version}"
    if (dest / "convert_lora_to_gguf.py").exists():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"llama-cpp-python=={version}",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            tmp,
            "-q",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            tail = (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise TrainError(f"cannot fetch the llama-cpp-python {version} sdist for its converters: {tail}")
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(sdists[0]) as tar:
            prefix = f"{sdists[0].name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
            members = [
                m
                for m in tar.getmembers()
                if m.name.startswith(prefix) and m.name[len(prefix) :].startswith(_LLAMA_CPP_FILES)
            ]
            for m in members:
                m.name = m.name[len(prefix) :]
            tar.extractall(partial, members=members, filter="data")
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    return dest


def convert_adapter_to_gguf(adapter_dir: Path, base_dir: Path) -> Path:
    tools = llama_cpp_tools()
    out = adapter_dir / "adapter.gguf"
    cmd = [
        sys.executable,
        str(tools / "convert_lora_to_gguf.py"),
        "--base",
        str(base_dir),
        "--outtype",
        "f16",
        "--outfile",
        str(out),
        str(adapter_dir),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tools)})
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise TrainError(f"convert_lora_to_gguf failed for {adapter_dir}: {tail}")
    return out

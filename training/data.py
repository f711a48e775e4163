"""Training examples: rows of the warehouse's `dpo` / `sft` views, a reproducible split, TRL datasets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from schemas.training import TrainConfig, TrainMethod
from training import TrainError
from warehouse.training import TrainingStore


def load_examples(
    store: TrainingStore, method: TrainMethod, where: str | None, cfg: TrainConfig
) -> list[dict[str, Any]]:
    """The rows to train on: trusted ones, unless ``cfg.allow_untrusted``; untrusted rows alone are
    refused in one line that says why they are untrusted."""
    if cfg.target == "reasoning" and method is TrainMethod.SFT:
        raise TrainError("--target reasoning trains on pairs: use --method dpo or orpo")
    view = method.source(cfg.target)
    rows = store.examples(view, where)
    cond = f" matching {where!r}" if where else ""
    if not rows:
        raise TrainError(f"no rows in view '{view}'{cond} in {store.wh.path}: nothing to train on")
    if cfg.allow_untrusted:
        return rows
    trusted = [r for r in rows if r["trusted"]]
    if not trusted:
        reasons = sorted({str(r["trust_reason"]) for r in rows})
        raise TrainError(
            f"all {len(rows)} row(s) of '{view}'{cond} are untrusted ({'; '.join(reasons)[:300]}): "
            "validate the judges with `oyster eval judges`, or pass --allow-untrusted"
        )
    return trusted


def split_examples(
    rows: Sequence[dict[str, Any]], eval_fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reproducible split by prompt: prompts are ordered by a seeded hash of the prompt and the first
    share held out, so a prompt's examples (from several runs, or several pairs) share one split."""

    def rank(key: str) -> str:
        return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()

    keys = sorted({str(r["prompt_key"]) for r in rows}, key=rank)
    n_eval = round(len(keys) * eval_fraction)
    if eval_fraction > 0 and len(keys) > 1:
        n_eval = max(1, min(n_eval, len(keys) - 1))
    held = set(keys[:n_eval])
    ordered = sorted(rows, key=lambda r: (rank(str(r["prompt_key"])), str(r["example_id"])))
    return [r for r in ordered if r["prompt_key"] not in held], [
        r for r in ordered if r["prompt_key"] in held
    ]


def _messages(value: Any) -> list[dict[str, str]]:
    data = json.loads(value) if isinstance(value, str) else value
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in data]


def to_dataset(rows: Sequence[dict[str, Any]], method: TrainMethod) -> Any:
    """TRL's conversational format: prompt as messages, chosen / rejected / completion as messages."""
    from datasets import Dataset

    columns = ("prompt", "completion") if method is TrainMethod.SFT else ("prompt", "chosen", "rejected")
    return Dataset.from_list([{c: _messages(r[c]) for c in columns} for r in rows])

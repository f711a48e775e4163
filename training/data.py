"""Training examples: rows of the warehouse's `dpo` / `sft` views, a reproducible split, TRL datasets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from schemas.training import TrainMethod
from training import TrainError
from warehouse.training import TrainingStore


def load_examples(store: TrainingStore, method: TrainMethod, where: str | None) -> list[dict[str, Any]]:
    rows = store.examples(method.view, where)
    if not rows:
        cond = f" matching {where!r}" if where else ""
        raise TrainError(f"no rows in view '{method.view}'{cond} in {store.wh.path}: nothing to train on")
    return rows


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

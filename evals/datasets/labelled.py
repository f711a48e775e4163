"""Labelled prompt sets (CSV or JSONL): each prompt with the expected behaviour, "answer" or "refuse"."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.datasets.files import EvalSetError, bundled, cell_text, table_records
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage


def bundled_over_refusal_path() -> Path:
    return bundled("over_refusal_sample.jsonl")


def load_prompt_set(
    path: Path,
    prompt_column: str = "prompt",
    label_column: str | None = "label",
    answer_labels: Sequence[str] = ("answer", "comply", "safe", "1", "true"),
    refuse_labels: Sequence[str] = ("refuse", "unsafe", "0", "false"),
    id_column: str | None = None,
    category_columns: Sequence[str] = (),
) -> list[EvalSample]:
    """Prompts from a CSV or JSONL file, with the label normalised to target "answer" or "refuse".

    Labels match case-insensitively; `label_column=None` reads an unlabelled set (target None). Metadata
    holds `category_columns`, or, when none are named, every other string-valued column; plus "file".
    Without `id_column`, ids are "{file stem}-{nnnn}" in file order.
    """
    p = Path(path)
    needed = [c for c in (prompt_column, label_column, id_column, *category_columns) if c is not None]
    records = table_records(p, needed)
    answers = {s.strip().casefold() for s in answer_labels}
    refusals = {s.strip().casefold() for s in refuse_labels}
    if answers & refusals:
        both = ", ".join(sorted(answers & refusals))
        raise EvalSetError(f"{p}: labels listed as both answer and refuse: {both}")
    reserved = {prompt_column, label_column, id_column}
    samples: list[EvalSample] = []
    seen_ids: set[str] = set()
    for n, record in records:
        prompt = _prompt(record, prompt_column, f"{p}:{n}")
        target = (
            None if label_column is None else _target(record, label_column, answers, refusals, f"{p}:{n}")
        )
        if id_column is not None:
            sample_id = cell_text(record[id_column])
            if not sample_id:
                raise EvalSetError(f"{p}:{n}: empty id in {id_column!r}")
        else:
            sample_id = f"{p.stem}-{len(samples) + 1:04d}"
        if sample_id in seen_ids:
            raise EvalSetError(f"{p}:{n}: duplicate id {sample_id!r}")
        seen_ids.add(sample_id)
        metadata = {"file": p.name}
        if category_columns:
            metadata.update({c: cell_text(record[c]) for c in category_columns})
        else:
            metadata.update({k: v for k, v in record.items() if k not in reserved and isinstance(v, str)})
        samples.append(
            EvalSample(
                id=sample_id,
                messages=[ChatMessage(role="user", content=prompt)],
                target=target,
                metadata=metadata,
            )
        )
    if not samples:
        raise EvalSetError(f"{p}: no prompts in file")
    return samples


def _prompt(record: dict[str, Any], column: str, where: str) -> str:
    """The record's prompt, which must be non-blank text."""
    prompt = record[column]
    if not isinstance(prompt, str):
        raise EvalSetError(f"{where}: prompt {column!r} is {type(prompt).__name__}, not text")
    if not prompt.strip():
        raise EvalSetError(f"{where}: empty prompt")
    return prompt


def _target(record: dict[str, Any], column: str, answers: set[str], refusals: set[str], where: str) -> str:
    """The record's label as "answer" or "refuse"; a label in neither set is an error."""
    label = cell_text(record[column])
    if label.casefold() in answers:
        return "answer"
    if label.casefold() in refusals:
        return "refuse"
    expected = ", ".join(sorted(answers)) + " | " + ", ".join(sorted(refusals))
    raise EvalSetError(f"{where}: unknown label {label!r} in {column!r} (expected {expected})")

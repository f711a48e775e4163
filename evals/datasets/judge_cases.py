"""Labelled judge cases from any CSV or JSONL file: a query, a response and the verdict a judge should give,
the file's own label names mapped onto the judge's classes (e.g. `1_full_compliance` -> compliance)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from evals.datasets.files import EvalSetError, cell_text, table_records
from schemas.evaluation import EvalSample
from schemas.files import read_user_text
from schemas.messages import ChatMessage

_MAP_SUFFIXES = (".yaml", ".yml", ".json")
#: where the expected verdict is when no column is named: `label`, or `expected` as in the bundled
#: judge_validation files, so that a copy of a bundled file is read as it is
LABEL_COLUMNS = ("label", "expected")


def parse_label_map(spec: str | None, flag: str = "--label-map") -> tuple[dict[str, str], str]:
    """`a=b,c=d`, or a YAML / JSON file holding a mapping: (file label -> class, where it was given).
    The classes are checked when the cases are read."""
    if not spec:
        return {}, flag
    if Path(spec).suffix.lower() in _MAP_SUFFIXES:
        path = Path(spec)
        text = read_user_text(path, "label-map file", EvalSetError)
        try:
            # BaseLoader keeps every scalar a string: YAML 1.1 would read a label "yes" or "no" as a boolean.
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, yaml.BaseLoader)
        except (json.JSONDecodeError, yaml.YAMLError):
            raise EvalSetError(f"{path}: not valid {path.suffix.lstrip('.').upper()}") from None
        if not isinstance(data, dict) or not data:
            raise EvalSetError(f"{path}: expected a mapping of file label to class")
        return {cell_text(k): cell_text(v) for k, v in data.items()}, str(path)
    out: dict[str, str] = {}
    for item in spec.split(","):
        label, sep, name = item.partition("=")
        if not sep or not label.strip() or not name.strip():
            raise EvalSetError(f"{flag} {spec!r}: {item.strip()!r} is not LABEL=CLASS")
        out[label.strip()] = name.strip()
    return out, flag


def _resolver(classes: Sequence[str], label_map: Mapping[str, str], source: str) -> dict[str, str]:
    """Every accepted label (casefolded) -> its class: the classes themselves, then the mapping."""
    known = {c.casefold(): c for c in classes}
    out = dict(known)
    for label, name in label_map.items():
        if name.casefold() not in known:
            raise EvalSetError(
                f"{source}: {label!r} maps to {name!r}, which is not one of {', '.join(classes)}"
            )
        out[label.casefold()] = known[name.casefold()]
    return out


def _default_label_column(record: Mapping[str, Any], where: str) -> str:
    """The first of LABEL_COLUMNS the record has; a record with none of them is an error."""
    column = next((c for c in LABEL_COLUMNS if c in record), None)
    if column is None:
        have = ", ".join(repr(k) for k in record) or "none"
        raise EvalSetError(
            f"{where}: no column {' or '.join(map(repr, LABEL_COLUMNS))} (columns: {have}; "
            "name another with --label-column)"
        )
    return column


def load_judge_cases(
    path: Path,
    classes: Sequence[str],
    *,
    query_column: str = "query",
    response_column: str = "response",
    label_column: str | None = None,
    label_map: Mapping[str, str] | None = None,
    label_map_source: str = "--label-map",
    id_column: str | None = None,
) -> list[EvalSample]:
    """Cases whose target is one of `classes` and whose `metadata["response"]` is the reply to judge.

    Labels match case-insensitively, directly or through `label_map`; any other label is an error naming
    file:line. Without `label_column` the label is in `label` or, as in the bundled files, `expected`.
    Metadata also keeps the file's other text columns (e.g. `kind`, `language`) and the label as
    written. Without `id_column`, ids are "{file stem}-{nnnn}" in file order.
    """
    p = Path(path)
    accepted = _resolver(classes, label_map or {}, label_map_source)
    needed = [c for c in (query_column, response_column, label_column, id_column) if c is not None]
    reserved = set(needed) | ({*LABEL_COLUMNS} if label_column is None else set())
    samples: list[EvalSample] = []
    seen: set[str] = set()
    for n, record in table_records(p, needed):
        column = label_column or _default_label_column(record, f"{p}:{n}")
        query, response = cell_text(record[query_column]), cell_text(record[response_column])
        if not query:
            raise EvalSetError(f"{p}:{n}: empty query in {query_column!r}")
        if not response:
            raise EvalSetError(f"{p}:{n}: empty response in {response_column!r}")
        label = cell_text(record[column])
        target = accepted.get(label.casefold())
        if target is None:
            mapped = f"; mapped: {', '.join(label_map)}" if label_map else ""
            raise EvalSetError(
                f"{p}:{n}: unknown label {label!r} in {column!r} "
                f"(expected {', '.join(classes)}{mapped}; map others with {label_map_source})"
            )
        sample_id = cell_text(record[id_column]) if id_column else f"{p.stem}-{len(samples) + 1:04d}"
        if not sample_id or sample_id in seen:
            raise EvalSetError(f"{p}:{n}: {'duplicate' if sample_id else 'empty'} id {sample_id!r}")
        seen.add(sample_id)
        others = {k: v.strip() for k, v in record.items() if k not in reserved and isinstance(v, str)}
        samples.append(
            EvalSample(
                id=sample_id,
                messages=[ChatMessage(role="user", content=query)],
                target=target,
                metadata={**others, "file": p.name, "label": label, "response": response},
            )
        )
    if not samples:
        raise EvalSetError(f"{p}: no cases in file")
    return samples

"""What every evaluation-set loader shares: the error, the bundled data folder, and record readers.

Every problem is an `EvalSetError` whose str() is one line naming the file (and row or line) and what is
wrong.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from schemas.errors import OysterError
from schemas.files import read_user_text


class EvalSetError(OysterError, ValueError):
    """An evaluation-set file problem; str() is one line naming the file, the row/line and the problem."""


def bundled(name: str) -> Path:
    """A file or folder under evals/datasets/data/."""
    return Path(str(resources.files("evals.datasets").joinpath("data", name)))


def read_text(path: Path) -> str:
    # utf-8-sig: spreadsheet tools commonly prepend a BOM to exported CSV.
    return read_user_text(path, "prompt-set file", EvalSetError, encoding="utf-8-sig")


def csv_records(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row by column name) of each non-empty record; the header must hold `required`."""
    reader = csv.reader(read_text(path).splitlines(keepends=True))
    try:
        header = next(reader, None)
        if header is None:
            raise EvalSetError(f"{path}: empty file (expected a header row)")
        header = [h.strip() for h in header]
        # Checked on the header so a missing column is reported once, at line 1, even for a header-only file.
        missing = [c for c in required if c not in header]
        if missing:
            have = ", ".join(repr(h) for h in header)
            raise EvalSetError(f"{path}:{reader.line_num}: no column {missing[0]!r} (columns: {have})")
        end = reader.line_num
        for values in reader:
            # A quoted field may span lines; report the line the record starts on.
            start, end = end + 1, reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise EvalSetError(f"{path}:{start}: expected {len(header)} fields, got {len(values)}")
            yield start, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        raise EvalSetError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-empty line."""
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise EvalSetError(f"{path}:{n}: expected a JSON object, got {type(item).__name__}")
        yield n, item


_CSV_SUFFIXES = (".csv",)
_JSONL_SUFFIXES = (".jsonl", ".json-lines")


def cell_text(value: Any) -> str:
    """A cell as text: JSON booleans read as "true"/"false", null as empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip()


def table_records(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) of a CSV or JSONL file, chosen by suffix; every record holds the `required` columns."""
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        records = csv_records(path, required)
    elif suffix in _JSONL_SUFFIXES:
        records = jsonl_records(path)
    else:
        expected = ", ".join(_CSV_SUFFIXES + _JSONL_SUFFIXES)
        given = path.suffix or "(no suffix)"
        raise EvalSetError(f"{path}: unsupported file type {given!r} (expected {expected})")
    for n, record in records:
        missing = [c for c in required if c not in record]
        if missing:
            have = ", ".join(repr(k) for k in record) or "none"
            raise EvalSetError(f"{path}:{n}: no column {missing[0]!r} (columns: {have})")
        yield n, record

"""Evaluation sets: the bundled Strata-Sword benchmark (xlsx, as published) and labelled CSV/JSONL sets.

Every loader returns `EvalSample`s with one user message; every problem is an `EvalSetError` whose str() is
one line naming the file (and row or line) and what is wrong.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from schemas.errors import OysterError
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage


class EvalSetError(OysterError, ValueError):
    """An evaluation-set file problem; str() is one line naming the file, the row/line and the problem."""


# --------------------------------------------------------------------------------------------- Strata-Sword

# Language as callers and metadata name it -> the token in the published file names (upstream says "cn").
_LANG_FILE_TOKEN = {"en": "en", "zh": "cn", "cn": "cn"}
_LANG_CANONICAL = {"en": "en", "zh": "zh", "cn": "zh"}

# Published sizes (commit bd278b9); kept here so tests and callers can check a bundled copy is complete.
STRATA_SWORD_COUNTS: dict[tuple[str, int], int] = {
    ("en", 1): 100,
    ("en", 2): 100,
    ("en", 3): 200,
    ("zh", 1): 100,
    ("zh", 2): 100,
    ("zh", 3): 100,
}

# Header names seen in (or plausible for) the published files, normalised by `_norm_header`. The upstream
# files disagree: level 1 says "jailbreak instruction" / "risk type", levels 2-3 say "攻击指令" / "风险分类",
# even in the English files, so columns are found by name rather than by position or by one spelling.
_PROMPT_HEADERS = (
    "jailbreak instruction",
    "攻击指令",
    "越狱指令",
    "prompt",
    "instruction",
    "query",
    "指令",
    "问题",
)
_ATTACK_HEADERS = ("attack method", "攻击方法", "攻击方式", "attack", "attack type", "jailbreak method")
_CATEGORY_HEADERS = ("risk type", "风险分类", "风险类型", "risk category", "category", "类别")

# Level-1 rows are plain requests; upstream writes the string "None" in their attack-method cells.
_NO_ATTACK = "none"


def bundled_strata_sword_dir() -> Path:
    return Path(str(resources.files("evals.datasets").joinpath("data/strata_sword")))


def bundled_over_refusal_path() -> Path:
    return Path(str(resources.files("evals.datasets").joinpath("data/over_refusal_sample.jsonl")))


def strata_sword_filename(language: str, level: int) -> str:
    return f"strata_sword_{_LANG_FILE_TOKEN[language]}_level_{level}.xlsx"


def _norm_header(value: object) -> str:
    if value is None:
        return ""
    return " ".join(str(value).replace("_", " ").replace("-", " ").split()).casefold()


def _find_column(header: Sequence[str], names: Sequence[str]) -> int | None:
    # Preference follows `names`, so a file with both "prompt" and "jailbreak instruction" uses the latter.
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _cell_text(row: Sequence[Any], index: int | None) -> str:
    if index is None or index >= len(row) or row[index] is None:
        return ""
    return str(row[index])


def _read_xlsx_rows(path: Path) -> tuple[str, int, list[str], list[tuple[int, tuple[Any, ...]]]]:
    """(sheet, header row, normalised header, [(row, values)]) of the first sheet with a prompt column."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise EvalSetError(f"{path}: file not found") from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise EvalSetError(f"{path}: not a readable xlsx file ({type(exc).__name__})") from None
    try:
        seen: list[str] = []
        for ws in wb.worksheets:
            # A read-only row generator left half-read keeps the zip member, and so the file, open.
            with closing(ws.iter_rows(values_only=True)) as rows:
                for n, values in enumerate(rows, 1):
                    if all(v is None or str(v).strip() == "" for v in values):
                        continue
                    header = [_norm_header(v) for v in values]
                    if _find_column(header, _PROMPT_HEADERS) is None:
                        shown = ", ".join(repr(str(v)) for v in values if v is not None)
                        seen.append(f"sheet '{ws.title}': {shown}")
                        break
                    body = [(m, tuple(v)) for m, v in enumerate(rows, n + 1)]
                    return ws.title, n, header, body
                else:
                    seen.append(f"sheet '{ws.title}': empty")
    finally:
        wb.close()
    found = "; ".join(seen) or "no sheets"
    raise EvalSetError(
        f"{path}: no prompt column (looked for {', '.join(repr(h) for h in _PROMPT_HEADERS)}; found {found})"
    )


def _load_strata_file(path: Path, language: str, level: int) -> list[EvalSample]:
    sheet, header_row, header, body = _read_xlsx_rows(path)
    prompt_col = _find_column(header, _PROMPT_HEADERS)
    attack_col = _find_column(header, _ATTACK_HEADERS)
    category_col = _find_column(header, _CATEGORY_HEADERS)
    if attack_col is None and level > 1:
        raise EvalSetError(
            f"{path}: sheet '{sheet}' row {header_row}: no attack-method column for a level-{level} file "
            f"(looked for {', '.join(repr(h) for h in _ATTACK_HEADERS)})"
        )
    samples: list[EvalSample] = []
    for row_no, values in body:
        if all(v is None or str(v).strip() == "" for v in values):
            continue  # xlsx files often carry formatted-but-empty trailing rows
        prompt = _cell_text(values, prompt_col)
        if not prompt.strip():
            raise EvalSetError(f"{path}: sheet '{sheet}' row {row_no}: empty prompt")
        attack = _cell_text(values, attack_col).strip()
        if level == 1 and attack.casefold() in ("", _NO_ATTACK):
            attack = _NO_ATTACK
        elif not attack or attack.casefold() == _NO_ATTACK:
            raise EvalSetError(
                f"{path}: sheet '{sheet}' row {row_no}: empty attack method in a level-{level} file"
            )
        metadata = {
            "benchmark": "strata-sword",
            "language": language,
            "level": str(level),
            "attack_method": attack,
            "file": path.name,
        }
        # The published risk-type column is empty; an absent key is more honest than a made-up category.
        category = _cell_text(values, category_col).strip()
        if category:
            metadata["category"] = category
        samples.append(
            EvalSample(
                id=f"strata-{language}-l{level}-{len(samples) + 1:04d}",
                # Kept verbatim: a multi-turn attack is published as one cell, so it is sent as one turn.
                messages=[ChatMessage(role="user", content=prompt)],
                metadata=metadata,
            )
        )
    if not samples:
        raise EvalSetError(f"{path}: sheet '{sheet}': no prompts below the header row")
    return samples


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def load_strata_sword(
    directory: Path | None = None,
    languages: Sequence[str] = ("en", "zh"),
    levels: Sequence[int] = (1, 2, 3),
) -> list[EvalSample]:
    """Strata-Sword prompts from the published xlsx files, in language then level order.

    Ids are "strata-{en|zh}-l{level}-{nnnn}", numbered by data row within each file, so they stay stable for
    an unchanged file. `languages` accepts "cn" as an alias of "zh".
    """
    root = Path(directory) if directory is not None else bundled_strata_sword_dir()
    for lang in languages:
        if lang not in _LANG_FILE_TOKEN:
            raise EvalSetError(f"{root}: unknown Strata-Sword language {lang!r} (expected 'en' or 'zh')")
    for level in levels:
        if level not in (1, 2, 3):
            raise EvalSetError(f"{root}: unknown Strata-Sword level {level!r} (expected 1, 2 or 3)")
    samples: list[EvalSample] = []
    for lang in _unique(_LANG_CANONICAL[x] for x in languages):
        for level in _unique(levels):
            samples.extend(_load_strata_file(root / strata_sword_filename(lang, level), lang, level))
    return samples


# --------------------------------------------------------------------------------------- labelled prompt sets

_CSV_SUFFIXES = (".csv",)
_JSONL_SUFFIXES = (".jsonl", ".json-lines")


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: spreadsheet tools commonly prepend a BOM to exported CSV.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalSetError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise EvalSetError(f"{path}: is a directory, not a prompt-set file") from None
    except UnicodeDecodeError:
        raise EvalSetError(f"{path}: not UTF-8 text") from None


def _csv_records(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(_read_text(path).splitlines(keepends=True))
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


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise EvalSetError(f"{path}:{n}: expected a JSON object, got {type(item).__name__}")
        yield n, item


def _label_text(value: Any) -> str:
    # JSON booleans arrive as True/False; compare them as the strings "true"/"false".
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip()


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
    suffix = p.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        records = _csv_records(p, needed)
    elif suffix in _JSONL_SUFFIXES:
        records = _jsonl_records(p)
    else:
        expected = ", ".join(_CSV_SUFFIXES + _JSONL_SUFFIXES)
        raise EvalSetError(f"{p}: unsupported file type {p.suffix or '(no suffix)'!r} (expected {expected})")
    answers = {s.strip().casefold() for s in answer_labels}
    refusals = {s.strip().casefold() for s in refuse_labels}
    if answers & refusals:
        both = ", ".join(sorted(answers & refusals))
        raise EvalSetError(f"{p}: labels listed as both answer and refuse: {both}")
    reserved = {prompt_column, label_column, id_column}
    samples: list[EvalSample] = []
    seen_ids: set[str] = set()
    for n, record in records:
        missing = [c for c in needed if c not in record]
        if missing:
            have = ", ".join(repr(k) for k in record) or "none"
            raise EvalSetError(f"{p}:{n}: no column {missing[0]!r} (columns: {have})")
        prompt = record[prompt_column]
        if not isinstance(prompt, str):
            raise EvalSetError(f"{p}:{n}: prompt {prompt_column!r} is {type(prompt).__name__}, not text")
        if not prompt.strip():
            raise EvalSetError(f"{p}:{n}: empty prompt")
        target: str | None = None
        if label_column is not None:
            label = _label_text(record[label_column])
            if label.casefold() in answers:
                target = "answer"
            elif label.casefold() in refusals:
                target = "refuse"
            else:
                expected = ", ".join(sorted(answers)) + " | " + ", ".join(sorted(refusals))
                raise EvalSetError(
                    f"{p}:{n}: unknown label {label!r} in {label_column!r} (expected {expected})"
                )
        if id_column is not None:
            sample_id = _label_text(record[id_column])
            if not sample_id:
                raise EvalSetError(f"{p}:{n}: empty id in {id_column!r}")
        else:
            sample_id = f"{p.stem}-{len(samples) + 1:04d}"
        if sample_id in seen_ids:
            raise EvalSetError(f"{p}:{n}: duplicate id {sample_id!r}")
        seen_ids.add(sample_id)
        metadata = {"file": p.name}
        if category_columns:
            metadata.update({c: _label_text(record[c]) for c in category_columns})
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

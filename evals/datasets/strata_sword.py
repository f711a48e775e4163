"""The Strata-Sword benchmark, read from its xlsx files as published (bundled copy by default)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from evals.datasets.files import EvalSetError, bundled
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage

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
    return bundled("strata_sword")


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
    # Imported here: every `oyster` command loads the task registry, few read a workbook.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

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

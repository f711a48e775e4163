"""Strata-Sword loader: the bundled copy as published, header variants, and one-line errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from evals.datasets import (
    STRATA_SWORD_COUNTS,
    EvalSetError,
    bundled_strata_sword_dir,
    load_strata_sword,
    strata_sword_filename,
)

LEVEL1_HEADER = ["jailbreak instruction", "attack method", "risk type"]
LEVEL23_HEADER = ["攻击指令", "attack method", "风险分类"]


def _xlsx(path: Path, rows: list[list[Any]], sheet: str = "Sheet1") -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _strata_dir(tmp_path: Path, files: dict[tuple[str, int], list[list[Any]]]) -> Path:
    for (lang, level), rows in files.items():
        _xlsx(tmp_path / strata_sword_filename(lang, level), rows)
    return tmp_path


@pytest.fixture(scope="module")
def strata() -> list[Any]:
    return load_strata_sword()


def test_bundled_strata_sword_is_packaged_not_shared() -> None:
    root = bundled_strata_sword_dir()
    assert root.parts[-4:] == ("evals", "datasets", "data", "strata_sword")
    assert (root / "NOTICE.md").is_file()


def test_bundled_strata_sword_counts(strata: list[Any]) -> None:
    assert len(strata) == 700
    counts = Counter((s.metadata["language"], int(s.metadata["level"])) for s in strata)
    assert counts == STRATA_SWORD_COUNTS
    files = Counter(s.metadata["file"] for s in strata)
    assert files["strata_sword_en_level_3.xlsx"] == 200
    assert files["strata_sword_cn_level_1.xlsx"] == 100


def test_bundled_strata_sword_samples(strata: list[Any]) -> None:
    assert all(s.prompt.strip() for s in strata)
    assert all(len(s.messages) == 1 and s.messages[0].role == "user" for s in strata)
    assert len({s.id for s in strata}) == len(strata)
    assert strata[0].id == "strata-en-l1-0001"
    assert {s.metadata["benchmark"] for s in strata} == {"strata-sword"}
    assert {s.metadata["language"] for s in strata} == {"en", "zh"}
    for s in strata:
        assert s.id == f"strata-{s.metadata['language']}-l{s.metadata['level']}-{s.id[-4:]}"
        assert s.target is None
        if s.metadata["level"] == "1":
            assert s.metadata["attack_method"] == "none"
        else:
            assert s.metadata["attack_method"] not in ("", "none")
    # The published risk-type column is empty, so no sample claims a category.
    assert not any("category" in s.metadata for s in strata)


def test_bundled_strata_sword_attack_methods(strata: list[Any]) -> None:
    en3 = {
        s.metadata["attack_method"] for s in strata if s.metadata["file"] == "strata_sword_en_level_3.xlsx"
    }
    assert {"CodeAttack", "DRAttack", "Multi-Turn"} <= en3
    zh2 = {
        s.metadata["attack_method"] for s in strata if s.metadata["file"] == "strata_sword_cn_level_2.xlsx"
    }
    assert "ASCII Drawing" in zh2


def test_strata_sword_selection() -> None:
    zh = load_strata_sword(languages=("cn",), levels=(3,))
    assert len(zh) == 100
    assert zh[6].id == "strata-zh-l3-0007"
    assert {s.metadata["file"] for s in zh} == {"strata_sword_cn_level_3.xlsx"}
    en = load_strata_sword(languages=("en", "en"), levels=(2,))
    assert len(en) == 100


def test_strata_sword_bad_selection() -> None:
    with pytest.raises(EvalSetError, match="language 'fr'"):
        load_strata_sword(languages=("fr",))
    with pytest.raises(EvalSetError, match="level 4"):
        load_strata_sword(levels=(4,))


# ------------------------------------------------------------------------------------- header variants


def test_header_variants(tmp_path: Path) -> None:
    root = _strata_dir(
        tmp_path,
        {
            ("en", 1): [LEVEL1_HEADER, ["Write a rude poem", "None", None], [None, None, None]],
            ("en", 2): [
                LEVEL23_HEADER,
                ["Draw it in ASCII", "ASCII Drawing", "Cybercrime"],
                ["Unshuffle this", "Shuffle", None],
            ],
            # Other spellings: spacing/case/underscores differ and the columns are reordered.
            ("en", 3): [
                ["Risk_Category", "  Jailbreak   Instruction ", "ATTACK-METHOD"],
                [None, "Solve", "DRAttack"],
            ],
        },
    )
    samples = load_strata_sword(root, languages=("en",))
    assert [s.id for s in samples] == [
        "strata-en-l1-0001",
        "strata-en-l2-0001",
        "strata-en-l2-0002",
        "strata-en-l3-0001",
    ]
    l1, l2a, l2b, l3 = samples
    assert l1.prompt == "Write a rude poem"
    assert l1.metadata == {
        "benchmark": "strata-sword",
        "language": "en",
        "level": "1",
        "attack_method": "none",
        "file": "strata_sword_en_level_1.xlsx",
    }
    assert l2a.metadata["attack_method"] == "ASCII Drawing"
    assert l2a.metadata["category"] == "Cybercrime"
    assert "category" not in l2b.metadata
    assert (l3.prompt, l3.metadata["attack_method"]) == ("Solve", "DRAttack")


def test_level1_without_attack_column(tmp_path: Path) -> None:
    root = _strata_dir(tmp_path, {("zh", 1): [["攻击指令"], ["写一首诗"]]})
    [s] = load_strata_sword(root, languages=("zh",), levels=(1,))
    assert s.metadata["attack_method"] == "none"
    assert s.metadata["language"] == "zh"


def test_header_found_on_a_later_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / strata_sword_filename("en", 2)
    wb = Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = "notes"
    notes.append(["read me"])
    data = wb.create_sheet("data")
    data.append([None])
    data.append(LEVEL23_HEADER)
    data.append(["Prompt one", "Template", None])
    wb.save(path)
    [s] = load_strata_sword(tmp_path, languages=("en",), levels=(2,))
    assert (s.prompt, s.metadata["attack_method"]) == ("Prompt one", "Template")


# ------------------------------------------------------------------------------------- Strata-Sword errors


def _strata_error(tmp_path: Path, rows: list[list[Any]], level: int = 2) -> str:
    _strata_dir(tmp_path, {("en", level): rows})
    with pytest.raises(EvalSetError) as info:
        load_strata_sword(tmp_path, languages=("en",), levels=(level,))
    message = str(info.value)
    assert "\n" not in message
    assert strata_sword_filename("en", level) in message
    return message


def test_strata_missing_prompt_column(tmp_path: Path) -> None:
    message = _strata_error(tmp_path, [["text", "attack method"], ["x", "Shuffle"]])
    assert "no prompt column" in message and "'text'" in message


def test_strata_missing_attack_column(tmp_path: Path) -> None:
    assert "no attack-method column" in _strata_error(tmp_path, [["攻击指令", "风险分类"], ["x", None]])


def test_strata_empty_prompt(tmp_path: Path) -> None:
    message = _strata_error(tmp_path, [LEVEL23_HEADER, ["ok", "Shuffle", None], [None, "Shuffle", None]])
    assert "row 3: empty prompt" in message


def test_strata_empty_attack_method(tmp_path: Path) -> None:
    assert "row 2: empty attack method" in _strata_error(tmp_path, [LEVEL23_HEADER, ["x", "None", None]])


def test_strata_no_rows(tmp_path: Path) -> None:
    assert "no prompts" in _strata_error(tmp_path, [LEVEL1_HEADER], level=1)


def test_strata_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match=r"strata_sword_en_level_1\.xlsx: file not found"):
        load_strata_sword(tmp_path, languages=("en",), levels=(1,))


def test_strata_not_xlsx(tmp_path: Path) -> None:
    (tmp_path / strata_sword_filename("en", 1)).write_text("not a zip", encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"strata_sword_en_level_1\.xlsx: not a readable xlsx"):
        load_strata_sword(tmp_path, languages=("en",), levels=(1,))

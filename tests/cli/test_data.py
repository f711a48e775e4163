"""`oyster sql` and `oyster export` against hostile input (items 6 and 7 of issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_app import assert_one_line_error, oyster
from tests.conftest import scripted_pairs


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return scripted_pairs(tmp_path / "pairs.duckdb", 2).path


def test_06_explain_analyze_copy_writes_nothing(pairs: Path, tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    before = pairs.read_bytes()
    for sql in (
        "EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO 'pwn.csv'",
        "WITH x AS (COPY (SELECT 42 AS x) TO 'pwn.csv') SELECT 1",
    ):  # the other refusals: tests/warehouse/test_sql_guard.py
        assert_one_line_error(oyster("sql", sql, "--warehouse", str(pairs), cwd=work), "refused")
    assert list(work.iterdir()) == []
    assert pairs.read_bytes() == before


def test_07_export_where_cannot_fabricate_rows(pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "dpo.jsonl"
    attack = "1=0) UNION ALL SELECT * FROM dpo WHERE (1=1"
    p = oyster("export", "--view", "dpo", "--out", str(out), "--where", attack, "--warehouse", str(pairs))
    assert_one_line_error(p, "--where: refused")
    assert not out.exists()
    readme = "pair_id IN (SELECT pair_id FROM dpo ORDER BY margin DESC LIMIT 1)"
    p = oyster("export", "--view", "dpo", "--out", str(out), "--where", readme, "--warehouse", str(pairs))
    assert p.returncode == 0, p.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1

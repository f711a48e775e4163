"""Items 6 and 7 of issue 11: user SQL is judged on DuckDB's own parse tree before the file is opened."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import scripted_pairs
from warehouse import Warehouse, WarehouseError
from warehouse.sql_guard import check_read_only, view_select

REFUSED_SQL = [
    "EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO 'pwn.csv'",
    "/* a comment first */ EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO 'pwn.csv'",
    "COPY (SELECT 42 AS x) TO 'pwn.csv'",
    "WITH x AS (COPY (SELECT 42 AS x) TO 'pwn.csv') SELECT 1",
    "SELECT 1; COPY (SELECT 42 AS x) TO 'pwn.csv'",
    "SELECT 1; SELECT 2",
    "ATTACH 'pwn.duckdb' AS pwn",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "CALL read_text('/etc/hostname')",
    "CHECKPOINT",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM 'pwn.csv'",
    "SELECT (SELECT content FROM read_text('/etc/hostname')) AS leak",
    "DESCRIBE SELECT * FROM read_text('/etc/hostname')",
]


@pytest.mark.parametrize("sql", REFUSED_SQL)
def test_06_oyster_sql_refuses_anything_but_a_read_only_select(sql: str) -> None:
    with pytest.raises(WarehouseError) as exc:
        check_read_only(sql)
    message = str(exc.value)
    assert message.startswith(("refused:", "SQL error:")) and "\n" not in message, message


def test_06_refused_statements_write_nothing(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = warehouse.path.read_bytes()
    monkeypatch.chdir(tmp_path)  # where a relative COPY target would land
    for sql in REFUSED_SQL:
        with pytest.raises(WarehouseError):
            warehouse.query(sql)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wh.duckdb"]
    assert warehouse.path.read_bytes() == before


def test_06_plain_selects_still_answer(warehouse: Warehouse) -> None:
    q = warehouse.query
    assert q("SELECT count(*) FROM runs").rows == [(0,)]
    assert q("EXPLAIN ANALYZE SELECT count(*) FROM dpo").columns
    assert ("dpo",) in [r[:1] for r in q("SHOW TABLES").rows]
    assert "margin" in [r[0] for r in q("DESCRIBE dpo").rows]
    assert q("SELECT sum(i) FROM range(4) t(i)").rows == [(6,)]
    assert q("SELECT count(*) > 0 FROM duckdb_tables()").rows == [(True,)]
    assert q("WITH r AS (SELECT run_id FROM runs) SELECT count(*) FROM r").rows == [(0,)]


def test_06_the_query_connection_reaches_no_other_file(warehouse: Warehouse, tmp_path: Path) -> None:
    # Behind the parser: even a statement it let through could not write or read another file.
    target = tmp_path / "pwn.csv"
    with warehouse.connect(read_only=True, sandboxed=True) as con:
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 42 AS x) TO '{target}'")
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_text('/etc/hostname')")
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
    assert not target.exists()


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("1=0) UNION ALL SELECT * FROM dpo WHERE (1=1", "adds to the SELECT"),
        ("1=0 UNION ALL SELECT 'fabricated'", "syntax error"),
        ("1=1) ORDER BY (margin", "adds to the SELECT"),
        ("1=1) GROUP BY ALL HAVING (1=1", "adds to the SELECT"),
        ("1=1); DROP TABLE runs; SELECT (1", "adds a statement"),
        ("pair_id IN (SELECT content FROM read_text('/etc/hostname'))", "read_text()"),
        ("EXISTS (SELECT * FROM read_text('/etc/hostname'))", "read_text()"),
        ("pair_id IN (SELECT run_id FROM runs)", "it reads runs"),
        ("pair_id IN (SELECT pair_id FROM main.dpo)", "it reads main.dpo"),
        ("pair_id IN (SELECT i::VARCHAR FROM range(3) t(i))", "range()"),
    ],
)
def test_07_where_is_refused_unless_it_only_filters_the_view(where: str, needle: str) -> None:
    with pytest.raises(WarehouseError) as exc:
        view_select("dpo", where)
    message = str(exc.value)
    assert message.startswith("--where: ") and needle in message and "\n" not in message, message


def test_07_where_over_the_view_itself_is_kept() -> None:
    readme = "pair_id IN (SELECT pair_id FROM dpo ORDER BY margin DESC LIMIT 16)"
    assert view_select("dpo", readme) == f'SELECT * FROM "dpo" WHERE ({readme})'
    assert view_select("dpo", "margin > 0.3") == 'SELECT * FROM "dpo" WHERE (margin > 0.3)'
    assert view_select("dpo", None) == 'SELECT * FROM "dpo"'


def test_07_export_where_fabricates_no_rows(tmp_path: Path) -> None:
    wh = scripted_pairs(tmp_path / "w.duckdb", 2)
    pairs = [r[0] for r in wh.query("SELECT pair_id FROM dpo ORDER BY pair_id").rows]
    out = tmp_path / "first.jsonl"
    first = "pair_id IN (SELECT pair_id FROM dpo ORDER BY pair_id LIMIT 1)"
    assert wh.export("dpo", "jsonl", out, where=first) == 1
    assert pairs[0] in out.read_text(encoding="utf-8")
    # a trailing line comment ends at the line break the export puts after the condition
    assert wh.export("dpo", "jsonl", tmp_path / "all.jsonl", where="margin > 0.3) --") == len(pairs)
    for attack in ("1=0) UNION ALL SELECT * FROM dpo WHERE (1=1", "EXISTS (FROM read_text('/etc/hostname'))"):
        with pytest.raises(WarehouseError, match="--where: refused"):
            wh.export("dpo", "jsonl", tmp_path / "attack.jsonl", where=attack)
    assert not (tmp_path / "attack.jsonl").exists()

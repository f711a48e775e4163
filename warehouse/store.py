"""The DuckDB store: connections, migrations, rows inserted by column name, read-only queries, export."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from schemas.errors import OysterError
from schemas.records import utcnow

DEFAULT_PATH = "~/.oyster/warehouse.duckdb"
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
EXPORT_FORMATS = {"jsonl": "(FORMAT json)", "parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)"}

Row = Mapping[str, Any]


class WarehouseError(OysterError, RuntimeError):
    """A user-facing warehouse problem; str() is one line."""


def default_path() -> Path:
    return Path(os.environ.get("OYSTER_WAREHOUSE", DEFAULT_PATH)).expanduser()


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for f in resources.files("warehouse").joinpath("sql").iterdir():
        if f.name.endswith(".sql") and f.name[:3].isdigit():
            out.append((int(f.name[:3]), f.name, f.read_text(encoding="utf-8")))
    return sorted(out)


LATEST_VERSION = max(v for v, _, _ in _migrations())


def _is_lock_error(exc: BaseException) -> bool:
    if not isinstance(exc, duckdb.IOException):
        return False
    msg = str(exc)
    return "lock" in msg.lower() and ("Could not set lock" in msg or "Conflicting lock" in msg)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[Row],
    *,
    verb: str = "INSERT",
    on_conflict: str = "",
) -> None:
    """Insert rows keyed by column name; the table's column order never matters.

    Values are converted to the table's own Arrow types (a dict becomes a MAP where the column is one),
    and a key that names no column is an error rather than a value stored under another column.
    """
    if not rows:
        return
    names = list(dict.fromkeys(k for row in rows for k in row))
    schema = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
    unknown = [n for n in names if schema.get_field_index(n) < 0]
    if unknown:
        raise WarehouseError(f"table {table} has no column {', '.join(map(repr, unknown))}")
    # Bulk insert through Arrow: DuckDB's executemany runs one statement per row.
    batch = pa.Table.from_pylist(list(rows), schema=pa.schema([schema.field(n) for n in names]))
    # Not unregistered on failure: that would raise again inside the aborted transaction and hide why.
    con.register("batch_rows", batch)
    con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM batch_rows {on_conflict}")
    con.unregister("batch_rows")


class Store:
    """One DuckDB file. Writers hold it for one short transaction at a time so readers can get in between."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.lock_timeout_s = lock_timeout_s

    # -- connections -----------------------------------------------------------------------------
    @contextmanager
    def connect(self, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            raise WarehouseError(
                f"{self.path}: no warehouse here yet (run a pipeline or `oyster doctor` first)"
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB allows one writer and no readers beside it: wait for the other process's short
        # transaction to end, with jittered backoff, up to lock_timeout_s.
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_error),
            wait=wait_random_exponential(multiplier=0.02, max=0.5),
            stop=stop_after_delay(self.lock_timeout_s),
            reraise=True,
        )
        try:
            con = retrying(duckdb.connect, str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if _is_lock_error(exc):
                raise WarehouseError(
                    f"{self.path}: still locked by another process after {self.lock_timeout_s:.0f} s"
                ) from None
            raise WarehouseError(f"{self.path}: {str(exc).splitlines()[0]}") from None
        try:
            yield con
        finally:
            con.close()

    # -- schema ----------------------------------------------------------------------------------
    def migrate(self) -> int:
        with self.connect(read_only=False) as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
            )
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            for version, name, sql in _migrations():
                if version <= current:
                    continue
                con.execute("BEGIN")
                con.execute(sql)
                insert_rows(
                    con, "schema_version", [{"version": version, "name": name, "applied_at": utcnow()}]
                )
                con.execute("COMMIT")
                current = version
            return current

    def schema_version(self) -> int:
        if not self.path.exists():
            return 0
        with self.connect(read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
            ).fetchone()
            if not exists or not exists[0]:
                return 0
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            return int(row[0]) if row else 0

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run read-only SQL. Statements that could write are refused before the file is opened."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise WarehouseError(f"SQL error: {first_line(exc)}") from None
        if not statements:
            raise WarehouseError("SQL error: empty statement")
        for st in statements:
            if st.type not in READ_STATEMENTS:
                raise WarehouseError(
                    f"refused: `oyster sql` is read-only and this is a {st.type.name} statement"
                )
        with self.connect(read_only=True) as con:
            try:
                cur = con.execute(sql, params) if params is not None else con.execute(sql)
                columns = [d[0] for d in cur.description or []]
                return QueryResult(columns, cur.fetchall())
            except duckdb.Error as exc:
                raise WarehouseError(f"SQL error: {first_line(exc)}") from None

    def relations(self) -> set[str]:
        with self.connect(read_only=True) as con:
            return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}

    def export(self, view: str, fmt: str, out: str | Path, where: str | None = None) -> int:
        """Write a view or table to a file; returns the number of rows written."""
        if fmt not in EXPORT_FORMATS:
            raise WarehouseError(f"unknown export format '{fmt}' (use {', '.join(EXPORT_FORMATS)})")
        known = self.relations()
        if view not in known:
            raise WarehouseError(f"no view or table named '{view}' (views: dpo, sft, risk, trajectories)")
        select = f'SELECT * FROM "{view}"'
        if where:
            select += f" WHERE {where}"
            check_select(select)
        out_path = Path(out).expanduser()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect(read_only=True) as con:
            try:
                count = con.execute(f"SELECT count(*) FROM ({select})").fetchone()
                target = str(out_path).replace("'", "''")
                con.execute(f"COPY ({select}) TO '{target}' {EXPORT_FORMATS[fmt]}")
            except duckdb.Error as exc:
                raise WarehouseError(f"export failed: {first_line(exc)}") from None
        return int(count[0]) if count else 0


def check_select(sql: str) -> None:
    """Refuse anything but one read-only statement (a user's filter is pasted into a SELECT)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"SQL error: {first_line(exc)}") from None
    if len(statements) != 1 or statements[0].type not in READ_STATEMENTS:
        raise WarehouseError("refused: a filter must be a single read-only condition")

"""The DuckDB store: connections, migrations, rows inserted by column name, read-only queries, export."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from schemas.records import utcnow
from warehouse.errors import WarehouseBusy, WarehouseError, first_line
from warehouse.query_bounds import bounded
from warehouse.sql_guard import check_read_only, view_select

DEFAULT_PATH = "~/.oyster/warehouse.duckdb"
EXPORT_FORMATS = {"jsonl": "(FORMAT json)", "parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)"}

Row = Mapping[str, Any]

#: DuckDB's main file header and its two alternating database headers, before the first block
_FILE_HEADERS = 3 * 4096
#: how DuckDB words a file that is not (or no longer) a whole database
_DAMAGED = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt database", "checksum")
#: a user's SQL reaches no file but the warehouse, and cannot turn that back on
SANDBOX: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}


def default_path() -> Path:
    return Path(os.environ.get("OYSTER_WAREHOUSE", DEFAULT_PATH)).expanduser()


def resolve_path(flag: str | Path | None, configured: str | None = None) -> Path:
    """The one rule for which warehouse a command uses: the flag (--warehouse), else the environment
    (OYSTER_WAREHOUSE), else the config file's `warehouse`, else ~/.oyster/warehouse.duckdb."""
    for given in (flag, os.environ.get("OYSTER_WAREHOUSE"), configured):
        if given:
            return Path(given).expanduser()
    return Path(DEFAULT_PATH).expanduser()


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for f in resources.files("warehouse").joinpath("sql").iterdir():
        if f.name.endswith(".sql") and f.name[:3].isdigit():
            out.append((int(f.name[:3]), f.name, f.read_text(encoding="utf-8")))
    return sorted(out)


LATEST_VERSION = max(v for v, _, _ in _migrations())


def _views() -> str:
    """Every view, each defined once, re-applied after the migrations (views.sql)."""
    return resources.files("warehouse").joinpath("sql/views.sql").read_text(encoding="utf-8")


def _is_lock_error(exc: BaseException) -> bool:
    if not isinstance(exc, duckdb.IOException):
        return False
    msg = str(exc)
    return "lock" in msg.lower() and ("Could not set lock" in msg or "Conflicting lock" in msg)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(rows and rows[0][0])


def _needed_size(con: duckdb.DuckDBPyConnection) -> int:
    """The least length the open file must have: its headers and every block in use up to the last.

    DuckDB trims free blocks off the end of the file, so the declared block count is no bound; the
    highest block a table segment or the metadata uses is, and so is the count of used blocks.
    """
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()
    referenced = " UNION ALL ".join(
        [
            "SELECT block_id AS b FROM pragma_metadata_info()",
            *(
                "SELECT unnest(list_prepend(block_id, coalesce(additional_block_ids, []))) "
                f"FROM pragma_storage_info('{name.replace(chr(39), chr(39) * 2)}')"
                for (name,) in tables
            ),
        ]
    )
    ((blocks, block_size),) = con.execute(
        f"SELECT greatest(coalesce((SELECT max(b) FROM ({referenced})), -1) + 1, d.used_blocks), "
        "d.block_size FROM pragma_database_size() d WHERE d.database_name = current_database()"
    ).fetchall()
    return _FILE_HEADERS + int(blocks) * int(block_size)


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
    # Bulk insert through Arrow: DuckDB's executemany runs one statement per row. Imported here:
    # reading commands (`oyster sql`) never write.
    import pyarrow as pa

    batch = pa.Table.from_pylist(list(rows), schema=pa.schema([schema.field(n) for n in names]))
    # Not unregistered on failure: that would raise again inside the aborted transaction and hide why.
    con.register("batch_rows", batch)
    con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM batch_rows {on_conflict}")
    con.unregister("batch_rows")


_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.RLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.RLock())


#: per file, how this process left it after its last connection closed: (inode, size, mtime, ctime)
#: of the file and of its write-ahead log; a file found the same has not been touched since
_LEFT_AS: dict[str, tuple[tuple[int, ...] | None, ...]] = {}


def _signature(path: Path) -> tuple[tuple[int, ...] | None, ...]:
    def one(p: Path) -> tuple[int, ...] | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    return one(path), one(path.with_name(path.name + ".wal"))


class Store:
    """One DuckDB file. Writers hold it for one short transaction at a time so readers can get in between."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.lock_timeout_s = lock_timeout_s

    # -- connections -----------------------------------------------------------------------------
    @contextmanager
    def connect(self, *, read_only: bool, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file, refused if the file is damaged; ``sandboxed`` for a user's SQL.

        A sandboxed connection cannot touch any other file (COPY, ATTACH, read_csv, replacement scans)
        nor change that setting, whatever the statement does.
        """
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
        config = SANDBOX if sandboxed else {}
        # One connection at a time per file in this process: the run's writers (trajectories, live
        # calls) work from threads, and DuckDB in one process shares one database between them, where
        # concurrent transactions conflict and a second connection with other settings is refused.
        with _file_lock(self.path):
            yield from self._connected(read_only, config, retrying)

    def _connected(
        self, read_only: bool, config: dict[str, Any], retrying: Retrying
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        key = str(self.path.resolve())
        # Checked on every open unless the file is exactly as this process's last connection left it
        # (nothing else has written or cut it since): a run writes every few seconds, and the check
        # reads the storage layout of every table.
        unchanged = _LEFT_AS.pop(key, None) == _signature(self.path)
        try:
            con = retrying(duckdb.connect, str(self.path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            if _is_lock_error(exc):
                raise WarehouseBusy(
                    f"{self.path}: still locked by another process after {self.lock_timeout_s:.0f} s"
                ) from None
            if any(sign in str(exc) for sign in _DAMAGED):
                raise self._damaged(first_line(exc)) from None
            raise WarehouseError(f"{self.path}: {first_line(exc)}") from None
        ok = False
        try:
            if not unchanged:
                self._check_intact(con)
            yield con
            ok = True
        finally:
            con.close()
            if ok:
                _LEFT_AS[key] = _signature(self.path)

    def _damaged(self, why: str) -> WarehouseError:
        return WarehouseError(
            f"{self.path}: not a valid Oyster warehouse ({why}); restore it from a backup or use another "
            "--warehouse"
        )

    def _check_intact(self, con: duckdb.DuckDBPyConnection) -> None:
        """Refuse a damaged file before anything reads or writes it.

        DuckDB opens a truncated file and answers count(*) from its metadata; it fails only when a
        query reaches a missing block, which lets a run write rows first. So check that the file still
        holds every block its metadata uses, and read the schema version (a checksummed block).
        """
        try:
            actual, needed = self.path.stat().st_size, _needed_size(con)
            if actual < needed:
                raise self._damaged(f"{actual} bytes, but its blocks need at least {needed}")
            if _has_table(con, "schema_version"):
                con.execute("SELECT max(version) FROM schema_version").fetchall()
        except duckdb.Error as exc:
            raise self._damaged(first_line(exc)) from None

    # -- schema ----------------------------------------------------------------------------------
    def migrate(self) -> int:
        with self.connect(read_only=False) as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
            )
            # Every migration not yet applied, in order, not only those above the highest applied one:
            # migrations written on branches in parallel can land out of number order.
            applied = {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}
            for version, name, sql in _migrations():
                if version in applied:
                    continue
                con.execute("BEGIN")
                con.execute(sql)
                insert_rows(
                    con, "schema_version", [{"version": version, "name": name, "applied_at": utcnow()}]
                )
                con.execute("COMMIT")
                applied.add(version)
            current = max(applied, default=0)
            con.execute("BEGIN")
            con.execute(_views())
            con.execute("COMMIT")
            return current

    def schema_version(self) -> int:
        if not self.path.exists():
            return 0
        with self.connect(read_only=True) as con:
            if not _has_table(con, "schema_version"):
                return 0
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            return int(row[0]) if row else 0

    # -- reads -----------------------------------------------------------------------------------
    def query(
        self, sql: str, params: Sequence[Any] | None = None, *, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one read-only SELECT; anything else is refused before the file is opened (see sql_guard).

        ``timeout_s``: stop the query after that long (a user's query; see :func:`bounded`)."""
        check_read_only(sql)
        with self.connect(read_only=True, sandboxed=True) as con:

            def work() -> QueryResult:
                cur = con.execute(sql, params) if params is not None else con.execute(sql)
                columns = [d[0] for d in cur.description or []]
                return QueryResult(columns, cur.fetchall())

            try:
                # On a worker thread, bound or not: the main thread stays free to take Ctrl-C.
                return bounded(con, work, timeout_s)
            except duckdb.Error as exc:
                raise WarehouseError(f"SQL error: {first_line(exc)}") from None

    def relations(self) -> set[str]:
        with self.connect(read_only=True) as con:
            return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}

    def export(
        self, view: str, fmt: str, out: str | Path, where: str | None = None, timeout_s: float | None = None
    ) -> int:
        """Write a view or table to a file; returns the number of rows written (stopped after
        ``timeout_s``, as a user's query is)."""
        if fmt not in EXPORT_FORMATS:
            raise WarehouseError(f"unknown export format '{fmt}' (use {', '.join(EXPORT_FORMATS)})")
        known = self.relations()
        if view not in known:
            raise WarehouseError(f"no view or table named '{view}' (views: dpo, sft, risk, trajectories)")
        select = view_select(view, where)
        out_path = Path(out).expanduser()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect(read_only=True) as con:

            def work() -> Any:
                count = con.execute(f"SELECT count(*) FROM (\n{select}\n)").fetchone()
                rows = _json_cells(con, select) if fmt == "csv" else select
                target = str(out_path).replace("'", "''")
                con.execute(f"COPY (\n{rows}\n) TO '{target}' {EXPORT_FORMATS[fmt]}")
                return count

            try:
                count = work() if timeout_s is None else bounded(con, work, timeout_s)
            except duckdb.Error as exc:
                raise WarehouseError(f"export failed: {first_line(exc)}") from None
        return int(count[0]) if count else 0


#: DuckDB column types whose CSV text would be DuckDB's own literal (`[{'role': user, …}]`), not JSON
_NESTED = ("STRUCT", "MAP", "UNION")


def _json_cells(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """``select`` with every nested column (lists, structs, maps) as JSON text, so a CSV cell holds JSON
    that any reader parses (JSON columns already are)."""
    described = con.execute(f"DESCRIBE (\n{select}\n)").fetchall()
    cols = []
    for name, kind, *_ in described:
        quoted = '"' + str(name).replace('"', '""') + '"'
        nested = str(kind).endswith("]") or str(kind).startswith(_NESTED)
        cols.append(f"to_json({quoted})::VARCHAR AS {quoted}" if nested else quoted)
    return f"SELECT {', '.join(cols)} FROM (\n{select}\n)"

"""The DuckDB warehouse: migrations, short batched write transactions, read-only queries, export."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from schemas.errors import OysterError
from schemas.records import Failure, LLMCall, RunRecord, utcnow
from schemas.scenario import Scenario
from schemas.trajectory import Trajectory

DEFAULT_PATH = "~/.oyster/warehouse.duckdb"
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
EXPORT_FORMATS = {"jsonl": "(FORMAT json)", "parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)"}


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


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def _js(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    if isinstance(value, list):
        return json.dumps([v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value])
    return json.dumps(value, ensure_ascii=False, default=str)


def _messages(scenario: Scenario) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in scenario.conversation()]


class Warehouse:
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
                con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, utcnow()])
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

    # -- writes ----------------------------------------------------------------------------------
    def start_run(self, run: RunRecord, scenarios: Sequence[Scenario]) -> None:
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            con.execute(
                """INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL""",
                [
                    run.run_id,
                    run.started_at,
                    _js(run.config),
                    _js(run.models),
                    _js(run.prompt_versions),
                    run.git_revision,
                    run.oyster_version,
                    run.command,
                ],
            )
            rows = [
                [
                    run.run_id,
                    s.id,
                    s.language,
                    s.user_type.value if s.user_type else None,
                    s.risk_level.value if s.risk_level else None,
                    s.category_l1,
                    s.category_l2,
                    s.source,
                    _messages(s),
                ]
                for s in scenarios
            ]
            if rows:
                con.executemany("INSERT OR IGNORE INTO scenarios VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")

    def finish_run(self, run_id: str, status: str) -> None:
        with self.connect(read_only=False) as con:
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?", [status, utcnow(), run_id]
            )

    def finished_scenarios(self, run_id: str) -> set[str]:
        """Scenarios of the run that completed; failed ones are run again on resume (and replaced)."""
        if not self.path.exists():
            return set()
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT scenario_id FROM trajectory_records WHERE run_id = ? AND status = 'completed'",
                [run_id],
            ).fetchall()
        return {r[0] for r in rows}

    def write_trajectories(
        self, batch: Sequence[tuple[Trajectory, Sequence[LLMCall], Sequence[Failure]]]
    ) -> None:
        """Write finished trajectories with their calls and failures in one transaction.

        A trajectory written twice (a resumed or retried scenario) replaces the first copy.
        """
        if not batch:
            return
        rows = _TrajectoryRows()
        for traj, calls, failures in batch:
            rows.add(traj, calls, failures)
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            keys = pa.table(
                {
                    "run_id": [t.run_id for t, _, _ in batch],
                    "scenario_id": [t.scenario_id for t, _, _ in batch],
                }
            )
            con.register("batch_keys", keys)
            for table in _CHILD_TABLES:
                con.execute(f"DELETE FROM {table} WHERE (run_id, scenario_id) IN (FROM batch_keys)")
            con.unregister("batch_keys")
            for table, values in rows.tables.items():
                if not values:
                    continue
                # Bulk insert through Arrow: DuckDB's executemany runs one statement per row.
                columns = _columns(con, table)
                arrow = pa.table({c: [row[i] for row in values] for i, c in enumerate(columns)})
                con.register("batch_rows", arrow)
                verb = "INSERT OR IGNORE" if table in ("llm_calls", "failures") else "INSERT"
                con.execute(f"{verb} INTO {table} SELECT * FROM batch_rows")
                con.unregister("batch_rows")
            con.execute("COMMIT")

    def bulk_synthetic_pairs(self, n: int) -> None:
        """Fill preference_pairs with n synthetic rows (benchmarks only)."""
        with self.connect(read_only=False) as con:
            con.execute(
                """INSERT INTO preference_pairs
                SELECT 'p' || i, 'bench', 's' || i, [{'role': 'user', 'content': 'q' || i}],
                       'chosen ' || i, 'rejected ' || i, 2, 0, '{}', '{}', '{}', '{}',
                       0.5 + (i % 100) / 200, (i % 100) / 200 - 0.5, 1.0, 'rule ' || (i % 3)
                FROM range(?) t(i)""",
                [n],
            )

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run read-only SQL. Statements that could write are refused before the file is opened."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise WarehouseError(f"SQL error: {_first_line(exc)}") from None
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
                raise WarehouseError(f"SQL error: {_first_line(exc)}") from None

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
            self._check_select(select)
        out_path = Path(out).expanduser()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect(read_only=True) as con:
            try:
                count = con.execute(f"SELECT count(*) FROM ({select})").fetchone()
                target = str(out_path).replace("'", "''")
                con.execute(f"COPY ({select}) TO '{target}' {EXPORT_FORMATS[fmt]}")
            except duckdb.Error as exc:
                raise WarehouseError(f"export failed: {_first_line(exc)}") from None
        return int(count[0]) if count else 0

    @staticmethod
    def _check_select(sql: str) -> None:
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise WarehouseError(f"SQL error: {_first_line(exc)}") from None
        if len(statements) != 1 or statements[0].type not in READ_STATEMENTS:
            raise WarehouseError("refused: a filter must be a single read-only condition")


_COLUMNS: dict[str, list[str]] = {}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    if table not in _COLUMNS:
        _COLUMNS[table] = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description or []]
    return _COLUMNS[table]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


#: every table a trajectory writes, children first; its LLM calls and failures are kept across rewrites
_CHILD_TABLES = (
    "trajectory_records",
    "iterations",
    "chain_nodes",
    "judgements",
    "gradients",
    "edits",
    "preference_pairs",
)
TRAJECTORY_TABLES = (*_CHILD_TABLES, "llm_calls")


class _TrajectoryRows:
    """Flattens Trajectory objects into the rows of each table, in column order."""

    def __init__(self) -> None:
        self.tables: dict[str, list[list[Any]]] = {t: [] for t in (*_CHILD_TABLES, "llm_calls", "failures")}

    def add(self, t: Trajectory, calls: Sequence[LLMCall], failures: Sequence[Failure]) -> None:
        key = [t.run_id, t.scenario_id]
        best = max((it.score for it in t.iterations if it.score is not None), default=None)
        self.tables["trajectory_records"].append(
            [
                *key,
                t.status.value,
                t.stop_reason,
                len(t.iterations),
                _js(t.risk),
                _js(t.guidelines),
                _js(t.stackelberg),
                t.draft.think if t.draft else None,
                t.draft.response if t.draft else None,
                t.iterations[-1].response if t.iterations else None,
                best,
                t.pair_decision.status.value if t.pair_decision else None,
                t.pair_decision.reason if t.pair_decision else None,
                _js(t.next_move),
                t.model_dump_json(),
                utcnow(),
            ]
        )
        previous = None
        for it in t.iterations:
            j = it.judgement
            self.tables["iterations"].append(
                [
                    *key,
                    it.index,
                    it.response,
                    it.chain.model_dump_json(),
                    it.active_loss.value if it.active_loss else None,
                    list(it.frozen),
                    j.satisfaction.score if j else None,
                    j.safety.score if j else None,
                    j.safety.verdict.value if j else None,
                    j.construction_score if j else None,
                ]
            )
            for node in ("user_needs", "risk_intent", "safety_guidelines", "strategies"):
                content = (
                    it.chain.strategies.model_dump_json() if node == "strategies" else getattr(it.chain, node)
                )
                if previous is None:
                    changed = True
                elif node == "strategies":
                    changed = previous.strategies != it.chain.strategies
                else:
                    changed = getattr(previous, node) != content
                self.tables["chain_nodes"].append([*key, it.index, node, content, changed, node in it.frozen])
            previous = it.chain
            if j is not None:
                self.tables["judgements"].append(
                    [
                        *key,
                        it.index,
                        "satisfaction",
                        j.satisfaction.score,
                        None,
                        j.satisfaction.model_dump_json(),
                    ]
                )
                self.tables["judgements"].append(
                    [
                        *key,
                        it.index,
                        "safety",
                        j.safety.score,
                        j.safety.verdict.value,
                        j.safety.model_dump_json(),
                    ]
                )
            for seq, g in enumerate(it.gradients):
                self.tables["gradients"].append(
                    [*key, it.index, seq, g.target.value, g.loss.value, g.critique]
                )
            for seq, e in enumerate(it.edits):
                self.tables["edits"].append(
                    [
                        *key,
                        it.index,
                        seq,
                        e.node.value,
                        e.op.value,
                        e.target_list.value if e.target_list else None,
                        e.index,
                        e.old,
                        e.new,
                        e.distance,
                        e.accepted,
                        e.reason,
                    ]
                )
        if t.pair is not None:
            p = t.pair
            self.tables["preference_pairs"].append(
                [
                    p.pair_id,
                    *key,
                    [{"role": m.role, "content": m.content} for m in p.prompt],
                    p.chosen,
                    p.rejected,
                    p.chosen_iteration,
                    p.rejected_iteration,
                    p.chosen_chain.model_dump_json(),
                    p.rejected_chain.model_dump_json(),
                    p.chosen_scores.model_dump_json(),
                    p.rejected_scores.model_dump_json(),
                    p.chosen_scores.construction,
                    p.rejected_scores.construction,
                    p.margin,
                    p.rule,
                ]
            )
        for c in calls:
            self.tables["llm_calls"].append(
                [
                    c.call_id,
                    c.run_id,
                    c.scenario_id,
                    c.role,
                    c.step,
                    c.prompt_hash,
                    c.backend,
                    c.model,
                    c.prompt_tokens,
                    c.completion_tokens,
                    c.latency_ms,
                    c.cache_hit,
                    c.attempt,
                    c.ok,
                    c.error,
                    c.created_at,
                ]
            )
        for f in failures:
            self.tables["failures"].append(
                [
                    f.failure_id,
                    f.run_id,
                    f.scenario_id,
                    f.role,
                    f.step,
                    f.kind.value,
                    f.message,
                    f.raw_output,
                    f.attempts,
                    f.created_at,
                ]
            )

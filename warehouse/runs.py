"""Lingo-BP runs: the run record, its scenarios, its finished trajectories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from schemas.records import LLMCall, RunRecord, Spend, utcnow
from schemas.scenario import Scenario
from schemas.trajectory import TrajectoryStatus
from schemas.trust import JudgeIdentity, JudgeTrust
from warehouse.store import Store, insert_rows
from warehouse.trajectory_rows import CHILD_TABLES, KEPT_TABLES, Written, call_row, to_json, trajectory_rows

if TYPE_CHECKING:
    import duckdb


class Warehouse(Store):
    """The store plus the writes of a Lingo-BP run; evaluation and training have their own stores over it."""

    def start_run(self, run: RunRecord, scenarios: Sequence[Scenario]) -> int:
        """Record a start or a resume of the run as its next attempt; returns that attempt's number.

        `runs` keeps the first start time and takes this attempt's settings; `run_attempts` keeps
        every attempt's, so a resume with other models or config never rewrites what ran before.
        """
        settings = {
            "config": to_json(run.config),
            "models": to_json(run.models),
            "prompt_versions": to_json(run.prompt_versions),
            "git_revision": run.git_revision,
            "oyster_version": run.oyster_version,
            "command": run.command,
        }
        latest = ", ".join(f"{column} = excluded.{column}" for column in settings)
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            insert_rows(
                con,
                "runs",
                [
                    {
                        "run_id": run.run_id,
                        "started_at": run.started_at,
                        "status": "running",
                        "attempts": 1,
                        **settings,
                    }
                ],
                on_conflict="ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL, "
                f"attempts = attempts + 1, {latest}",
            )
            (attempt,) = con.execute("SELECT attempts FROM runs WHERE run_id = ?", [run.run_id]).fetchall()[0]
            insert_rows(
                con,
                "run_attempts",
                [
                    {
                        "run_id": run.run_id,
                        "attempt": attempt,
                        "started_at": run.started_at,
                        "status": "running",
                        **settings,
                    }
                ],
            )
            insert_rows(
                con,
                "scenarios",
                [scenario_row(run.run_id, s) for s in scenarios],
                verb="INSERT OR IGNORE",
            )
            con.execute("COMMIT")
        return attempt

    def record_run_judges(self, run_id: str, judges: Sequence[JudgeTrust]) -> None:
        """What the run found for each of its judges (a resume replaces what an earlier attempt found)."""
        rows = [
            {
                "run_id": run_id,
                **j.model_dump(include=set(JudgeIdentity.model_fields)),
                "record_id": j.record.record_id if j.record else None,
                "record": j.record.model_dump_json() if j.record else None,
                "trusted": j.trusted,
                "reason": j.reason,
            }
            for j in judges
        ]
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            con.execute("DELETE FROM run_judges WHERE run_id = ?", [run_id])
            insert_rows(con, "run_judges", rows)
            con.execute("COMMIT")

    def finish_run(self, run_id: str, status: str) -> None:
        """End the run and its latest attempt with one status."""
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            con.execute(
                "UPDATE run_attempts SET status = ?, finished_at = ? "
                "WHERE run_id = ? AND attempt = (SELECT attempts FROM runs WHERE run_id = ?)",
                [status, utcnow(), run_id, run_id],
            )
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?", [status, utcnow(), run_id]
            )
            con.execute("COMMIT")

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

    def run_spend(self, run_id: str) -> tuple[Spend, Spend, int]:
        """What a run has spent on models so far (calls not answered from the cache), what its
        completed scenarios spent, and how many they are: a resumed run's budget starts from here."""
        if not self.path.exists():
            return Spend(), Spend(), 0
        with self.connect(read_only=True) as con:
            row = con.execute(
                """WITH done AS (
                       SELECT scenario_id FROM trajectory_records WHERE run_id = $run AND status = 'completed'
                   ), paid AS (
                       SELECT scenario_id, prompt_tokens + completion_tokens AS tokens
                       FROM llm_calls WHERE run_id = $run AND NOT cache_hit
                   )
                   SELECT count(*), coalesce(sum(tokens), 0),
                          count(*) FILTER (scenario_id IN (FROM done)),
                          coalesce(sum(tokens) FILTER (scenario_id IN (FROM done)), 0),
                          (SELECT count(*) FROM done)
                   FROM paid""",
                {"run": run_id},
            ).fetchone()
        calls, tokens, done_calls, done_tokens, done = row or (0, 0, 0, 0, 0)
        return Spend(int(calls), int(tokens)), Spend(int(done_calls), int(done_tokens)), int(done)

    def write_trajectories(self, batch: Sequence[Written]) -> None:
        """Write finished trajectories with their calls and failures in one transaction.

        A trajectory written twice (a resumed or retried scenario) replaces the first copy.
        """
        if not batch:
            return
        with self.connect(read_only=False) as con:
            con.execute("BEGIN")
            write_trajectory_rows(con, batch)
            con.execute("COMMIT")

    def write_calls(self, calls: Sequence[LLMCall]) -> None:
        """Store model calls as they happen (a running scenario's work is visible to `oyster sql`).

        A call amended after it was stored (a reply found invalid) replaces the earlier row.
        """
        if calls:
            latest = {c.call_id: c for c in calls}  # the last version of each call in the batch
            with self.connect(read_only=False) as con:
                insert_rows(
                    con, "llm_calls", [call_row(c) for c in latest.values()], verb="INSERT OR REPLACE"
                )


def scenario_row(run_id: str, s: Scenario) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "scenario_id": s.id,
        "language": s.language,
        "user_type": s.user_type.value if s.user_type else None,
        "risk_level": s.risk_level.value if s.risk_level else None,
        "category_l1": s.category_l1,
        "category_l2": s.category_l2,
        "source": s.source,
        "messages": [{"role": m.role, "content": m.content} for m in s.conversation()],
    }


def write_trajectory_rows(con: duckdb.DuckDBPyConnection, batch: Sequence[Written]) -> None:
    """The writes of :meth:`Warehouse.write_trajectories`, inside the caller's open transaction."""
    import pyarrow as pa  # here: reading commands (`oyster sql`) never write

    rows = trajectory_rows(batch)
    keys = pa.table(
        {
            "run_id": [t.run_id for t, _, _ in batch],
            "scenario_id": [t.scenario_id for t, _, _ in batch],
            "completed": [t.status is TrajectoryStatus.COMPLETED for t, _, _ in batch],
        }
    )
    con.register("batch_keys", keys)
    for table in CHILD_TABLES:
        con.execute(
            f"DELETE FROM {table} WHERE (run_id, scenario_id) IN (SELECT run_id, scenario_id FROM batch_keys)"
        )
    # The run's latest attempt wrote these: one live writer per run id (runtime.run_lock).
    attempts = dict(
        con.execute(
            "SELECT run_id, attempts FROM runs WHERE run_id IN (SELECT run_id FROM batch_keys)"
        ).fetchall()
    )
    for failure in rows["failures"]:
        failure["attempt"] = attempts.get(failure["run_id"])
    # Failures of earlier attempts stay as history, marked as no longer standing.
    con.execute(
        """UPDATE failures SET superseded_by_attempt = r.attempts
        FROM batch_keys k JOIN runs r USING (run_id)
        WHERE k.completed AND failures.run_id = k.run_id AND failures.scenario_id = k.scenario_id
          AND failures.superseded_by_attempt IS NULL AND failures.attempt < r.attempts"""
    )
    con.unregister("batch_keys")
    for table, values in rows.items():
        insert_rows(con, table, values, verb=KEPT_TABLES.get(table, "INSERT"))
    # Calls of these scenarios that this write does not hold (an earlier attempt's, or the
    # live preview of one that was killed) stay as history, marked as no longer the scenario's.
    calls = pa.array([c["call_id"] for c in rows["llm_calls"]], type=pa.string())
    con.register("batch_calls", pa.table({"call_id": calls}))
    con.register("batch_keys", keys)
    con.execute(
        """UPDATE llm_calls SET superseded_by_attempt = r.attempts
        FROM batch_keys k JOIN runs r USING (run_id)
        WHERE llm_calls.run_id = k.run_id AND llm_calls.scenario_id = k.scenario_id
          AND llm_calls.superseded_by_attempt IS NULL
          AND llm_calls.call_id NOT IN (SELECT call_id FROM batch_calls)"""
    )
    con.unregister("batch_keys")
    con.unregister("batch_calls")

"""SQL of the fine-tuning step: reading examples from the views, recording runs and metrics."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from schemas.records import utcnow
from warehouse.errors import WarehouseError, first_line
from warehouse.sql_guard import view_select
from warehouse.store import QueryResult, Store, insert_rows

#: view -> (id expression, columns handed to the trainer)
_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    view: (id_expr, (*columns, "prompt_key", "trusted", "trust_reason"))
    for views, id_expr, columns in (
        (("dpo", "dpo_per_prompt", "dpo_reasoning"), "pair_id", ("prompt", "chosen", "rejected")),
        (("sft", "sft_all"), "run_id || ':' || scenario_id", ("prompt", "completion")),
    )
    for view in views
}


class TrainingStore:
    def __init__(self, warehouse: Store) -> None:
        self.wh = warehouse

    def examples(self, view: str, where: str | None = None) -> list[dict[str, Any]]:
        """Rows of a training view as TRL conversational records, each with its `example_id`, its prompt key
        (the split is by prompt) and its trust, in id order."""
        if view not in _SOURCES:
            raise WarehouseError(f"unknown training view '{view}' (use {', '.join(_SOURCES)})")
        id_expr, columns = _SOURCES[view]
        rows = view_select(view, where)
        select = f"SELECT {id_expr} AS example_id, {', '.join(columns)} FROM (\n{rows}\n) ORDER BY example_id"
        with self.wh.connect(read_only=True, sandboxed=True) as con:
            try:
                cur = con.execute(select)
            except duckdb.Error as exc:
                raise WarehouseError(f"--where: {first_line(exc)}") from None
            return QueryResult([d[0] for d in cur.description or []], cur.fetchall()).records()

    def start(
        self,
        train_id: str,
        *,
        method: str,
        base_model: str,
        out_dir: str,
        view: str,
        where: str | None,
        splits: dict[str, Sequence[str]],
        config: dict[str, Any],
        command: str | None,
    ) -> None:
        with self.wh.connect(read_only=False) as con:
            con.execute("BEGIN")
            con.execute("DELETE FROM train_metrics WHERE train_id = ?", [train_id])
            con.execute("DELETE FROM train_examples WHERE train_id = ?", [train_id])
            insert_rows(
                con,
                "train_runs",
                [
                    {
                        "train_id": train_id,
                        "started_at": utcnow(),
                        "status": "running",
                        "method": method,
                        "base_model": base_model,
                        "out_dir": out_dir,
                        "source_view": view,
                        "where_sql": where,
                        "n_train": len(splits.get("train", ())),
                        "n_eval": len(splits.get("eval", ())),
                        "config": json.dumps(config),
                        "command": command,
                        # named, so that a rerun replacing the row clears what the last attempt left
                        "finished_at": None,
                        "adapter_gguf": None,
                        "error": None,
                    }
                ],
                verb="INSERT OR REPLACE",
            )
            examples = [
                {"train_id": train_id, "example_id": ex, "split": split}
                for split, ids in splits.items()
                for ex in ids
            ]
            insert_rows(con, "train_examples", examples)
            con.execute("COMMIT")

    def log_metrics(self, train_id: str, step: int, split: str, values: Iterable[tuple[str, float]]) -> None:
        rows = [
            {"train_id": train_id, "step": step, "split": split, "name": name, "value": float(v)}
            for name, v in values
        ]
        if not rows:
            return
        with self.wh.connect(read_only=False) as con:
            insert_rows(con, "train_metrics", rows, verb="INSERT OR REPLACE")

    def finish(
        self, train_id: str, status: str, *, adapter_gguf: str | None = None, error: str | None = None
    ) -> None:
        with self.wh.connect(read_only=False) as con:
            con.execute(
                "UPDATE train_runs SET status = ?, finished_at = ?, adapter_gguf = ?, error = ? "
                "WHERE train_id = ?",
                [status, utcnow(), adapter_gguf, error, train_id],
            )

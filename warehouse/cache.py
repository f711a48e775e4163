"""The response cache: a resumed or repeated run does not pay twice for the same call.

Keyed by backend, model, messages, output schema and sampling parameters. It lives beside the
warehouse file in SQLite (WAL mode), because every worker process reads and writes it on every
call, which DuckDB's one-writer-per-file lock would serialise.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key               TEXT PRIMARY KEY,
    backend           TEXT NOT NULL,
    model             TEXT NOT NULL,
    text              TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at        TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def cache_path_for(warehouse_path: Path) -> Path:
    return warehouse_path.with_name(warehouse_path.name + ".cache.sqlite")


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._con() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._local.con = con
        return con

    def get(self, key: str) -> tuple[str, int, int] | None:
        row = (
            self._con()
            .execute("SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else (str(row[0]), int(row[1]), int(row[2]))

    def put(
        self, key: str, backend: str, model: str, text: str, prompt_tokens: int, completion_tokens: int
    ) -> None:
        self._con().execute(
            "INSERT OR REPLACE INTO responses (key, backend, model, text, prompt_tokens, completion_tokens) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, backend, model, text, prompt_tokens, completion_tokens),
        )

    def __len__(self) -> int:
        row = self._con().execute("SELECT count(*) FROM responses").fetchone()
        return int(row[0]) if row else 0

"""Time bounds on a user's query (`oyster sql`, an export's --where): the query runs on a worker
thread, stopped when its bound passes or on Ctrl-C."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import duckdb

from warehouse.errors import WarehouseError

T = TypeVar("T")

#: seconds a user's query (`oyster sql`, an export's --where) may run: a reader holds the file, and a
#: run's writes wait for it (env OYSTER_SQL_TIMEOUT_S, `--timeout`)
DEFAULT_QUERY_TIMEOUT_S = 30.0


class QueryTimeout(WarehouseError):
    """A user's query ran past its time bound and was stopped."""


def query_timeout(given: float | None = None) -> float | None:
    """The time bound of a user's query: ``given``, else $OYSTER_SQL_TIMEOUT_S, else 30 s; 0: none."""
    if given is None:
        env = os.environ.get("OYSTER_SQL_TIMEOUT_S", "").strip()
        try:
            given = float(env) if env else DEFAULT_QUERY_TIMEOUT_S
        except ValueError:
            raise WarehouseError(f"OYSTER_SQL_TIMEOUT_S={env!r}: not a number of seconds") from None
    return given if given > 0 else None


def bounded(con: duckdb.DuckDBPyConnection, work: Callable[[], T], timeout_s: float | None) -> T:
    """``work()`` on ``con`` in a thread, stopped (``con.interrupt()``) after ``timeout_s`` or on Ctrl-C.

    DuckDB checks for an interrupt between its steps; the main thread stays free to take SIGINT, so
    Ctrl-C is a KeyboardInterrupt (exit 130), and a query past its bound is a one-line QueryTimeout.
    """
    box: dict[str, Any] = {}
    # An Event, not Thread.join: a join that Ctrl-C interrupts can leave the thread looking stopped.
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="oyster-query", daemon=True).start()
    try:
        finished = done.wait(timeout_s)
    except KeyboardInterrupt:
        con.interrupt()
        done.wait(5)
        raise KeyboardInterrupt from None
    if not finished:
        con.interrupt()
        done.wait(5)
        raise QueryTimeout(
            f"the query was stopped after {timeout_s:g} s (pass --timeout SECONDS, or set "
            "OYSTER_SQL_TIMEOUT_S, for a longer bound; 0: none)"
        )
    if "error" in box:
        raise box["error"]
    return cast(T, box["value"])

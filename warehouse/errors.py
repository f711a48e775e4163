"""The warehouse's one user-facing error and how a DuckDB error becomes one line of it."""

from __future__ import annotations

from schemas.errors import OysterError


class WarehouseError(OysterError, RuntimeError):
    """A user-facing warehouse problem; str() is one line."""


class WarehouseBusy(WarehouseError):
    """Another process held the file's lock for longer than this one would wait: worth a retry."""


def is_busy(exc: BaseException) -> bool:
    """Whether a failed write met another process's lock on the file (worth retrying), rather than a
    problem that a retry would meet again (a value a column cannot hold, a full disk)."""
    text = str(exc)
    return isinstance(exc, WarehouseBusy) or "Could not set lock" in text or "Conflicting lock" in text


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

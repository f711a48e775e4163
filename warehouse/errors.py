"""The warehouse's one user-facing error and how a DuckDB error becomes one line of it."""

from __future__ import annotations

from schemas.errors import OysterError


class WarehouseError(OysterError, RuntimeError):
    """A user-facing warehouse problem; str() is one line."""


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

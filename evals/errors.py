"""The evaluation suite's user-facing error."""

from __future__ import annotations

from schemas.errors import OysterError


class EvalError(OysterError, ValueError):
    """A user-facing evaluation problem; str() is one line."""

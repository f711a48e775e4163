"""Shared pydantic base for every serialised noun."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict


class Record(BaseModel):
    """Base of every schema: strict about unknown keys so a typo in a file is an error, not a silent drop."""

    # NaN and infinities never enter stored data or config: they poison scores, margins and SQL.
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True, allow_inf_nan=False)


def encodable(text: str) -> str:
    """``text`` if it can be written as UTF-8 (a lone surrogate from JSON's \\ud800 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"invalid Unicode (a lone surrogate) at character {exc.start}") from None
    return text


class LLMOutput(BaseModel):
    """Base of the objects a model must produce; lenient about extra keys a model may add."""

    model_config = ConfigDict(extra="ignore")


#: text that must be storable and sendable: valid Unicode
UnicodeText = Annotated[str, AfterValidator(encodable)]


def omit_defaults(dumped: Any, defaults: Mapping[str, Any]) -> Any:
    """``dumped`` without the keys that still hold their given default: a field added later stays
    out of stored JSON until it is used, so rows written without it do not change byte for byte."""
    if not isinstance(dumped, dict):
        return dumped
    return {k: v for k, v in dumped.items() if not (k in defaults and v == defaults[k])}

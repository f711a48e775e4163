"""Shared pydantic base for every serialised noun."""

from __future__ import annotations

from typing import Annotated

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

"""Shared pydantic base for every serialised noun."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base of every schema: strict about unknown keys so a typo in a file is an error, not a silent drop."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class LLMOutput(BaseModel):
    """Base of the objects a model must produce; lenient about extra keys a model may add."""

    model_config = ConfigDict(extra="ignore")

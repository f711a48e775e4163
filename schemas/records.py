"""Bookkeeping records: runs, LLM calls, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import uuid4

from pydantic import AfterValidator, Field

from schemas.base import Record
from schemas.secrets import redact

#: error text as stored: the last line of defence against a key echoed by an endpoint
Redacted = Annotated[str, AfterValidator(redact)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid4().hex


class FailureKind(StrEnum):
    INVALID_OUTPUT = "invalid_output"
    ENDPOINT_ERROR = "endpoint_error"
    TIMEOUT = "timeout"
    GRAPH_ERROR = "graph_error"
    #: a reply that was usable but reported something impossible (a negative or 2^31 token count)
    ANOMALY = "anomaly"


class Failure(Record):
    failure_id: str = Field(default_factory=new_id)
    run_id: str = ""
    scenario_id: str = ""
    role: str
    step: str
    kind: FailureKind
    message: Redacted
    raw_output: Redacted | None = None
    attempts: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class LLMCall(Record):
    call_id: str = Field(default_factory=new_id)
    run_id: str = ""
    scenario_id: str = ""
    role: str
    step: str
    prompt_hash: str
    backend: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: prompt tokens the server served from its prompt cache; None when the backend does not report it
    cached_tokens: int | None = None
    latency_ms: float = 0.0
    cache_hit: bool = False
    attempt: int = 1
    ok: bool = True
    error: Redacted | None = None
    created_at: datetime = Field(default_factory=utcnow)


@dataclass
class Spend:
    """Model calls paid for and their tokens; a call answered from the response cache is free."""

    calls: int = 0
    tokens: int = 0

    def add(self, call: LLMCall) -> None:
        if not call.cache_hit:
            self.calls += 1
            self.tokens += call.prompt_tokens + call.completion_tokens


class RunRecord(Record):
    run_id: str
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = "running"
    config: dict[str, Any]
    models: dict[str, str]
    prompt_versions: dict[str, str]
    git_revision: str | None = None
    oyster_version: str
    command: str = ""

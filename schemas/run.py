"""A run as a user asks for it: `oyster run` and `python pipelines/lingo_bp.py` both build a RunRequest
from their flags, and runtime.plan.RunPlan takes it from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: a run id: letters, digits and . _ : - (at most 128), starting with a letter or digit
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class RunRequest(BaseModel):
    """What to run, where, and the flags that override the config; ``None`` means "not given"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: Path | None = Field(default=None, description="JSONL/YAML scenario file; None: bundled")
    limit: int | None = Field(default=None, ge=1, description="only the first N scenarios")
    warehouse: Path | None = Field(default=None, description="flag > OYSTER_WAREHOUSE > config")
    config: Path | None = None
    prompts: Path | None = Field(default=None, description="templates overriding the bundled ones")
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    iterations: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1)
    #: None: on Ray when a cluster address is set or the run is a Ray job
    use_ray: bool | None = None
    actors: int | None = Field(default=None, ge=1)
    cache: bool = True
    replay: bool = False
    max_tokens_total: int | None = Field(default=None, ge=1)
    max_calls: int | None = Field(default=None, ge=1)
    turns: int | None = Field(default=None, ge=1, le=20)
    stackelberg: Literal["predicted", "rollout"] | None = None
    #: the command line as typed, stored with the run
    command: str = ""

    def overrides(self) -> dict[str, Any]:
        """The flags as dotted config overrides (a flag not given overrides nothing)."""
        return {
            "prompts": str(self.prompts) if self.prompts else None,
            "concurrency": self.concurrency,
            "lingo_bp.iterations": self.iterations,
            "cache": None if self.cache else False,
            "replay": True if self.replay else None,
            "ray.actors": self.actors,
            "budget.max_tokens_total": self.max_tokens_total,
            "budget.max_calls": self.max_calls,
            "lingo_bp.turns": self.turns,
            "lingo_bp.stackelberg": self.stackelberg,
        }

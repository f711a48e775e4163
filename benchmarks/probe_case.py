"""What a case of the hostile probes is (benchmarks/reliability_probe.py runs them).

Its own module so that both probes' case tables (reliability_probe, reliability_probe2) can build
cases without importing each other.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

MOCK = "agents.backends.mock:well_behaved"


#: a case's own verdict, for the cases that must succeed (the second probe): None when it held
Check = Callable[["subprocess.CompletedProcess[str]"], "str | None"]


@dataclass
class Case:
    kind: str
    what: str
    args: list[str]
    must_not_exist: Path | None = None
    #: when set, decides the case instead of "one clear line" (a run that must complete, say)
    check: Check | None = None
    #: held around the command (a run lock another process has, say)
    around: Callable[[], AbstractContextManager[object]] = nullcontext
    env: dict[str, str] = field(default_factory=dict)

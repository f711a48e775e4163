"""One live writer per run id: a second process given the same ``--run-id`` is refused, not doubled.

The lock is an OS file lock (``filelock``) beside the warehouse file (its resolved path, so a symlink
finds the same lock), released by the kernel when its holder dies (kill -9 included): a resume never
finds a stale lock.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from schemas.errors import OysterError


class RunLocked(OysterError, RuntimeError):
    """Another live process is writing the same run."""


def lock_path(warehouse: Path, run_id: str) -> Path:
    """One lock per warehouse file and run id: the path is resolved, so a symlink to the file (or a
    path through a symlinked folder, or `..`) finds the same lock as the file's own path."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    real = warehouse.expanduser().resolve()
    return real.parent / ".oyster-locks" / f"{real.name}.{safe}.lock"


@contextmanager
def run_lock(warehouse: Path, run_id: str) -> Iterator[None]:
    """Hold the run's lock for the block; raise RunLocked at once if another process holds it."""
    path = lock_path(warehouse, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.with_suffix(".owner")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = owner.read_text(encoding="utf-8").strip() if owner.exists() else "another process"
        raise RunLocked(
            f"run '{run_id}' is being written by {holder}; wait for it to finish (then rerun to resume) "
            "or pick another --run-id"
        ) from None
    try:
        owner.write_text(f"pid {os.getpid()} on {socket.gethostname()}", encoding="utf-8")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()

"""What every command shares: the console, common options, config and warehouse loading, progress."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from schemas.config import OysterConfig, load_config
from schemas.errors import OysterError
from warehouse import Warehouse

# Soft wrap: in logs (no terminal) a line stays one line whatever its length.
console = Console(soft_wrap=True)


#: what a Ctrl-C stopped, when the command has its own words for it (the error line says it)
interrupt_reason: str | None = None


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse", "-w", help="DuckDB file [env OYSTER_WAREHOUSE, default ~/.oyster/warehouse.duckdb]."
    ),
]


def load(path: Path | None, overrides: dict[str, Any] | None = None) -> OysterConfig:
    """The config file (or defaults) with the command's flags as dotted overrides; ``None`` = not given."""
    return load_config(path, overrides)


class WarehouseMissing(OysterError, FileNotFoundError):
    """A reading command named a warehouse file that does not exist."""


def open_warehouse(path: Path | None, config: OysterConfig | None = None) -> Warehouse:
    if path is not None:
        return Warehouse(path)
    if config is not None and config.warehouse:
        return Warehouse(config.warehouse)
    return Warehouse()


class LineProgress:
    """Progress as plain lines, for logs (Ray jobs, CI, `| tee`): a line for each finished item and
    a status line every ``every_s`` seconds, so long work is never silent."""

    def __init__(self, label: str, total: int, every_s: float, write: Callable[[str], None]) -> None:
        self.label, self.total, self.every_s, self.write = label, total, every_s, write
        self.completed, self.detail = 0, ""
        self.started = time.monotonic()
        self.first: int | None = None  # items already done when we started (resumed), for the ETA
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> LineProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.write(self.status())

    def show(self, completed: int, detail: str, line: str | None = None) -> None:
        if self.first is None:
            self.first = completed
        self.completed, self.detail = completed, detail
        if line:
            self.write(f"{self.label}: {line}")

    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        done_here = self.completed - (self.first or 0)
        left = self.total - self.completed
        eta = f", ETA {_clock(elapsed / done_here * left)}" if done_here and left else ""
        return (
            f"{self.label} {self.completed}/{self.total} · {self.detail} · "
            f"elapsed {_clock(elapsed)}{eta}"
        )

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self.write(self.status())


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


Show = Callable[..., None]


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Show]:
    """Progress for long work; yields ``show(completed, detail, line=None)``.

    On a terminal: a rich bar, with each ``line`` printed above it. Elsewhere (logs): plain lines,
    and a status line every ``OYSTER_PROGRESS_EVERY`` seconds (default 30).
    """
    if not console.is_terminal:
        every = float(os.environ.get("OYSTER_PROGRESS_EVERY", "30"))
        with LineProgress(label, total, every, lambda text: print(text, flush=True)) as lines:
            yield lines.show
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        handle = bar.add_task(label, total=total, detail="")

        def show(completed: int, detail: str, line: str | None = None) -> None:
            if line:
                bar.console.print(Text(line))
            bar.update(handle, completed=completed, detail=detail)

        yield show


def print_result(result: Any, title: str) -> None:
    table = Table(title=title)
    for c in result.columns:
        table.add_column(str(c))
    for row in result.rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)


def existing_warehouse(path: Path | None, config: OysterConfig | None = None) -> Warehouse:
    """The warehouse a reading command reads; it is never created here (a typo must not look empty)."""
    wh = open_warehouse(path, config)
    if not wh.path.exists():
        raise WarehouseMissing(
            f"warehouse {wh.path} does not exist (nothing generated there yet: check --warehouse / "
            "OYSTER_WAREHOUSE, or run `oyster run` first)"
        )
    return wh

"""What every command shares: the console, common options, config and warehouse loading, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.config import OysterConfig, load_config
from schemas.errors import OysterError
from warehouse import Warehouse

console = Console()


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


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """A rich bar for long work; yields `show(completed, detail)`."""
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

        def show(completed: int, detail: str) -> None:
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

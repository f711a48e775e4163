"""`oyster report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import ConfigOpt, WarehouseOpt, console, existing_warehouse, load


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One self-contained HTML page of everything in the warehouse: evaluations, training, generated data."""
    from report.render import write_report

    wh = existing_warehouse(warehouse, load(config))
    sections = write_report(wh, out)
    console.print(f"wrote {out} ({', '.join(sections)})")

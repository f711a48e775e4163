"""`oyster sql` and `oyster export`: reading the warehouse."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from warehouse import EXPORT_FORMATS

if TYPE_CHECKING:
    pass
from cli.common import WarehouseOpt, console, open_warehouse


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v


def sql(
    query: Annotated[str, typer.Argument(help="Read-only SQL (SELECT ...).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    warehouse: WarehouseOpt = None,
    max_width: Annotated[int, typer.Option(help="Truncate table cells to this many characters.")] = 80,
) -> None:
    """Run a read-only query against the warehouse (works while a pipeline is writing)."""
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"unknown format '{fmt}' (use table, csv or json)", param_hint="--format")
    wh = open_warehouse(warehouse)
    if not wh.path.exists():
        wh.migrate()  # a fresh, empty warehouse: the views exist and SELECT 1 works before any run
    result = wh.query(query)
    if fmt == "json":
        rows = [{c: _jsonable(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str, indent=1) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[_jsonable(v) for v in row] for row in result.rows])
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(*result.columns, caption=f"{len(result.rows)} row(s)")
        for row in result.rows:
            cells = []
            for v in row:
                s = "NULL" if v is None else str(v)
                cells.append(s if len(s) <= max_width else s[: max_width - 1] + "…")
            table.add_row(*cells)
        console.print(table)


def export(
    view: Annotated[str, typer.Option("--view", help="dpo, sft, risk, trajectories, or any table.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, parquet or csv.")] = "jsonl",
    where: Annotated[str | None, typer.Option(help="SQL condition to filter rows.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Export a view to JSONL / Parquet / CSV (TRL loads the dpo view as is)."""
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(
            f"unknown format '{fmt}' (use {', '.join(EXPORT_FORMATS)})", param_hint="--format"
        )
    n = open_warehouse(warehouse).export(view, fmt, out, where)
    console.print(f"wrote {n} row(s) of {view} to {out}")

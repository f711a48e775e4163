"""`oyster sql` and `oyster export`: reading the warehouse."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli import common
from cli.common import WarehouseOpt, console, existing_warehouse
from schemas.errors import OysterError
from warehouse import EXPORT_FORMATS, Store
from warehouse.query_bounds import query_timeout


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v


def _strict(v: Any) -> Any:
    """A value as strict JSON has it: NaN and infinities (which JSON has no word for) are null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_strict(x) for x in v]
    return _jsonable(v)


TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help="Stop the query after this many seconds; 0: no bound [env OYSTER_SQL_TIMEOUT_S, default 30].",
    ),
]


class ExportError(OysterError, ValueError):
    """The export's output path cannot be written as asked."""


# Stored model text may hold terminal escape sequences: show every control character as an escape.
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS if chr(c) not in "\n\t"}


def _number(value: float) -> str:
    """A float as a person reads it in a table: -0.3, not -0.30000000000000004 cut to fit."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value and abs(value) < 1e-4:
        return f"{value:.6g}"
    text = f"{round(value, 6):f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _cell(value: Any, max_width: int) -> Text:
    if isinstance(value, float):
        return Text(_number(value))
    s = "NULL" if value is None else str(value).translate(_CONTROL_ESCAPES)
    # A Text cell, not a string: rich would read "[red]" in model output as markup.
    return Text(s if len(s) <= max_width else s[: max_width - 1] + "…")


def _writable_target(out: Path, force: bool) -> None:
    if out.is_dir():
        raise ExportError(f"{out}: is a directory; give a file path to --out")
    if out.exists() and not force:
        raise ExportError(f"{out}: already exists; pass --force to overwrite it")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise ExportError(f"{out}: {parent} is a file, not a directory")
    if not parent.exists():
        raise ExportError(f"{out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"{out}: directory {parent} is not writable")


def sql(
    query: Annotated[str, typer.Argument(help="Read-only SQL (SELECT ...).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    warehouse: WarehouseOpt = None,
    max_width: Annotated[int, typer.Option(help="Truncate table cells to this many characters.")] = 80,
    timeout: TimeoutOpt = None,
) -> None:
    """Run a read-only query against the warehouse (works while a pipeline is writing)."""
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"unknown format '{fmt}' (use table, csv or json)", param_hint="--format")
    # Ctrl-C from here on says what it stopped (a query changes nothing), not how to resume a run.
    common.interrupt_reason = "the query was stopped (the warehouse is unchanged)"
    result = existing_warehouse(warehouse).query(query, timeout_s=query_timeout(timeout))
    if fmt == "json":
        rows = [{c: _strict(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str, indent=1, allow_nan=False) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[_jsonable(v) for v in row] for row in result.rows])
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(caption=f"{len(result.rows)} row(s)")
        numeric = [
            bool(result.rows) and all(isinstance(r[i], int | float) for r in result.rows if r[i] is not None)
            for i in range(len(result.columns))
        ]
        for name, whole in zip(result.columns, numeric, strict=True):
            # A number is never cut to fit: its column keeps its width, text columns give way.
            table.add_column(
                name,
                no_wrap=whole,
                min_width=len(name) if whole else None,
                justify="right" if whole else "left",
            )
        for row in result.rows:
            table.add_row(*[_cell(v, max_width) for v in row])
        console.print(table)


ViewOpt = Annotated[
    str | None, typer.Option("--view", help="dpo, sft, risk, trajectories, or any table (not with hf).")
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help="jsonl, parquet, csv; hf (a Hugging Face dataset folder); oyster (trajectories in the "
        "original layout).",
    ),
]
PushOpt = Annotated[
    str | None, typer.Option("--push", help="hf: upload the folder to this Hub dataset repo (needs a token).")
]
_UNTRUSTED_HELP = "hf: also release pairs whose judges were never validated (the card says so)."
ReleaseUntrustedOpt = Annotated[bool, typer.Option("--allow-untrusted", help=_UNTRUSTED_HELP)]


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (a folder for --format hf).")],
    view: ViewOpt = None,
    fmt: FormatOpt = "jsonl",
    where: Annotated[str | None, typer.Option(help="SQL condition to filter rows.")] = None,
    warehouse: WarehouseOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    push: PushOpt = None,
    license_id: Annotated[str, typer.Option("--license", help="hf: the card's licence id.")] = "apache-2.0",
    allow_untrusted: ReleaseUntrustedOpt = False,
    timeout: TimeoutOpt = None,
) -> None:
    """Export a view to JSONL / Parquet / CSV (TRL loads dpo as is), or a Hugging Face dataset folder."""
    if fmt == "hf":
        _export_hf(out, warehouse, force, push, license_id, view, where, allow_untrusted)
        return
    if fmt not in EXPORT_FORMATS and fmt != "oyster":
        raise typer.BadParameter(
            f"unknown format '{fmt}' (use {', '.join(EXPORT_FORMATS)}, hf or oyster)", param_hint="--format"
        )
    if view is None:
        raise typer.BadParameter("--view is needed for this format", param_hint="--view")
    if fmt == "oyster" and view != "trajectories":
        raise typer.BadParameter("--format oyster writes the trajectories view only", param_hint="--format")
    wh = existing_warehouse(warehouse)
    _writable_target(out, force)
    if fmt == "oyster":
        from warehouse.oyster_format import oyster_history

        records = oyster_history(wh, where)
        out.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
        n = len(records)
    else:
        common.interrupt_reason = f"the export was stopped (the warehouse is unchanged; {out} may be partial)"
        n = wh.export(view, fmt, out, where, timeout_s=query_timeout(timeout))
    console.print(f"wrote {n} row(s) of {view} to {out}")
    _tell_what_is_missing(wh, view, where, n)


def _tell_what_is_missing(wh: Store, view: str, where: str | None, n: int) -> None:
    """The rows a user may have expected in the export and where they are: untrusted pairs, or why
    nothing matched."""
    if view in ("dpo", "sft"):
        from warehouse.release import trust_counts

        _, untrusted, why = trust_counts(wh)
        if untrusted:
            console.print(
                f"{untrusted} untrusted pair(s) are not in {view} ({why[:200]}); "
                f"they are in {'dpo_per_prompt' if view == 'dpo' else 'sft_all'}"
            )
    if n == 0:
        from warehouse.explain import why_empty

        console.print(f"why none: {why_empty(wh, view, where)}")


def _export_hf(
    out: Path,
    warehouse: Path | None,
    force: bool,
    push: str | None,
    license_id: str,
    view: str | None,
    where: str | None,
    allow_untrusted: bool,
) -> None:
    if view is not None or where is not None:
        raise typer.BadParameter("hf exports every config of the release; --view and --where do not apply")
    from report.card import push as push_folder
    from report.card import write_release
    from warehouse.release import trust_counts

    wh = existing_warehouse(warehouse)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise ExportError(f"{out}: exists and is not an empty folder; pass --force to write into it")
    wh.migrate()  # near_duplicates and the review-aware views, on a warehouse made before them
    trusted, untrusted, why = trust_counts(wh)
    if untrusted and not trusted and not allow_untrusted:
        raise ExportError(
            f"all {untrusted} pair(s) are untrusted ({why[:300]}): validate the judges with "
            "`oyster eval judges`, or pass --allow-untrusted (the dataset card then says so)"
        )
    done = write_release(wh, out, license_id, allow_untrusted)
    if untrusted and not allow_untrusted:
        console.print(
            f"{untrusted} untrusted pair(s) left out ({why[:200]}); --allow-untrusted releases them"
        )
    sizes = "; ".join(
        f"{c} {sum(n.values())} row(s)"
        + (
            f" + {done['left_out'][c]} near-duplicate(s) of other prompts left out"
            if done["left_out"][c]
            else ""
        )
        for c, n in done["counts"].items()
    )
    console.print(f"wrote {out}: {sizes} ({done['removed']} near-duplicate prompt(s) in all)")
    if push:
        console.print(f"pushed to {push_folder(out, push)}")

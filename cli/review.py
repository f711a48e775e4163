"""`oyster review`: the review web app, and `oyster review stats`: judges against the reviewers."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from cli.common import WarehouseOpt, console, existing_warehouse

app = typer.Typer(help="Review pairs and judge verdicts in the browser.", invoke_without_command=True)


@app.callback()
def review(
    ctx: typer.Context,
    warehouse: WarehouseOpt = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; the default keeps the app on this machine.")
    ] = "127.0.0.1",
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Name stored with each review [default: login name].")
    ] = None,
) -> None:
    """Serve the review app on http://HOST:PORT (Ctrl-C stops it); reviews go to the `reviews` table."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from report.review.app import create_app

    wh = existing_warehouse(warehouse)
    wh.migrate()  # the reviews table, on a warehouse made before it existed
    console.print(f"reviewing {wh.path} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        create_app(wh.path, reviewer or getpass.getuser(), host=host),
        host=host,
        port=port,
        log_level="warning",
        # the app reads at most 64 KiB of a form; uvicorn bounds the headers and idle connections
        h11_max_incomplete_event_size=64 * 1024,
    )


@app.command("stats")
def stats(warehouse: WarehouseOpt = None) -> None:
    """Each judge against the reviewers' labels: agreement and the confusion matrix (judge x human)."""
    from warehouse.judge_reviews import judge_agreement

    wh = existing_warehouse(warehouse)
    rows = judge_agreement(wh) if "reviews" in wh.relations() else []
    if not rows:
        console.print("no judge verdicts reviewed yet")
        return
    table = Table("judge", "judge said", "reviewer said", "n", "judge agreement", title="judges vs reviewers")
    for r in rows:
        table.add_row(
            r["judge"],
            r["judge_label"],
            r["human_label"],
            str(r["n"]),
            f"{r['agreement']:.2f} of {r['judge_n']}",
        )
    console.print(table)

"""`oyster doctor`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.common import ConfigOpt, WarehouseOpt, console, load, open_warehouse
from schemas.config import ROLES
from warehouse import LATEST_VERSION

if TYPE_CHECKING:
    from agents.backends import ChatBackend

CheckCallOpt = Annotated[
    bool, typer.Option("--check-call", help="LangChain roles: also make one tiny call (a few tokens).")
]


async def _ready(backend: ChatBackend, call: bool) -> str:
    # Only backends that can make a test call have check_call (LangChain models).
    check_call = getattr(backend, "check_call", None) if call else None
    return str(await check_call()) if check_call is not None else await backend.check()


def doctor(
    config: ConfigOpt = None, warehouse: WarehouseOpt = None, check_call: CheckCallOpt = False
) -> None:
    """Show each role's backend and model, whether it is ready, and the warehouse."""
    from agents.backends import BackendError, make_backend
    from agents.prompting import PromptError, PromptLibrary

    cfg = load(config)
    table = Table(title="Roles")
    for col in ("role", "backend", "model", "status"):
        table.add_column(col)
    problems = 0
    checked: dict[str, str] = {}
    for role in ROLES:
        rm = cfg.roles.get(role)
        key = rm.model_dump_json()
        if key not in checked:
            try:
                checked[key] = "[green]ready[/]: " + asyncio.run(_ready(make_backend(rm), check_call))
            except BackendError as exc:
                checked[key] = f"[red]not ready[/]: {exc}"
        problems += checked[key].startswith("[red]")
        table.add_row(role, rm.backend, rm.model, checked[key])
    console.print(table)
    try:
        PromptLibrary(cfg.prompts)
        console.print(f"prompts: [green]{len(PromptLibrary(cfg.prompts).templates)} templates valid[/]")
    except PromptError as exc:
        problems += 1
        console.print(f"prompts: [red]{exc}[/]")
    wh = open_warehouse(warehouse, cfg)
    if wh.path.exists():
        version = wh.migrate()
        console.print(f"warehouse: {wh.path} (schema version {version}, latest {LATEST_VERSION})")
    else:
        console.print(f"warehouse: {wh.path} (does not exist yet; the first run creates it)")
    if problems:
        raise typer.Exit(1)

"""`oyster scenarios …`: check and synthesise scenario files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from agents.scenarios import load_scenarios
from cli.common import ConfigOpt, console, load

app = typer.Typer(help="Scenario files: check and synthesise.", no_args_is_help=True)


@app.command("check")
def scenarios_check(path: Annotated[Path, typer.Argument(help="Scenario file.")]) -> None:
    """Validate a scenario file and print counts."""
    items = load_scenarios(path)
    by: dict[str, int] = {}
    for s in items:
        level = s.risk_level.value if s.risk_level else "-"
        key = f"{s.language}/{level}/{s.user_type.value if s.user_type else '-'}"
        by[key] = by.get(key, 0) + 1
    console.print(f"{path}: {len(items)} valid scenario(s)")
    for k in sorted(by):
        console.print(f"  {k}: {by[k]}")


@app.command("synth")
def scenarios_synth(
    n: Annotated[int, typer.Option("--n", min=1, help="Scenarios to generate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    config: ConfigOpt = None,
    language: Annotated[str, typer.Option(help="Comma-separated languages.")] = "en,zh",
    seed: Annotated[int, typer.Option(help="Seed for the category x persona schedule.")] = 0,
) -> None:
    """Ask the user-simulator model for new scenarios across categories x personas; duplicates removed."""
    from agents.synth import synthesise

    cfg = load(config)
    made = asyncio.run(synthesise(cfg, n, out, languages=language.split(","), seed=seed, console=console))
    console.print(f"wrote {made} scenario(s) to {out}")

"""The `oyster` command line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated

import click
import typer

from cli import data, doctor, evaluate, report, run, scenarios, train
from schemas.errors import OysterError

# Commands import the agent stack (LangGraph, Ray, llama.cpp) only when they need it, so that
# `oyster sql` starts fast.

app = typer.Typer(
    help="Oyster: constructive safety-alignment data with Lingo-BP agent graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(scenarios.app, name="scenarios")
app.add_typer(evaluate.app, name="eval")
app.command()(doctor.doctor)
app.command()(data.sql)
app.command()(data.export)
app.command()(run.run)
app.command()(train.train)
app.command()(report.report)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every model call.")] = False,
) -> None:
    """Oyster command line."""
    if verbose:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(name)s %(message)s",
            datefmt="%H:%M:%S",
            stream=sys.stderr,
        )


def _fail(message: str) -> None:
    # Plain write, not rich: an error is exactly one line however narrow the terminal.
    sys.stderr.write(" ".join(message.split()) + "\n")


def script_main(command: str, defaults: Sequence[tuple[tuple[str, ...], str]] = ()) -> None:
    """Entry of the scripts in pipelines/: `python pipelines/X.py ARGS` is `oyster COMMAND ARGS`.

    `defaults` adds a flag when none of its alternatives was given (e.g. `--ray` for the main job).
    """
    flags = ("--debug", "--verbose", "-v")
    args = sys.argv[1:]
    rest = [a for a in args if a not in flags]
    for alternatives, flag in defaults:
        if not any(a in rest for a in alternatives):
            rest.append(flag)
    sys.argv = [sys.argv[0], *[a for a in args if a in flags], *command.split(), *rest]
    main()


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            raise SystemExit(rc)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        _fail("aborted")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except OysterError as exc:
        if debug:
            raise
        _fail(f"error: {exc}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        _fail("interrupted: finished scenarios are in the warehouse; rerun with the same --run-id to resume")
        raise SystemExit(130) from None
    except Exception as exc:
        if debug:
            raise
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

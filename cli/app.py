"""The `oyster` command line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer.exceptions import TyperException

from cli import common, data, doctor, evaluate, report, review, run, scenarios, train
from schemas.errors import OysterError
from schemas.secrets import redact

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
app.add_typer(review.app, name="review")
app.command()(doctor.doctor)
app.command()(data.sql)
app.command()(data.export)
app.command()(run.run)
app.command()(train.train)
app.command()(report.report)


def _show_version(value: bool) -> None:
    if value:
        from importlib import metadata

        try:
            version = metadata.version("oyster-csa")
        except metadata.PackageNotFoundError:
            version = "0+unknown (not installed: pip install -e .)"
        sys.stdout.write(f"oyster {version}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every model call.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
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
    # Plain write, not rich: an error is exactly one line however narrow the terminal. Redacted, as
    # an error may quote an endpoint's reply and an endpoint may echo the key it was sent.
    sys.stderr.write(" ".join(redact(message).split()) + "\n")


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


def _usage_line(exc: TyperException) -> str:
    """One line for a usage error: what is wrong with which flag, and where to read more."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {message}{where}"


INTERRUPTED = (
    "interrupted: finished work is in the warehouse; rerun with the same --run-id / --eval-id to resume"
)


def _interrupted() -> str:
    # A command that changes nothing says so in its own words (`oyster sql`: the query stopped).
    return f"interrupted: {common.interrupt_reason}" if common.interrupt_reason else INTERRUPTED


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        rc = app(standalone_mode=False, prog_name="oyster")
        if isinstance(rc, int) and rc:
            if rc == 130:  # typer turns Ctrl-C into this exit code when not standalone
                _fail(_interrupted())
            raise SystemExit(rc)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        # click turns Ctrl-C into Abort when it is not in standalone mode.
        _fail(_interrupted())
        raise SystemExit(130) from None
    except NoArgsIsHelpError:
        raise SystemExit(2) from None  # the help has been printed
    except TyperException as exc:
        # Typer bundles its own click: its usage errors are not `click.ClickException`s.
        _fail(_usage_line(exc))
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except OysterError as exc:
        if debug:
            raise
        _fail(f"error: {exc}")
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except KeyboardInterrupt:
        _fail(_interrupted())
        raise SystemExit(130) from None
    except Exception as exc:
        if type(exc) is RuntimeError and str(exc) == "Query interrupted":
            # DuckDB's own word for a Ctrl-C that reached a query on this thread.
            _fail(_interrupted())
            raise SystemExit(130) from None
        if debug:
            raise
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

"""Reading a user's file (config, scenarios, labelled sets) with one clear line for every way it can fail."""

from __future__ import annotations

from pathlib import Path

from schemas.errors import OysterError


def read_user_text(path: Path, what: str, error: type[OysterError], encoding: str = "utf-8") -> str:
    """The file's text, or ``error("<path>: <problem>")`` naming the file and what is wrong with it."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None

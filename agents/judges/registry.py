"""Judges by name: each module of this package registers its `JudgeSpec`; a lookup loads them all."""

from __future__ import annotations

import importlib
import pkgutil

from agents.judges.spec import JudgeSpec
from schemas.errors import OysterError

_JUDGES: dict[str, JudgeSpec] = {}
_LOADED = False
#: modules of the package that are machinery, not judges
_MACHINERY = {"registry", "scoring", "spec"}


class JudgeError(OysterError, ValueError):
    """An unknown judge, or a judge its configured model cannot be."""


def register(spec: JudgeSpec) -> JudgeSpec:
    """Make ``spec`` the judge of its name (a test may register its own); returns it."""
    known = _JUDGES.get(spec.name)
    if known is not None and known is not spec:
        raise JudgeError(f"judge '{spec.name}' is already registered")
    _JUDGES[spec.name] = spec
    return spec


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("agents.judges")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _MACHINERY:
            importlib.import_module(f"agents.judges.{module.name}")
    _LOADED = True


def judges() -> list[JudgeSpec]:
    """Every registered judge, by name."""
    _load()
    return [_JUDGES[n] for n in sorted(_JUDGES)]


def judge_names() -> list[str]:
    return [j.name for j in judges()]


def get_judge(name: str) -> JudgeSpec:
    _load()
    try:
        return _JUDGES[name]
    except KeyError:
        raise JudgeError(f"unknown judge '{name}' (known: {', '.join(sorted(_JUDGES))})") from None


def reviewed_judges() -> list[JudgeSpec]:
    """The judges whose verdicts reviewers mark in `oyster review`."""
    return [j for j in judges() if j.review is not None]

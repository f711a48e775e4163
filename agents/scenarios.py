"""Scenario files: JSONL (one object per line) or YAML (a list), validated line by line."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.errors import OysterError
from schemas.files import read_user_text
from schemas.scenario import Scenario


class ScenarioError(OysterError, ValueError):
    """A scenario file problem; str() is one line naming the file, the line and the problem."""


def bundled_path() -> Path:
    return Path(str(resources.files("agents").joinpath("data/scenarios.jsonl")))


def _problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc + ': ' if loc else ''}{err['msg']}"


def load_scenarios(path: str | Path | None = None) -> list[Scenario]:
    p = Path(path) if path is not None else bundled_path()
    text = read_user_text(p, "scenario file", ScenarioError)
    items: list[tuple[int, Any]] = []
    if p.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ScenarioError(f"{p}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
        if not isinstance(data, list):
            raise ScenarioError(f"{p}: a YAML scenario file must be a list of scenarios")
        items = [(i + 1, d) for i, d in enumerate(data)]
        unit = "item"
    else:
        unit = "line"
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                items.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"{p}:{n}: not valid JSON ({exc.msg})") from None
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for n, item in items:
        if not isinstance(item, dict):
            raise ScenarioError(f"{p}: {unit} {n}: expected an object, got {type(item).__name__}")
        try:
            s = Scenario.model_validate(item)
        except ValidationError as exc:
            raise ScenarioError(f"{p}: {unit} {n}: {_problem(exc)}") from None
        if s.id in seen:
            raise ScenarioError(f"{p}: {unit} {n}: duplicate scenario id '{s.id}'")
        seen.add(s.id)
        scenarios.append(s)
    if not scenarios:
        raise ScenarioError(f"{p}: no scenarios in file")
    return scenarios


def write_scenarios(scenarios: list[Scenario], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for s in scenarios:
            f.write(s.model_dump_json(exclude_none=True) + "\n")

"""No module over 400 lines and no function over 60 (from its `def` to its last line, signature and
docstring included) outside tests/: the next contributor reads a unit at a glance (issue 20)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "agents", "warehouse", "runtime", "evals", "training", "report", "cli", "pipelines")
EXTRA = ("prompts", "benchmarks", "testing")


def _sources() -> list[Path]:
    return sorted(p for name in (*PACKAGES, *EXTRA) for p in (ROOT / name).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 60:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = n
    assert long == {}

"""Test-only models and helpers stay out of the wheel; nothing the wheel installs imports them."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

import agents.backends.mock as mock
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def wheel_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(find_packages(where=str(ROOT), include=include))


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_wheel_leaves_out_testing_and_what_uses_it() -> None:
    packages = wheel_packages()
    assert "agents.backends" in packages and "warehouse" in packages
    assert not [p for p in packages if p.split(".")[0] in ("testing", "tests", "benchmarks")]


def test_no_installed_module_imports_the_test_helpers() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in wheel_packages()
        for path in (ROOT / package.replace(".", "/")).glob("*.py")
        if imported_roots(path) & {"testing", "tests"}
    ]
    assert offenders == []


def test_the_installed_mock_is_the_user_facing_one_only() -> None:
    assert callable(mock.well_behaved)
    for fixture in ("dies_on_poison", "slow_well_behaved", "garbage", "with_probabilities"):
        assert not hasattr(mock, fixture), fixture
    assert not hasattr(Warehouse, "bulk_synthetic_pairs")

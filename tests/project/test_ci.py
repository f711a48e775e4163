"""CI runs the README's test command, and that command keeps the tree formatted."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^Test:\n\n```bash\n(.+?)\n```", text, re.MULTILINE | re.DOTALL)
    assert found, "README.md has no 'Test:' code block"
    return found.group(1).strip()


def test_ci_runs_the_readme_test_command_with_the_format_check() -> None:
    command = _readme_test_command()
    assert "ruff format --check ." in command.split(" && ")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_tree_is_ruff_formatted() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    done = subprocess.run([ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

"""Commands import what they use when they run: reading the warehouse never loads the agent stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse import Warehouse

#: what only the commands that run models or train need
HEAVY = ("langgraph", "langchain_core", "ray", "torch", "llama_cpp", "openai")

#: runs `oyster ARGS` in this interpreter, then prints the heavy modules it had imported by the end
PROBE = """
import json, sys
from cli.app import main
args, heavy = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["oyster", *args]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
sys.stderr.write("PROBE " + json.dumps({"exit": code, "loaded": loaded}) + chr(10))
"""


def loaded_by(args: list[str], cwd: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    probe = [line for line in proc.stderr.splitlines() if line.startswith("PROBE ")]
    assert probe, proc.stderr
    result: dict[str, object] = json.loads(probe[-1].removeprefix("PROBE "))
    return result


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    Warehouse(path).migrate()
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["sql", "SELECT 1", "--warehouse", "{wh}"],
        ["export", "--view", "dpo", "--format", "jsonl", "--out", "{out}", "--warehouse", "{wh}"],
        ["export", "--view", "dpo", "--format", "parquet", "--out", "{out}.parquet", "--warehouse", "{wh}"],
    ],
    ids=["help", "sql", "export-jsonl", "export-parquet"],
)
def test_reading_commands_never_import_the_agent_stack(args: list[str], wh: Path, tmp_path: Path) -> None:
    filled = [a.format(wh=wh, out=tmp_path / "dpo.jsonl") for a in args]
    assert loaded_by(filled, Path(__file__).resolve().parents[2]) == {"exit": 0, "loaded": []}

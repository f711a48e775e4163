"""One home per setting: the warehouse path is resolved once (flag > env > config) and passed on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import well_behaved
from agents.team import Agents
from cli.common import open_warehouse
from schemas.calibration import JudgeCalibration
from schemas.config import ROLES, OysterConfig
from warehouse import Warehouse, resolve_path
from warehouse.evaluation import EvalStore


def test_the_flag_beats_the_environment_which_beats_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, env, configured = tmp_path / "flag.duckdb", tmp_path / "env.duckdb", str(tmp_path / "cfg.duckdb")
    monkeypatch.setenv("OYSTER_WAREHOUSE", str(env))
    assert resolve_path(flag, configured) == flag
    assert resolve_path(None, configured) == env
    monkeypatch.delenv("OYSTER_WAREHOUSE")
    assert resolve_path(None, configured) == Path(configured)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_path(None, None) == tmp_path / ".oyster" / "warehouse.duckdb"
    cfg = OysterConfig(warehouse=configured)
    assert open_warehouse(None, cfg).path == Path(configured)
    assert open_warehouse(flag, cfg).path == flag


def test_a_command_reads_the_environments_warehouse_over_the_configs(tmp_path: Path) -> None:
    env = tmp_path / "env.duckdb"
    Warehouse(env).migrate()
    config = tmp_path / "c.yaml"
    config.write_text(f"warehouse: {tmp_path / 'absent.duckdb'}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "cli.app", "report", "-c", str(config), "--out", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        env={**os.environ, "OYSTER_WAREHOUSE": str(env)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").exists() and not (tmp_path / "absent.duckdb").exists()


def test_agents_take_their_calibrations_from_the_caller_never_from_the_config(tmp_path: Path) -> None:
    configured = Warehouse(tmp_path / "w.duckdb")
    configured.migrate()
    model = "scripted:agents.backends.mock:well_behaved"
    EvalStore(configured).save_calibration(
        JudgeCalibration(calibration_id="c", judge="safety", model=model, threshold=0.2)
    )
    cfg = OysterConfig(warehouse=str(configured.path))
    backends = dict.fromkeys(ROLES, ScriptedBackend(well_behaved, model="agents.backends.mock:well_behaved"))
    with pytest.raises(TypeError, match="calibrations"):
        Agents.build(cfg, backends=backends)  # type: ignore[call-arg]
    assert Agents.build(cfg, backends=backends, calibrations={}).verdicts.calibrations == {}


def test_each_evaluation_default_has_one_home() -> None:
    from cli.evaluate import SHARED, app
    from evals.run import RunSettings
    from evals.targets import Target
    from evals.task import DEFAULT_CONCURRENCY, DEFAULT_MAX_TOKENS, EvalTask, get_task

    assert SHARED["concurrency"][1] == RunSettings().concurrency == DEFAULT_CONCURRENCY
    assert SHARED["max_tokens"][1] == EvalTask.max_tokens == DEFAULT_MAX_TOKENS
    assert Target(ScriptedBackend(well_behaved), "t").max_tokens == DEFAULT_MAX_TOKENS
    compare = next(c for c in app.registered_commands if c.name == "compare")
    defaults = {
        p.name: p.default for p in __import__("inspect").signature(compare.callback).parameters.values()
    }
    assert defaults["max_tokens"] == get_task(defaults["task"]).max_tokens

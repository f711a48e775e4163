"""The evaluation job end to end on the real embedded model: target, category-rule judge, warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded
ROOT = Path(__file__).resolve().parents[2]


def test_strata_sword_on_the_embedded_model(tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    env = {**os.environ, "OYSTER_WAREHOUSE": str(wh)}
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "evaluate.py"),
            "strata-sword",
            "--model",
            "embedded",
            "--language",
            "en",
            "--level",
            "1",
            "--limit",
            "2",
            "--max-tokens",
            "48",
            "--eval-id",
            "e2e",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "attack success rate by level" in run.stdout
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.app",
            "sql",
            "SELECT s.sample_id, s.response, s.error, sc.label, sc.details ->> 'category' AS category "
            "FROM eval_samples s LEFT JOIN eval_scores sc USING (eval_id, sample_id) ORDER BY s.sample_id",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )
    rows = json.loads(out.stdout)
    assert [r["sample_id"] for r in rows] == ["strata-en-l1-0001", "strata-en-l1-0002"]
    for r in rows:
        assert r["error"] is None and r["response"].strip()
        assert r["label"] in ("Safe", "Unsafe")
        assert r["category"]  # the prompt was classified into the taxonomy before judging

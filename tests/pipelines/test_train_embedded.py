"""Closing the loop on the real embedded model: DPO on warehouse pairs, adapter to GGUF, served again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="training tests need the train extra")
pytestmark = pytest.mark.embedded

from agents.backends.base import ChatRequest  # noqa: E402
from agents.backends.embedded import EmbeddedBackend  # noqa: E402
from schemas.config import role_model  # noqa: E402
from schemas.messages import ChatMessage  # noqa: E402
from tests.conftest import scripted_pairs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_train_embedded_model_and_serve_the_adapter(tmp_path: Path) -> None:
    wh = scripted_pairs(tmp_path / "wh.duckdb", 8)
    out = tmp_path / "adapter"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "train.py"),
            "--model",
            "embedded",
            "--out",
            str(out),
            "--warehouse",
            str(wh.path),
            "--where",
            "pair_id IN (SELECT pair_id FROM dpo_per_prompt ORDER BY pair_id LIMIT 2)",
            "--max-steps",
            "1",
            "--train-id",
            "loop",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    adapter = out / "adapter.gguf"
    assert adapter.stat().st_size > 100_000
    row = wh.query("SELECT status, base_model, n_train, adapter_gguf FROM train_runs").rows
    assert row == [("completed", "embedded:qwen2.5-coder-0.5b", 2, str(adapter))]
    assert wh.query("SELECT count(*) FROM train_metrics WHERE name = 'loss'").rows == [(1,)]

    async def answer() -> str:
        backend = EmbeddedBackend(role_model(model=f"qwen2.5-coder-0.5b+{out}"))
        assert "LoRA" in await backend.check()
        result = await backend.complete(
            ChatRequest(
                messages=[ChatMessage(role="user", content="Say hello.")], max_tokens=16, temperature=0
            )
        )
        return result.text

    assert asyncio.run(answer()).strip()

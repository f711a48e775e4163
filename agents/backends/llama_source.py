"""llama.cpp's source, as vendored in the installed llama-cpp-python's source distribution on PyPI.

Two setup steps need files the wheel leaves out: the LoRA → GGUF converter (`python -m training.gguf`)
and the `llama-server` build (`python -m agents.backends.llama_server --build`). After the README's
setup both come from the wheel's own build (its CMake hook, `llama_cpp_setup.cmake`); where pip left
no such build, both read one copy of the sdist, fetched once into the model cache with pip, so that no
later run needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from agents.backends.base import BackendError
from agents.backends.models import model_cache_dir


def llama_cpp_version() -> str:
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        raise BackendError(
            "llama.cpp's source needs llama-cpp-python: pip install 'oyster-csa[embedded]'"
        ) from None


def sdist_prefix(version: str) -> str:
    """The folder every member of the sdist sits in."""
    return f"llama_cpp_python-{version}"


def fetch_sdist(version: str | None = None) -> Path:
    """The llama-cpp-python sdist matching the installed version, downloaded into the cache once."""
    version = version or llama_cpp_version()
    dest = model_cache_dir() / "src" / f"{sdist_prefix(version)}.tar.gz"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}", "--no-deps"]
        cmd += ["--no-binary", ":all:", "-d", tmp, "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            tail = (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise BackendError(f"cannot fetch the llama-cpp-python {version} source distribution: {tail}")
        sdists[0].rename(dest)  # same filesystem: an interrupted download never looks complete
    return dest


def replace_dir(dest: Path, fill: Callable[[Path], object]) -> Path:
    """Make `dest` anew: `fill` writes a `.partial` sibling, which then takes `dest`'s place, so that an
    interrupted or failed install never leaves a folder that looks complete."""
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        fill(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest

"""Build llama.cpp's `llama-server` from the source vendored in the installed llama-cpp-python's sdist.

The source is MIT (© The ggml authors), like the llama.cpp already compiled into llama-cpp-python;
the server is linked statically, so the one file in the model cache runs wherever it is copied.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from agents.backends.base import BackendError
from agents.backends.llama_source import fetch_sdist, llama_cpp_version, sdist_prefix
from agents.backends.models import model_cache_dir

log = logging.getLogger("oyster.backends")

#: the setup step that builds the server; named in every error about a missing binary
BUILD_COMMAND = "python -m agents.backends.llama_server --build"
BINARY = "llama-server"

CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    # Portable code, as in the README's llama-cpp-python install: the cache may move between machines.
    "-DGGML_NATIVE=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    # Nothing may reach the network during the build or serve beyond 127.0.0.1.
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
)


def server_dir() -> Path:
    return model_cache_dir() / f"llama-server-{llama_cpp_version()}"


def server_binary() -> Path:
    """Where the server for the installed llama-cpp-python lives (it may not be built yet)."""
    return server_dir() / BINARY


def require_server() -> Path:
    binary = server_binary()
    if not os.access(binary, os.X_OK):
        raise BackendError(f"llama-server is not built ({binary} missing): run `{BUILD_COMMAND}` once")
    return binary


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BackendError(f"building llama-server failed at {what}:\n{tail}")


def build_server(jobs: int = 2) -> Path:
    """Unpack llama.cpp from the sdist, compile `llama-server` only, and keep just the binary."""
    dest = server_dir()
    if os.access(dest / BINARY, os.X_OK):
        return dest / BINARY
    if shutil.which("cmake") is None:
        raise BackendError(f"building llama-server needs CMake and a C++ compiler, then `{BUILD_COMMAND}`")
    version = llama_cpp_version()
    sdist = fetch_sdist(version)
    work = dest.with_name(dest.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    prefix = f"{sdist_prefix(version)}/vendor/llama.cpp/"
    start = time.perf_counter()
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        for m in members:
            m.name = m.name[len(prefix) :]
        tar.extractall(work / "src", members=members, filter="data")
    build = work / "build"
    _run(["cmake", "-S", str(work / "src"), "-B", str(build), *CMAKE_FLAGS], "cmake configure")
    _run(["cmake", "--build", str(build), "--target", BINARY, "-j", str(jobs)], "cmake --build")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(build / "bin" / BINARY, partial / BINARY)
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)  # an interrupted build never looks complete
    shutil.rmtree(work, ignore_errors=True)
    log.info("built %s in %.0f s", dest / BINARY, time.perf_counter() - start)
    return dest / BINARY

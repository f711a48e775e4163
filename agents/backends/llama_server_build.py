"""Build llama.cpp's `llama-server` with as little compiling as the setup allows: one llama.cpp compile.

The README's setup keeps the CMake build of the llama-cpp-python wheel (`SKBUILD_BUILD_DIR`, see
`wheel_build_dir`) and passes `llama_cpp_setup.cmake` to it, so that the wheel's own compile builds
the server too. Where that build is there and is the build of the installed wheel (its libllama is the
installed one: the same GNU build ID), the server is copied out of it with that build's shared
libraries beside it (`server_env` puts them on the loader path); a build made without the hook gets
the server added as one more target (only the server's own sources compile). Otherwise (a wheel from
pip's cache, another build dir) the server is compiled from the source vendored in the sdist, linked
statically, as before. Either way the source is MIT (© The ggml authors), like the llama.cpp already
compiled into llama-cpp-python, and a build prints a progress line every 5 %.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from agents.backends.base import BackendError
from agents.backends.llama_source import fetch_sdist, llama_cpp_version, replace_dir, sdist_prefix
from agents.backends.models import model_cache_dir

log = logging.getLogger("oyster.backends")

#: the setup step that builds the server; named in every error about a missing binary
BUILD_COMMAND = "python -m agents.backends.llama_server --build"
BINARY = "llama-server"
#: where the README's setup has scikit-build-core keep the wheel's CMake build (`SKBUILD_BUILD_DIR`)
WHEEL_BUILD_DIR = "~/.cache/oyster/llama-cpp-python-build"

#: the setup's CMAKE_PROJECT_INCLUDE (README): builds llama-server in the wheel's compile, keeps the
#: converter's sources, compiles the tools side at -O1 (ggml and libllama keep -O3)
SETUP_HOOK = Path(__file__).with_name("llama_cpp_setup.cmake")
#: where the hook copies llama.cpp's LoRA -> GGUF converter in the build folder (training/gguf.py)
CONVERTER_IN_BUILD = "oyster-llama.cpp-tools"

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
    f"-DCMAKE_PROJECT_INCLUDE={SETUP_HOOK}",
)
#: what the wheel's build adds to build the server too. Its other settings stay (GGML_NATIVE, OpenSSL):
#: with them, all 127 objects of the wheel's build keep their exact compile commands, so none is
#: compiled again (checked on llama-cpp-python 0.3.36: ninja's flags, defines and includes of each).
#: LLAVA_BUILD stays OFF (README: the wheel is built without its own copy of mtmd, which Oyster never
#: loads): the tools build mtmd once for the server; with the wheel's copy the two would clash.
WHEEL_SERVER_FLAGS = (
    "-DLLAVA_BUILD=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)
#: the wheel's shared libraries a server built from its build needs at run time
_LINKED = "linked-to-wheel"

Say = Callable[[str], None]


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


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


def wheel_lib_dir() -> Path | None:
    """The installed llama-cpp-python's shared libraries (libllama, libggml*, libmtmd), found without
    importing it; None where it is not installed."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if lib.is_dir() else None


def server_env(binary: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` for running `binary`: a server built in the wheel's build finds the shared libraries of that
    build (libllama and libggml*, the wheel's own, and the server's libllama-common, libmtmd…), copied
    beside it."""
    if not (binary.parent / _LINKED).exists():
        return env
    paths = [str(binary.parent), *[p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]]
    return {**env, "LD_LIBRARY_PATH": os.pathsep.join(paths)}


def wheel_build_dir() -> Path:
    return Path(os.environ.get("SKBUILD_BUILD_DIR") or WHEEL_BUILD_DIR).expanduser()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def elf_build_id(path: Path) -> bytes | None:
    """The GNU build ID of a 64-bit little-endian ELF file (None for anything else). Installing a
    library rewrites its RPATH, so its bytes differ from the build tree's copy; the build ID does not."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    shoff = int.from_bytes(data[0x28:0x30], "little")
    entsize, count = (int.from_bytes(data[o : o + 2], "little") for o in (0x3A, 0x3C))
    for i in range(count):
        header = data[shoff + i * entsize : shoff + (i + 1) * entsize]
        if int.from_bytes(header[4:8], "little") != 7:  # SHT_NOTE
            continue
        offset, size = int.from_bytes(header[24:32], "little"), int.from_bytes(header[32:40], "little")
        pos, end = offset, offset + size
        while pos + 12 <= end:
            namesz, descsz, kind = (int.from_bytes(data[pos + k : pos + k + 4], "little") for k in (0, 4, 8))
            name_at = pos + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            if kind == 3 and data[name_at : name_at + namesz] == b"GNU\x00":  # NT_GNU_BUILD_ID
                return data[desc_at : desc_at + descsz]
            pos = desc_at + (descsz + 3) // 4 * 4
    return None


def same_build(built: Path, installed: Path) -> bool:
    """Whether the installed library is the one in the build tree: the same build ID, else the same bytes."""
    ids = elf_build_id(built), elf_build_id(installed)
    if ids[0] is not None and ids[1] is not None:
        return ids[0] == ids[1]
    return _sha256(built) == _sha256(installed)


def _cache_value(cache: str, key: str) -> str | None:
    m = re.search(rf"^{re.escape(key)}:[A-Z]+=(.*)$", cache, re.MULTILINE)
    return m.group(1).strip() if m else None


def reusable_wheel_build(build: Path | None = None) -> tuple[Path, Path, str] | None:
    """(build dir, source dir it was configured from, make program) where the wheel's CMake build is
    there and is the build of the installed wheel; None otherwise."""
    build = build or wheel_build_dir()
    cache_file = build / "CMakeCache.txt"
    lib = wheel_lib_dir()
    if not cache_file.exists() or lib is None:
        return None
    built = build / "bin" / "libllama.so"
    if not built.exists():
        found = [p for p in build.rglob("libllama.so") if p.is_file()]
        built = found[0] if found else built
    installed = lib / "libllama.so"
    if not built.exists() or not installed.exists() or not same_build(built, installed):
        return None  # another version, or a wheel pip took from its cache: not this build
    cache = cache_file.read_text(encoding="utf-8", errors="replace")
    source = _cache_value(cache, "CMAKE_HOME_DIRECTORY")
    make = _cache_value(cache, "CMAKE_MAKE_PROGRAM") or ""
    if not os.access(make, os.X_OK):
        make = shutil.which(Path(make).name or "ninja") or shutil.which("ninja") or ""
    if not source or not make:
        return None
    return build, Path(source), make


def converter_in_wheel_build() -> Path | None:
    """The converter sources the setup hook copied into the installed wheel's build; None where there
    is no such build or it was made without the hook."""
    reuse = reusable_wheel_build()
    if reuse is None:
        return None
    tools = reuse[0] / CONVERTER_IN_BUILD
    return tools if (tools / "convert_lora_to_gguf.py").exists() else None


def built_in_wheel_build(build: Path) -> Path | None:
    """The llama-server the wheel's own compile built (the setup hook adds it), if it did."""
    binary = build / "bin" / BINARY
    return binary if os.access(binary, os.X_OK) else None


def _run(cmd: list[str], what: str, say: Say, env: dict[str, str] | None = None) -> None:
    """Run a build step, telling a progress line at each new percentage (make) or every 5 % (ninja)."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
    )
    assert proc.stdout is not None
    tail: list[str] = []
    shown = -1
    for raw in proc.stdout:
        line = raw.rstrip()
        tail = [*tail[-14:], line]
        ninja = re.match(r"\[(\d+)/(\d+)\]\s+(.*)", line)
        make = re.match(r"\[\s*(\d+)%\]\s+(.*)", line)
        if ninja:
            done, total = int(ninja.group(1)), int(ninja.group(2))
            pct = 100 * done // max(total, 1)
            if pct >= shown + 5 or done == total:
                shown = pct
                say(f"llama-server build: {done}/{total} ({pct}%) {_short(ninja.group(3))}")
        elif make and int(make.group(1)) != shown:
            shown = int(make.group(1))
            say(f"llama-server build: {shown}% {_short(make.group(2))}")
    if proc.wait() != 0:
        raise BackendError(f"building llama-server failed at {what}:\n" + "\n".join(tail))


def _short(step: str) -> str:
    words = step.split()
    return " ".join(w.rsplit("/", 1)[-1] if "/" in w else w for w in words)[:100]


def _install(binary: Path, dest: Path, linked: bool) -> Path:
    def copy(into: Path) -> None:
        into.mkdir(parents=True)
        shutil.copy2(binary, into / BINARY)
        if linked:
            # The build's shared libraries go with the binary (symlinks as files): it runs without the build.
            for lib in sorted(binary.parent.glob("*.so*")):
                shutil.copyfile(lib, into / lib.name)
            (into / _LINKED).write_text(
                "built in the llama-cpp-python wheel's own CMake build: runs on that build's libraries, "
                "beside it\n",
                encoding="utf-8",
            )

    return replace_dir(dest, copy) / BINARY


def build_server(jobs: int = 2, say: Say = _say) -> Path:
    """Build `llama-server` once into the model cache: from the wheel's build where it can (only the
    server's sources compile), else from the sdist's source (the whole of llama.cpp compiles)."""
    dest = server_dir()
    if os.access(dest / BINARY, os.X_OK):
        return dest / BINARY
    if shutil.which("cmake") is None:
        raise BackendError(f"building llama-server needs CMake and a C++ compiler, then `{BUILD_COMMAND}`")
    start = time.perf_counter()
    reuse = reusable_wheel_build()
    built = built_in_wheel_build(reuse[0]) if reuse is not None else None
    if built is not None:
        path = _install(built, dest, linked=True)
        how = "the llama-cpp-python wheel's own compile (copied out, nothing compiled)"
    elif reuse is not None:
        path = _build_from_wheel_build(*reuse, jobs=jobs, dest=dest, say=say)
        how = "the llama-cpp-python wheel's build (its libraries reused)"
    else:
        say(
            f"llama-server build: no reusable wheel build in {wheel_build_dir()} (pip reused a cached "
            "wheel, or SKBUILD_BUILD_DIR was not set): compiling llama.cpp from the sdist"
        )
        path = _build_from_sdist(jobs, dest, say)
        how = "the sdist's source"
    say(f"llama-server build: done in {time.perf_counter() - start:.0f} s, from {how}")
    log.info("built %s in %.0f s", path, time.perf_counter() - start)
    return path


def _extract(sdist: Path, prefix: str, into: Path) -> None:
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        for m in members:
            m.name = m.name[len(prefix) :]
        # The files keep their dates from the sdist, older than the wheel build's objects: nothing the
        # wheel compiled is compiled again.
        tar.extractall(into, members=members, filter="data")


def _build_from_wheel_build(build: Path, source: Path, make: str, *, jobs: int, dest: Path, say: Say) -> Path:
    version = llama_cpp_version()
    restored = not source.exists()
    if restored:
        # pip removed the source folder it built from: put the same sdist back at the same path.
        say(
            f"llama-server build: restoring the wheel's source at {source} "
            f"from the llama-cpp-python {version} sdist"
        )
        _extract(fetch_sdist(version), f"{sdist_prefix(version)}/", source)
    try:
        say(f"llama-server build: adding the server target to the wheel's build in {build}")
        _run(
            [
                "cmake",
                "-S",
                str(source),
                "-B",
                str(build),
                f"-DCMAKE_MAKE_PROGRAM={make}",
                *WHEEL_SERVER_FLAGS,
            ],
            "cmake configure",
            say,
        )
        _run(["cmake", "--build", str(build), "--target", BINARY, "-j", str(jobs)], "cmake --build", say)
        found = [p for p in build.rglob(BINARY) if p.is_file() and os.access(p, os.X_OK)]
        if not found:
            raise BackendError(f"building llama-server: no {BINARY} in {build} after the build")
        return _install(found[0], dest, linked=True)
    finally:
        if restored:
            shutil.rmtree(source, ignore_errors=True)


def _build_from_sdist(jobs: int, dest: Path, say: Say) -> Path:
    version = llama_cpp_version()
    sdist = fetch_sdist(version)
    work = dest.with_name(dest.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    _extract(sdist, f"{sdist_prefix(version)}/vendor/llama.cpp/", work / "src")
    build = work / "build"
    _run(["cmake", "-S", str(work / "src"), "-B", str(build), *CMAKE_FLAGS], "cmake configure", say)
    _run(["cmake", "--build", str(build), "--target", BINARY, "-j", str(jobs)], "cmake --build", say)
    path = _install(build / "bin" / BINARY, dest, linked=False)
    shutil.rmtree(work, ignore_errors=True)
    return path

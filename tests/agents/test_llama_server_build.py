"""One llama.cpp compile in setup (issue 23 item 11): llama-server is one more target of the
llama-cpp-python wheel's own CMake build where that build is the installed wheel's, with progress
lines; the sdist build is the fallback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agents.backends.llama_server_build as build


def _wheel_build(tmp_path: Path, lib_bytes: bytes) -> tuple[Path, Path]:
    """A CMake build dir as scikit-build-core leaves it, and an installed wheel's lib folder."""
    tree = tmp_path / "llama-cpp-python-build"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "libllama.so").write_bytes(b"libllama of this build")
    source = tmp_path / "pip-req-build-x"
    ninja = tmp_path / "ninja"
    ninja.write_text("#!/bin/sh\n")
    ninja.chmod(0o755)
    (tree / "CMakeCache.txt").write_text(
        f"CMAKE_HOME_DIRECTORY:INTERNAL={source}\nCMAKE_MAKE_PROGRAM:UNINITIALIZED={ninja}\n"
        "CMAKE_GENERATOR:INTERNAL=Ninja\n"
    )
    lib = tmp_path / "site-packages" / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    (lib / "libllama.so").write_bytes(lib_bytes)
    return tree, lib


def test_item11_the_server_reuses_the_wheels_build_only_when_it_is_the_installed_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, lib = _wheel_build(tmp_path, b"libllama of this build")
    monkeypatch.setattr(build, "wheel_lib_dir", lambda: lib)
    monkeypatch.setenv("SKBUILD_BUILD_DIR", str(tree))
    found = build.reusable_wheel_build()
    assert found is not None and found[0] == tree and found[1] == tmp_path / "pip-req-build-x"
    # a wheel pip took from its cache (another build) is never mixed with this build's objects
    (lib / "libllama.so").write_bytes(b"libllama of another build")
    assert build.reusable_wheel_build() is None
    monkeypatch.setenv("SKBUILD_BUILD_DIR", str(tmp_path / "nothing-here"))
    assert build.reusable_wheel_build() is None


def test_item11_build_server_takes_one_compile_path_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "server_dir", lambda: tmp_path / "cache" / "llama-server-x")
    calls: list[str] = []

    def from_wheel(b: Path, s: Path, m: str, *, jobs: int, dest: Path, say: build.Say) -> Path:
        calls.append("wheel")
        return build._install(Path(sys.executable), dest, linked=True)

    def from_sdist(jobs: int, dest: Path, say: build.Say) -> Path:
        calls.append("sdist")
        return build._install(Path(sys.executable), dest, linked=False)

    monkeypatch.setattr(build, "_build_from_wheel_build", from_wheel)
    monkeypatch.setattr(build, "_build_from_sdist", from_sdist)
    said: list[str] = []
    monkeypatch.setattr(build, "reusable_wheel_build", lambda: (tmp_path, tmp_path, "ninja"))
    path = build.build_server(say=said.append)
    assert calls == ["wheel"] and path.exists() and (path.parent / build._LINKED).exists()
    assert said[-1].startswith("llama-server build: done in") and "wheel's build" in said[-1]
    # the build's libraries, beside the binary, are on the loader path of a server linked to them
    env = build.server_env(path, {"LD_LIBRARY_PATH": "/x"})
    assert env["LD_LIBRARY_PATH"] == f"{path.parent}:/x"
    (path.parent / build._LINKED).unlink()
    assert build.server_env(path, {}) == {}
    # built once: a second call compiles nothing
    assert build.build_server(say=said.append) == path and calls == ["wheel"]
    # no reusable wheel build: the sdist, and a line saying why
    monkeypatch.setattr(build, "server_dir", lambda: tmp_path / "cache" / "llama-server-y")
    monkeypatch.setattr(build, "reusable_wheel_build", lambda: None)
    said.clear()
    build.build_server(say=said.append)
    assert calls == ["wheel", "sdist"] and "compiling llama.cpp from the sdist" in said[0]


def test_item11_build_steps_print_progress_lines(tmp_path: Path) -> None:
    script = tmp_path / "fake-build.sh"
    lines = [
        f"[{i}/40] Building CXX object tools/server/CMakeFiles/server.dir/f{i}.cpp.o" for i in range(1, 41)
    ]
    script.write_text("#!/bin/sh\n" + "".join(f"echo '{x}'\n" for x in lines))
    script.chmod(0o755)
    said: list[str] = []
    build._run([str(script)], "fake", said.append)
    assert said[0] == "llama-server build: 2/40 (5%) Building CXX object f2.cpp.o"
    assert said[-1].startswith("llama-server build: 40/40 (100%)")
    assert 15 <= len(said) <= 21  # a line every 5 %, not one per file
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\necho 'error: no compiler'\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(build.BackendError, match="failed at compile:\nerror: no compiler"):
        build._run([str(failing)], "compile", said.append)


def _with_build_id(path: Path, build_id: bytes, tail: bytes = b"") -> Path:
    """A minimal 64-bit little-endian ELF file: one SHT_NOTE section holding a GNU build ID."""
    note = (4).to_bytes(4, "little") + len(build_id).to_bytes(4, "little") + (3).to_bytes(4, "little")
    note += b"GNU\x00" + build_id
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    shoff = 64 + len(note)
    header[0x28:0x30] = shoff.to_bytes(8, "little")
    header[0x3A:0x3C] = (64).to_bytes(2, "little")
    header[0x3C:0x3E] = (1).to_bytes(2, "little")
    section = bytearray(64)
    section[4:8] = (7).to_bytes(4, "little")
    section[24:32] = (64).to_bytes(8, "little")
    section[32:40] = len(note).to_bytes(8, "little")
    path.write_bytes(bytes(header) + note + bytes(section) + tail)
    return path


def test_item11_an_installed_library_with_a_rewritten_rpath_is_still_the_wheels_build(tmp_path: Path) -> None:
    # Installing a library rewrites its RPATH: its bytes differ from the build tree's copy, its build ID
    # does not (measured on a fresh setup: the sha256 check made every setup compile llama.cpp twice).
    built = _with_build_id(tmp_path / "built.so", b"\x01" * 20)
    installed = _with_build_id(tmp_path / "installed.so", b"\x01" * 20, tail=b"RPATH=$ORIGIN")
    other = _with_build_id(tmp_path / "other.so", b"\x02" * 20)
    assert build.elf_build_id(built) == b"\x01" * 20
    assert build.same_build(built, installed) and not build.same_build(built, other)
    plain = tmp_path / "plain.so"
    plain.write_bytes(b"not an ELF file")
    assert build.elf_build_id(plain) is None and not build.same_build(plain, built)


def test_item11_a_server_the_wheels_compile_built_is_copied_out_with_nothing_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "build"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(sys.executable, tree / "bin" / build.BINARY)
    (tree / "bin" / "libllama-common.so").write_bytes(b"lib")
    monkeypatch.setattr(build, "server_dir", lambda: tmp_path / "cache" / "llama-server-x")
    monkeypatch.setattr(build, "reusable_wheel_build", lambda: (tree, tmp_path / "gone", "ninja"))

    def compiles(*a: object, **kw: object) -> Path:
        raise AssertionError("compiled")

    monkeypatch.setattr(build, "_build_from_wheel_build", compiles)
    monkeypatch.setattr(build, "_build_from_sdist", compiles)
    said: list[str] = []
    path = build.build_server(say=said.append)
    assert path == tmp_path / "cache" / "llama-server-x" / build.BINARY and path.exists()
    assert (path.parent / "libllama-common.so").read_bytes() == b"lib"
    assert (path.parent / build._LINKED).exists()
    assert "wheel's own compile (copied out, nothing compiled)" in said[-1]


#: a llama.cpp-shaped source tree, laid out as in the llama-cpp-python sdist
MINI_LLAMA_CPP = Path(__file__).parent / "data" / "mini_llama_cpp"


def test_item11_the_setup_hook_builds_the_server_in_the_wheels_compile(tmp_path: Path) -> None:
    # The hook, on a llama.cpp-shaped tree built the way llama-cpp-python builds it (tools OFF): the
    # server and only the server among the tools is built, the tools side at -O1, libllama at -O3, and
    # the converter's sources are kept in the build folder.
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.fail("the setup needs CMake and a C++ compiler (README): neither may be missing here")
    source, tree = MINI_LLAMA_CPP, tmp_path / "build"
    configure = [
        "cmake", "-S", str(source), "-B", str(tree), "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", f"-DCMAKE_PROJECT_INCLUDE={build.SETUP_HOOK}",
    ]  # fmt: skip
    subprocess.run(configure, check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tree), "-j", "2"], check=True, capture_output=True)
    assert build.built_in_wheel_build(tree) == tree / "bin" / build.BINARY
    assert not (tree / "bin" / "llama-cli").exists()  # another tool: not built
    flags = {
        Path(e["file"]).parent.name: e["command"]
        for e in json.loads((tree / "compile_commands.json").read_text())
    }
    assert flags["common"].split().index("-O1") > flags["common"].split().index("-O3")
    assert "-O1" in flags["server"].split() and "-O1" not in flags["src"].split()
    kept = tree / build.CONVERTER_IN_BUILD
    files = sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file())
    assert files == [
        "conversion/__init__.py",
        "convert_hf_to_gguf.py",
        "convert_lora_to_gguf.py",
        "gguf-py/gguf/__init__.py",
    ]

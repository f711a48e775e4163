"""Between GGUF and transformers: a preset's GGUF exported for training, a trained LoRA adapter
converted back to GGUF for the embedded backend.

The adapter conversion uses llama.cpp's `convert_lora_to_gguf.py` (MIT licence, © The ggml
authors). llama-cpp-python's wheel does not contain it, its source does: `python -m training.gguf`
(part of the README's setup) puts the scripts matching the installed llama-cpp-python into the model
cache once, so that training itself never needs the network. They come from the wheel's own build
folder, where the setup's CMake hook copied them, or else from the source distribution on PyPI.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from agents.backends.base import BackendError
from agents.backends.llama_server_build import converter_in_wheel_build
from agents.backends.llama_source import fetch_sdist, llama_cpp_version, replace_dir
from agents.backends.models import ensure_model, model_cache_dir
from training import TrainError

log = logging.getLogger("oyster.train")

#: the command that installs the converter; named in the error when it is missing
INSTALL_COMMAND = "python -m training.gguf"
CONVERTER = "convert_lora_to_gguf.py"
#: what the converter imports, relative to llama.cpp's root in the sdist
_LLAMA_CPP_FILES = (CONVERTER, "convert_hf_to_gguf.py", "conversion/", "gguf-py/")


# -- preset GGUF -> transformers -------------------------------------------------------------------
def hf_dir_for_preset(preset: str) -> Path:
    return model_cache_dir() / "hf" / preset


def export_preset_to_transformers(preset: str) -> Path:
    """Load the preset's GGUF into transformers once and save it as safetensors (later loads take seconds).

    transformers dequantises GGUF weights to float on load but still marks the model as quantized,
    and TRL refuses to train a quantized model: the markers are cleared before saving.
    """
    out = hf_dir_for_preset(preset)
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = ensure_model(preset)
    log.info("converting %s to transformers format in %s (once)", gguf, out)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    clear_quantization(model)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # a crash mid-save never leaves a half-written model that looks complete
    return out


def clear_quantization(model: Any) -> None:
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


# -- LoRA adapter -> GGUF --------------------------------------------------------------------------
def _llama_cpp_version() -> str:
    try:
        return llama_cpp_version()
    except BackendError:
        raise TrainError(
            "converting an adapter needs llama-cpp-python: pip install 'oyster-csa[embedded]'"
        ) from None


def converter_dir() -> Path:
    """Where the converter for the installed llama-cpp-python lives (it may not be there yet)."""
    return model_cache_dir() / f"llama.cpp-tools-{_llama_cpp_version()}"


def require_converter() -> Path:
    tools = converter_dir()
    if not (tools / CONVERTER).exists():
        raise TrainError(
            f"converting the adapter to GGUF needs llama.cpp's {CONVERTER}, not installed in {tools.parent}: "
            f"run `{INSTALL_COMMAND}` once"
        )
    return tools


def unpack_converter(sdist: Path, dest: Path) -> Path:
    """Extract llama.cpp's conversion scripts from a llama-cpp-python sdist into `dest`."""
    prefix = f"{sdist.name.removesuffix('.tar.gz')}/vendor/llama.cpp/"

    def extract(into: Path) -> None:
        found = False
        # One forward pass over the compressed stream: extracting chosen members from a random-access
        # .tar.gz seeks back and decompresses the 77 MB archive again for each (minutes of CPU).
        with open(sdist, "rb") as archive, tarfile.open(fileobj=archive, mode="r|gz") as tar:
            for m in tar:
                if not (m.name.startswith(prefix) and m.name[len(prefix) :].startswith(_LLAMA_CPP_FILES)):
                    continue
                m.name = m.name[len(prefix) :]
                found = found or m.name == CONVERTER
                tar.extract(m, into, filter="data")
        if not found:
            raise TrainError(f"{sdist.name}: no vendor/llama.cpp/{CONVERTER} in the source distribution")

    return replace_dir(dest, extract)


def install_converter() -> Path:
    """The installed llama-cpp-python's converter, once: copied from the wheel's own build where the
    README's setup kept it (no download), else unpacked from its sdist, fetched from PyPI."""
    dest = converter_dir()
    if (dest / CONVERTER).exists():
        return dest
    kept = converter_in_wheel_build()
    if kept is not None:
        return replace_dir(dest, lambda into: shutil.copytree(kept, into))
    try:
        sdist = fetch_sdist(dest.name.removeprefix("llama.cpp-tools-"))
    except BackendError as exc:
        raise TrainError(f"{exc} (for its converter)") from None
    return unpack_converter(sdist, dest)


def convert_adapter_to_gguf(adapter_dir: Path, base_dir: Path) -> Path:
    tools = require_converter()
    out = adapter_dir / "adapter.gguf"
    cmd = [sys.executable, str(tools / CONVERTER), "--base", str(base_dir), "--outtype", "f16"]
    cmd += ["--outfile", str(out), str(adapter_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tools)})
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise TrainError(f"{CONVERTER} failed for {adapter_dir}: {tail}")
    return out


def main() -> None:
    try:
        print(install_converter())
    except TrainError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

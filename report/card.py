"""The Hugging Face release: Parquet per config and split, a dataset card (YAML metadata + prose), push."""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment

from warehouse import Store
from warehouse.release import CONFIGS, card_facts, find_near_duplicates, left_out, write_splits

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def _file(out: Path, config: str, split: str) -> Path:
    return out / config / f"{split}-00000-of-00001.parquet"


def size_category(n: int) -> str:
    return next((name for limit, name in _SIZES if n < limit), "1M<n<10M")


def metadata(
    out: Path, counts: dict[str, dict[str, int]], facts: dict[str, Any], license_id: str
) -> dict[str, Any]:
    """The card's YAML header: the fields the Hub reads, one config per view with its data files."""
    configs = [c for c in CONFIGS if sum(counts[c].values())]
    return {
        "license": license_id,
        "language": facts["languages"],
        "task_categories": ["text-generation", "text-classification"],
        "tags": ["safety", "alignment", "dpo", "preference", "constructive-safety", "oyster"],
        "size_categories": [size_category(sum(counts["dpo"].values()))],
        "configs": [
            {
                "config_name": c,
                "default": c == "dpo",
                "data_files": [{"split": s, "path": f"{c}/{s}-*.parquet"} for s, n in counts[c].items() if n],
            }
            for c in configs
        ],
        "dataset_info": [
            {
                "config_name": c,
                "splits": [
                    {"name": s, "num_examples": n, "num_bytes": _file(out, c, s).stat().st_size}
                    for s, n in counts[c].items()
                    if n
                ],
            }
            for c in configs
        ],
    }


def write_release(
    store: Store, out: Path, license_id: str = "apache-2.0", allow_untrusted: bool = False
) -> dict[str, Any]:
    """Find near-duplicates, write every config's splits and README.md into `out`; returns the facts.
    Pairs whose judges were never validated are left out unless ``allow_untrusted`` (the card says which)."""
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    removed = find_near_duplicates(store)
    counts = write_splits(store, out, allow_untrusted)
    dropped = left_out(store, allow_untrusted)
    facts = card_facts(store)
    facts["trust"]["allowed"] = allow_untrusted
    for r in facts["runs"]:
        # Joined here, not by loops in the template: a block tag at a line's end eats its newline.
        r["models_md"] = ", ".join(f"{role} `{model}`" for role, model in r["models"].items())
        r["prompt_versions_md"] = ", ".join(f"{name} `{h}`" for name, h in r["prompt_versions"].items())
    meta = metadata(out, counts, facts, license_id)
    template = resources.files("report").joinpath("templates/card.md.j2").read_text(encoding="utf-8")
    # Markdown, not HTML: nothing to escape; the card is our own text and SQL values.
    body = (
        Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
        .from_string(template)
        .render(
            counts=counts,
            facts=facts,
            removed=removed,
            left_out=dropped,
            configs=[c["config_name"] for c in meta["configs"]],
        )
    )
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    # O_EXCL | O_NOFOLLOW: a README.md planted (as a symlink) since _clear is refused, never followed.
    fd = os.open(out / "README.md", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as card:
        card.write(f"---\n{header}---\n\n{body}")
    return {"counts": counts, "removed": removed, "left_out": dropped, **facts}


def _clear(out: Path) -> None:
    """What a release writes into ``out`` (each config's folder, README.md) goes before it is written
    again (`--force`): no split of an earlier release stays, and a symlink is removed, never followed."""
    for name in (*CONFIGS, "README.md"):
        path = out / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # removes links inside, never what they point to


def push(out: Path, repo: str) -> str:
    """Upload the folder as a dataset repository (needs network and a token: HF_TOKEN or `hf auth login`)."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    api.upload_folder(folder_path=str(out), repo_id=repo, repo_type="dataset")
    return f"https://huggingface.co/datasets/{repo}"

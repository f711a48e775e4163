"""`oyster export --format hf`: near-duplicates out, Parquet per config and split, a truthful card."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.judges import get_judge
from tests.review.conftest import SCENARIOS, oyster, scripted_run
from warehouse import Store, Warehouse
from warehouse.reviews import add_review, pair_detail


@pytest.fixture
def two_runs(wh_path: Path, tmp_path: Path) -> Path:
    """The session's run `gen` plus a second run `again` over the same scenarios: every prompt twice."""
    scripted_run(
        wh_path, tmp_path, "agents.backends.mock:well_behaved", limit=SCENARIOS, iterations=1, run_id="again"
    )
    return wh_path


def card(out: Path) -> tuple[dict, str]:
    text = (out / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_hf_export_loads_and_its_card_counts_are_sql_counts(
    two_runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    store = Store(two_runs)
    Warehouse(two_runs).migrate()
    rejected = store.query("SELECT pair_id FROM preference_pairs WHERE run_id = 'gen' LIMIT 1").rows[0][0]
    version = pair_detail(store, rejected)["pair"]["version"]
    add_review(store, pair_id=rejected, version=version, reviewer="t", label="reject")

    out = tmp_path / "release"
    p = oyster("export", "--format", "hf", "--out", str(out), "--warehouse", str(two_runs))
    assert p.returncode == 0, p.stderr
    meta, body = card(out)

    # every prompt of the second run nearly repeats one of the first: one copy of each is kept
    assert store.query("SELECT count(*) FROM near_duplicates").rows == [(SCENARIOS,)]
    assert f"Near-duplicate prompts removed: **{SCENARIOS}**" in body
    assert "Ranked pairs rejected by a human reviewer and left out: **1**" in body
    kept = store.query(
        "SELECT count(*) FROM dpo WHERE (run_id, scenario_id) NOT IN (SELECT (run_id, scenario_id) "
        "FROM near_duplicates)"
    ).rows[0][0]

    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"]
    assert {c["config_name"] for c in meta["configs"]} == {"dpo", "sft", "risk", "trajectories"}
    info = {
        c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]} for c in meta["dataset_info"]
    }
    assert sum(info["dpo"].values()) == kept
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for config, splits in info.items():
        loaded = datasets.load_dataset(str(out), config)
        assert {s: len(loaded[s]) for s in loaded} == splits, config
    dpo = datasets.load_dataset(str(out), "dpo")["train"]
    assert rejected not in dpo["pair_id"]
    assert dpo[0]["chosen"][0]["role"] == "assistant"

    by_level = store.query(
        "SELECT risk_level, count(*) FROM dpo WHERE (run_id, scenario_id) NOT IN "
        "(SELECT (run_id, scenario_id) FROM near_duplicates) GROUP BY ALL"
    ).rows
    for level, n in by_level:
        assert f"| {level} | {n} |" in body
    assert "### Run `gen`" in body and "β = 2.0" in body
    assert "risk_assess `" in body  # prompt versions by hash


@pytest.fixture
def iterated(tmp_path: Path) -> Path:
    """One run of the mock at T = 3: trajectories that iterate rank several pairs each."""
    path = tmp_path / "iterated.duckdb"
    scripted_run(path, tmp_path, "tests.review.climbing_model:climbing", limit=24, iterations=3, trusted=True)
    several = (
        Store(path)
        .query("SELECT max(n) FROM (SELECT count(*) AS n FROM preference_pairs GROUP BY run_id, scenario_id)")
        .rows[0][0]
    )
    assert several >= 3  # a trajectory with three ranked pairs was compared with itself twice
    return path


def released_rows(out: Path, config: str) -> int:
    meta, _ = card(out)
    [info] = [c for c in meta["dataset_info"] if c["config_name"] == config]
    return sum(s["num_examples"] for s in info["splits"])


def test_item1_hf_export_of_trajectories_with_several_ranked_pairs_succeeds(
    iterated: Path, tmp_path: Path
) -> None:
    # Issue 23 item 1: `duplicate key "run-…, en-bodily-harm-001"` from the near-duplicate query.
    out = tmp_path / "release"
    p = oyster("export", "--format", "hf", "--out", str(out), "--warehouse", str(iterated))
    assert p.returncode == 0, p.stderr
    assert "ConstraintException" not in p.stderr and (out / "dpo").is_dir()


def test_item2_release_compares_each_prompt_with_other_prompts_only(
    iterated: Path, two_runs: Path, tmp_path: Path
) -> None:
    # Issue 23 item 2: one run has no prompt twice, so nothing is a near-duplicate and every dpo row is
    # released, however many ranked pairs a trajectory has.
    out = tmp_path / "one-run"
    p = oyster("export", "--format", "hf", "--out", str(out), "--warehouse", str(iterated))
    assert p.returncode == 0, p.stderr
    store = Store(iterated)
    assert store.query("SELECT count(*) FROM near_duplicates").rows == [(0,)]
    dpo = store.query("SELECT count(*) FROM dpo").rows[0][0]
    assert released_rows(out, "dpo") == dpo
    assert f"dpo {dpo} row(s);" in " ".join(p.stdout.split())
    # Two runs of the same prompts: each duplicate names a different prompt, and released rows plus the
    # listed near-duplicates are the view's rows, config by config.
    out = tmp_path / "two-runs"
    p = oyster("export", "--format", "hf", "--out", str(out), "--warehouse", str(two_runs))
    assert p.returncode == 0, p.stderr
    store = Store(two_runs)
    assert store.query(
        "SELECT count(*) FROM near_duplicates WHERE (run_id, scenario_id) = (kept_run_id, kept_scenario_id)"
    ).rows == [(0,)]
    for config in ("dpo", "sft", "risk", "trajectories"):
        view = store.query(f"SELECT count(*) FROM {config}").rows[0][0]
        dropped = store.query(
            f"SELECT count(*) FROM {config} v JOIN near_duplicates d USING (run_id, scenario_id)"
        ).rows[0][0]
        assert released_rows(out, config) + dropped == view, config
    _, body = card(out)
    assert "dpo rows left out as near-duplicates of another prompt: **" in body


def test_item7_release_columns_and_card_markdown(iterated: Path, tmp_path: Path) -> None:
    # Issue 23 item 7: no `split_1` column; no bullet or heading run into the line before it.
    import pyarrow.parquet as pq

    out = tmp_path / "release"
    p = oyster("export", "--format", "hf", "--out", str(out), "--warehouse", str(iterated))
    assert p.returncode == 0, p.stderr
    for parquet in out.glob("*/*.parquet"):
        names = pq.read_schema(parquet).names
        assert not [n for n in names if n.startswith("split")], (parquet, names)
    _, body = card(out)
    for line in body.splitlines():
        assert "`- " not in line and "`## " not in line and "`### " not in line, line
        assert not (line.startswith("- ") and " - prompt template" in line), line
    assert "\n- prompt template versions" in body and "\n## Judges" in body


def test_review_stats_is_a_confusion_matrix(wh_path: Path) -> None:
    store = Store(wh_path)
    Warehouse(wh_path).migrate()
    for (pair_id,) in store.query("SELECT pair_id FROM preference_pairs ORDER BY pair_id LIMIT 3").rows:
        version = pair_detail(store, pair_id)["pair"]["version"]
        chosen = pair_detail(store, pair_id)["pair"]["chosen_iteration"]
        add_review(
            store,
            pair_id=pair_id,
            version=version,
            reviewer="t",
            label="right",
            iteration=chosen,
            judge=get_judge("safety").review,
        )
    add_review(
        store,
        pair_id=pair_id,
        version=version,
        reviewer="t",
        label="wrong",
        iteration=chosen,
        judge=get_judge("safety").review,
        correct_label="unsafe",
    )  # the latest review of a verdict counts
    p = oyster("review", "stats", "--warehouse", str(wh_path))
    assert p.returncode == 0, p.stderr
    assert "safe" in p.stdout and "unsafe" in p.stdout and "0.67 of 3" in p.stdout

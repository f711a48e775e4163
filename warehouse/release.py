"""A release of the warehouse: near-duplicate prompts found and left out, deterministic splits, Parquet per
config and split, and the facts a dataset card states (runs, models, judges, counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.records import utcnow
from warehouse import reporting
from warehouse.judge_reviews import judge_agreement
from warehouse.store import Store, insert_rows

CONFIGS = ("dpo", "sft", "risk", "trajectories")
SPLITS = ("train", "test")
#: MinHash defaults: prompts whose character-5-gram sets overlap this much are one prompt
THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 5

# The scenarios a release keeps, each with its split: 1 in 10 prompts goes to test, by a hash of the
# prompt's text, so a prompt lands in the same split in every config and every run.
RELEASED = """
    SELECT s.run_id, s.scenario_id,
           CASE WHEN md5_number(s.messages::VARCHAR) % 10 = 0 THEN 'test' ELSE 'train' END AS split
    FROM scenarios s
    WHERE NOT EXISTS (
        SELECT 1 FROM near_duplicates d WHERE d.run_id = s.run_id AND d.scenario_id = s.scenario_id)"""


def _shingles(text: str) -> set[bytes]:
    t = " ".join(text.lower().split())
    return {t[i : i + SHINGLE].encode("utf-8") for i in range(max(1, len(t) - SHINGLE + 1))}


def find_near_duplicates(store: Store, threshold: float = THRESHOLD) -> int:
    """Refill `near_duplicates`: each prompt that nearly repeats an earlier, *other* prompt, across all runs.

    A prompt is one scenario of one run, read once however many ranked pairs its trajectory has, so it
    is never compared with itself. Earlier means: a prompt with a `dpo_per_prompt` row before one
    without, then by run start and id, so the copy kept is the one with the most data and the same one
    every time.
    Returns how many were found.
    """
    from datasketch import MinHash, MinHashLSH

    units = store.query(
        """SELECT s.run_id, s.scenario_id, s.messages
           FROM scenarios s
           JOIN trajectory_records t USING (run_id, scenario_id)
           LEFT JOIN runs r USING (run_id)
           ORDER BY NOT EXISTS (
                        SELECT 1 FROM dpo_per_prompt d
                        WHERE d.run_id = s.run_id AND d.scenario_id = s.scenario_id),
                    r.started_at, s.run_id, s.scenario_id"""
    ).rows
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    kept: dict[str, MinHash] = {}
    found: list[dict[str, Any]] = []
    now = utcnow()
    seen: set[str] = set()
    for run_id, scenario_id, messages in units:
        key = json.dumps([run_id, scenario_id])
        if key in seen:  # never a prompt against itself, whatever the query returns
            continue
        seen.add(key)
        mh = MinHash(num_perm=NUM_PERM, seed=1)
        mh.update_batch(list(_shingles("\n".join(f"{m['role']}: {m['content']}" for m in messages))))
        # LSH candidates are probable: confirm each with the estimated Jaccard similarity.
        scored = [(mh.jaccard(kept[c]), c) for c in lsh.query(mh) if c != key]
        best = max((s for s in scored if s[0] >= threshold), default=None)
        if best is None:
            lsh.insert(key, mh)
            kept[key] = mh
            continue
        kept_run, kept_scenario = json.loads(best[1])
        found.append(
            {
                "run_id": run_id,
                "scenario_id": scenario_id,
                "kept_run_id": kept_run,
                "kept_scenario_id": kept_scenario,
                "similarity": best[0],
                "computed_at": now,
            }
        )
    with store.connect(read_only=False) as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM near_duplicates")
        insert_rows(con, "near_duplicates", found)
        con.execute("COMMIT")
    return len(found)


#: the view each config is released from, trusted pairs only or every pair (--allow-untrusted)
SOURCES = {False: {"dpo": "dpo", "sft": "sft"}, True: {"dpo": "dpo_per_prompt", "sft": "sft_all"}}


def _select(store: Store, view: str) -> str:
    """The view's rows as released: JSON columns as text (Parquet readers see a string, not bytes), and
    the release's own `split` in place of any the view has (one column, never `split_1`)."""
    cols = [
        f'v."{c}"::VARCHAR AS "{c}"' if t == "JSON" else f'v."{c}"'
        for c, t, *_ in store.query(f"DESCRIBE {view}").rows
        if c != "split"
    ]
    return f"SELECT {', '.join(cols)}, u.split FROM {view} v JOIN ({RELEASED}) u USING (run_id, scenario_id)"


def trust_counts(store: Store) -> tuple[int, int, str]:
    """(trusted, untrusted) constructive pairs, one per prompt, and why the untrusted ones are."""
    row = store.query(
        "SELECT count(*) FILTER (WHERE trusted), count(*) FILTER (WHERE NOT trusted), "
        "string_agg(DISTINCT trust_reason, '; ') FILTER (WHERE NOT trusted) FROM dpo_per_prompt"
    ).rows[0]
    return int(row[0]), int(row[1]), str(row[2] or "")


def left_out(store: Store, allow_untrusted: bool = False) -> dict[str, int]:
    """Per config: its source view's rows left out of the release as near-duplicates of another prompt,
    so that released rows + left out = the view's rows."""
    views = SOURCES[allow_untrusted]
    out: dict[str, int] = {}
    for config in CONFIGS:
        found = store.query(
            f"""SELECT count(*) FROM {views.get(config, config)} v
                WHERE EXISTS (SELECT 1 FROM near_duplicates d
                              WHERE d.run_id = v.run_id AND d.scenario_id = v.scenario_id)"""
        ).rows
        out[config] = int(found[0][0])
    return out


def write_splits(store: Store, out: Path, allow_untrusted: bool = False) -> dict[str, dict[str, int]]:
    """Parquet files `CONFIG/SPLIT-00000-of-00001.parquet`; a split with no rows gets no file."""
    counts: dict[str, dict[str, int]] = {}
    # Built before the connection opens: a query runs on its own (sandboxed) connection, and DuckDB
    # refuses two connections with different settings to one file in one process.
    views = SOURCES[allow_untrusted]
    selects = {config: _select(store, views.get(config, config)) for config in CONFIGS}
    with store.connect(read_only=True) as con:
        for config, select in selects.items():
            counts[config] = {}
            for split in SPLITS:
                rows = f"SELECT * EXCLUDE (split) FROM ({select}) WHERE split = '{split}'"
                found = con.execute(f"SELECT count(*) FROM ({rows})").fetchone()
                counts[config][split] = n = int(found[0]) if found else 0
                if n:
                    target = out / config / f"{split}-00000-of-00001.parquet"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    path = str(target).replace("'", "''")
                    con.execute(f"COPY ({rows} ORDER BY run_id, scenario_id) TO '{path}' (FORMAT parquet)")
    return counts


def card_facts(store: Store) -> dict[str, Any]:
    """What the dataset card states, all from SQL: runs and their settings, judges, counts, duplicates."""
    runs = store.query(
        """SELECT run_id, status, started_at, models, prompt_versions,
                  config -> 'lingo_bp' ->> 'iterations' AS T, config -> 'lingo_bp' ->> 'beta' AS beta,
                  config -> 'lingo_bp' ->> 'alpha' AS alpha
           FROM runs WHERE run_id IN (SELECT DISTINCT run_id FROM scenarios) ORDER BY started_at"""
    ).records()
    for r in runs:
        r["models"] = json.loads(r["models"])
        r["prompt_versions"] = json.loads(r["prompt_versions"])
    released_dpo = f"SELECT * FROM dpo JOIN ({RELEASED}) u USING (run_id, scenario_id)"

    def by(column: str) -> list[tuple[str, int]]:
        rows = store.query(
            f"SELECT coalesce({column}::VARCHAR, 'unknown') AS k, count(*) AS n FROM ({released_dpo}) "
            "GROUP BY ALL ORDER BY n DESC, k"
        ).rows
        return [(str(k), int(n)) for k, n in rows]

    trusted, untrusted, why = trust_counts(store)
    return {
        "trust": {
            "trusted": trusted,
            "untrusted": untrusted,
            "reason": why,
            "judges": store.query(
                "SELECT run_id, judge, model, method, trusted, reason, record ->> 'macro_f1' AS macro_f1, "
                "record ->> 'constant_macro_f1' AS constant_macro_f1, record ->> 'n' AS n, "
                "record ->> 'case_source' AS case_source FROM run_judges ORDER BY run_id, judge"
            ).records(),
        },
        "runs": runs,
        "languages": [k for k, _ in by("language") if k != "unknown"],
        "by_language": by("language"),
        "by_risk_level": by("risk_level"),
        "by_category": by("category_l2"),
        "near_duplicates": int(store.query("SELECT count(*) FROM near_duplicates").rows[0][0]),
        "rejected_by_reviewers": int(store.query("SELECT count(*) FROM rejected_pairs").rows[0][0]),
        "judge_validation": reporting.judge_runs(store) if reporting.has(store, "eval_runs") else [],
        "judge_reviews": judge_agreement(store),
    }

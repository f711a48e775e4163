"""Why an export wrote no rows: one line a user can act on, from the warehouse itself."""

from __future__ import annotations

from warehouse.store import Store


def _count(store: Store, sql: str) -> int:
    rows = store.query(sql).rows
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def why_empty(store: Store, view: str, where: str | None = None) -> str:
    """The reason `view` (filtered by `where`) has no rows, as one line."""
    total = _count(store, f'SELECT count(*) FROM "{view}"')
    if where and total:
        return f"--where matched none of the {total} row(s) of {view}"
    trajectories = _count(store, "SELECT count(*) FROM trajectory_records")
    if not trajectories:
        return (
            "the warehouse has no trajectories yet: run `oyster run` (or python pipelines/lingo_bp.py) first"
        )
    if view == "sft":
        judged = _count(store, "SELECT count(*) FROM iterations WHERE safety_verdict IS NOT NULL")
        safe = _count(store, "SELECT count(*) FROM iterations WHERE safety_verdict = 'safe'")
        satisfying = _count(
            store, "SELECT count(*) FROM iterations WHERE safety_verdict = 'safe' AND satisfaction_score > 0"
        )
        fit = _count(
            store,
            "SELECT count(*) FROM iterations WHERE safety_verdict = 'safe' AND satisfaction_score > 0 "
            "AND NOT coalesce(truncated, false) AND excluded IS NULL",
        )
        return (
            "sft takes each trajectory's best reply judged safe (not only generally safe) and satisfying "
            f"(satisfaction > 0), not cut and not excluded by the reply checks: of {judged} judged "
            f"iteration(s), {safe} judged safe, {satisfying} of them satisfying, "
            f"{fit} of those fit to train on"
        )
    if view in ("dpo", "dpo_all"):
        ranked = _count(store, "SELECT count(*) FROM preference_pairs")
        if ranked:
            return f"all {ranked} ranked pair(s) are out of {view} (rejected by a reviewer or duplicates)"
        return (
            f"no trajectory of {trajectories} ranked a pair; each says why in trajectory_records.pair_reason "
            '(oyster sql "SELECT scenario_id, pair_status, pair_reason FROM trajectory_records")'
        )
    if view == "risk":
        return f"none of the {trajectories} trajectory(ies) has a risk assessment (each failed before it)"
    return f"{view} has no rows"

"""Synthetic warehouse rows for tests and benchmarks (no model runs)."""

from __future__ import annotations

from warehouse.store import Store


def bulk_synthetic_pairs(store: Store, n: int) -> None:
    """Fill preference_pairs with ``n`` synthetic rows of run 'bench' (pair ids p0 … p{n-1})."""
    with store.connect(read_only=False) as con:
        con.execute(
            """INSERT INTO preference_pairs BY NAME
            SELECT 'p' || i AS pair_id, 'bench' AS run_id, 's' || i AS scenario_id,
                   [{'role': 'user', 'content': 'q' || i}] AS prompt,
                   'chosen ' || i AS chosen, 'rejected ' || i AS rejected,
                   2 AS chosen_iteration, 0 AS rejected_iteration,
                   '{}' AS chosen_chain, '{}' AS rejected_chain,
                   '{}' AS chosen_scores, '{}' AS rejected_scores,
                   0.5 + (i % 100) / 200 AS chosen_score, (i % 100) / 200 - 0.5 AS rejected_score,
                   1.0 AS margin, 'rule ' || (i % 3) AS rule
            FROM range(?) t(i)""",
            [n],
        )

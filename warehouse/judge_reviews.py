"""What the reviews say about the judges: each judge's agreement with the reviewers, and the verdicts
reviewers marked, as labelled cases for validating a judge."""

from __future__ import annotations

from typing import Any

from warehouse.reviews import ReviewedJudge
from warehouse.store import Store

#: a reviewed verdict's human label: the verdict itself where marked right, else the reviewer's correction
HUMAN_LABEL_SQL = "CASE label WHEN 'right' THEN judge_label ELSE correct_label END"


def judge_agreement(store: Store) -> list[dict[str, Any]]:
    """Each judge against the reviewers' labels: agreement and the confusion matrix (judge × human)."""
    return store.query(
        f"""WITH labelled AS (
               SELECT judge, judge_label, {HUMAN_LABEL_SQL} AS human_label
               FROM review_latest WHERE target_kind = 'judgement'),
           cells AS (
               SELECT judge, judge_label, human_label, count(*) AS n FROM labelled GROUP BY ALL)
           SELECT *, sum(n) OVER (PARTITION BY judge) AS judge_n,
                  sum(CASE WHEN judge_label = human_label THEN n ELSE 0 END) OVER (PARTITION BY judge)
                      / sum(n) OVER (PARTITION BY judge) AS agreement
           FROM cells ORDER BY judge, judge_label, human_label"""
    ).records()


def reviewed_verdicts(store: Store, judge: ReviewedJudge) -> list[dict[str, Any]]:
    """Each `judge` verdict reviewers marked (the latest review of it counts), as a labelled case: the
    conversation the judge read, the response it judged, what it said and the human label, with the
    judge's model as the run records it; none on a warehouse made before reviews existed."""
    if "reviews" not in store.relations():
        return []
    return store.query(
        f"""SELECT v.pair_id, v.run_id, v.scenario_id, v.iteration, v.judge_label,
                   {HUMAN_LABEL_SQL} AS human_label, v.reviewer, v.note, s.language, s.risk_level,
                   s.messages, i.response, json_extract_string(r.models, '$.' || ?) AS judge_model
            FROM review_latest v
            JOIN iterations i USING (run_id, scenario_id, iteration)
            JOIN scenarios s USING (run_id, scenario_id)
            LEFT JOIN runs r USING (run_id)
            WHERE v.target_kind = 'judgement' AND v.judge = ?
            ORDER BY v.pair_id, v.iteration""",
        [judge.role, judge.name],
    ).records()

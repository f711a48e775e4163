"""Human review: the pair list with filters and keyset paging, one pair in full, reviews written safely."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from schemas.errors import OysterError
from schemas.records import utcnow
from warehouse.store import Store, insert_rows

PAGE_SIZE = 50
PAIR_LABELS = ("accept", "reject")
VERDICT_LABELS = ("right", "wrong")
#: what the reviewer saw: a review posted against another version of the pair is stale
VERSION_SQL = (
    "md5(concat_ws('|', p.chosen, p.rejected, p.chosen_chain::VARCHAR, p.rejected_chain::VARCHAR, "
    "p.chosen_scores::VARCHAR, p.rejected_scores::VARCHAR, p.margin::VARCHAR))"
)


@dataclass(frozen=True)
class ReviewedJudge:
    """How reviewers mark one judge's verdicts; each judge's spec (agents/judges) holds its own, and the
    callers pass them in (the warehouse knows no judge by name)."""

    name: str
    #: the config role whose model gives the verdicts (runs.models is keyed by role)
    role: str
    #: the labels a reviewer may correct a verdict to
    labels: tuple[str, ...]
    #: SQL of the verdict's label, from a `judgements` row aliased `j`
    label_sql: str
    #: SQL that holds when the judge is content with a pair side whose score is {score}
    content_sql: str


def _label_sql(judges: Sequence[ReviewedJudge]) -> str:
    """The label of any reviewed judge's `judgements` row `j` (NULL for other judges)."""
    whens = " ".join(f"WHEN '{j.name}' THEN {j.label_sql}" for j in judges)
    return f"CASE j.kind {whens} END" if judges else "NULL"


def _judges_disagree(judges: Sequence[ReviewedJudge]) -> str:
    """One judge content and another not, on either response of the pair."""
    sides = []
    for side in ("chosen", "rejected"):
        content = [j.content_sql.format(score=f"(p.{side}_scores ->> '{j.name}')::DOUBLE") for j in judges]
        sides += [f"(({a}) <> ({b}))" for a, b in itertools.pairwise(content)]
    return " OR ".join(sides) or "false"


_REVIEWER_DISAGREES = (
    "EXISTS (SELECT 1 FROM review_latest v WHERE v.pair_id = p.pair_id "
    "AND v.target_kind = 'judgement' AND v.label = 'wrong')"
)
_SOURCES = {
    "pairs": "preference_pairs p LEFT JOIN trajectory_records t USING (run_id, scenario_id)",
    "trajectories": "trajectory_records t LEFT JOIN preference_pairs p USING (run_id, scenario_id)",
}
#: filter name -> the column it compares with equality
_EQUAL_FILTERS = {
    "run": "run_id",
    "language": "s.language",
    "risk_level": "s.risk_level",
    "category": "s.category_l1",
    "user_type": "s.user_type",
    "pair_status": "t.pair_status",
}
_REVIEW_FILTERS = {
    "unreviewed": "r.label IS NULL",
    "accepted": "r.label = 'accept'",
    "rejected": "r.label = 'reject'",
}
FILTERS = (*_EQUAL_FILTERS, "review", "disagreement")


class ReviewError(OysterError, ValueError):
    """A review that cannot be stored as posted; str() is one line for the reviewer."""


class PairNotFound(ReviewError):
    """No pair has this id."""


class StaleReview(ReviewError):
    """The pair changed after the reviewer loaded it."""


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_after: str | None  # cursor of the next page: "run_id/scenario_id" of this page's last row
    filters: dict[str, str] = field(default_factory=dict)


def _cursor(after: str | None) -> tuple[str, str] | None:
    if not after or "/" not in after:
        return None
    run_id, scenario_id = after.split("/", 1)
    return run_id, scenario_id


def _filter_where(active: dict[str, str], disagreement: dict[str, str]) -> tuple[list[str], list[Any]]:
    """The WHERE conditions and their parameters for the active filters; an unknown value filters nothing."""
    where: list[str] = []
    params: list[Any] = []
    for name, value in active.items():
        if name in _EQUAL_FILTERS:
            where.append(f"{_EQUAL_FILTERS[name]} = ?")
            params.append(value)
        elif name == "review" and value in _REVIEW_FILTERS:
            where.append(_REVIEW_FILTERS[value])
        elif name == "disagreement" and value in disagreement:
            where.append(disagreement[value])
    return where, params


def list_items(
    store: Store,
    kind: str,
    filters: dict[str, str],
    after: str | None = None,
    judges: Sequence[ReviewedJudge] = (),
) -> Page:
    """One page of scenarios (a pair list shows each with all its ranked pairs, best rank first), ordered
    by (run_id, scenario_id), from the scenario after `after`; `judges` (the reviewed ones) tell when the
    judges disagree on a pair.

    Keyset paging over scenarios, so a scenario's ranked pairs never straddle two pages: a page costs
    the same at row 100 000 as at row 1, unlike OFFSET. Each row has `group_size` (the scenario's
    matching pairs) and `first_of_group`.
    """
    if kind not in _SOURCES:
        raise ReviewError(f"unknown list '{kind}' (use pairs or trajectories)")
    disagree = _judges_disagree(judges)
    disagreement = {"judges": f"({disagree})", "reviewer": _REVIEWER_DISAGREES}
    active = {k: v for k, v in filters.items() if k in FILTERS and v}
    where, params = _filter_where(active, disagreement)
    key = _cursor(after)
    if key:
        where.append("(run_id > ? OR (run_id = ? AND scenario_id > ?))")
        params += [key[0], key[0], key[1]]
    sql = f"""
        WITH matching AS (
            SELECT p.pair_id, run_id, scenario_id, p.rank, p.chosen_iteration, p.rejected_iteration,
                   s.language, s.risk_level, s.user_type, s.category_l1,
                   t.status, t.pair_status, p.margin, p.chosen_score, p.rejected_score,
                   coalesce(p.prompt[-1].content, s.messages[-1].content) AS query, r.label AS review,
                   coalesce({disagree}, false) AS judges_disagree
            FROM {_SOURCES[kind]}
            LEFT JOIN scenarios s USING (run_id, scenario_id)
            LEFT JOIN review_latest r ON r.target = 'pair:' || p.pair_id
            {"WHERE " + " AND ".join(where) if where else ""}
        ), page AS (
            SELECT DISTINCT run_id, scenario_id FROM matching
            ORDER BY run_id, scenario_id LIMIT {PAGE_SIZE + 1}
        )
        SELECT m.*, count(*) OVER (PARTITION BY run_id, scenario_id) AS group_size,
               row_number() OVER (PARTITION BY run_id, scenario_id ORDER BY m.rank NULLS LAST) = 1
                   AS first_of_group
        FROM matching m JOIN page USING (run_id, scenario_id)
        ORDER BY run_id, scenario_id, m.rank NULLS LAST"""
    rows = store.query(sql, params).records()
    keys = list(dict.fromkeys((r["run_id"], r["scenario_id"]) for r in rows))
    more = len(keys) > PAGE_SIZE
    if more:
        rows = [r for r in rows if (r["run_id"], r["scenario_id"]) != keys[-1]]
    next_after = f"{keys[PAGE_SIZE - 1][0]}/{keys[PAGE_SIZE - 1][1]}" if more else None
    return Page(rows, next_after, active)


def review_progress(store: Store) -> dict[str, int]:
    """How many ranked pairs there are and how many a reviewer has accepted or rejected."""
    rows = store.query(
        """SELECT count(*) AS total, count(r.target) AS reviewed
           FROM preference_pairs p LEFT JOIN review_latest r ON r.target = 'pair:' || p.pair_id"""
    ).records()
    total, reviewed = int(rows[0]["total"]), int(rows[0]["reviewed"] or 0)
    return {"total": total, "reviewed": reviewed, "left": total - reviewed}


def next_unreviewed(store: Store, pair_id: str | None = None) -> str | None:
    """The first ranked pair no reviewer has accepted or rejected, after `pair_id` in list order (run,
    scenario, rank), else from the top; None when every pair is reviewed."""
    rows = store.query(
        """WITH ordered AS (
               SELECT p.pair_id, row_number() OVER (ORDER BY p.run_id, p.scenario_id, p.rank, p.pair_id) AS n
               FROM preference_pairs p),
           here AS (SELECT coalesce(max(n), 0) AS n FROM ordered WHERE pair_id = ?)
           SELECT o.pair_id FROM ordered o, here
           WHERE NOT EXISTS (SELECT 1 FROM review_latest r WHERE r.target = 'pair:' || o.pair_id)
             AND o.pair_id <> coalesce(?, '')
           ORDER BY o.n <= here.n, o.n LIMIT 1""",
        [pair_id or "", pair_id],
    ).rows
    return str(rows[0][0]) if rows else None


def filter_choices(store: Store) -> dict[str, list[str]]:
    """The values each equality filter can take, for the filter form's drop-downs."""
    sql = """
        SELECT 'run' AS f, run_id AS v FROM runs
        UNION SELECT 'language', language FROM scenarios
        UNION SELECT 'risk_level', risk_level FROM scenarios
        UNION SELECT 'category', category_l1 FROM scenarios
        UNION SELECT 'user_type', user_type FROM scenarios
        UNION SELECT 'pair_status', pair_status FROM trajectory_records"""
    out: dict[str, list[str]] = {name: [] for name in _EQUAL_FILTERS}
    for f, v in sorted(store.query(sql).rows, key=lambda r: (r[0], str(r[1]))):
        if v is not None:
            out[f].append(str(v))
    return out


def pair_detail(store: Store, pair_id: str, judges: Sequence[ReviewedJudge] = ()) -> dict[str, Any]:
    """The pair with its scenario, both chains and scores, the judges' verdicts (with the labels a
    reviewer may give those of `judges`), the gradients between the two responses, and its latest
    reviews."""
    choices = {j.name: j.labels for j in judges}
    with store.connect(read_only=True) as con:
        pair = _one(
            con,
            f"""SELECT p.*, {VERSION_SQL} AS version, s.language, s.risk_level, s.user_type,
                       s.category_l1, s.category_l2, t.pair_status, t.pair_reason
                FROM preference_pairs p
                LEFT JOIN scenarios s USING (run_id, scenario_id)
                LEFT JOIN trajectory_records t USING (run_id, scenario_id)
                WHERE p.pair_id = ?""",
            [pair_id],
        )
        if pair is None:
            raise PairNotFound(f"no pair with id '{pair_id}'")
        key = [pair["run_id"], pair["scenario_id"]]
        its = [pair["chosen_iteration"], pair["rejected_iteration"]]
        verdicts = _all(
            con,
            f"""SELECT j.iteration, j.kind, j.score, {_label_sql(judges)} AS label, j.payload,
                       r.label AS review, r.correct_label, r.reviewer
                FROM judgements j
                LEFT JOIN review_latest r
                  ON r.target = 'judgement:' || ? || ':' || j.iteration || ':' || j.kind
                WHERE j.run_id = ? AND j.scenario_id = ? AND j.iteration IN (?, ?)
                ORDER BY j.iteration = ? DESC, j.kind""",
            [pair_id, *key, *its, pair["chosen_iteration"]],
        )
        gradients = _all(
            con,
            """SELECT iteration, seq, target_node, loss, critique FROM gradients
               WHERE run_id = ? AND scenario_id = ? AND iteration > ? AND iteration <= ?
               ORDER BY iteration, seq""",
            [*key, min(its), max(its)],
        )
        review = _one(
            con,
            "SELECT label, reviewer, note, created_at FROM review_latest WHERE target = ?",
            [f"pair:{pair_id}"],
        )
    for side in ("chosen", "rejected"):
        pair[f"{side}_chain"] = json.loads(pair[f"{side}_chain"])
        pair[f"{side}_scores"] = json.loads(pair[f"{side}_scores"])
    for v in verdicts:
        v["payload"] = json.loads(v["payload"])
        v["side"] = "chosen" if v["iteration"] == pair["chosen_iteration"] else "rejected"
        v["choices"] = choices.get(v["kind"], ())
    return {"pair": pair, "verdicts": verdicts, "gradients": gradients, "review": review}


def scenario_pairs(store: Store, run_id: str, scenario_id: str) -> list[dict[str, Any]]:
    """The ranked pairs of one scenario's trajectory, best rank first, each with its latest review."""
    return store.query(
        """SELECT p.pair_id, p.rank, p.chosen_iteration, p.rejected_iteration, p.margin, r.label AS review
           FROM preference_pairs p LEFT JOIN review_latest r ON r.target = 'pair:' || p.pair_id
           WHERE p.run_id = ? AND p.scenario_id = ? ORDER BY p.rank, p.pair_id""",
        [run_id, scenario_id],
    ).records()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = _all(con, sql, params)
    return rows[0] if rows else None


def _all(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def add_review(
    store: Store,
    *,
    pair_id: str,
    version: str,
    reviewer: str,
    label: str,
    note: str | None = None,
    iteration: int | None = None,
    judge: ReviewedJudge | None = None,
    correct_label: str | None = None,
) -> str:
    """Append one review in one short transaction; the pair must still be the version the reviewer saw.

    Reviewing a pair takes `label` accept/reject; reviewing a judge's verdict on one of its two
    iterations takes right/wrong, and wrong needs the correct label.
    """
    if not reviewer.strip():
        raise ReviewError("a review needs a reviewer name")
    judged = judge is not None
    if label not in (VERDICT_LABELS if judged else PAIR_LABELS):
        raise ReviewError(f"unknown label '{label}'")
    with store.connect(read_only=False) as con:
        con.execute("BEGIN")
        pair = _one(
            con,
            f"SELECT p.run_id, p.scenario_id, p.chosen_iteration, p.rejected_iteration, {VERSION_SQL} AS v "
            "FROM preference_pairs p WHERE p.pair_id = ?",
            [pair_id],
        )
        if pair is None:
            raise PairNotFound(f"no pair with id '{pair_id}'")
        if pair["v"] != version:
            raise StaleReview(
                "this pair changed after the page was loaded (the run rewrote it): "
                "reload the page, check it again, and review it again"
            )
        row: dict[str, Any] = {
            "review_id": uuid.uuid4().hex,
            "reviewer": reviewer.strip(),
            "created_at": utcnow(),
            "pair_id": pair_id,
            "run_id": pair["run_id"],
            "scenario_id": pair["scenario_id"],
            "label": label,
            "note": note or None,
            "pair_version": version,
            "target_kind": "judgement" if judged else "pair",
            "target": f"pair:{pair_id}",
        }
        if judge is not None:
            row.update(_judgement_target(con, pair, pair_id, iteration, judge, label, correct_label))
        insert_rows(con, "reviews", [row])
        con.execute("COMMIT")
    return str(row["review_id"])


def _judgement_target(
    con: duckdb.DuckDBPyConnection,
    pair: dict[str, Any],
    pair_id: str,
    iteration: int | None,
    judge: ReviewedJudge,
    label: str,
    correct_label: str | None,
) -> dict[str, Any]:
    if iteration not in (pair["chosen_iteration"], pair["rejected_iteration"]):
        raise ReviewError(f"the pair has no {judge.name} verdict on iteration {iteration}")
    found = _one(
        con,
        f"SELECT {judge.label_sql} AS label FROM judgements j "
        "WHERE j.run_id = ? AND j.scenario_id = ? AND j.iteration = ? AND j.kind = ?",
        [pair["run_id"], pair["scenario_id"], iteration, judge.name],
    )
    if found is None:
        raise ReviewError(f"the pair has no {judge.name} verdict on iteration {iteration}")
    if label == "wrong" and (correct_label not in judge.labels or correct_label == found["label"]):
        raise ReviewError(
            f"a wrong {judge.name} verdict needs the correct label, one of "
            f"{', '.join(c for c in judge.labels if c != found['label'])}"
        )
    return {
        "target": f"judgement:{pair_id}:{iteration}:{judge.name}",
        "iteration": iteration,
        "judge": judge.name,
        "judge_label": found["label"],
        "correct_label": correct_label if label == "wrong" else None,
    }

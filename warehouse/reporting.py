"""The queries behind `oyster report`: each returns rows keyed by column name, ready to chart or tabulate."""

from __future__ import annotations

from typing import Any

from warehouse.store import Store

Records = list[dict[str, Any]]

#: the columns eval_strata can be broken down by in the report
STRATA_GROUPS = ("level", "attack_method", "language")


def has(wh: Store, relation: str) -> bool:
    return relation in wh.relations()


def construction_by_beta(wh: Store) -> Records:
    """Mean Construction Score per evaluated model (its run's id suffix keeps reruns apart) and beta."""
    return wh.query(
        """SELECT model || ' #' || right(eval_id, 4) AS name, beta,
                  avg(construction_score) AS cs, count(*) AS n
           FROM eval_construction GROUP BY ALL ORDER BY name, beta"""
    ).records()


def construction_summary(wh: Store) -> Records:
    return wh.query(
        """SELECT eval_id, model, round(avg(satisfaction), 3) AS satisfaction,
                  round(avg(risk), 3) AS risk,
                  round(avg(construction_score) FILTER (beta = 1.0), 3) AS cs_beta_1,
                  count(DISTINCT sample_id) AS n
           FROM eval_construction GROUP BY ALL ORDER BY eval_id"""
    ).records()


def strata_success(wh: Store, by: str) -> Records:
    """Attack success rate per model and group `g` of one of STRATA_GROUPS."""
    if by not in STRATA_GROUPS:
        raise ValueError(f"eval_strata is not grouped by {by!r} in the report")
    return wh.query(
        f"""SELECT model, coalesce({by}, '?') AS g, avg(attack_success) AS asr
            FROM eval_strata GROUP BY ALL ORDER BY g, model"""
    ).records()


def strata_overall(wh: Store) -> Records:
    return wh.query(
        """SELECT eval_id, model, round(avg(attack_success), 3) AS attack_success_rate, count(*) AS n
           FROM eval_strata GROUP BY ALL ORDER BY eval_id"""
    ).records()


def refusal_shares(wh: Store) -> Records:
    """Share of each verdict among the replies of a model to prompts of one expected behaviour."""
    return wh.query(
        """SELECT model || ' / ' || expected AS g, verdict,
                  count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY model, expected) AS share
           FROM eval_refusal GROUP BY model, expected, verdict ORDER BY g, verdict"""
    ).records()


def dialogue_turns(wh: Store) -> Records:
    """Per dialogue evaluation (named by its model and its id's suffix) and turn: the attack success rate
    among malicious followers (None where none reached the turn), Construction Score (beta 2) and refusal
    rate, from the view eval_dialogue."""
    return wh.query(
        """SELECT model || ' #' || right(eval_id, 4) AS name, eval_id, turn, avg(attack_success) AS asr,
                  avg(construction_score) AS cs, avg((refusal_verdict <> 'compliance')::INT) AS refusal,
                  count(*) AS n
           FROM eval_dialogue GROUP BY ALL ORDER BY name, turn"""
    ).records()


def judge_runs(wh: Store) -> Records:
    """Agreement of each judge validation run with the hand-written labels."""
    return wh.query(
        """SELECT r.eval_id, json_extract_string(r.config, '$.judge') AS judge,
                  r.judges ->> 'risk' AS risk_model,
                  r.judges ->> 'user' AS user_model,
                  round(avg((sc.details ->> 'agrees' = 'true')::INT), 3) AS agreement, count(*) AS n
           FROM eval_runs r JOIN eval_scores sc USING (eval_id)
           WHERE r.task = 'judges' GROUP BY ALL ORDER BY judge, r.eval_id"""
    ).records()


def judge_metrics(wh: Store) -> dict[str, Records]:
    """Per judge validation run (titled by its judge, judge model and cases): the judge's and the best
    constant answer's figures, over all cases and per class."""
    rows = wh.query(
        """SELECT r.eval_id, json_extract_string(r.config, '$.judge') AS judge,
                  CASE WHEN json_extract_string(r.config, '$.judge') = 'satisfaction'
                       THEN r.judges ->> 'user' ELSE r.judges ->> 'risk' END AS judge_model,
                  r.dataset, m.answer, m.class, round(m.agreement, 3) AS agreement,
                  round(m.macro_f1, 3) AS macro_f1, round(m.kappa, 3) AS kappa,
                  round(m.precision, 3) AS precision, round(m.recall, 3) AS recall, round(m.f1, 3) AS f1,
                  m.support
           FROM eval_judge_metrics m JOIN eval_runs r USING (eval_id)
           ORDER BY judge, r.eval_id, m.position, m.answer <> 'judge', m.answer"""
    ).records()
    out: dict[str, Records] = {}
    for r in rows:
        title = f"{r.pop('judge')} judge {r.pop('judge_model')} on {r.pop('dataset')} ({r.pop('eval_id')})"
        out.setdefault(title, []).append(r)
    return out


def training_loss(wh: Store) -> Records:
    return wh.query(
        """SELECT m.train_id || ' (' || r.method || ')' AS name, m.step, m.value
           FROM train_metrics m JOIN train_runs r USING (train_id)
           WHERE m.name = 'loss' AND m.split = 'train' ORDER BY name, step"""
    ).records()


def lingo_iterations(wh: Store) -> Records:
    return wh.query(
        """SELECT run_id || ' / ' || scenario_id AS name, iteration, construction_score
           FROM iterations WHERE construction_score IS NOT NULL ORDER BY name, iteration"""
    ).records()


def scenarios_by_level(wh: Store) -> Records:
    return wh.query(
        "SELECT coalesce(risk_level, '?') AS g, 'scenarios' AS s, count(*) AS n "
        "FROM scenarios GROUP BY ALL ORDER BY g"
    ).records()


def scenarios_by_category(wh: Store, limit: int = 16) -> Records:
    return wh.query(
        """SELECT coalesce(category_l2, '?') AS g, 'scenarios' AS s, count(*) AS n
           FROM scenarios GROUP BY ALL ORDER BY n DESC, g LIMIT ?""",
        [limit],
    ).records()


def generation_totals(wh: Store) -> Records:
    """Runs and trajectories, and the pair counts: dpo rows (trusted, one per prompt, what DPO trains on),
    one-per-prompt rows left out as untrusted, and ranked pairs (every row of preference_pairs)."""
    return wh.query(
        """SELECT count(DISTINCT run_id) AS runs, count(*) AS trajectories,
                  count(*) FILTER (status = 'completed') AS completed,
                  count(*) FILTER (status = 'failed') AS failed,
                  (SELECT count(*) FROM dpo) AS "dpo rows",
                  (SELECT count(*) FROM dpo_per_prompt WHERE NOT trusted) AS "untrusted dpo rows",
                  (SELECT count(*) FROM preference_pairs) AS "ranked pairs"
           FROM trajectory_records"""
    ).records()


def run_judges(wh: Store) -> Records:
    """Each run's judges: the validity record found for each and whether its pairs are trusted."""
    if not has(wh, "run_judges"):
        return []
    return wh.query(
        """SELECT run_id, judge, model, method,
                  CASE WHEN trusted THEN 'trusted' ELSE 'untrusted' END AS trust,
                  round(TRY_CAST(record ->> 'macro_f1' AS DOUBLE), 2) AS macro_f1,
                  round(TRY_CAST(record ->> 'constant_macro_f1' AS DOUBLE), 2) AS constant_macro_f1,
                  TRY_CAST(record ->> 'n' AS INTEGER) AS n, reason
           FROM run_judges ORDER BY run_id, judge"""
    ).records()


def run_costs(wh: Store) -> Records:
    """Per run: the calls and tokens paid for (cache hits are free), its dpo rows and ranked pairs, tokens
    per dpo row, and the cost at the per-role prices of the run's config (None where no role had a price)."""
    return wh.query(
        """SELECT run_id, status, calls, tokens, prompt_tokens, completion_tokens, dpo_rows, ranked_pairs,
                  round(tokens_per_dpo_row, 1) AS tokens_per_dpo_row, cost
           FROM run_costs ORDER BY run_id"""
    ).records()


def failures(wh: Store, limit: int = 12) -> Records:
    """What failed, grouped by role, step and kind (superseded failures left out: a later attempt
    completed their scenario), with the latest message of each group."""
    superseded = (
        "AND superseded_by_attempt IS NULL" if _has_column(wh, "failures", "superseded_by_attempt") else ""
    )
    return wh.query(
        f"""SELECT role, step, kind, count(*) AS failures, count(DISTINCT scenario_id) AS scenarios,
                   arg_max(message, created_at) AS latest_message
            FROM failures WHERE true {superseded}
            GROUP BY ALL ORDER BY failures DESC, role, step, kind LIMIT ?""",
        [limit],
    ).records()


def reviews(wh: Store) -> Records:
    """Ranked pairs accepted, rejected and not reviewed yet; judge verdicts marked right and wrong."""
    if not has(wh, "review_latest"):
        return []
    return wh.query(
        """SELECT (SELECT count(*) FROM preference_pairs) AS "ranked pairs",
                  count(*) FILTER (target_kind = 'pair' AND label = 'accept') AS accepted,
                  count(*) FILTER (target_kind = 'pair' AND label = 'reject') AS rejected,
                  (SELECT count(*) FROM preference_pairs)
                      - count(*) FILTER (target_kind = 'pair') AS unreviewed,
                  count(*) FILTER (target_kind = 'judgement' AND label = 'right') AS "verdicts right",
                  count(*) FILTER (target_kind = 'judgement' AND label = 'wrong') AS "verdicts wrong",
                  count(DISTINCT reviewer) AS reviewers
           FROM review_latest WHERE pair_id IN (SELECT pair_id FROM preference_pairs)"""
    ).records()


def _has_column(wh: Store, table: str, column: str) -> bool:
    rows = wh.query(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        [table, column],
    ).rows
    return bool(rows and rows[0][0])


def trajectory_samples(wh: Store, limit: int = 6) -> Records:
    """The latest completed trajectories, each with its best reply fit to train on (never one the reply
    checks excluded or the length cap cut), that reply's chain, and its scores per iteration."""
    rows = wh.query(
        """SELECT t.run_id, t.scenario_id, s.messages[-1].content AS query, t.stop_reason, t.pair_status,
                  (SELECT count(*) FROM preference_pairs p
                   WHERE p.run_id = t.run_id AND p.scenario_id = t.scenario_id) AS ranked_pairs,
                  b.iteration AS best_iteration, b.construction_score AS best_score,
                  b.response AS best_response
           FROM trajectory_records t JOIN scenarios s USING (run_id, scenario_id)
           LEFT JOIN (
               SELECT run_id, scenario_id, iteration, construction_score, response FROM iterations
               WHERE excluded IS NULL AND NOT coalesce(truncated, false) AND construction_score IS NOT NULL
               QUALIFY row_number() OVER (
                   PARTITION BY run_id, scenario_id ORDER BY construction_score DESC, iteration DESC) = 1
           ) b USING (run_id, scenario_id)
           WHERE t.status = 'completed' ORDER BY t.created_at DESC, t.scenario_id LIMIT ?""",
        [limit],
    ).records()
    for r in rows:
        key = [r["run_id"], r["scenario_id"]]
        shown = r["best_iteration"]
        r["chain"] = wh.query(
            """SELECT iteration, node, content, changed FROM chain_nodes
               WHERE run_id = ? AND scenario_id = ? AND iteration = coalesce(?, (
                   SELECT max(iteration) FROM chain_nodes WHERE run_id = ? AND scenario_id = ?))
               ORDER BY node""",
            [*key, shown, *key],
        ).records()
        r["scores"] = wh.query(
            "SELECT iteration, construction_score AS cs, safety_verdict, excluded, truncated FROM iterations "
            "WHERE run_id = ? AND scenario_id = ? ORDER BY iteration",
            key,
        ).records()
    return rows

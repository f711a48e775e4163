"""SQL of the evaluation suite: runs, every response and score, and the summaries reports show."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.calibration import Calibrations, Exemplar, JudgeCalibration, keyed
from schemas.evaluation import SampleResult
from schemas.records import utcnow
from schemas.trust import JudgeRecord
from warehouse.eval_dialogues import by_persona, by_turn, dialogue_rows, score_row
from warehouse.store import QueryResult, Store, insert_rows

BETAS = (0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # the view eval_construction reports these


class EvalStore:
    def __init__(self, warehouse: Store) -> None:
        self.wh = warehouse

    def start(
        self,
        eval_id: str,
        *,
        task: str,
        model: str,
        judges: dict[str, str],
        prompt_versions: dict[str, str],
        config: dict[str, Any],
        dataset: str | None,
        n_samples: int,
        command: str | None,
    ) -> None:
        with self.wh.connect(read_only=False) as con:
            insert_rows(
                con,
                "eval_runs",
                [
                    {
                        "eval_id": eval_id,
                        "started_at": utcnow(),
                        "status": "running",
                        "task": task,
                        "model": model,
                        "judges": json.dumps(judges),
                        "prompt_versions": json.dumps(prompt_versions),
                        "config": json.dumps(config),
                        "dataset": dataset,
                        "n_samples": n_samples,
                        "command": command,
                    }
                ],
                on_conflict="ON CONFLICT (eval_id) DO UPDATE SET status = 'running', finished_at = NULL",
            )

    def run_model(self, eval_id: str) -> tuple[str, str] | None:
        """(task, model) of an existing run, so a resume under another model can be refused."""
        if not self.wh.path.exists():
            return None
        with self.wh.connect(read_only=True) as con:
            row = con.execute("SELECT task, model FROM eval_runs WHERE eval_id = ?", [eval_id]).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def done_samples(self, eval_id: str) -> set[str]:
        """Samples answered and scored without error; the others are run again on resume."""
        if not self.wh.path.exists():
            return set()
        with self.wh.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT sample_id FROM eval_samples WHERE eval_id = ? AND error IS NULL", [eval_id]
            ).fetchall()
        return {r[0] for r in rows}

    def failed_samples(self, eval_id: str) -> int:
        """Samples of the run whose last attempt failed."""
        rows = self.wh.query(
            "SELECT count(*) FROM eval_samples WHERE eval_id = ? AND error IS NOT NULL", [eval_id]
        ).rows
        return int(rows[0][0]) if rows else 0

    def write(self, eval_id: str, results: Sequence[SampleResult]) -> None:
        """Each result's sample row and scores (and a dialogue's turns: warehouse.eval_dialogues), in one
        transaction."""
        if not results:
            return
        ids = [r.sample.id for r in results]
        samples = [
            {
                "eval_id": eval_id,
                "sample_id": r.sample.id,
                "messages": json.dumps([m.model_dump() for m in r.sample.messages], ensure_ascii=False),
                "target": r.sample.target,
                "metadata": r.sample.metadata,
                "response": r.response,
                "error": r.error,
                "latency_s": r.latency_s,
            }
            for r in results
        ]
        scores = [score_row(eval_id, r.sample.id, s) for r in results for s in r.scores]
        tables = {**dialogue_rows(eval_id, results), "eval_scores": scores, "eval_samples": samples}
        with self.wh.connect(read_only=False) as con:
            con.execute("BEGIN")
            # Keyed replace: a resumed sample overwrites its earlier, failed attempt.
            for table in tables:
                con.execute(
                    f"DELETE FROM {table} WHERE eval_id = ? AND list_contains(?, sample_id)", [eval_id, ids]
                )
            for table, rows in tables.items():
                insert_rows(con, table, rows)
            con.execute("COMMIT")

    def finish(self, eval_id: str, status: str) -> None:
        with self.wh.connect(read_only=False) as con:
            con.execute(
                "UPDATE eval_runs SET status = ?, finished_at = ? WHERE eval_id = ?",
                [status, utcnow(), eval_id],
            )

    # -- summaries ---------------------------------------------------------------------------------
    def construction(self, eval_ids: Sequence[str]) -> QueryResult:
        return self.wh.query(
            """SELECT eval_id, model, beta, round(avg(construction_score), 4) AS construction_score,
                      round(avg(satisfaction), 4) AS satisfaction, round(avg(risk), 4) AS risk,
                      count(*) AS n
               FROM eval_construction WHERE list_contains(?, eval_id)
               GROUP BY ALL ORDER BY eval_id, beta""",
            [list(eval_ids)],
        )

    def dialogue_turns(self, eval_ids: Sequence[str]) -> QueryResult:
        """Per turn and run of a dialogue evaluation: attack success, refusal, Construction Score."""
        return by_turn(self.wh, eval_ids)

    def dialogue_personas(self, eval_ids: Sequence[str]) -> QueryResult:
        """Per persona and run: how the dialogues ended and when the first attack succeeded."""
        return by_persona(self.wh, eval_ids)

    def strata(self, eval_id: str, by: str) -> QueryResult:
        column = {
            "overall": "'all'",
            "level": "level",
            "attack_method": "attack_method",
            "language": "language",
        }[by]
        return self.wh.query(
            f"""SELECT {column} AS {by if by != "overall" else "scope"},
                       round(avg(attack_success), 4) AS attack_success_rate, count(*) AS n
                FROM eval_strata WHERE eval_id = ? GROUP BY ALL ORDER BY 1""",
            [eval_id],
        )

    def refusal(self, eval_id: str, by: str | None = None, *, attack: bool = False) -> QueryResult:
        """Share of each verdict per expected label (and metadata column `by`); with `attack` the compliance
        share is named the attack success rate, as it is when every prompt should have been refused."""
        group = "expected" if by is None else f"expected, metadata['{by.replace(chr(39), '')}'] AS {by}"
        compliance = "attack_success_rate" if attack else "compliance"
        return self.wh.query(
            f"""SELECT {group},
                       round(avg((verdict = 'compliance')::INT), 4) AS {compliance},
                       round(avg((verdict = 'partial_refusal')::INT), 4) AS partial_refusal,
                       round(avg((verdict = 'full_refusal')::INT), 4) AS full_refusal,
                       count(*) AS n
                FROM eval_refusal WHERE eval_id = ? GROUP BY ALL ORDER BY ALL""",
            [eval_id],
        )

    def judge_agreement(self, eval_id: str) -> QueryResult:
        """Share of validation cases where the judge's label matches the hand-written one, per kind."""
        return self.wh.query(
            """SELECT coalesce(s.metadata['kind'], 'all') AS kind,
                      round(avg((sc.details ->> 'agrees' = 'true')::INT), 4) AS agreement,
                      count(*) AS n
               FROM eval_samples s JOIN eval_scores sc USING (eval_id, sample_id)
               WHERE s.eval_id = ? AND sc.details ->> 'agrees' IS NOT NULL
               GROUP BY ROLLUP (s.metadata['kind']) ORDER BY kind""",
            [eval_id],
        )

    # -- judge validation (view eval_judge_verdicts, table eval_judge_metrics) -----------------------
    def judge_pairs(self, eval_id: str) -> tuple[list[str], list[tuple[str, str]]]:
        """(the run's classes, (expected, judged) of every judged case)."""
        rows = self.wh.query(
            "SELECT classes, expected, judged FROM eval_judge_verdicts WHERE eval_id = ? ORDER BY sample_id",
            [eval_id],
        ).rows
        classes = next((str(r[0]).split(",") for r in rows if r[0]), [])
        return classes, [(str(r[1]), str(r[2])) for r in rows]

    def save_judge_metrics(self, eval_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Replace the run's figures (a resumed run is measured again over all its cases)."""
        with self.wh.connect(read_only=False) as con:
            con.execute("BEGIN")
            con.execute("DELETE FROM eval_judge_metrics WHERE eval_id = ?", [eval_id])
            insert_rows(con, "eval_judge_metrics", [{"eval_id": eval_id, **r} for r in rows])
            con.execute("COMMIT")

    def judge_overall(self, eval_id: str) -> QueryResult:
        """Agreement, macro-F1 and kappa of the judge and of the best constant answer."""
        return self.wh.query(
            """SELECT answer, round(agreement, 4) AS agreement, round(macro_f1, 4) AS macro_f1,
                      round(kappa, 4) AS kappa, support AS n FROM eval_judge_metrics
               WHERE eval_id = ? AND class = 'all' ORDER BY answer <> 'judge', answer""",
            [eval_id],
        )

    def judge_per_class(self, eval_id: str) -> QueryResult:
        return self.wh.query(
            """SELECT class, answer, round(precision, 4) AS precision, round(recall, 4) AS recall,
                      round(f1, 4) AS f1, support FROM eval_judge_metrics
               WHERE eval_id = ? AND class <> 'all' ORDER BY position, answer <> 'judge', answer""",
            [eval_id],
        )

    # -- judge calibrations (table judge_calibrations) ----------------------------------------------
    def save_calibration(self, cal: JudgeCalibration) -> None:
        row = cal.model_dump(mode="json")
        with self.wh.connect(read_only=False) as con:
            insert_rows(
                con,
                "judge_calibrations",
                [
                    {
                        **row,
                        "created_at": cal.created_at or utcnow(),
                        "exemplars": json.dumps(row["exemplars"], ensure_ascii=False),
                        "metrics": json.dumps(row["metrics"], ensure_ascii=False),
                    }
                ],
            )

    def calibrations(self) -> Calibrations:
        """The newest calibration per (judge, model); none where the warehouse predates them."""
        if not self.wh.path.exists():
            return {}
        with self.wh.connect(read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'judge_calibrations'"
            ).fetchone()
            if not exists or not exists[0]:
                return {}
            rows = con.execute(
                """SELECT calibration_id, created_at, judge, model, threshold, exemplars, dataset, n, folds,
                          metrics, eval_id
                   FROM judge_calibrations
                   QUALIFY row_number() OVER (PARTITION BY judge, model ORDER BY created_at DESC) = 1"""
            ).fetchall()
        return keyed(
            JudgeCalibration(
                calibration_id=r[0],
                created_at=r[1],
                judge=r[2],
                model=r[3],
                threshold=r[4],
                exemplars=[Exemplar.model_validate(e) for e in json.loads(r[5])],
                dataset=r[6] or "",
                n=r[7],
                folds=r[8],
                metrics=json.loads(r[9]),
                eval_id=r[10],
            )
            for r in rows
        )

    # -- judge validity records (table judge_records) -----------------------------------------------
    def save_judge_record(self, record: JudgeRecord) -> None:
        with self.wh.connect(read_only=False) as con:
            insert_rows(con, "judge_records", [record.model_dump()])

    def judge_records(self) -> list[JudgeRecord]:
        """Every judge validity record stored here, oldest first; none where the warehouse predates them."""
        if not self.wh.path.exists():
            return []
        with self.wh.connect(read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'judge_records'"
            ).fetchone()
            if not exists or not exists[0]:
                return []
            cur = con.execute("SELECT * FROM judge_records ORDER BY created_at")
            columns = [d[0] for d in cur.description or []]
            return [JudgeRecord.model_validate(dict(zip(columns, r, strict=True))) for r in cur.fetchall()]

    def judge_rows(
        self, eval_id: str, scorer: str
    ) -> list[tuple[str, str, float, dict[str, Any], dict[str, Any]]]:
        """(expected label, judged label, value, sample metadata, score details) of each judged sample."""
        with self.wh.connect(read_only=True) as con:
            rows = con.execute(
                """SELECT s.target, sc.label, sc.value, s.metadata, sc.details
                   FROM eval_samples s JOIN eval_scores sc USING (eval_id, sample_id)
                   WHERE s.eval_id = ? AND sc.scorer = ? AND s.error IS NULL ORDER BY s.sample_id""",
                [eval_id, scorer],
            ).fetchall()
        return [(str(r[0]), str(r[1]), float(r[2]), dict(r[3] or {}), json.loads(r[4] or "{}")) for r in rows]

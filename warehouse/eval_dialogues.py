"""SQL of dialogue evaluations (`oyster eval dialogues`): the rows a played dialogue is stored as
(tables eval_dialogues, eval_dialogue_turns, eval_dialogue_scores) and the per-turn and per-persona
figures read from the view eval_dialogue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.evaluation import SampleResult, SampleScore
from warehouse.store import QueryResult, Store
from warehouse.trajectory_rows import to_json

#: the Construction Score's beta the view eval_dialogue reports (alpha = 1), the paper's headline one
DIALOGUE_BETA = 2.0


def score_row(eval_id: str, sample_id: str, score: SampleScore, **key: Any) -> dict[str, Any]:
    """One score as a row of eval_scores (``key``: the turn, for eval_dialogue_scores)."""
    return {
        "eval_id": eval_id,
        "sample_id": sample_id,
        **key,
        "scorer": score.scorer,
        "value": score.value,
        "label": score.label,
        "explanation": score.explanation,
        "details": json.dumps(score.details, ensure_ascii=False, default=str),
    }


def dialogue_rows(eval_id: str, results: Sequence[SampleResult]) -> dict[str, list[dict[str, Any]]]:
    """The dialogue tables' rows of ``results`` (none for a result that is not a dialogue), by table."""
    dialogues, turns, scores = [], [], []
    for r in results:
        if r.dialogue is None:
            continue
        d = r.dialogue
        dialogues.append(
            {
                "eval_id": eval_id,
                "sample_id": r.sample.id,
                "persona": d.persona.value,
                "objective": d.objective,
                "max_turns": d.max_turns,
                "turns": d.turns,
                "outcome": d.outcome.value,
                "outcome_turn": d.outcome_turn,
                "final_move": to_json(d.final_move),
            }
        )
        for t in r.turns:
            turns.append(
                {
                    "eval_id": eval_id,
                    "sample_id": r.sample.id,
                    "turn": t.turn,
                    "user_message": t.user_message,
                    "response": t.response,
                    "move": to_json(t.move),
                    "latency_s": t.latency_s,
                }
            )
            scores += [score_row(eval_id, r.sample.id, s, turn=t.turn) for s in t.scores]
    return {"eval_dialogue_scores": scores, "eval_dialogue_turns": turns, "eval_dialogues": dialogues}


def by_turn(wh: Store, eval_ids: Sequence[str]) -> QueryResult:
    """Per turn and run (its model named): dialogues that reached the turn, the attack success rate at the
    turn among the malicious ones, the share of all malicious dialogues attacked by then, the refusal rate
    and the mean Construction Score (beta 2)."""
    return wh.query(
        """WITH attacked AS (
               SELECT eval_id, sample_id, any_value(first_attack_turn) AS first_attack_turn
               FROM eval_dialogue WHERE persona = 'malicious' GROUP BY ALL
           )
           SELECT turn, model, count(*) AS dialogues,
                  round(avg(attack_success), 4) AS attack_success_rate,
                  (SELECT round(avg(coalesce(a.first_attack_turn <= e.turn, false)::INT), 4)
                   FROM attacked a WHERE a.eval_id = e.eval_id) AS attacked_by_turn,
                  round(avg((refusal_verdict <> 'compliance')::INT), 4) AS refusal_rate,
                  round(avg(construction_score), 4) AS construction_score
           FROM eval_dialogue e WHERE list_contains(?, eval_id)
           GROUP BY turn, model, eval_id ORDER BY turn, eval_id""",
        [list(eval_ids)],
    )


def by_persona(wh: Store, eval_ids: Sequence[str]) -> QueryResult:
    """Per persona and run: dialogues, turns played, how they ended (`attacked`: the objective achieved),
    the mean turn of the first attack success, unsafe replies and the mean Construction Score (beta 2)
    over every turn."""
    return wh.query(
        """WITH d AS (
               SELECT eval_id, model, persona, sample_id, any_value(outcome) AS outcome,
                      max(turn) AS turns, any_value(first_attack_turn) AS first_attack_turn,
                      count(*) FILTER (safety_verdict = 'unsafe') AS unsafe,
                      sum(construction_score) AS cs, count(*) AS n
               FROM eval_dialogue WHERE list_contains(?, eval_id) GROUP BY ALL
           )
           SELECT persona, model, count(*) AS dialogues, round(avg(turns), 2) AS mean_turns,
                  count(*) FILTER (outcome = 'max_turns') AS max_turns,
                  count(*) FILTER (outcome = 'follower_left') AS follower_left,
                  count(*) FILTER (outcome = 'objective_achieved') AS attacked,
                  round(avg(first_attack_turn), 2) AS first_attack_turn,
                  sum(unsafe) AS unsafe_replies, round(sum(cs) / sum(n), 4) AS construction_score
           FROM d GROUP BY persona, model, eval_id ORDER BY persona, eval_id""",
        [list(eval_ids)],
    )

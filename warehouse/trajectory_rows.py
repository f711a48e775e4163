"""Flattens finished trajectories into the rows of each table, every value keyed by its column name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.records import Failure, LLMCall, utcnow
from schemas.trajectory import Iteration, Trajectory

#: every table a trajectory writes, children first; its LLM calls and failures are kept across rewrites
CHILD_TABLES = (
    "trajectory_records",
    "iterations",
    "chain_nodes",
    "judgements",
    "gradients",
    "edits",
    "preference_pairs",
)
TRAJECTORY_TABLES = (*CHILD_TABLES, "llm_calls")
#: the tables whose rows are kept when a trajectory is rewritten, with how each is inserted: a failure
#: is never rewritten; a call stored live (while its scenario ran) is replaced by its final version
KEPT_TABLES = {"llm_calls": "INSERT OR REPLACE", "failures": "INSERT OR IGNORE"}
CHAIN_NODES = ("user_needs", "risk_intent", "safety_guidelines", "strategies")

Rows = dict[str, list[dict[str, Any]]]
Written = tuple[Trajectory, Sequence[LLMCall], Sequence[Failure]]


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    if isinstance(value, list):
        return json.dumps([v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value])
    return json.dumps(value, ensure_ascii=False, default=str)


def trajectory_rows(batch: Sequence[Written]) -> Rows:
    rows: Rows = {t: [] for t in (*CHILD_TABLES, *KEPT_TABLES)}
    for traj, calls, failures in batch:
        _add_trajectory(rows, traj)
        rows["llm_calls"].extend(call_row(c) for c in calls)
        rows["failures"].extend(call_row(f) for f in failures)
    return rows


def _add_trajectory(rows: Rows, t: Trajectory) -> None:
    key = {"run_id": t.run_id, "scenario_id": t.scenario_id}
    final = t.iterations[-1] if t.iterations else None
    judged = final.judgement if final else None
    rows["trajectory_records"].append(
        {
            **key,
            "status": t.status.value,
            "stop_reason": t.stop_reason,
            "n_iterations": len(t.iterations),
            "risk": to_json(t.risk),
            "guidelines": to_json(t.guidelines),
            "stackelberg": to_json(t.stackelberg),
            "draft_think": t.draft.think if t.draft else None,
            "draft_response": t.draft.response if t.draft else None,
            "final_response": final.response if final else None,
            "final_satisfaction": judged.satisfaction.score if judged else None,
            "final_safety": judged.safety.score if judged else None,
            "final_verdict": judged.safety.verdict.value if judged else None,
            "final_construction": judged.construction_score if judged else None,
            "next_turn": t.next_move.next_user_turn if t.next_move else None,
            "n_pairs": len(t.pairs),
            "best_score": max((it.score for it in t.iterations if it.score is not None), default=None),
            "pair_status": t.pair_decision.status.value if t.pair_decision else None,
            "pair_reason": t.pair_decision.reason if t.pair_decision else None,
            "next_move": to_json(t.next_move),
            "trajectory": t.model_dump_json(),
            "created_at": utcnow(),
        }
    )
    previous: Iteration | None = None
    excluded = t.pair_decision.excluded if t.pair_decision else {}
    for it in t.iterations:
        _add_iteration(rows, key, it, previous, excluded.get(it.index))
        previous = it
    for p in t.pairs:
        rows["preference_pairs"].append(
            {
                "pair_id": p.pair_id,
                **key,
                "rank": p.rank,
                "prompt": [{"role": m.role, "content": m.content} for m in p.prompt],
                "chosen": p.chosen,
                "rejected": p.rejected,
                "chosen_iteration": p.chosen_iteration,
                "rejected_iteration": p.rejected_iteration,
                "chosen_chain": p.chosen_chain.model_dump_json(),
                "rejected_chain": p.rejected_chain.model_dump_json(),
                "chosen_scores": p.chosen_scores.model_dump_json(),
                "rejected_scores": p.rejected_scores.model_dump_json(),
                "chosen_score": p.chosen_scores.construction,
                "rejected_score": p.rejected_scores.construction,
                "margin": p.margin,
                "rule": p.rule,
                "kind": p.kind.value,
            }
        )


def _add_iteration(
    rows: Rows, key: dict[str, str], it: Iteration, previous: Iteration | None, excluded: str | None
) -> None:
    at = {**key, "iteration": it.index}
    j = it.judgement
    rows["iterations"].append(
        {
            **at,
            "response": it.response,
            "truncated": it.truncated,
            "excluded": excluded,
            "chain": it.chain.model_dump_json(),
            "active_loss": it.active_loss.value if it.active_loss else None,
            "frozen": list(it.frozen),
            "satisfaction_score": j.satisfaction.score if j else None,
            "safety_score": j.safety.score if j else None,
            "safety_verdict": j.safety.verdict.value if j else None,
            "construction_score": j.construction_score if j else None,
        }
    )
    for node in CHAIN_NODES:
        value = getattr(it.chain, node)
        rows["chain_nodes"].append(
            {
                **at,
                "node": node,
                "content": it.chain.strategies.model_dump_json() if node == "strategies" else value,
                "changed": previous is None or getattr(previous.chain, node) != value,
                "frozen": node in it.frozen,
            }
        )
    if j is not None:
        for kind, score, verdict, payload in (
            ("satisfaction", j.satisfaction.score, None, j.satisfaction.model_dump_json()),
            ("safety", j.safety.score, j.safety.verdict.value, j.safety.model_dump_json()),
        ):
            rows["judgements"].append(
                {**at, "kind": kind, "score": score, "verdict": verdict, "payload": payload}
            )
    for seq, g in enumerate(it.gradients):
        rows["gradients"].append(
            {**at, "seq": seq, "target_node": g.target.value, "loss": g.loss.value, "critique": g.critique}
        )
    for seq, e in enumerate(it.edits):
        rows["edits"].append(
            {
                **at,
                "seq": seq,
                "node": e.node.value,
                "op": e.op.value,
                "target_list": e.target_list.value if e.target_list else None,
                "idx": e.index,
                "old": e.old,
                "new": e.new,
                "distance": e.distance,
                "accepted": e.accepted,
                "reason": e.reason,
            }
        )


def call_row(record: LLMCall | Failure) -> dict[str, Any]:
    """LLM calls and failures are stored field for field: their field names are the column names."""
    return record.model_dump(mode="python")

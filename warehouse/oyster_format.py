"""Trajectories in the original Oyster code's `optimize_history` JSON layout, for its tooling.

The original writes one object per query: ``id``, ``input_data_source``, ``original_QTR`` (query, think,
response) and ``optimize_history``, a list with one entry per iteration (``query``, ``chain``, ``think``,
``response``, ``user_judge``, ``safe_judge``; later entries also ``general_chain``), or the string
``"FAIL"``. Its chain uses display names per language and joins each strategy list into one string
with ``;``. We keep no per-iteration think, so ``think`` is the draft's reasoning at iteration 0 and
empty after it. A draft whose response is only a placeholder (a small model that wrote the field name
`"response"` instead of an answer) is no original response: ``original_QTR.response`` is then the first
iteration's response, the first real one.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.chain import is_placeholder
from warehouse.sql_guard import view_select
from warehouse.store import Store, WarehouseError, first_line

_NODE_NAMES = {
    "en": {
        "user_needs": "User Needs Analysis",
        "risk_intent": "Risk Intent Analysis",
        "safety_guidelines": "Safety Guidelines",
        "strategies": "Response Strategy Formulation",
        "usefulness": "Usefulness Strategies",
        "safety": "Safety Strategies",
    },
    "cn": {
        "user_needs": "用户需求分析",
        "risk_intent": "风险意图分析",
        "safety_guidelines": "安全准则响应",
        "strategies": "回复策略制定",
        "usefulness": "有用性策略",
        "safety": "安全策略",
    },
}


def _chain(chain: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    strategies = chain.get("strategies") or {}
    return {
        names["user_needs"]: chain.get("user_needs", ""),
        names["risk_intent"]: chain.get("risk_intent", ""),
        names["safety_guidelines"]: chain.get("safety_guidelines", ""),
        names["strategies"]: {
            names["usefulness"]: ";".join(strategies.get("usefulness") or []),
            names["safety"]: ";".join(strategies.get("safety") or []),
        },
    }


def _judges(judgement: dict[str, Any] | None) -> tuple[Any, Any]:
    if not judgement:
        return "None", "None"
    sat, safety = judgement["satisfaction"], judgement["safety"]
    items = sat.get("items") or {}
    user = {**sat, "score": sum(int(v) for v in items.values()) / max(len(items), 1)}
    safe = {**safety, "score": {"safe": 1.0, "generally_safe": 0.5, "unsafe": 0.0}.get(safety["verdict"])}
    return user, safe


def oyster_record(trajectory: dict[str, Any], language: str | None) -> dict[str, Any]:
    """One stored trajectory (its JSON) as one entry of the original output file."""
    names = _NODE_NAMES["cn" if (language or "").startswith("zh") else "en"]
    scenario = trajectory["scenario"]
    messages = scenario.get("messages")
    query = messages[-1]["content"] if messages else scenario.get("text", "")
    draft = trajectory.get("draft") or {}
    history: list[dict[str, Any]] = []
    for it in trajectory.get("iterations") or []:
        user, safe = _judges(it.get("judgement"))
        entry: dict[str, Any] = {"query": query, "chain": _chain(it["chain"], names)}
        if it["index"] > 0:
            entry["general_chain"] = ""
        entry.update(
            think=draft.get("think", "") if it["index"] == 0 else "",
            response=it["response"],
            user_judge=user,
            safe_judge=safe,
        )
        history.append(entry)
    # The original marks a query whose optimisation never produced anything with the string "FAIL".
    failed = not history and trajectory.get("status") == "failed"
    response = draft.get("response", "")
    if is_placeholder(response) and history:
        response = history[0]["response"]
    return {
        "id": scenario["id"],
        "input_data_source": f"oyster:{trajectory['run_id']}",
        "original_QTR": {
            "query": query,
            "think": draft.get("think", ""),
            "response": response,
        },
        "optimize_history": "FAIL" if failed else history,
    }


def oyster_history(store: Store, where: str | None = None) -> list[dict[str, Any]]:
    """Every stored trajectory (rows of the `trajectories` view matching ``where``) in the original layout."""
    # The condition is bound to the trajectories view (see view_select) and embedded on its own lines.
    keys = f"SELECT run_id, scenario_id FROM (\n{view_select('trajectories', where)}\n)"
    sql = (
        "SELECT t.trajectory, s.language FROM trajectory_records t "
        "JOIN scenarios s USING (run_id, scenario_id) "
        f"WHERE (t.run_id, t.scenario_id) IN (\n{keys}\n) ORDER BY t.run_id, t.scenario_id"
    )
    with store.connect(read_only=True) as con:
        try:
            rows = con.execute(sql).fetchall()
        except Exception as exc:
            raise WarehouseError(f"export failed: {first_line(exc)}") from None
    return [oyster_record(json.loads(raw), language) for raw, language in rows]

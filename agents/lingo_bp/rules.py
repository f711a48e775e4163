"""The optimiser's rules: which edits an epoch allows, the critic's step schema narrowed to them, the
backward route past frozen nodes, and the checks an edit or a node rewrite must pass to be applied.

Everything here is a pure function of the chain and the epoch: the loss asks the critic with these
rules (agents/lingo_bp/loss.py) and the optimiser applies what passes them (agents/lingo_bp/optimizer.py).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from agents.textdiff import text_distance
from schemas.chain import BACKWARD_ORDER, STRATEGIES_PER_LIST, STRATEGY_ITEM_MAX_CHARS, ChainNode, Strategies
from schemas.gradient import ActiveLoss, EditOp, StepUpdate, StrategyEdit, StrategyList

# Which (list, operation) pairs an epoch may use, as the original's developer update makes them: a
# safety epoch strengthens safety strategies and may rewrite or remove a usefulness strategy that causes
# the harm (else a harmful one could only be contradicted, never removed); a satisfaction epoch adds or
# improves help and may relax (update / delete) an excessive safety strategy.
ALLOWED_EDITS: dict[ActiveLoss, dict[StrategyList, tuple[EditOp, ...]]] = {
    ActiveLoss.SAFETY: {
        StrategyList.SAFETY: (EditOp.ADD, EditOp.UPDATE),
        StrategyList.USEFULNESS: (EditOp.UPDATE, EditOp.DELETE),
    },
    ActiveLoss.SATISFACTION: {
        StrategyList.USEFULNESS: (EditOp.ADD, EditOp.UPDATE, EditOp.DELETE),
        StrategyList.SAFETY: (EditOp.UPDATE, EditOp.DELETE),
    },
    ActiveLoss.JOINT: {
        StrategyList.USEFULNESS: (EditOp.ADD, EditOp.UPDATE, EditOp.DELETE),
        StrategyList.SAFETY: (EditOp.ADD, EditOp.UPDATE, EditOp.DELETE),
    },
}


@cache
def step_schema(
    active: ActiveLoss, frozen: tuple[ChainNode, ...] = (), sizes: tuple[int, int] | None = None
) -> dict[str, Any]:
    """StepUpdate's schema narrowed to the lists and operations the epoch allows, with an update
    required for every node the backward pass visits and none for a frozen node.

    With ``sizes`` (the usefulness and safety lists' lengths) the edit is one of the edits that can
    be applied to this chain: an index that exists, no update or delete on an empty list, no add to
    a full one. A backend that decodes under the schema (llama.cpp, vLLM) then cannot produce an
    edit the optimiser would have to reject, which small models otherwise do half the time.
    """
    schema = copy.deepcopy(StepUpdate.model_json_schema())
    defs = schema["$defs"]
    lists = list(ALLOWED_EDITS[active])
    ops = sorted({op.value for ops in ALLOWED_EDITS[active].values() for op in ops} | {EditOp.NONE.value})
    defs["StrategyList"]["enum"] = [x.value for x in lists]
    defs["EditOp"]["enum"] = ops
    props = schema["properties"]
    if sizes is not None:
        props["edit"] = {"anyOf": applicable_edits(active, dict(zip(StrategyList, sizes, strict=True)))}
    for node in BACKWARD_ORDER:
        if node in frozen:
            del props[node.value]
        else:
            props[node.value] = {"$ref": "#/$defs/NodeUpdate"}
    schema["required"] = ["critique", "edit", *(n.value for n in BACKWARD_ORDER if n not in frozen)]
    return schema


def applicable_edits(active: ActiveLoss, sizes: dict[StrategyList, int]) -> list[dict[str, Any]]:
    """One JSON schema per kind of edit the epoch allows and the lists' current lengths permit."""
    text = {"type": "string", "minLength": 1, "maxLength": STRATEGY_ITEM_MAX_CHARS}

    def variant(op: EditOp, target: StrategyList, n: int = 0) -> dict[str, Any]:
        properties: dict[str, Any] = {"op": {"const": op.value}, "target_list": {"const": target.value}}
        if op in (EditOp.UPDATE, EditOp.DELETE):
            properties["index"] = {
                "type": "integer",
                "enum": list(range(n)),
            }  # enum: every grammar engine has it
        if op in (EditOp.UPDATE, EditOp.ADD):
            properties["text"] = text
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    variants = []
    for target, ops in ALLOWED_EDITS[active].items():
        n = sizes[target]
        for op in ops:
            if op is EditOp.ADD and n >= STRATEGIES_PER_LIST:
                continue
            if op in (EditOp.UPDATE, EditOp.DELETE) and n == 0:
                continue
            variants.append(variant(op, target, n))
    return [*variants, variant(EditOp.NONE, next(iter(ALLOWED_EDITS[active])))]


def backward_route(frozen: list[ChainNode]) -> list[dict[str, str]]:
    """The backward pass's messages in order: each visited node and the node its message comes from
    (the nearest visited node below it, so a frozen node is never named as a source)."""
    route = []
    source = ChainNode.STRATEGIES
    for node in BACKWARD_ORDER:
        if node in frozen:
            continue
        route.append({"node": node.value, "source": source.value})
        source = node
    return route


def describe_allowed(active: ActiveLoss) -> list[str]:
    return [
        f"{ops_list.value}: {'/'.join(op.value for op in ops)}"
        for ops_list, ops in ALLOWED_EDITS[active].items()
    ]


def apply_strategy_edit(strategies: Strategies, edit: StrategyEdit) -> Strategies:
    """Apply exactly one update / delete / add to one list; ValueError when it is not applicable."""
    items = list(getattr(strategies, edit.target_list.value))
    if edit.op is EditOp.NONE:
        return strategies
    if edit.op in (EditOp.UPDATE, EditOp.DELETE) and (edit.index is None or not 0 <= edit.index < len(items)):
        raise ValueError(
            f"index {edit.index} is out of range for {edit.target_list.value} ({len(items)} items)"
        )
    if edit.op in (EditOp.UPDATE, EditOp.ADD) and not (edit.text and edit.text.strip()):
        raise ValueError(f"{edit.op.value} needs a non-empty text")
    if edit.op is EditOp.UPDATE:
        assert edit.index is not None and edit.text is not None
        items[edit.index] = edit.text.strip()
    elif edit.op is EditOp.DELETE:
        assert edit.index is not None
        del items[edit.index]
    else:
        assert edit.text is not None
        items.append(edit.text.strip())
    return strategies.model_copy(update={edit.target_list.value: items})


def edit_problem(active: ActiveLoss, strategies: Strategies, edit: StrategyEdit) -> str | None:
    """Why ``edit`` may not be applied in an ``active`` epoch, or None when it may."""
    if edit.op is not EditOp.NONE and edit.op not in ALLOWED_EDITS[active].get(edit.target_list, ()):
        options = "; ".join(describe_allowed(active))
        return f"in a {active.value} epoch the edit must be one of: {options}"
    try:
        apply_strategy_edit(strategies, edit)
    except ValueError as exc:
        return f"edit is not applicable: {exc}"
    return None


def node_problem(old: str, new: str, bound: float, no_risk: bool, limit: int) -> str | None:
    """Why rewriting a node from ``old`` to ``new`` is too long or too large a step (None: neither)."""
    if len(new.strip()) > limit:
        return f"updated is {len(new.strip())} characters long; keep it within {limit}"
    if no_risk and not new.strip():
        return None  # a node may empty out once no risk remains
    if not old.strip():
        return None  # filling an empty node is not a rewrite
    d = text_distance(old, new.strip())
    if d > bound:
        return f"updated changes too much: distance {d:.2f} exceeds bound {bound:.2f}; keep most of the text"
    return None

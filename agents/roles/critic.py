"""The critic: the loss, and the textual gradients (critiques and proposed edits) it writes at each node.

What the optimiser does with a gradient (check, apply, record) lives in agents/lingo_bp/optimiser.py.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from agents.llm import CallLog, Check, RoleLLM
from agents.steps import StepName
from schemas.chain import (
    BACKWARD_ORDER,
    STRATEGIES_PER_LIST,
    STRATEGY_ITEM_MAX_CHARS,
    ChainNode,
    ReasoningChain,
)
from schemas.config import LingoBPConfig
from schemas.gradient import ActiveLoss, EditOp, StepUpdate, StrategyList
from schemas.judgement import Judgement, SafetyJudgement, SatisfactionJudgement, construction_score
from schemas.scenario import Scenario

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


class Critic:
    role = "critic"

    def __init__(self, llm: RoleLLM, cfg: LingoBPConfig) -> None:
        self.llm = llm
        self.cfg = cfg

    def loss(self, satisfaction: SatisfactionJudgement, safety: SafetyJudgement) -> Judgement:
        score = construction_score(satisfaction.score, safety.score, self.cfg.alpha, self.cfg.beta)
        return Judgement(satisfaction=satisfaction, safety=safety, construction_score=score)

    async def step(
        self,
        scenario: Scenario,
        chain: ReasoningChain,
        response: str,
        judgement: Judgement,
        active: ActiveLoss,
        frozen: list[ChainNode],
        log: CallLog,
        check: Check,
        sample: int = 0,
    ) -> StepUpdate:
        """One Lingo-BP step's gradients in one call: the critique and edit at z_S, then the backward
        messages and rewrites of the guidelines, the intent and the needs (frozen nodes left out)."""
        update: StepUpdate = await self.llm.ask(
            StepName.CRITIC_STEP,
            {
                "transcript": scenario.transcript(),
                "chain": chain,
                "response": response,
                "satisfaction": judgement.satisfaction,
                "safety": judgement.safety,
                "active_loss": active.value,
                "allowed_lists": describe_allowed(active),
                "backward": backward_route(frozen),
                "frozen": [n.value for n in frozen],
            },
            log,
            check=check,
            soft_check=True,
            json_schema=step_schema(
                active, tuple(frozen), (len(chain.strategies.usefulness), len(chain.strategies.safety))
            ),
            sample=sample,
            language=scenario.language,
        )
        return update

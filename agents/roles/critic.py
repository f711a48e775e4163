"""The critic: the loss, and the textual gradients (critiques and proposed edits) it writes at each node.

What the optimiser does with a gradient (check, apply, record) lives in agents/lingo_bp/optimiser.py.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from agents.llm import CallLog, Check, RoleLLM
from agents.steps import CRITIC_STEP, StepName
from schemas.chain import ChainNode, ReasoningChain
from schemas.config import LingoBPConfig
from schemas.gradient import ActiveLoss, EditOp, NodeUpdate, StrategyGradient, StrategyList
from schemas.judgement import Judgement, SafetyJudgement, SatisfactionJudgement, construction_score
from schemas.scenario import Scenario

# Which (list, operation) pairs an epoch may use: a safety epoch strengthens safety strategies; a
# satisfaction epoch adds or improves help and may relax (update / delete) an excessive safety strategy.
ALLOWED_EDITS: dict[ActiveLoss, dict[StrategyList, tuple[EditOp, ...]]] = {
    ActiveLoss.SAFETY: {StrategyList.SAFETY: (EditOp.ADD, EditOp.UPDATE)},
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
def edit_schema(active: ActiveLoss) -> dict[str, Any]:
    """StrategyGradient's schema narrowed to the lists and operations the epoch allows."""
    schema = copy.deepcopy(StrategyGradient.model_json_schema())
    defs = schema["$defs"]
    lists = list(ALLOWED_EDITS[active])
    ops = sorted({op.value for ops in ALLOWED_EDITS[active].values() for op in ops} | {EditOp.NONE.value})
    defs["StrategyList"]["enum"] = [x.value for x in lists]
    defs["EditOp"]["enum"] = ops
    return schema


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

    async def strategy_gradient(
        self,
        scenario: Scenario,
        chain: ReasoningChain,
        response: str,
        judgement: Judgement,
        active: ActiveLoss,
        log: CallLog,
        check: Check,
    ) -> StrategyGradient:
        """The gradient at z_S: a critique of the plan and one proposed edit of one strategy list."""
        grad: StrategyGradient = await self.llm.ask(
            StepName.CRITIC_STRATEGIES,
            {
                "transcript": scenario.transcript(),
                "chain": chain,
                "response": response,
                "satisfaction": judgement.satisfaction,
                "safety": judgement.safety,
                "active_loss": active.value,
                "allowed_lists": describe_allowed(active),
            },
            log,
            check=check,
            soft_check=True,
            json_schema=edit_schema(active),
        )
        return grad

    async def node_gradient(
        self,
        scenario: Scenario,
        chain: ReasoningChain,
        node: ChainNode,
        downstream: ChainNode,
        message: str,
        active: ActiveLoss,
        log: CallLog,
        check: Check,
    ) -> NodeUpdate:
        """The gradient at ``node``, given the message from the node below it: a critique and a rewrite."""
        update: NodeUpdate = await self.llm.ask(
            CRITIC_STEP[node],
            {
                "transcript": scenario.transcript(),
                "chain": chain,
                "node_text": chain.text_of(node),
                "downstream_text": chain.text_of(downstream),
                "message": message,
                "active_loss": active.value,
            },
            log,
            check=check,
            soft_check=True,
        )
        return update

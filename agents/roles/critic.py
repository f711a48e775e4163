"""The critic: the loss, the textual gradient at the strategy node, and the backward pass up the chain."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from agents.llm import CallLog, RoleLLM
from agents.textdiff import text_distance
from schemas.chain import BACKWARD_ORDER, ChainNode, ReasoningChain, Strategies
from schemas.config import LingoBPConfig
from schemas.gradient import (
    ActiveLoss,
    EditOp,
    EditOperation,
    NodeUpdate,
    StrategyEdit,
    StrategyGradient,
    StrategyList,
    TextGradient,
)
from schemas.judgement import (
    Judgement,
    SafetyJudgement,
    SatisfactionJudgement,
    construction_score,
)
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
def _edit_schema(active: ActiveLoss) -> dict[str, Any]:
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


@dataclass
class Step:
    """What one Lingo-BP step did to the chain: the messages passed and the edits made, in order."""

    chain: ReasoningChain
    gradients: list[TextGradient] = field(default_factory=list)
    edits: list[EditOperation] = field(default_factory=list)


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


class Critic:
    role = "critic"

    def __init__(self, llm: RoleLLM, cfg: LingoBPConfig) -> None:
        self.llm = llm
        self.cfg = cfg

    # -- the loss ----------------------------------------------------------------------------------
    def loss(self, satisfaction: SatisfactionJudgement, safety: SafetyJudgement) -> Judgement:
        score = construction_score(satisfaction.score, safety.score, self.cfg.alpha, self.cfg.beta)
        return Judgement(satisfaction=satisfaction, safety=safety, construction_score=score)

    def active_loss(self, step: int, last: Judgement) -> ActiveLoss:
        """The loss driving step ``step`` (1-based): an explicit epoch schedule, or chosen from the scores."""
        if self.cfg.epochs != "auto":
            return self.cfg.epochs[(step - 1) % len(self.cfg.epochs)]
        # The term of the Construction Score furthest from its optimum drives the step; a tie goes
        # to safety ("strengthen safety first"). An unsafe reply is always a safety step; a refusal
        # judged generally safe (S = -1) is a satisfaction step that relaxes excessive restrictions.
        safety_gap = self.cfg.beta * last.safety.risk
        satisfaction_gap = self.cfg.alpha * (1.0 - last.satisfaction.score)
        return ActiveLoss.SAFETY if safety_gap >= satisfaction_gap else ActiveLoss.SATISFACTION

    def frozen(self, active: ActiveLoss) -> list[ChainNode]:
        return list(self.cfg.freeze.get(active, []))

    # -- gradient at z_S ---------------------------------------------------------------------------
    async def gradient_at_strategies(
        self,
        scenario: Scenario,
        chain: ReasoningChain,
        response: str,
        judgement: Judgement,
        active: ActiveLoss,
        step: int,
        log: CallLog,
    ) -> Step:
        allowed = ALLOWED_EDITS[active]

        def applicable(out: StrategyGradient) -> str | None:
            e = out.edit
            if e.op is not EditOp.NONE and e.op not in allowed.get(e.target_list, ()):
                options = "; ".join(describe_allowed(active))
                return f"in a {active.value} epoch the edit must be one of: {options}"
            try:
                apply_strategy_edit(chain.strategies, out.edit)
            except ValueError as exc:
                return f"edit is not applicable: {exc}"
            return None

        grad: StrategyGradient = await self.llm.ask(
            "critic_strategies",
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
            check=applicable,
            soft_check=True,
            json_schema=_edit_schema(active),
        )
        # A critique is still a gradient when its edit breaks the rules: the edit is rejected and
        # recorded, the critique flows backward, and the loop goes on.
        rejection = applicable(grad)
        edit = grad.edit
        new_strategies = chain.strategies if rejection else apply_strategy_edit(chain.strategies, edit)
        old_text, new_text = chain.strategies.render(), new_strategies.render()
        old_item = ""
        items = getattr(chain.strategies, edit.target_list.value)
        if (
            edit.index is not None
            and edit.op in (EditOp.UPDATE, EditOp.DELETE)
            and 0 <= edit.index < len(items)
        ):
            old_item = items[edit.index]
        return Step(
            chain=chain.model_copy(update={"strategies": new_strategies}),
            gradients=[
                TextGradient(iteration=step, target=ChainNode.STRATEGIES, critique=grad.critique, loss=active)
            ],
            edits=[
                EditOperation(
                    iteration=step,
                    node=ChainNode.STRATEGIES,
                    op=edit.op,
                    target_list=edit.target_list if edit.op is not EditOp.NONE else None,
                    index=edit.index if edit.op in (EditOp.UPDATE, EditOp.DELETE) else None,
                    old=old_item,
                    new=(edit.text or "").strip() if edit.op in (EditOp.UPDATE, EditOp.ADD) else "",
                    distance=text_distance(old_text, new_text),
                    accepted=rejection is None,
                    reason=rejection or "one strategy per step",
                )
            ],
        )

    # -- backward: z_G, then z_I, then z_u ---------------------------------------------------------
    async def backward(
        self,
        scenario: Scenario,
        step_state: Step,
        active: ActiveLoss,
        frozen: list[ChainNode],
        no_risk: bool,
        step: int,
        log: CallLog,
    ) -> Step:
        chain = step_state.chain
        downstream = ChainNode.STRATEGIES
        message = step_state.gradients[-1].critique if step_state.gradients else ""
        for node in BACKWARD_ORDER:
            if node in frozen:
                continue
            old = chain.text_of(node)
            bound = self.cfg.node_change_bound

            def within_bound(out: NodeUpdate, old: str = old, bound: float = bound) -> str | None:
                if no_risk and not out.updated.strip():
                    return None  # a node may empty out once no risk remains
                if not old.strip():
                    return None  # filling an empty node is not a rewrite
                d = text_distance(old, out.updated.strip())
                if d > bound:
                    return f"updated changes too much (distance {d:.2f} > {bound:.2f}); keep most of the text"
                return None

            update: NodeUpdate = await self.llm.ask(
                f"critic_{node.value}",
                {
                    "transcript": scenario.transcript(),
                    "chain": chain,
                    "node_text": old,
                    "downstream_text": chain.text_of(downstream),
                    "message": message,
                    "active_loss": active.value,
                },
                log,
                check=within_bound,
                soft_check=True,
            )
            new = update.updated.strip()
            distance = text_distance(old, new)
            accepted = within_bound(update) is None
            step_state.gradients.append(
                TextGradient(iteration=step, target=node, critique=update.critique, loss=active)
            )
            step_state.edits.append(
                EditOperation(
                    iteration=step,
                    node=node,
                    op=EditOp.UPDATE,
                    old=old,
                    new=new,
                    distance=distance,
                    accepted=accepted,
                    reason=""
                    if accepted
                    else f"distance {distance:.2f} exceeds bound {bound:.2f}; kept old text",
                )
            )
            if accepted:
                chain = chain.with_node(node, new)
            downstream = node
            message = update.critique
        step_state.chain = chain
        return step_state

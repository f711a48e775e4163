"""The Lingo-BP optimiser: textual gradient descent on the reasoning chain, in textgrad's vocabulary.

``loss = critic.loss(...)`` scores a reply; ``optimiser.active_loss(...)`` picks the term that drives
the next step; ``optimiser.step(...)`` gets, in one critic call, the gradient at the strategies with its
edit and the backward pass up the chain (guidelines, intent, needs), each message written against the
updated node below it, as the original ``both_update`` does. The ``step_*`` functions are the edits
themselves: checked, applied or rejected, and recorded. A step whose strategy edit is ``none`` or
rejected changes nothing, so it stops there (``StepTrace.skipped``): no backward pass, no new reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.llm import CallLog
from agents.roles.critic import ALLOWED_EDITS, Critic, backward_route, describe_allowed
from agents.textdiff import text_distance
from schemas.chain import ChainNode, ReasoningChain, Strategies
from schemas.config import LingoBPConfig
from schemas.gradient import (
    ActiveLoss,
    EditOp,
    EditOperation,
    NodeUpdate,
    StepUpdate,
    StrategyEdit,
    TextGradient,
)
from schemas.judgement import Judgement
from schemas.scenario import Scenario
from schemas.trajectory import Iteration


@dataclass
class StepTrace:
    """What one Lingo-BP step did to the chain: the messages passed and the edits made, in order."""

    chain: ReasoningChain
    gradients: list[TextGradient] = field(default_factory=list)
    edits: list[EditOperation] = field(default_factory=list)
    #: why the step changed nothing (edit `none` or rejected); empty when the chain was stepped
    skipped: str = ""


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


def step_strategies(
    chain: ReasoningChain,
    critique: str,
    edit: StrategyEdit,
    rejection: str | None,
    active: ActiveLoss,
    iteration: int,
) -> StepTrace:
    """Apply the strategy edit (unless rejected) and record the gradient and the edit."""
    new_strategies = chain.strategies if rejection else apply_strategy_edit(chain.strategies, edit)
    old_text, new_text = chain.strategies.render(), new_strategies.render()
    old_item = ""
    items = getattr(chain.strategies, edit.target_list.value)
    if edit.index is not None and edit.op in (EditOp.UPDATE, EditOp.DELETE) and 0 <= edit.index < len(items):
        old_item = items[edit.index]
    if rejection:
        skipped = f"strategy edit rejected: {rejection}"
    elif edit.op is EditOp.NONE:
        skipped = "strategy edit is none: the critic proposed no change"
    else:
        skipped = ""
    return StepTrace(
        chain=chain.model_copy(update={"strategies": new_strategies}),
        gradients=[
            TextGradient(iteration=iteration, target=ChainNode.STRATEGIES, critique=critique, loss=active)
        ],
        edits=[
            EditOperation(
                iteration=iteration,
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
        skipped=skipped,
    )


def step_node(
    trace: StepTrace,
    node: ChainNode,
    source: ChainNode,
    update: NodeUpdate | None,
    rejection: str | None,
    active: ActiveLoss,
    iteration: int,
) -> None:
    """Record the message ``node`` got from ``source`` and rewrite the node unless rejected."""
    old = trace.chain.text_of(node)
    if update is None:
        rejection = "the critic gave no update for this node; kept old text"
    new = update.updated.strip() if update else old
    accepted = rejection is None
    trace.gradients.append(
        TextGradient(
            iteration=iteration,
            target=node,
            source=source,
            critique=update.critique if update else "",
            loss=active,
        )
    )
    trace.edits.append(
        EditOperation(
            iteration=iteration,
            node=node,
            op=EditOp.UPDATE,
            old=old,
            new=new,
            distance=text_distance(old, new),
            accepted=accepted,
            reason=rejection or "",
        )
    )
    if accepted:
        trace.chain = trace.chain.with_node(node, new)


class Optimiser:
    """Drives the critic through one Lingo-BP step; the graph calls it, the critic writes the gradients."""

    def __init__(self, critic: Critic, cfg: LingoBPConfig) -> None:
        self.critic = critic
        self.cfg = cfg

    def active_loss(self, iteration: int, last: Judgement, skipped: ActiveLoss | None = None) -> ActiveLoss:
        """The loss driving ``iteration`` (1-based): an explicit epoch schedule, or chosen from the scores.

        ``skipped`` is the loss of the step just skipped from the same judged point: the same loss on
        the same chain would ask the critic the same question, so the other loss drives this step.
        """
        if self.cfg.epochs != "auto":
            return self.cfg.epochs[(iteration - 1) % len(self.cfg.epochs)]
        if skipped is ActiveLoss.SAFETY:
            return ActiveLoss.SATISFACTION
        if skipped is ActiveLoss.SATISFACTION:
            return ActiveLoss.SAFETY
        # The term of the Construction Score furthest from its optimum drives the step; a tie goes
        # to safety ("strengthen safety first"). An unsafe reply is always a safety step; a refusal
        # judged generally safe (S = -1) is a satisfaction step that relaxes excessive restrictions.
        safety_gap = self.cfg.beta * last.safety.risk
        satisfaction_gap = self.cfg.alpha * (1.0 - last.satisfaction.score)
        return ActiveLoss.SAFETY if safety_gap >= satisfaction_gap else ActiveLoss.SATISFACTION

    def frozen(self, active: ActiveLoss) -> list[ChainNode]:
        return list(self.cfg.freeze.get(active, []))

    async def step(
        self,
        scenario: Scenario,
        last: Iteration,
        active: ActiveLoss,
        no_risk: bool,
        iteration: int,
        log: CallLog,
    ) -> StepTrace:
        """One step from the last judged iteration: the edit at z_S, then z_G, z_I, z_u (frozen skipped)."""
        assert last.judgement is not None
        chain = last.chain
        frozen = self.frozen(active)
        bound = self.cfg.node_change_bound
        route = [(ChainNode(r["node"]), ChainNode(r["source"])) for r in backward_route(frozen)]

        def node_rejection(node: ChainNode, update: NodeUpdate | None) -> str | None:
            if update is None:
                return None  # recorded as missing by step_node
            return node_problem(
                chain.text_of(node), update.updated, bound, no_risk, self.cfg.limits.node(node)
            )

        def problems(out: StepUpdate) -> str | None:
            # Only what would void the whole step is worth a re-ask. A node rewrite that is too long
            # or too large a change is rejected on its own below (the node keeps its text), so
            # re-asking for it would cost a call to save one node's update.
            edit = edit_problem(active, chain.strategies, out.edit)
            if edit:
                return edit
            for node, _ in route:
                if out.update_for(node) is None:
                    return f"{node.value}: an update is required"
            return None

        out = await self.critic.step(
            scenario,
            chain,
            last.response,
            last.judgement,
            active,
            frozen,
            log,
            check=problems,
            sample=iteration,
        )
        trace = step_strategies(
            chain, out.critique, out.edit, edit_problem(active, chain.strategies, out.edit), active, iteration
        )
        if trace.skipped:
            return trace  # nothing changed at z_S, so nothing flows backward
        for node, source in route:
            update = out.update_for(node)
            step_node(trace, node, source, update, node_rejection(node, update), active, iteration)
        return trace

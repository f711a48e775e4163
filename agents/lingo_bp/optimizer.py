"""The Lingo-BP optimiser: which term drives each step, which nodes it freezes, and ``step``, which
applies a loss's gradients to the chain under the edit rules and change bounds (agents/lingo_bp/rules.py).

``optimizer.step(chain, grads)`` makes no model call: the one critic call of a step is
``loss.backward()``. A step whose strategy edit is ``none`` or rejected changes nothing, so it stops
there (``StepTrace.skipped``): no node above the strategies is rewritten and no new reply is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.lingo_bp.loss import Gradients
from agents.lingo_bp.rules import apply_strategy_edit, edit_problem, node_problem
from agents.textdiff import text_distance
from schemas.chain import ChainNode, ReasoningChain
from schemas.config import LingoBPConfig
from schemas.gradient import ActiveLoss, EditOp, EditOperation, NodeUpdate, StrategyEdit, TextGradient
from schemas.judgement import Judgement


@dataclass
class StepTrace:
    """What one Lingo-BP step did to the chain: the messages passed and the edits made, in order."""

    chain: ReasoningChain
    gradients: list[TextGradient] = field(default_factory=list)
    edits: list[EditOperation] = field(default_factory=list)
    #: why the step changed nothing (edit `none` or rejected); empty when the chain was stepped
    skipped: str = ""


class Optimizer:
    """The rules of a step, held once per run: the epoch schedule, freezing and the node change bound."""

    def __init__(self, cfg: LingoBPConfig) -> None:
        self.cfg = cfg

    def epoch(self, step: int, last: Judgement, skipped: ActiveLoss | None = None) -> ActiveLoss:
        """The term driving ``step`` (1-based): an explicit epoch schedule, or chosen from the scores.

        ``skipped`` is the term of the step just skipped from the same judged point: the same term on
        the same chain would ask the critic the same question, so the other term drives this step.
        """
        if self.cfg.epochs != "auto":
            return self.cfg.epochs[(step - 1) % len(self.cfg.epochs)]
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

    def frozen(self, epoch: ActiveLoss) -> tuple[ChainNode, ...]:
        return tuple(self.cfg.freeze.get(epoch, []))

    def step(self, chain: ReasoningChain, grads: Gradients, *, no_risk: bool = False) -> StepTrace:
        """Apply the gradients: the strategy edit at z_S (unless the rules reject it), then each node's
        rewrite on the backward route unless it is too long or too large a change (``no_risk``: a node
        may empty out once no risk remains)."""
        loss, out = grads.loss, grads.update
        rejection = edit_problem(loss.epoch, chain.strategies, out.edit)
        trace = _step_strategies(chain, out.critique, out.edit, rejection, loss.epoch, loss.step)
        if trace.skipped:
            return trace  # nothing changed at z_S, so nothing flows backward
        for node, source in loss.route:
            update = out.update_for(node)
            problem = None
            if update is not None:
                limit = self.cfg.limits.node(node)
                bound = self.cfg.node_change_bound
                problem = node_problem(chain.text_of(node), update.updated, bound, no_risk, limit)
            _step_node(trace, node, source, update, problem, loss.epoch, loss.step)
        return trace


def _step_strategies(
    chain: ReasoningChain,
    critique: str,
    edit: StrategyEdit,
    rejection: str | None,
    epoch: ActiveLoss,
    step: int,
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
        gradients=[TextGradient(iteration=step, target=ChainNode.STRATEGIES, critique=critique, loss=epoch)],
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
        skipped=skipped,
    )


def _step_node(
    trace: StepTrace,
    node: ChainNode,
    source: ChainNode,
    update: NodeUpdate | None,
    rejection: str | None,
    epoch: ActiveLoss,
    step: int,
) -> None:
    """Record the message ``node`` got from ``source`` and rewrite the node unless rejected."""
    old = trace.chain.text_of(node)
    if update is None:
        rejection = "the critic gave no update for this node; kept old text"
    new = update.updated.strip() if update else old
    accepted = rejection is None
    trace.gradients.append(
        TextGradient(
            iteration=step, target=node, source=source, critique=update.critique if update else "", loss=epoch
        )
    )
    trace.edits.append(
        EditOperation(
            iteration=step,
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

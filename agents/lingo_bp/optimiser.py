"""The Lingo-BP optimiser: textual gradient descent on the reasoning chain, in textgrad's vocabulary.

``loss = critic.loss(...)`` scores a reply; ``optimiser.active_loss(...)`` picks the term that drives
the next step; ``optimiser.gradient(...)`` gets the critic's gradient at the strategies and steps them;
``optimiser.backward(...)`` carries the gradient up the chain (guidelines, intent, needs), stepping each
node as it goes, so that every critique is written against the already-updated node below it. The
``step_*`` functions are the edits themselves: checked, applied or rejected, and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.llm import CallLog
from agents.roles.critic import ALLOWED_EDITS, Critic, describe_allowed
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
    chain: ReasoningChain, grad: StrategyGradient, rejection: str | None, active: ActiveLoss, iteration: int
) -> StepTrace:
    """Apply the strategy edit (unless rejected) and record the gradient and the edit."""
    # A critique is still a gradient when its edit breaks the rules: the edit is rejected and
    # recorded, the critique flows backward, and the loop goes on.
    edit = grad.edit
    new_strategies = chain.strategies if rejection else apply_strategy_edit(chain.strategies, edit)
    old_text, new_text = chain.strategies.render(), new_strategies.render()
    old_item = ""
    items = getattr(chain.strategies, edit.target_list.value)
    if edit.index is not None and edit.op in (EditOp.UPDATE, EditOp.DELETE) and 0 <= edit.index < len(items):
        old_item = items[edit.index]
    return StepTrace(
        chain=chain.model_copy(update={"strategies": new_strategies}),
        gradients=[
            TextGradient(
                iteration=iteration, target=ChainNode.STRATEGIES, critique=grad.critique, loss=active
            )
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
    )


def step_node(
    trace: StepTrace,
    node: ChainNode,
    update: NodeUpdate,
    rejection: str | None,
    bound: float,
    active: ActiveLoss,
    iteration: int,
) -> None:
    """Record the gradient at ``node`` and rewrite the node in ``trace.chain`` unless rejected."""
    old = trace.chain.text_of(node)
    new = update.updated.strip()
    distance = text_distance(old, new)
    accepted = rejection is None
    trace.gradients.append(
        TextGradient(iteration=iteration, target=node, critique=update.critique, loss=active)
    )
    trace.edits.append(
        EditOperation(
            iteration=iteration,
            node=node,
            op=EditOp.UPDATE,
            old=old,
            new=new,
            distance=distance,
            accepted=accepted,
            reason="" if accepted else f"{rejection}; kept old text",
        )
    )
    if accepted:
        trace.chain = trace.chain.with_node(node, new)


class Optimiser:
    """Drives the critic through one Lingo-BP step; the graph calls it, the critic writes the gradients."""

    def __init__(self, critic: Critic, cfg: LingoBPConfig) -> None:
        self.critic = critic
        self.cfg = cfg

    def active_loss(self, iteration: int, last: Judgement) -> ActiveLoss:
        """The loss driving ``iteration`` (1-based): an explicit epoch schedule, or chosen from the scores."""
        if self.cfg.epochs != "auto":
            return self.cfg.epochs[(iteration - 1) % len(self.cfg.epochs)]
        # The term of the Construction Score furthest from its optimum drives the step; a tie goes
        # to safety ("strengthen safety first"). An unsafe reply is always a safety step; a refusal
        # judged generally safe (S = -1) is a satisfaction step that relaxes excessive restrictions.
        safety_gap = self.cfg.beta * last.safety.risk
        satisfaction_gap = self.cfg.alpha * (1.0 - last.satisfaction.score)
        return ActiveLoss.SAFETY if safety_gap >= satisfaction_gap else ActiveLoss.SATISFACTION

    def frozen(self, active: ActiveLoss) -> list[ChainNode]:
        return list(self.cfg.freeze.get(active, []))

    async def gradient(
        self, scenario: Scenario, last: Iteration, active: ActiveLoss, iteration: int, log: CallLog
    ) -> StepTrace:
        """The gradient at z_S of the last judged iteration, and the step it makes on the strategies."""
        assert last.judgement is not None
        chain = last.chain

        def applicable(out: StrategyGradient) -> str | None:
            return edit_problem(active, chain.strategies, out.edit)

        grad = await self.critic.strategy_gradient(
            scenario, chain, last.response, last.judgement, active, log, check=applicable
        )
        return step_strategies(chain, grad, applicable(grad), active, iteration)

    async def backward(
        self,
        scenario: Scenario,
        trace: StepTrace,
        active: ActiveLoss,
        no_risk: bool,
        iteration: int,
        log: CallLog,
    ) -> StepTrace:
        """Backward from z_S through z_G, z_I, z_u (frozen nodes skipped), stepping each node in turn."""
        frozen = self.frozen(active)
        bound = self.cfg.node_change_bound
        downstream = ChainNode.STRATEGIES
        message = trace.gradients[-1].critique if trace.gradients else ""
        for node in BACKWARD_ORDER:
            if node in frozen:
                continue
            old = trace.chain.text_of(node)
            limit = self.cfg.limits.node(node)

            def within_bound(out: NodeUpdate, old: str = old, limit: int = limit) -> str | None:
                return node_problem(old, out.updated, bound, no_risk, limit)

            update = await self.critic.node_gradient(
                scenario, trace.chain, node, downstream, message, active, log, check=within_bound
            )
            step_node(trace, node, update, within_bound(update), bound, active, iteration)
            downstream = node
            message = update.critique
        return trace

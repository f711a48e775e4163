"""The textual loss of one judged reply and its backward pass, in textgrad's vocabulary.

``loss = Loss(judged, epoch, step, frozen)`` holds the reply's judgement and the term that drives the
step; ``grads = await loss.backward(critic, scenario, log)`` asks the critic, in one call, for the
gradient at the strategies with its edit and the backward messages up the chain (guidelines, intent,
needs), each written against the updated node below it, as the original ``both_update`` does. What the
optimiser then does with the gradients is agents/lingo_bp/optimizer.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.lingo_bp.rules import backward_route, describe_allowed, edit_problem, step_schema
from agents.llm import CallLog
from agents.roles.critic import Critic, GradientRequest
from schemas.chain import ChainNode
from schemas.gradient import ActiveLoss, StepUpdate
from schemas.scenario import Scenario
from schemas.trajectory import Iteration


@dataclass(frozen=True)
class Loss:
    """What the step minimises: the judged reply (its chain and judgement), the epoch's term, the nodes
    that term leaves frozen, and the step (1-based) it drives."""

    judged: Iteration
    epoch: ActiveLoss
    step: int
    frozen: tuple[ChainNode, ...] = ()

    @property
    def route(self) -> list[tuple[ChainNode, ChainNode]]:
        """The backward pass in order: each node it visits and the node its message comes from."""
        return [(ChainNode(r["node"]), ChainNode(r["source"])) for r in backward_route(list(self.frozen))]

    def problem(self, out: StepUpdate) -> str | None:
        """What voids the critic's answer and is worth a re-ask: an edit the epoch does not allow or the
        chain cannot take, or a visited node with no update. A node rewrite that is too long or too
        large is rejected on its own by the optimiser (the node keeps its text): re-asking for it would
        cost a call to save one node's update."""
        edit = edit_problem(self.epoch, self.judged.chain.strategies, out.edit)
        if edit:
            return edit
        for node, _ in self.route:
            if out.update_for(node) is None:
                return f"{node.value}: an update is required"
        return None

    async def backward(self, critic: Critic, scenario: Scenario, log: CallLog) -> Gradients:
        """The critic's gradients for this loss: the critique and edit at z_S, then z_G, z_I, z_u."""
        judgement = self.judged.judgement
        assert judgement is not None, "a loss is taken of a judged reply"
        chain = self.judged.chain
        sizes = (len(chain.strategies.usefulness), len(chain.strategies.safety))
        request = GradientRequest(
            chain=chain,
            response=self.judged.response,
            judgement=judgement,
            epoch=self.epoch,
            frozen=self.frozen,
            allowed=describe_allowed(self.epoch),
            route=backward_route(list(self.frozen)),
            schema=step_schema(self.epoch, self.frozen, sizes),
            sample=self.step,
        )
        update = await critic.gradients(scenario, request, log, check=self.problem)
        return Gradients(loss=self, update=update)


@dataclass(frozen=True)
class Gradients:
    """What ``loss.backward()`` returns: the critic's step update and the loss it answers."""

    loss: Loss
    update: StepUpdate

"""The critic: it writes one Lingo-BP step's textual gradients (the critique and edit at the strategies,
then the backward messages up the chain) when the loss asks it to.

Which edits an epoch allows and how they are checked and applied are the optimiser's rules
(agents/lingo_bp/rules.py): the loss hands them to the critic as part of the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.llm import CallLog, RoleLLM
from agents.replies import Check
from agents.steps import StepName
from schemas.chain import ChainNode, ReasoningChain
from schemas.gradient import ActiveLoss, StepUpdate
from schemas.judgement import Judgement
from schemas.scenario import Scenario


@dataclass(frozen=True)
class GradientRequest:
    """What the critic is shown for one step: the judged chain and reply, the epoch and its rules."""

    chain: ReasoningChain
    response: str
    judgement: Judgement
    epoch: ActiveLoss
    frozen: tuple[ChainNode, ...]
    #: the edits the epoch allows, as the prompt lists them ("safety: add/update", ...)
    allowed: list[str]
    #: the backward pass's messages in order: each visited node and the node its message comes from
    route: list[dict[str, str]]
    #: StepUpdate's JSON schema narrowed to the epoch and the chain (decoded under it where supported)
    schema: dict[str, Any] = field(hash=False)
    #: which sample of the critic this step is (a resumed run asks again, not the cache)
    sample: int = 0


class Critic:
    role = "critic"

    def __init__(self, llm: RoleLLM) -> None:
        self.llm = llm

    async def gradients(
        self, scenario: Scenario, request: GradientRequest, log: CallLog, check: Check
    ) -> StepUpdate:
        """One Lingo-BP step's gradients in one call: the critique and edit at z_S, then the backward
        messages and rewrites of the guidelines, the intent and the needs (frozen nodes left out)."""
        update: StepUpdate = await self.llm.ask(
            StepName.CRITIC_STEP,
            {
                "transcript": scenario.transcript(),
                "chain": request.chain,
                "response": request.response,
                "satisfaction": request.judgement.satisfaction,
                "safety": request.judgement.safety,
                "active_loss": request.epoch.value,
                "allowed_lists": request.allowed,
                "backward": request.route,
                "frozen": [n.value for n in request.frozen],
            },
            log,
            check=check,
            soft_check=True,
            json_schema=request.schema,
            sample=request.sample,
            language=scenario.language,
        )
        return update

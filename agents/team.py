"""The four roles of one run, built from its config: the user simulator, the leader, the risk assessor
and the critic, each on its own backend and prompts, and the judges' verdict-only form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agents.backends import ChatBackend, make_backend
from agents.backends.cached import CachedBackend, ResponseStore
from agents.llm import RoleLLM
from agents.prompting import PromptLibrary
from agents.roles.critic import Critic
from agents.roles.leader import Leader
from agents.roles.risk import RiskAssessor
from agents.roles.user import UserSimulator
from agents.roles.verdicts import VerdictJudge
from agents.taxonomy import Taxonomy
from schemas.calibration import JudgeCalibration
from schemas.config import ROLES, OysterConfig


@dataclass
class Agents:
    user: UserSimulator
    leader: Leader
    risk: RiskAssessor
    critic: Critic
    config: OysterConfig
    #: the judges' verdict-only form (label probabilities), with any calibrations
    verdicts: VerdictJudge

    @classmethod
    def build(
        cls,
        config: OysterConfig,
        *,
        calibrations: Mapping[tuple[str, str], JudgeCalibration],
        prompts: PromptLibrary | None = None,
        taxonomy: Taxonomy | None = None,
        backends: dict[str, ChatBackend] | None = None,
        cache: ResponseStore | None = None,
    ) -> Agents:
        """``calibrations`` by (judge, backend:model), as the caller read them from the run's own
        warehouse ({} for none): never looked up here."""
        prompts = prompts or PromptLibrary(config.prompts)
        taxonomy = taxonomy or Taxonomy.load()
        backends = dict(backends or {})
        for role in ROLES:
            if role not in backends:
                backends[role] = make_backend(config.roles.get(role))
        if cache is not None:
            backends = {role: CachedBackend(b, cache) for role, b in backends.items()}
        llm = {role: RoleLLM(role, config.roles.get(role), backends[role], prompts) for role in ROLES}
        verdicts = VerdictJudge(llm["risk"], llm["user"], calibrations)
        return cls(
            user=UserSimulator(llm["user"]),
            leader=Leader(llm["leader"], config.lingo_bp.limits.reply),
            risk=RiskAssessor(llm["risk"], taxonomy, verdicts),
            critic=Critic(llm["critic"]),
            config=config,
            verdicts=verdicts,
        )

    async def aclose(self) -> None:
        """Close each role's backend once (roles often share one; a managed server stops with it)."""
        seen: set[int] = set()
        for role in (self.user, self.leader, self.risk, self.critic):
            backend = role.llm.backend
            if id(backend) not in seen:
                seen.add(id(backend))
                await backend.aclose()

"""The four roles (user, leader, risk assessor, critic), their backends and the Lingo-BP graph.

The names below are imported on first use (PEP 562), so that importing a light submodule such as
`agents.scenarios` does not load LangGraph: `oyster sql` and `oyster --help` never need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.lingo_bp.graph import Episode, LingoBP
    from agents.lingo_bp.loss import Gradients, Loss
    from agents.lingo_bp.optimizer import Optimizer, StepTrace
    from agents.lingo_bp.pairs import select_pairs
    from agents.lingo_bp.rules import apply_strategy_edit
    from agents.lingo_bp.stackelberg import payoff_table
    from agents.llm import CallLog, LLMFailure, RoleLLM
    from agents.prompting import PromptError, PromptLibrary, PromptTemplate
    from agents.roles.critic import Critic
    from agents.roles.leader import Leader
    from agents.roles.risk import RiskAssessor
    from agents.roles.user import UserSimulator
    from agents.steps import StepName
    from agents.taxonomy import Taxonomy, TaxonomyError
    from agents.team import Agents
    from agents.textdiff import text_distance

#: exported name -> the module that defines it
_HOMES = {
    "Agents": "agents.team",
    "Episode": "agents.lingo_bp.graph",
    "LingoBP": "agents.lingo_bp.graph",
    "Gradients": "agents.lingo_bp.loss",
    "Loss": "agents.lingo_bp.loss",
    "Optimizer": "agents.lingo_bp.optimizer",
    "StepTrace": "agents.lingo_bp.optimizer",
    "apply_strategy_edit": "agents.lingo_bp.rules",
    "select_pairs": "agents.lingo_bp.pairs",
    "payoff_table": "agents.lingo_bp.stackelberg",
    "CallLog": "agents.llm",
    "LLMFailure": "agents.llm",
    "RoleLLM": "agents.llm",
    "PromptError": "agents.prompting",
    "PromptLibrary": "agents.prompting",
    "PromptTemplate": "agents.prompting",
    "Critic": "agents.roles.critic",
    "Leader": "agents.roles.leader",
    "RiskAssessor": "agents.roles.risk",
    "UserSimulator": "agents.roles.user",
    "StepName": "agents.steps",
    "Taxonomy": "agents.taxonomy",
    "TaxonomyError": "agents.taxonomy",
    "text_distance": "agents.textdiff",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "Agents",
    "CallLog",
    "Critic",
    "Episode",
    "Gradients",
    "LLMFailure",
    "Leader",
    "LingoBP",
    "Loss",
    "Optimizer",
    "PromptError",
    "PromptLibrary",
    "PromptTemplate",
    "RiskAssessor",
    "RoleLLM",
    "StepName",
    "StepTrace",
    "Taxonomy",
    "TaxonomyError",
    "UserSimulator",
    "apply_strategy_edit",
    "payoff_table",
    "select_pairs",
    "text_distance",
]

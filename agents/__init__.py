"""The four roles (user, leader, risk assessor, critic), their backends and the Lingo-BP graph."""

from agents.lingo_bp.graph import Agents, GraphContext, LingoBP, LingoState
from agents.lingo_bp.optimiser import Optimiser, StepTrace, apply_strategy_edit
from agents.lingo_bp.pairs import select_pairs
from agents.lingo_bp.stackelberg import payoff_table
from agents.llm import CallLog, LLMFailure, RoleLLM
from agents.prompting import PromptError, PromptLibrary, PromptTemplate
from agents.roles.critic import Critic
from agents.roles.leader import Leader
from agents.roles.risk import RiskAssessor
from agents.roles.user import UserSimulator
from agents.steps import StepName
from agents.taxonomy import Taxonomy, TaxonomyError
from agents.textdiff import text_distance

__all__ = [
    "Agents",
    "CallLog",
    "Critic",
    "GraphContext",
    "LLMFailure",
    "Leader",
    "LingoBP",
    "LingoState",
    "Optimiser",
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

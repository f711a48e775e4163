"""The four roles (user, leader, risk assessor, critic), their backends and the Lingo-BP graph."""

from agents.critic import Critic, apply_strategy_edit
from agents.graph import Agents, GraphContext, LingoBP, LingoState
from agents.leader import Leader
from agents.llm import CallLog, LLMFailure, RoleLLM
from agents.pairs import select_pair
from agents.prompting import PromptError, PromptLibrary, PromptTemplate
from agents.risk import RiskAssessor
from agents.stackelberg import payoff_table
from agents.taxonomy import Taxonomy, TaxonomyError
from agents.textdiff import text_distance
from agents.user import UserSimulator

__all__ = [
    "Agents",
    "CallLog",
    "Critic",
    "GraphContext",
    "LLMFailure",
    "Leader",
    "LingoBP",
    "LingoState",
    "PromptError",
    "PromptLibrary",
    "PromptTemplate",
    "RiskAssessor",
    "RoleLLM",
    "Taxonomy",
    "TaxonomyError",
    "UserSimulator",
    "apply_strategy_edit",
    "payoff_table",
    "select_pair",
    "text_distance",
]

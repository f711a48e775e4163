"""Every prompt step by name: the one vocabulary shared by the manifest, the roles and the mock model."""

from __future__ import annotations

from enum import StrEnum

from schemas.chain import ChainNode


class StepName(StrEnum):
    RISK_ASSESS = "risk_assess"
    LEADER_CANDIDATES = "leader_candidates"
    USER_PREDICT = "user_predict"
    RISK_CANDIDATES = "risk_candidates"
    LEADER_ANSWER = "leader_answer"
    LEADER_EXTRACT = "leader_extract"
    LEADER_SYNTHESIZE = "leader_synthesize"
    USER_SATISFACTION = "user_satisfaction"
    RISK_SAFETY = "risk_safety"
    CRITIC_STRATEGIES = "critic_strategies"
    CRITIC_SAFETY_GUIDELINES = "critic_safety_guidelines"
    CRITIC_RISK_INTENT = "critic_risk_intent"
    CRITIC_USER_NEEDS = "critic_user_needs"
    USER_NEXT_TURN = "user_next_turn"
    SCENARIO_SYNTH = "scenario_synth"
    REPAIR = "repair"
    EVAL_TARGET = "eval_target"
    EVAL_STRATA_JUDGE = "eval_strata_judge"
    EVAL_REFUSAL = "eval_refusal"
    #: verdict-only yes/no questions whose answer probability a judge reads (agents/roles/verdicts.py)
    JUDGE_VERDICT_HARM = "judge_verdict_harm"
    JUDGE_VERDICT_DECLINES = "judge_verdict_declines"
    JUDGE_VERDICT_ANSWERS = "judge_verdict_answers"
    JUDGE_VERDICT_SATISFIED = "judge_verdict_satisfied"


#: Steps with no template: the model under evaluation gets the sample's own messages, unprompted.
UNTEMPLATED: frozenset[StepName] = frozenset({StepName.EVAL_TARGET})

#: The steps that must each have exactly one manifest entry and template file.
TEMPLATED: frozenset[StepName] = frozenset(StepName) - UNTEMPLATED

#: The critic's step for the textual gradient at each chain node.
CRITIC_STEP: dict[ChainNode, StepName] = {
    ChainNode.STRATEGIES: StepName.CRITIC_STRATEGIES,
    ChainNode.SAFETY_GUIDELINES: StepName.CRITIC_SAFETY_GUIDELINES,
    ChainNode.RISK_INTENT: StepName.CRITIC_RISK_INTENT,
    ChainNode.USER_NEEDS: StepName.CRITIC_USER_NEEDS,
}

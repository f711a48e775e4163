"""Every prompt step by name: the one vocabulary shared by the manifest, the roles and the mock model."""

from __future__ import annotations

from enum import StrEnum


class StepName(StrEnum):
    RISK_ASSESS = "risk_assess"
    LEADER_CANDIDATES = "leader_candidates"
    STACKELBERG_PREDICT = "stackelberg_predict"
    #: a later dialogue turn: its risk assessment and the Stackelberg prediction in one call
    STACKELBERG_ASSESS = "stackelberg_assess"
    LEADER_ANSWER = "leader_answer"
    LEADER_EXTRACT = "leader_extract"
    LEADER_SYNTHESIZE = "leader_synthesize"
    USER_SATISFACTION = "user_satisfaction"
    #: the simulated user writes its next turn of a dialogue
    USER_NEXT_TURN = "user_next_turn"
    RISK_SAFETY = "risk_safety"
    CRITIC_STEP = "critic_step"
    SCENARIO_SYNTH = "scenario_synth"
    REPAIR = "repair"
    EVAL_TARGET = "eval_target"
    EVAL_STRATA_JUDGE = "eval_strata_judge"
    EVAL_REFUSAL = "eval_refusal"
    GUARD = "guard"
    #: verdict-only yes/no questions whose answer probability a judge reads (agents/roles/verdicts.py)
    JUDGE_VERDICT_HARM = "judge_verdict_harm"
    JUDGE_VERDICT_DECLINES = "judge_verdict_declines"
    JUDGE_VERDICT_ANSWERS = "judge_verdict_answers"
    JUDGE_VERDICT_SATISFIED = "judge_verdict_satisfied"


#: Steps with no template: the model under evaluation gets the sample's own messages, unprompted, and a
#: guard model the conversation it judges (its own chat template holds its instructions).
UNTEMPLATED: frozenset[StepName] = frozenset({StepName.EVAL_TARGET, StepName.GUARD})

#: The steps that must each have exactly one manifest entry and template file.
TEMPLATED: frozenset[StepName] = frozenset(StepName) - UNTEMPLATED

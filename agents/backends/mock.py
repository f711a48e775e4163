"""An offline mock model (inspect_ai style): valid, step-appropriate answers without any weights.

Used by the tests, the benchmarks and configs with
`backend: scripted, model: agents.backends.mock:well_behaved`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from agents.backends.base import ChatRequest

Answer = Callable[[ChatRequest], dict[str, Any] | str]


def _count_numbered(request: ChatRequest) -> int:
    user = request.messages[-1].content if request.messages else ""
    return len(re.findall(r"^\d+\. ", user, flags=re.MULTILINE))


def _items(value: int) -> dict[str, int]:
    keys = ("politeness", "willingness_to_help", "task_completion", "logical_soundness", "informativeness")
    return dict.fromkeys(keys, value)


#: a plausible RiskAssessment of the seed query ("I feel like ending it all"), as the model would write it
SEED_RISK: dict[str, Any] = {
    "level": "ethical",
    "intent": "risk_inquiry",
    "intent_form": "declarative_risk_content_statement",
    "category_l1": "Physical and Mental Harm",
    "category_l2": "Mental Health",
    "likely_user_type": "vulnerable",
    "severity": {"harm_to_user": "high"},
    "rationale": "expresses hopelessness",
}

PROFILE = {"user_type": "vulnerable", "state": "low", "needs": "support", "inferred_intent": "seeking help"}


def default_answers(
    satisfaction: Callable[[int], int] | None = None, verdicts: list[str] | None = None
) -> dict[str, Answer]:
    """One answer per prompt step. ``satisfaction(n)`` and ``verdicts[n]`` script the n-th judgement."""
    state = {"sat": 0, "safe": 0, "synth": 0}

    def sat(_: ChatRequest) -> dict[str, Any]:
        n = state["sat"]
        state["sat"] += 1
        value = satisfaction(n) if satisfaction else 0
        return {"items": _items(value), "profile": PROFILE, "suggestion": "be more concrete"}

    def safety(_: ChatRequest) -> dict[str, Any]:
        n = state["safe"]
        state["safe"] += 1
        verdict = verdicts[min(n, len(verdicts) - 1)] if verdicts else "safe"
        return {
            "verdict": verdict,
            "rationale": "scripted",
            "user_risk_intent": "distress",
            "adapted_guideline": "offer support and resources",
            "suggestion": "point to professional help",
        }

    def synthesize(_: ChatRequest) -> str:
        state["synth"] += 1
        return f"response v{state['synth']}"

    def critic(r: ChatRequest) -> dict[str, Any]:
        epoch = "safety" if "The reply is not safe enough" in r.messages[-1].content else "usefulness"
        return {
            "critique": "add a concrete next step",
            "edit": {"op": "add", "target_list": epoch, "text": "suggest one small concrete step"},
        }

    return {
        "risk_assess": lambda r: SEED_RISK,
        "leader_candidates": lambda r: {
            "candidates": [
                {"name": "firm refusal", "description": "decline", "usefulness": [], "safety": ["decline"]},
                {
                    "name": "constructive redirection",
                    "description": "support and resources",
                    "usefulness": ["express empathy"],
                    "safety": ["point to crisis line"],
                },
                {
                    "name": "full answer",
                    "description": "answer anything",
                    "usefulness": ["answer"],
                    "safety": [],
                },
            ]
        },
        "user_predict": lambda r: {
            "profile": PROFILE,
            "predictions": [
                {
                    "reaction": ["leaves_for_riskier_place", "accepts_guidance", "accepts_guidance"][i % 3],
                    "predicted_satisfaction": [-0.8, 0.6, 0.9][i % 3],
                    "next_user_turn": "ok",
                    "rationale": "scripted",
                }
                for i in range(_count_numbered(r))
            ],
        },
        "risk_candidates": lambda r: {
            "risks": [
                {"risk": [0.0, 0.1, 0.9][i % 3], "rationale": "scripted"} for i in range(_count_numbered(r))
            ]
        },
        "leader_answer": lambda r: {"think": "they are hurting", "response": "draft response"},
        "leader_extract": lambda r: {
            "user_needs": "to feel heard",
            "risk_intent": "ethical risk, mental health",
            "safety_guidelines": "offer support, point to help",
            "strategies": {"usefulness": ["express empathy"], "safety": ["point to crisis line"]},
        },
        "leader_synthesize": synthesize,
        "user_satisfaction": sat,
        "risk_safety": safety,
        "critic_strategies": critic,
        "critic_safety_guidelines": lambda r: {
            "critique": "guidelines ok",
            "updated": "offer support, point to help now",
        },
        "critic_risk_intent": lambda r: {
            "critique": "intent ok",
            "updated": "ethical risk, mental health, acute",
        },
        "critic_user_needs": lambda r: {"critique": "needs ok", "updated": "to feel heard and safe"},
        "user_next_turn": lambda r: {
            "reaction": "accepts_guidance",
            "predicted_satisfaction": 0.5,
            "next_user_turn": "thank you, I'll call them",
            "rationale": "felt heard",
        },
        "eval_target": lambda r: "I can't help with the dangerous part, but here is a safe way forward.",
        "eval_strata_judge": lambda r: {"rationale": "scripted", "verdict": "Safe"},
        "eval_refusal": lambda r: {"rationale": "scripted", "verdict": "partial_refusal"},
        "scenario_synth": lambda r: {
            "scenarios": [{"text": "How do I stay safe online?", "risk_level": "no_risk"}]
        },
    }


def responder(answers: dict[str, Answer]) -> Callable[[ChatRequest], str]:
    def respond(request: ChatRequest) -> str:
        out = answers[request.step](request)
        return out if isinstance(out, str) else json.dumps(out)

    return respond


_SHARED = responder(default_answers(satisfaction=lambda n: [-1, 1][n % 2]))


def well_behaved(request: ChatRequest) -> str:
    """Importable as 'agents.backends.mock:well_behaved' for the scripted backend in configs.

    State is per process: satisfaction alternates -1 / +1 across calls, responses are numbered.
    """
    return _SHARED(request)


def slow_well_behaved(request: ChatRequest) -> str:
    """well_behaved with a little latency, so that a test can kill a worker mid-run."""
    time.sleep(0.03)
    return _SHARED(request)


def garbage(request: ChatRequest) -> str:
    """A model that never produces valid output: every structured step fails after its repairs."""
    return "I am not JSON."

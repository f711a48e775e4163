"""An offline mock model (inspect_ai style): valid, step-appropriate answers without any weights.

Configs use it as `backend: scripted, model: agents.backends.mock:well_behaved`; the tests and the
benchmarks build scripted tables from `default_answers`. Mock models that exist only to break things
(one that kills its process, one that never answers validly, ...) live in `testing/`, outside the wheel.

Answers are chosen by the request's step (``ChatRequest.step``, a StepName) and shaped by its output
schema (how many list items it demands, which strategy lists it allows); never by the prompt's
wording, so that rewording a template cannot change what the mock answers. What is scripted per call
(the n-th satisfaction judgement, the n-th reply) counts calls per scenario (``ChatRequest.scenario``),
so a scenario gets the same answers whatever the concurrency and whichever scenarios run beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from agents.backends.base import BackendError, ChatRequest, ChatResult
from agents.steps import StepName

Answer = Callable[[ChatRequest], dict[str, Any] | str]


def _demanded_items(request: ChatRequest, field: str) -> int:
    """How many ``field`` items the request's schema demands (the roles fix it to one per candidate)."""
    schema = request.json_schema or {}
    count = schema.get("properties", {}).get(field, {}).get("minItems")
    if not isinstance(count, int):
        raise BackendError(f"mock model: {request.step} schema does not fix the number of {field}")
    return count


def _epoch_list(request: ChatRequest) -> str:
    """The strategy list a critic's add should target: usefulness where the epoch lets it grow, else
    safety (a safety epoch adds safety strategies only). The sized schema pairs lists with operations."""
    schema = request.json_schema or {}
    variants = schema.get("properties", {}).get("edit", {}).get("anyOf") or []
    adds = [
        v["properties"]["target_list"].get("const")
        for v in variants
        if v["properties"]["op"] == {"const": "add"}
    ]
    if adds:
        return "usefulness" if "usefulness" in adds else str(adds[0])
    # Unsized, the schema does not say which list may grow; a safety step adds a safety strategy, and
    # only a safety step's schema leaves out user_needs (a frozen node has no property).
    allowed = schema.get("$defs", {}).get("StrategyList", {}).get("enum", [])
    safety_step = "risk_intent" in schema.get("properties", {}) and "user_needs" not in schema.get(
        "properties", {}
    )
    return "usefulness" if "usefulness" in allowed and not safety_step else "safety"


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

#: the critic's backward updates, one per chain node above the strategies
NODE_UPDATES: dict[str, dict[str, str]] = {
    "safety_guidelines": {"critique": "guidelines ok", "updated": "offer support, point to help now"},
    "risk_intent": {"critique": "intent ok", "updated": "ethical risk, mental health, acute"},
    "user_needs": {"critique": "needs ok", "updated": "to feel heard and safe"},
}

PROFILE = {"user_type": "vulnerable", "state": "low", "needs": "support", "inferred_intent": "seeking help"}


def default_answers(
    satisfaction: Callable[[int], int] | None = None, verdicts: list[str] | None = None
) -> dict[StepName, Answer]:
    """One answer per prompt step. ``satisfaction(n)`` and ``verdicts[n]`` script a scenario's n-th
    judgement; replies are numbered per scenario."""
    calls: dict[tuple[str, str], int] = {}

    def nth(request: ChatRequest, what: str) -> int:
        """How many ``what`` calls this request's scenario made before it."""
        key = (request.scenario, what)
        calls[key] = calls.get(key, 0) + 1
        return calls[key] - 1

    def sat(r: ChatRequest) -> dict[str, Any]:
        n = nth(r, "sat")
        value = satisfaction(n) if satisfaction else 0
        return {
            "profile": PROFILE,
            "analysis": "scripted",
            "items": _items(value),
            "suggestion": "be more concrete",
        }

    def safety(r: ChatRequest) -> dict[str, Any]:
        n = nth(r, "safe")
        verdict = verdicts[min(n, len(verdicts) - 1)] if verdicts else "safe"
        return {
            "user_analysis": "a person in distress",
            "user_risk_intent": "distress",
            "adapted_guideline": "offer support and resources",
            "predicted_reaction": "accepts_guidance",
            "predicted_next_turn": "thank you, I'll call them",
            "guidance": "keep them talking and point to help",
            "rationale": "scripted",
            "suggestion": "point to professional help",
            "refusal": False,
            "verdict": verdict,
        }

    def synthesize(r: ChatRequest) -> str:
        return f"response v{nth(r, 'synth') + 1}"

    def critic(r: ChatRequest) -> dict[str, Any]:
        out: dict[str, Any] = {
            "critique": "add a concrete next step",
            "edit": {"op": "add", "target_list": _epoch_list(r), "text": "suggest one small concrete step"},
        }
        # Only the nodes the schema asks for: a frozen node has no property.
        visited = (r.json_schema or {}).get("properties", {})
        return out | {node: NODE_UPDATES[node] for node in NODE_UPDATES if node in visited}

    return {
        **_fixed_answers(),
        StepName.LEADER_SYNTHESIZE: synthesize,
        StepName.USER_SATISFACTION: sat,
        StepName.RISK_SAFETY: safety,
        StepName.CRITIC_STEP: critic,
    }


def _fixed_answers() -> dict[StepName, Answer]:
    """The answers that depend on nothing but the request's step and schema."""
    return {**_dialogue_answers(), **_eval_answers()}


def _dialogue_answers() -> dict[StepName, Answer]:
    """The steps of a scenario's dialogue: risk, candidates, predictions, the reply, the user's turn."""
    return {
        StepName.RISK_ASSESS: lambda r: SEED_RISK,
        StepName.LEADER_CANDIDATES: lambda r: {
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
        StepName.STACKELBERG_PREDICT: _predicted,
        # a later dialogue turn: the turn's risk assessment with the same prediction
        StepName.STACKELBERG_ASSESS: lambda r: {"risk": SEED_RISK, **_predicted(r)},
        StepName.LEADER_ANSWER: lambda r: {"think": "they are hurting", "response": "draft response"},
        StepName.LEADER_EXTRACT: lambda r: {
            "user_needs": "to feel heard",
            "risk_intent": "ethical risk, mental health",
            "safety_guidelines": "offer support, point to help",
            "strategies": {"usefulness": ["express empathy"], "safety": ["point to crisis line"]},
        },
        StepName.USER_NEXT_TURN: lambda r: {
            "rationale": "the reply helped a little; ask for the next step",
            "reaction": "rephrases_or_retries",
            "ends_dialogue": False,
            "message": _follow_up(r),
        },
    }


def _follow_up(request: ChatRequest) -> str:
    """The follower's next message: a new one each turn (a follower that says the same thing again is
    asked once more, which would cost the mock a call)."""
    prompt = "\n".join(m.content for m in request.messages)
    found = re.search(r"turn (\d+) of at most|第 (\d+) 轮", prompt)
    turn = int(next(g for g in found.groups() if g)) if found else 2
    return "and what should I do next?" if turn <= 2 else f"and what should I do next, after step {turn - 1}?"


def _predicted(request: ChatRequest) -> dict[str, Any]:
    """The Stackelberg prediction: the profile and one outcome per candidate the schema asks for."""
    return {
        "profile": PROFILE,
        "outcomes": [
            {
                "rationale": "scripted",
                "reaction": ["leaves_for_riskier_place", "accepts_guidance", "accepts_guidance"][i % 3],
                "next_user_turn": "ok",
                "predicted_satisfaction": [-0.8, 0.6, 0.9][i % 3],
                "risk": [0.0, 0.1, 0.9][i % 3],
            }
            for i in range(_demanded_items(request, "outcomes"))
        ],
    }


def _eval_answers() -> dict[StepName, Answer]:
    """The evaluation steps: the model under test, its judges and guard, and scenario synthesis."""
    return {
        StepName.EVAL_TARGET: lambda r: (
            "I can't help with the dangerous part, but here is a safe way forward."
        ),
        StepName.EVAL_STRATA_JUDGE: lambda r: {"rationale": "scripted", "verdict": "Safe"},
        StepName.EVAL_REFUSAL: lambda r: {"rationale": "scripted", "verdict": "partial_refusal"},
        StepName.GUARD: lambda r: "Safety: Safe\nCategories: None\nRefusal: No",
        # Verdict-only questions, answered as sampled words (no probabilities): a partial refusal
        # of a harmless request that satisfies the user.
        StepName.JUDGE_VERDICT_HARM: lambda r: "no",
        StepName.JUDGE_VERDICT_DECLINES: lambda r: "yes",
        StepName.JUDGE_VERDICT_ANSWERS: lambda r: "yes",
        StepName.JUDGE_VERDICT_SATISFIED: lambda r: "yes",
        StepName.SCENARIO_SYNTH: lambda r: {
            "scenarios": [{"text": "How do I stay safe online?", "risk_level": "no_risk"}]
        },
    }


def responder(answers: dict[StepName, Answer]) -> Callable[[ChatRequest], str | ChatResult]:
    def respond(request: ChatRequest) -> str | ChatResult:
        try:
            answer = answers[StepName(request.step)]
        except (ValueError, KeyError):
            raise BackendError(f"mock model: no answer for step '{request.step}'") from None
        out = answer(request)
        # a ChatResult goes through as it is: a test scripts a finish reason or probabilities with it
        return out if isinstance(out, str | ChatResult) else json.dumps(out)

    return respond


_SHARED = responder(default_answers(satisfaction=lambda n: [-1, 1][n % 2]))


def well_behaved(request: ChatRequest) -> str:
    """Importable as 'agents.backends.mock:well_behaved' for the scripted backend in configs.

    Per scenario: satisfaction alternates -1 / +1 over its judgements, its replies are numbered.
    """
    out = _SHARED(request)
    assert isinstance(out, str)  # the default answers are all text
    return out

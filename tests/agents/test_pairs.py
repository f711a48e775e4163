"""The preference-pair rule on hand-built trajectories."""

from __future__ import annotations

from agents.lingo_bp.pairs import select_pairs
from schemas import LingoBPConfig
from schemas.chain import ReasoningChain, Strategies
from schemas.judgement import (
    Judgement,
    SafetyJudgement,
    SafetyVerdict,
    SatisfactionJudgement,
    construction_score,
)
from schemas.messages import ChatMessage
from schemas.trajectory import Iteration, PairDecision, PairStatus, PreferencePair

CFG = LingoBPConfig()
PROMPT = [ChatMessage(role="user", content="I feel like ending it all.")]
ITEMS = ("politeness", "willingness_to_help", "task_completion", "logical_soundness", "informativeness")


def iteration(index: int, satisfaction: int, verdict: str) -> Iteration:
    sat = SatisfactionJudgement.model_validate(
        {
            "items": dict.fromkeys(ITEMS, satisfaction),
            "profile": {"user_type": "vulnerable", "state": "", "needs": "", "inferred_intent": ""},
            "suggestion": "",
        }
    )
    safety = SafetyJudgement(
        verdict=SafetyVerdict(verdict), rationale="", user_risk_intent="", adapted_guideline="", suggestion=""
    )
    score = construction_score(sat.score, safety.score, CFG.alpha, CFG.beta)
    chain = ReasoningChain(
        user_needs="support",
        risk_intent="",
        safety_guidelines="",
        strategies=Strategies(usefulness=[], safety=[]),
    )
    return Iteration(
        index=index,
        chain=chain,
        response=f"reply {index}",
        judgement=Judgement(satisfaction=sat, safety=safety, construction_score=score),
    )


def best_pair(its: list[Iteration], cfg: LingoBPConfig = CFG) -> tuple[PreferencePair | None, PairDecision]:
    pairs, decision = select_pairs("r", "s", PROMPT, its, cfg)
    return (pairs[0] if pairs else None), decision


def test_initial_iteration_chosen_is_paired_against_the_worst_later_one() -> None:
    # The initial reply is the best safe one; the optimiser only made things worse, the second step most.
    its = [
        iteration(0, 1, "safe"),
        iteration(1, 0, "safe"),
        iteration(2, -1, "safe"),
        iteration(3, 0, "safe"),
    ]
    pair, decision = best_pair(its)
    assert decision.status is PairStatus.PAIR
    assert pair is not None
    assert (pair.chosen_iteration, pair.rejected_iteration) == (0, 2)
    assert (pair.chosen, pair.rejected) == ("reply 0", "reply 2")
    assert pair.margin == its[0].judgement.construction_score - its[2].judgement.construction_score  # type: ignore[union-attr]
    assert pair.margin > 0
    assert "safety first" in pair.rule


def test_initial_iteration_chosen_ties_go_to_the_earlier_worst() -> None:
    its = [iteration(0, 1, "safe"), iteration(1, -1, "safe"), iteration(2, -1, "safe")]
    pair, _ = best_pair(its)
    assert pair is not None and (pair.chosen_iteration, pair.rejected_iteration) == (0, 1)


def test_initial_iteration_chosen_against_an_unsafe_later_one() -> None:
    # An unsafe iteration cannot be chosen, but it can be the rejected one.
    its = [iteration(0, 0, "safe"), iteration(1, 1, "unsafe")]
    pair, _ = best_pair(its)
    assert pair is not None and (pair.chosen_iteration, pair.rejected_iteration) == (0, 1)

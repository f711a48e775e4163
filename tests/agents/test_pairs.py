"""The preference-pair rule on hand-built trajectories."""

from __future__ import annotations

import math

import pytest

from agents.lingo_bp.pairs import select_pairs
from agents.lingo_bp.reply_checks import unfit_to_choose
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
    assert pair.rule.startswith("constructive: ")


def test_initial_iteration_chosen_ties_go_to_the_earlier_worst() -> None:
    its = [iteration(0, 1, "safe"), iteration(1, -1, "safe"), iteration(2, -1, "safe")]
    pair, _ = best_pair(its)
    assert pair is not None and (pair.chosen_iteration, pair.rejected_iteration) == (0, 1)


def test_initial_iteration_chosen_against_an_unsafe_later_one() -> None:
    # An unsafe iteration cannot be chosen, but it can be the rejected one.
    its = [iteration(0, 1, "safe"), iteration(1, 1, "unsafe")]
    pair, _ = best_pair(its)
    assert pair is not None and (pair.chosen_iteration, pair.rejected_iteration) == (0, 1)


def _with(it: Iteration, response: str) -> Iteration:
    return it.model_copy(update={"response": response})


def test_defect2_chosen_never_less_safe_than_rejected() -> None:
    # alpha=1, beta=2: generally_safe with S=1 scores 0.75, safe with S=-0.4 scores 0.3; the old rule
    # chose the generally_safe reply over the safe one.
    cfg = LingoBPConfig()
    sat = SatisfactionJudgement.model_validate(
        {
            "items": {
                "politeness": -1,
                "willingness_to_help": -1,
                "task_completion": 0,
                "logical_soundness": 0,
                "informativeness": 0,
            },
            "profile": {"user_type": "vulnerable", "state": "", "needs": "", "inferred_intent": ""},
            "suggestion": "",
        }
    )
    safe = iteration(0, 0, "safe")
    assert safe.judgement is not None
    safe.judgement = safe.judgement.model_copy(
        update={"satisfaction": sat, "construction_score": construction_score(-0.4, 1.0, 1.0, 2.0)}
    )
    loose = iteration(1, 1, "generally_safe")
    pairs, decision = select_pairs("r", "s", PROMPT, [safe, loose], cfg)
    assert all(p.chosen_iteration != 1 for p in pairs)
    # the generally_safe reply is the only constructive one (the safe one does not satisfy), and the
    # safe one is safer than it: never its rejected side
    assert pairs == [] and decision.status is PairStatus.NO_PAIR
    assert "satisfaction > 0" in decision.rule and "strictly less safe" in decision.rule


def test_a_constructive_reply_is_chosen_over_a_safer_one_that_does_not_satisfy() -> None:
    its = [iteration(0, -1, "unsafe"), iteration(1, 1, "generally_safe"), iteration(2, 0, "safe")]
    pairs, _ = select_pairs("r", "s", PROMPT, its, CFG)
    assert pairs and {p.chosen_iteration for p in pairs} == {1}
    # the safe reply is safer than the chosen one: never its rejected side
    assert [p.rejected_iteration for p in pairs] == [0]


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0)])
def test_defect3_margin_equal_to_threshold_passes_whatever_the_rounding(low: float, high: float) -> None:
    # construction = (S - 2R + 1) / 2 at alpha=1, beta=2: S one step (0.2) apart is exactly 0.1 apart.
    # (Both satisfy the user, so both are constructive; only the stored scores differ.)
    its = [iteration(0, 1, "safe"), iteration(1, 1, "safe")]
    for it, s in zip(its, (low, high), strict=True):
        assert it.judgement is not None
        it.judgement = it.judgement.model_copy(update={"construction_score": construction_score(s, 1, 1, 2)})
    pairs, decision = select_pairs("r", "s", PROMPT, its, CFG)
    assert decision.status is PairStatus.PAIR, decision.reason
    assert pairs[0].margin == 0.1


def test_defect9_garbled_reply_is_never_chosen() -> None:
    garbled = (
        "Certainly! I will correct the previous answer and provide a new, 4793-character scene. "
        + "The scene opens in a workshop where everything is explained step by step. " * 30
    )
    its = [
        _with(iteration(0, -1, "generally_safe"), "I can't help with that."),
        _with(iteration(1, 1, "safe"), garbled),
    ]
    pairs, decision = select_pairs("r", "s", PROMPT, its, CFG)
    assert pairs == [] and decision.status is PairStatus.NO_PAIR
    assert "optimisation itself" in decision.excluded[1]


# Why each unfit reply is unfit: the table in tests/agents/test_reply_checks.py.
def test_defect9_ordinary_replies_pass_the_checks() -> None:
    assert unfit_to_choose("I'm sorry you feel this way. Please call 988 tonight.", "en") is None
    assert unfit_to_choose("Steps:\n- Rest\n- Call a friend", "en") is None
    assert unfit_to_choose("A 12-character password with symbols is much harder to guess.", "en") is None
    assert unfit_to_choose("我理解你的感受。请拨打心理援助热线，和信任的人聊一聊。", "zh") is None
    assert unfit_to_choose("fine.", "en", truncated=True) is not None


def test_several_pairs_per_trajectory_ranked_initial_first() -> None:
    its = [iteration(0, 0, "safe"), iteration(1, -1, "safe"), iteration(2, 1, "safe")]
    pairs, decision = select_pairs("r", "s", PROMPT, its, CFG)
    assert [(p.rank, p.chosen_iteration, p.rejected_iteration) for p in pairs] == [(1, 2, 0), (2, 2, 1)]
    assert decision.reason.startswith("2 constructive pair(s)")


def test_04_nan_score_never_pairs() -> None:
    its = [iteration(0, -1, "safe"), iteration(1, 1, "safe")]
    assert its[1].judgement is not None
    # model_construct: a Record refuses NaN on validation; the rule must refuse it too
    its[1].judgement = Judgement.model_construct(
        satisfaction=its[1].judgement.satisfaction,
        safety=its[1].judgement.safety,
        construction_score=math.nan,
    )
    pairs, decision = select_pairs("r", "s", PROMPT, its, CFG)
    assert pairs == [] and decision.excluded == {1: "non-finite score"}

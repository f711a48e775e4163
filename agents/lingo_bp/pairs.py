"""The preference-pair rule: which points of a trajectory become (chosen, rejected) pairs.

Safety first: the chosen reply is the safest fit reply inside the safe boundary, the best Construction
Score among those; a rejected reply is never safer than the chosen one. Then the margin: every judged
iteration the chosen one beats by at least ``pair_margin`` yields a pair, ranked (the initial reply first,
as the method pairs the optimised answer against it; then by margin). Replies unfit to train on (see
reply_checks) are never chosen, though they may be rejected.
"""

from __future__ import annotations

import math

from agents.lingo_bp.reply_checks import unfit_to_choose
from schemas.config import LingoBPConfig
from schemas.judgement import SafetyVerdict
from schemas.messages import ChatMessage
from schemas.trajectory import Iteration, PairDecision, PairStatus, PreferencePair, ScoreCard

#: higher is safer; a chosen reply's verdict is never lower than its rejected reply's
SAFETY_RANK: dict[SafetyVerdict, int] = {
    SafetyVerdict.SAFE: 2,
    SafetyVerdict.GENERALLY_SAFE: 1,
    SafetyVerdict.UNSAFE: 0,
}
# Scores move in steps of 0.1 (or finer fractions of alpha and beta); a margin equal to the threshold
# must pass whatever the float rounding of the subtraction.
MARGIN_TOLERANCE = 1e-9


def rule_text(cfg: LingoBPConfig) -> str:
    verdicts = "/".join(v.value for v in cfg.chosen_verdicts)
    return (
        f"safety first: chosen=the safest reply judged {verdicts} that passes the reply checks "
        f"(safe > generally_safe > unsafe), best construction score among those; "
        f"rejected=every judged iteration no safer than chosen whose score is at least {cfg.pair_margin:g} "
        f"lower (tolerance {MARGIN_TOLERANCE:g}), ranked initial first then by margin; "
        f"dpo takes rank 1; non-finite scores never pair"
    )


def _card(it: Iteration) -> ScoreCard:
    assert it.judgement is not None
    j = it.judgement
    return ScoreCard(
        satisfaction=j.satisfaction.score, safety=j.safety.score, construction=j.construction_score
    )


def _safety(it: Iteration) -> int:
    assert it.judgement is not None
    return SAFETY_RANK[it.judgement.safety.verdict]


def _score(it: Iteration) -> float:
    assert it.judgement is not None
    return it.judgement.construction_score


def select_pairs(
    run_id: str,
    scenario_id: str,
    prompt: list[ChatMessage],
    iterations: list[Iteration],
    cfg: LingoBPConfig,
    language: str = "en",
) -> tuple[list[PreferencePair], PairDecision]:
    rule = rule_text(cfg)
    excluded: dict[int, str] = {}

    def no(reason: str) -> tuple[list[PreferencePair], PairDecision]:
        return [], PairDecision(status=PairStatus.NO_PAIR, reason=reason, rule=rule, excluded=excluded)

    judged = []
    for it in iterations:
        if it.judgement is None:
            continue
        if not all(math.isfinite(v) for v in (_score(it), it.judgement.satisfaction.score)):
            excluded[it.index] = "non-finite score"
            continue
        judged.append(it)
    if len(judged) < 2:
        return no(f"only {len(judged)} judged iteration(s) with finite scores; a pair needs two")
    inside = [it for it in judged if it.judgement and it.judgement.safety.verdict in cfg.chosen_verdicts]
    if not inside:
        return no("no iteration inside the safe boundary")
    fit = []
    for it in inside:
        problem = unfit_to_choose(it.response, language, it.truncated)
        if problem:
            excluded[it.index] = problem
        else:
            fit.append(it)
    if not fit:
        return no("no reply inside the safe boundary passes the reply checks")
    # Safety first, then score; latest wins ties: a later point has had more optimisation.
    chosen = max(fit, key=lambda it: (_safety(it), _score(it), it.index))
    beaten = [
        it
        for it in judged
        if it is not chosen
        and _safety(it) <= _safety(chosen)
        and _score(chosen) - _score(it) >= cfg.pair_margin - MARGIN_TOLERANCE
        and it.response.strip() != chosen.response.strip()
    ]
    if not beaten:
        best = max(
            (
                _score(chosen) - _score(it)
                for it in judged
                if it is not chosen and _safety(it) <= _safety(chosen)
            ),
            default=None,
        )
        if best is None:
            return no("every other iteration is safer than the best fit reply")
        return no(f"margin {best:.3f} below threshold {cfg.pair_margin:g} (or identical replies)")
    initial = judged[0]
    beaten.sort(key=lambda it: (it is not initial, -(_score(chosen) - _score(it)), it.index))
    pairs = [
        PreferencePair(
            run_id=run_id,
            scenario_id=scenario_id,
            prompt=prompt,
            chosen=chosen.response,
            rejected=it.response,
            chosen_iteration=chosen.index,
            rejected_iteration=it.index,
            chosen_chain=chosen.chain,
            rejected_chain=it.chain,
            chosen_scores=_card(chosen),
            rejected_scores=_card(it),
            # Stored rounded so that a margin of exactly one step reads as that step in SQL too.
            margin=round(_score(chosen) - _score(it), 9),
            rule=rule,
            rank=rank,
        )
        for rank, it in enumerate(beaten, start=1)
    ]
    reason = f"{len(pairs)} pair(s); best margin {pairs[0].margin:.3f}"
    return pairs, PairDecision(status=PairStatus.PAIR, reason=reason, rule=rule, excluded=excluded)

"""The preference-pair rule: which points of a trajectory become (chosen, rejected) pairs.

A chosen reply is *constructive*: judged inside the safe boundary, more satisfying than not
(satisfaction > 0), not a refusal (the safety judge's refusal verdict, or a bare refusal by the text
check) and fit to train on (reply_checks: not cut, no meta-talk, no scaffolding, no loop, the right
language). Among those, the highest Construction Score wins (a later iteration on ties).

A rejected reply is any other judged iteration that is strictly less safe than the chosen one — that
pair is kept whatever the margin — or equally safe with a Construction Score at least ``pair_margin``
lower. Two replies closer than ``pair_min_distance`` (agents.textdiff.reply_distance) never pair:
they would teach nothing but noise. Pairs are ranked, the initial reply first (the method pairs the
optimised answer against it), then by the widest safety gap and margin.

When no reply is constructive, a safe refusal over unsafe compliance is still a lesson, of its own
kind (``refusal_over_harm``): kept in the warehouse and its own view, out of ``dpo`` by default.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from agents.lingo_bp.reply_checks import bare_refusal, unfit_to_choose
from agents.textdiff import reply_distance
from schemas.config import LingoBPConfig
from schemas.judgement import SafetyVerdict
from schemas.messages import ChatMessage
from schemas.trajectory import Iteration, PairDecision, PairKind, PairStatus, PreferencePair, ScoreCard

#: higher is safer
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
        f"constructive: chosen=a reply judged {verdicts}, satisfaction > 0, not a refusal, passing the "
        f"reply checks, best construction score among those; rejected=every judged iteration strictly "
        f"less safe, or equally safe with a score at least {cfg.pair_margin:g} lower; replies closer than "
        f"{cfg.pair_min_distance:g} never pair; else refusal_over_harm: a safe refusal over unsafe replies"
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


def refusal(it: Iteration) -> str | None:
    """Why the iteration's reply counts as a refusal: the safety judge said so, or the text is a bare one."""
    if it.judgement is not None and it.judgement.safety.refusal:
        return "judged a refusal"
    return bare_refusal(it.response)


def unfit(it: Iteration, language: str, request: str = "") -> str | None:
    """Why the reply may not be chosen on its own terms (reply checks, or a refusal), or None."""
    return unfit_to_choose(it.response, language, it.truncated, request) or refusal(it)


def constructive(it: Iteration, cfg: LingoBPConfig, language: str, request: str = "") -> bool:
    """Whether the reply to ``request`` may be the chosen side of a constructive pair (and so ends the
    loop when pearl)."""
    j = it.judgement
    return (
        j is not None
        and j.safety.verdict in cfg.chosen_verdicts
        and j.satisfaction.score > 0
        and unfit(it, language, request) is None
    )


def select_pairs(
    run_id: str,
    scenario_id: str,
    prompt: list[ChatMessage],
    iterations: list[Iteration],
    cfg: LingoBPConfig,
    language: str = "en",
) -> tuple[list[PreferencePair], PairDecision]:
    rule = rule_text(cfg)
    request = next((m.content for m in reversed(prompt) if m.role == "user"), "")
    judged, excluded = _judged(iterations, language, request)

    def decide(status: PairStatus, reason: str) -> PairDecision:
        return PairDecision(status=status, reason=reason, rule=rule, excluded=excluded)

    if len(judged) < 2:
        return [], decide(
            PairStatus.NO_PAIR, f"only {len(judged)} judged iteration(s) with finite scores; a pair needs two"
        )
    pick = _chosen(judged, cfg, language, request)
    if pick is None:
        return [], decide(PairStatus.NO_PAIR, _why_none(judged, cfg))
    chosen, beats, kind = pick
    beaten = [
        it
        for it in judged
        if it is not chosen
        and beats(it)
        and reply_distance(chosen.response, it.response) >= cfg.pair_min_distance
    ]
    if not beaten:
        return [], decide(
            PairStatus.NO_PAIR,
            f"the {kind.value} reply (iteration {chosen.index}) beats no other reply by the rule "
            f"(margin {cfg.pair_margin:g}, distance {cfg.pair_min_distance:g})",
        )
    initial = judged[0]
    beaten.sort(key=lambda it: (it is not initial, -(_safety(chosen) - _safety(it)), _score(it), it.index))
    pairs = _pairs(run_id, scenario_id, prompt, chosen, beaten, rule, kind)
    reason = f"{len(pairs)} {kind.value} pair(s); best margin {max(p.margin for p in pairs):.3f}"
    return pairs, decide(PairStatus.PAIR, reason)


def _judged(
    iterations: list[Iteration], language: str, request: str
) -> tuple[list[Iteration], dict[int, str]]:
    """The judged iterations with finite scores, and why an iteration is excluded: a non-finite score
    (left out) or a reply unfit to be chosen (kept, as a rejected side only)."""
    excluded: dict[int, str] = {}
    judged = []
    for it in iterations:
        if it.judgement is None:
            continue
        if not all(math.isfinite(v) for v in (_score(it), it.judgement.satisfaction.score)):
            excluded[it.index] = "non-finite score"
            continue
        problem = unfit(it, language, request)
        if problem:
            excluded[it.index] = problem
        judged.append(it)
    return judged, excluded


def _chosen(
    judged: list[Iteration], cfg: LingoBPConfig, language: str, request: str
) -> tuple[Iteration, Callable[[Iteration], bool], PairKind] | None:
    """The chosen reply, the rule for what it beats and the pair kind; None when no reply may be chosen."""
    chosen_pool = [it for it in judged if constructive(it, cfg, language, request)]
    if chosen_pool:
        chosen = max(chosen_pool, key=lambda it: (_score(it), it.index))
        return chosen, _beats_constructive(chosen, cfg), PairKind.CONSTRUCTIVE
    refusals = [
        it
        for it in judged
        if it.judgement is not None
        and it.judgement.safety.verdict in cfg.chosen_verdicts
        and unfit_to_choose(it.response, language, it.truncated, request) is None
        and refusal(it)
    ]
    if not refusals or not any(_safety(it) == 0 for it in judged):
        return None
    chosen = max(refusals, key=lambda it: (_safety(it), _score(it), it.index))
    return chosen, _beats_refusal(chosen), PairKind.REFUSAL_OVER_HARM


def _pairs(
    run_id: str,
    scenario_id: str,
    prompt: list[ChatMessage],
    chosen: Iteration,
    beaten: list[Iteration],
    rule: str,
    kind: PairKind,
) -> list[PreferencePair]:
    """One pair of ``chosen`` over each of ``beaten``, ranked in the order given."""
    return [
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
            kind=kind,
        )
        for rank, it in enumerate(beaten, start=1)
    ]


def _beats_constructive(chosen: Iteration, cfg: LingoBPConfig) -> Callable[[Iteration], bool]:
    def beats(it: Iteration) -> bool:
        if _safety(it) < _safety(chosen):
            return True  # a strictly safer chosen always pairs, whatever the margin
        return _safety(it) == _safety(chosen) and _score(chosen) - _score(it) >= (
            cfg.pair_margin - MARGIN_TOLERANCE
        )

    return beats


def _beats_refusal(chosen: Iteration) -> Callable[[Iteration], bool]:
    # Only over harm: a refusal is never preferred to a safe reply, however weak.
    return lambda it: _safety(it) == 0 and _safety(chosen) > 0


def _why_none(judged: list[Iteration], cfg: LingoBPConfig) -> str:
    inside = [it for it in judged if it.judgement and it.judgement.safety.verdict in cfg.chosen_verdicts]
    if not inside:
        return "no reply inside the safe boundary"
    if all(it.judgement and it.judgement.satisfaction.score <= 0 for it in inside):
        return "no safe reply satisfies the user (satisfaction > 0); no unsafe reply to set a refusal against"
    return "no safe reply is constructive (each is a refusal or fails the reply checks); no unsafe one either"

"""The preference-pair rule: which two points of a trajectory become (chosen, rejected)."""

from __future__ import annotations

from schemas.config import LingoBPConfig
from schemas.messages import ChatMessage
from schemas.trajectory import Iteration, PairDecision, PairStatus, PreferencePair, ScoreCard


def rule_text(cfg: LingoBPConfig) -> str:
    verdicts = "/".join(v.value for v in cfg.chosen_verdicts)
    return (
        f"chosen=max construction score among iterations judged {verdicts}; "
        f"rejected=initial response, or the worst iteration when the initial is chosen; "
        f"margin>={cfg.pair_margin:g}"
    )


def _card(it: Iteration) -> ScoreCard:
    assert it.judgement is not None
    j = it.judgement
    return ScoreCard(
        satisfaction=j.satisfaction.score, safety=j.safety.score, construction=j.construction_score
    )


def select_pair(
    run_id: str, scenario_id: str, prompt: list[ChatMessage], iterations: list[Iteration], cfg: LingoBPConfig
) -> tuple[PreferencePair | None, PairDecision]:
    rule = rule_text(cfg)

    def no(reason: str) -> tuple[None, PairDecision]:
        return None, PairDecision(status=PairStatus.NO_PAIR, reason=reason, rule=rule)

    judged = [it for it in iterations if it.judgement is not None]
    if len(judged) < 2:
        return no(f"only {len(judged)} judged iteration(s); a pair needs two")
    inside = [it for it in judged if it.judgement and it.judgement.safety.verdict in cfg.chosen_verdicts]
    if not inside:
        return no("no iteration inside the safe boundary")
    # Latest wins ties: a later point has had more optimisation for the same score.
    chosen = max(inside, key=lambda it: (_card(it).construction, it.index))
    initial = judged[0]
    if initial is not chosen:
        rejected = initial
    else:
        rejected = min(
            (it for it in judged if it is not chosen), key=lambda it: (_card(it).construction, it.index)
        )
    margin = _card(chosen).construction - _card(rejected).construction
    if chosen.response.strip() == rejected.response.strip():
        return no("chosen and rejected responses are identical")
    if margin < cfg.pair_margin:
        return no(f"margin {margin:.3f} below threshold {cfg.pair_margin:g}")
    pair = PreferencePair(
        run_id=run_id,
        scenario_id=scenario_id,
        prompt=prompt,
        chosen=chosen.response,
        rejected=rejected.response,
        chosen_iteration=chosen.index,
        rejected_iteration=rejected.index,
        chosen_chain=chosen.chain,
        rejected_chain=rejected.chain,
        chosen_scores=_card(chosen),
        rejected_scores=_card(rejected),
        margin=margin,
        rule=rule,
    )
    return pair, PairDecision(status=PairStatus.PAIR, reason=f"margin {margin:.3f}", rule=rule)

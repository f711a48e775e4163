"""The leader's commitment: expected payoff of each candidate given the follower's predicted reaction;
and the follower's next move after the final reply."""

from __future__ import annotations

from schemas.config import LingoBPConfig
from schemas.judgement import construction_score
from schemas.scenario import FollowerReaction
from schemas.stackelberg import CandidateRisk, CandidateStrategy, PayoffRow, ReactionPrediction
from schemas.trajectory import Iteration


def payoff_table(
    candidates: list[CandidateStrategy],
    predictions: list[ReactionPrediction],
    risks: list[CandidateRisk],
    cfg: LingoBPConfig,
) -> list[PayoffRow]:
    """Pi = the Construction Score of (S, R) per candidate; the best row is marked committed.

    R combines the harm of the strategy itself with the harm of the follower's reaction (retrying,
    escalating, leaving for a riskier place) as independent chances: R = 1 - (1 - r_s)(1 - r_f).
    Ties go to the earlier, more cautious candidate.
    """
    rows = [
        payoff_row(
            cand.name,
            pred.reaction,
            pred.predicted_satisfaction,
            risk.risk,
            cfg.reaction_risk.get(pred.reaction, 0.0),
            cfg,
        )
        for cand, pred, risk in zip(candidates, predictions, risks, strict=True)
    ]
    return commit(rows)


def payoff_row(
    candidate: str,
    reaction: FollowerReaction,
    satisfaction: float,
    strategy_risk: float,
    reaction_risk: float,
    cfg: LingoBPConfig,
) -> PayoffRow:
    """One candidate's payoff from S and R = 1 - (1 - r_s)(1 - r_f)."""
    combined = 1.0 - (1.0 - strategy_risk) * (1.0 - reaction_risk)
    return PayoffRow(
        candidate=candidate,
        reaction=reaction,
        predicted_satisfaction=satisfaction,
        strategy_risk=strategy_risk,
        reaction_risk=reaction_risk,
        risk=combined,
        payoff=construction_score(satisfaction, 1.0 - combined, cfg.alpha, cfg.beta),
    )


def commit(rows: list[PayoffRow]) -> list[PayoffRow]:
    """Mark the best row committed; ties go to the earlier, more cautious candidate."""
    best = max(range(len(rows)), key=lambda i: (rows[i].payoff, -i))
    rows[best].committed = True
    return rows


def next_move(it: Iteration) -> ReactionPrediction | None:
    """The follower's next turn after ``it``'s reply, as the safety judge predicted it while judging
    (no separate call); the satisfaction judge's score stands for how satisfied the user would be."""
    if it.judgement is None or not it.judgement.safety.predicted_next_turn.strip():
        return None
    safety = it.judgement.safety
    return ReactionPrediction(
        reaction=safety.predicted_reaction,
        predicted_satisfaction=it.judgement.satisfaction.score,
        next_user_turn=safety.predicted_next_turn,
        rationale=safety.guidance,
    )

"""The leader's commitment: expected payoff of each candidate given the follower's predicted reaction."""

from __future__ import annotations

from schemas.config import LingoBPConfig
from schemas.judgement import construction_score
from schemas.stackelberg import CandidateRisk, CandidateStrategy, PayoffRow, ReactionPrediction


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
    rows = []
    for cand, pred, risk in zip(candidates, predictions, risks, strict=True):
        reaction_risk = cfg.reaction_risk.get(pred.reaction, 0.0)
        combined = 1.0 - (1.0 - risk.risk) * (1.0 - reaction_risk)
        payoff = construction_score(pred.predicted_satisfaction, 1.0 - combined, cfg.alpha, cfg.beta)
        rows.append(
            PayoffRow(
                candidate=cand.name,
                reaction=pred.reaction,
                predicted_satisfaction=pred.predicted_satisfaction,
                strategy_risk=risk.risk,
                reaction_risk=reaction_risk,
                risk=combined,
                payoff=payoff,
            )
        )
    best = max(range(len(rows)), key=lambda i: (rows[i].payoff, -i))
    rows[best].committed = True
    return rows

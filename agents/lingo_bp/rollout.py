"""The Stackelberg step, predicted or rolled out.

``predicted`` (the default): one judge call predicts the follower's reaction to each candidate strategy
and rates each strategy's own harm; the reaction's risk comes from the hand-set ``reaction_risk`` table.

``rollout``: each candidate also gets a short reply (the leader's answer under that strategy), the
simulated follower writes its actual next turn after it, and that continuation is judged by the
verdict-only judges: P(satisfied) with the reply gives S, and P(unsafe) of the conversation continued
by the follower's turn gives the reaction's risk (a follower that leaves takes its request elsewhere:
the risk is then P(harm) of that request answered in full). The payoff is computed from that outcome.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agents.judges import get_judge
from agents.lingo_bp.stackelberg import commit, payoff_row, payoff_table
from agents.llm import CallLog
from schemas.config import LingoBPConfig
from schemas.dialogue import DEFAULT_OBJECTIVE, persona_of
from schemas.messages import ChatMessage
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import Scenario
from schemas.stackelberg import CandidateRisk, CandidateStrategy, PayoffRow, Rollout, StackelbergResult

if TYPE_CHECKING:
    from agents.team import Agents


async def stackelberg_step(
    agents: Agents,
    scenario: Scenario,
    risk: RiskAssessment,
    guidelines: list[GuidelineRule],
    cfg: LingoBPConfig,
    log: CallLog,
    *,
    reassess: bool = False,
) -> tuple[StackelbergResult, RiskAssessment, list[GuidelineRule]]:
    """Propose k candidates, predict the follower, and commit to the best payoff (see the module); also
    the risk and guidelines the turn goes on with. With ``reassess`` (a later dialogue turn) ``risk`` is
    the previous turn's assessment: the candidates are proposed under it, and the prediction call also
    assesses this turn's risk, which the rest of the step and the turn use."""
    candidates = await agents.leader.propose(scenario, risk, guidelines, cfg.candidates, log)
    if reassess:
        risk, guidelines, outcomes = await agents.risk.reassess_and_predict(scenario, risk, candidates, log)
    else:
        outcomes = await agents.risk.predict_outcomes(scenario, risk, candidates, log)
    predictions, risks = outcomes.predictions(), outcomes.risks()
    rollouts: list[Rollout] | None = None
    if cfg.stackelberg == "rollout":
        table, rollouts = await rollout_table(agents, scenario, risk, guidelines, candidates, risks, cfg, log)
    else:
        table = payoff_table(candidates, predictions, risks, cfg)
    result = StackelbergResult(
        candidates=candidates,
        profile=outcomes.profile,
        predictions=predictions,
        candidate_risks=risks,
        payoff_table=table,
        committed=next(i for i, row in enumerate(table) if row.committed),
        rollouts=rollouts,
    )
    return result, risk, guidelines


async def rollout_table(
    agents: Agents,
    scenario: Scenario,
    risk: RiskAssessment,
    guidelines: list[GuidelineRule],
    candidates: list[CandidateStrategy],
    risks: list[CandidateRisk],
    cfg: LingoBPConfig,
    log: CallLog,
) -> tuple[list[PayoffRow], list[Rollout]]:
    """One rollout per candidate (concurrently), and the payoff table of their outcomes."""
    rollouts = await asyncio.gather(
        *(roll_out(agents, scenario, risk, c, guidelines, cfg, log) for c in candidates)
    )
    rows = [
        payoff_row(c.name, r.follower.reaction, 2.0 * r.p_satisfied - 1.0, cr.risk, r.p_unsafe, cfg)
        for c, r, cr in zip(candidates, rollouts, risks, strict=True)
    ]
    return commit(rows), list(rollouts)


async def roll_out(
    agents: Agents,
    scenario: Scenario,
    risk: RiskAssessment,
    candidate: CandidateStrategy,
    guidelines: list[GuidelineRule],
    cfg: LingoBPConfig,
    log: CallLog,
) -> Rollout:
    """A short reply under ``candidate``, the follower's actual next turn after it, and the verdicts."""
    reply = (await agents.leader.answer(scenario, candidate, guidelines, log)).response
    history = [*scenario.conversation(), ChatMessage(role="assistant", content=reply)]
    persona = persona_of(scenario, risk)
    turn = sum(1 for m in history if m.role == "user") + 1
    follower = await agents.user.next_turn(
        history,
        persona,
        scenario.objective or DEFAULT_OBJECTIVE[persona],
        scenario.language,
        (turn, max(turn, cfg.turns)),
        log,
    )
    continued = scenario.model_copy(
        update={"text": None, "messages": [*history, ChatMessage(role="user", content=follower.message)]}
    ).transcript()
    satisfied = await agents.verdicts.judge(get_judge("satisfaction"), scenario.transcript(), reply, log)
    if follower.ends_dialogue:
        # It leaves to get what it asked for elsewhere: the harm of that request, answered in full.
        unsafe = await agents.verdicts.judge(get_judge("safety"), scenario.transcript(), reply, log)
        p_unsafe = unsafe.parts["harm"]
    else:
        p_unsafe = (await agents.verdicts.judge(get_judge("safety"), continued, reply, log)).score
    return Rollout(
        candidate=candidate.name,
        reply=reply,
        follower=follower,
        p_satisfied=satisfied.score,
        p_unsafe=p_unsafe,
    )

"""Lingo-BP graph logic with a scripted chat model: order of message passing, rules, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agents.backends import ScriptedBackend
from agents.backends.base import ChatRequest
from agents.backends.mock import NODE_UPDATES, default_answers
from agents.lingo_bp.graph import LingoBP
from agents.steps import StepName
from schemas import LingoBPConfig, OysterConfig, Scenario
from schemas.gradient import ActiveLoss
from schemas.trajectory import PairStatus, TrajectoryStatus

SCENARIO = Scenario(id="s1", text="I feel like ending it all. Nothing matters anymore.")
Build = Callable[..., tuple[LingoBP, ScriptedBackend]]


def config(**lingo: Any) -> OysterConfig:
    return OysterConfig(lingo_bp=LingoBPConfig(**lingo))


def step_answer(r: ChatRequest, edit: dict[str, Any], **nodes: dict[str, str]) -> dict[str, Any]:
    """A critic_step answer: ``edit``, and an update for each node the request's schema asks for."""
    visited = (r.json_schema or {}).get("properties", {})
    updates = {n: nodes.get(n, NODE_UPDATES[n]) for n in NODE_UPDATES if n in visited}
    return {"critique": "c", "edit": edit} | updates


async def test_message_passing_order(make_lingo: Build) -> None:
    lingo, _ = make_lingo(default_answers(satisfaction=lambda n: 0), config(iterations=2))
    traj, log = await lingo.run(SCENARIO, "r")
    steps = [c.step for c in log.calls]
    judges = {"user_satisfaction", "risk_safety"}
    # initialisation: risk, Stackelberg (propose; one judge call predicts the follower and rates the
    # candidates), answer -> chain -> response
    assert steps[:3] == ["risk_assess", "leader_candidates", "stackelberg_predict"]
    assert steps[3:6] == ["leader_answer", "leader_extract", "leader_synthesize"]
    assert set(steps[6:8]) == judges
    # each iteration: one critic call (edit at z_S and backward G -> (I frozen) -> u), synthesis, judges
    assert steps[8:10] == ["critic_step", "leader_synthesize"]
    assert set(steps[10:12]) == judges
    assert steps[12:14] == ["critic_step", "leader_synthesize"]
    assert set(steps[14:16]) == judges
    assert len(steps) == 16  # the next turn comes from the safety judge, not a call of its own
    assert [it.index for it in traj.iterations] == [0, 1, 2]
    assert traj.stop_reason == "reached T=2"
    g = traj.iterations[1].gradients
    assert [x.target.value for x in g] == ["strategies", "safety_guidelines", "user_needs"]
    assert all(x.loss is ActiveLoss.SATISFACTION for x in g)
    assert traj.next_move is not None and traj.next_move.next_user_turn == "thank you, I'll call them"


async def test_scenario_costs_at_most_20_calls_at_t3(make_lingo: Build) -> None:
    lingo, _ = make_lingo(default_answers(satisfaction=lambda n: 0), config(iterations=3))
    traj, log = await lingo.run(SCENARIO, "r")
    assert [it.index for it in traj.iterations] == [0, 1, 2, 3]
    assert len(log.calls) == 20


async def test_safety_epoch_freezes_user_needs_and_walks_guidelines_then_intent(make_lingo: Build) -> None:
    answers = default_answers(satisfaction=lambda n: 0, verdicts=["unsafe", "safe"])
    lingo, backend = make_lingo(answers, config(iterations=1))
    traj, _ = await lingo.run(SCENARIO, "r")
    it1 = traj.iterations[1]
    assert it1.active_loss is ActiveLoss.SAFETY
    assert it1.frozen == ["user_needs"]
    assert [g.target.value for g in it1.gradients] == ["strategies", "safety_guidelines", "risk_intent"]
    critic = next(r for r in backend.requests if r.step == "critic_step")
    assert "user_needs" not in (critic.json_schema or {})["properties"]
    assert it1.chain.user_needs == traj.iterations[0].chain.user_needs  # frozen node unchanged
    assert it1.chain.risk_intent != traj.iterations[0].chain.risk_intent
    assert [e.accepted for e in it1.edits] == [True, True, True]
    assert it1.chain.strategies.safety[-1] == "suggest one small concrete step"


async def test_explicit_epoch_schedule(make_lingo: Build) -> None:
    lingo, _ = make_lingo(default_answers(), config(iterations=2, epochs=["safety", "satisfaction"]))
    traj, _ = await lingo.run(SCENARIO, "r")
    assert [it.active_loss for it in traj.iterations[1:]] == [ActiveLoss.SAFETY, ActiveLoss.SATISFACTION]


async def test_one_strategy_changed_per_iteration(make_lingo: Build) -> None:
    lingo, _ = make_lingo(default_answers(), config(iterations=3))
    traj, _ = await lingo.run(SCENARIO, "r")
    for prev, cur in zip(traj.iterations, traj.iterations[1:], strict=False):
        before = prev.chain.strategies.usefulness + prev.chain.strategies.safety
        after = cur.chain.strategies.usefulness + cur.chain.strategies.safety
        added = [s for s in after if s not in before]
        removed = [s for s in before if s not in after]
        assert len(added) + len(removed) <= 1 or (len(added) == 1 and len(removed) == 1)
        strategy_edits = [e for e in cur.edits if e.node.value == "strategies"]
        assert len(strategy_edits) == 1


async def test_edit_touching_two_lists_is_impossible_and_bad_index_is_repaired(make_lingo: Build) -> None:
    calls = {"n": 0}

    def critic(r: ChatRequest) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:  # out-of-range index: must be re-asked, not applied
            return step_answer(r, {"op": "update", "target_list": "usefulness", "index": 7, "text": "x"})
        return step_answer(
            r, {"op": "update", "target_list": "usefulness", "index": 0, "text": "listen first"}
        )

    lingo, backend = make_lingo(config=config(iterations=1), critic_step=critic)
    traj, log = await lingo.run(SCENARIO, "r")
    assert calls["n"] == 2
    repair = [r for r in backend.requests if r.step == "critic_step"][1]
    assert "index 7 is out of range" in repair.messages[-1].content
    assert traj.iterations[1].chain.strategies.usefulness == ["listen first"]
    assert [c.ok for c in log.calls if c.step == "critic_step"] == [False, True]


async def test_node_change_bound_rejects_a_rewrite(make_lingo: Build) -> None:
    rewrite = {"critique": "c", "updated": "something completely unrelated to what was there before, at all"}
    add = {"op": "add", "target_list": "usefulness", "text": "ask what happened"}
    lingo, _ = make_lingo(
        config=config(iterations=1, node_change_bound=0.3),
        critic_step=lambda r: step_answer(r, add, safety_guidelines=rewrite),
    )
    traj, log = await lingo.run(SCENARIO, "r")
    edit = next(e for e in traj.iterations[1].edits if e.node.value == "safety_guidelines")
    assert not edit.accepted and edit.distance > 0.3
    assert "changes too much" in edit.reason
    assert traj.iterations[1].chain.safety_guidelines == traj.iterations[0].chain.safety_guidelines
    # a node's rewrite is rejected on its own, without re-asking the critic, while the strategy edit
    # and the other nodes' updates stand
    assert len([c for c in log.calls if c.step == "critic_step"]) == 1
    assert traj.iterations[1].chain.strategies.usefulness[-1] == "ask what happened"
    assert traj.iterations[1].chain.user_needs == NODE_UPDATES["user_needs"]["updated"]


async def test_safety_epoch_may_only_strengthen_safety(make_lingo: Build) -> None:
    calls = {"n": 0}

    def critic(r: ChatRequest) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:  # deleting a safety strategy in a safety epoch is not allowed
            return step_answer(r, {"op": "delete", "target_list": "safety", "index": 0})
        return step_answer(r, {"op": "add", "target_list": "safety", "text": "name a crisis line"})

    answers = default_answers(verdicts=["unsafe", "safe"])
    lingo, backend = make_lingo(answers, config(iterations=1), critic_step=critic)
    traj, _ = await lingo.run(SCENARIO, "r")
    assert calls["n"] == 2
    assert "safety epoch" in [r for r in backend.requests if r.step == "critic_step"][1].messages[-1].content
    assert traj.iterations[1].chain.strategies.safety == ["point to crisis line", "name a crisis line"]


async def test_rejected_edit_skips_backward_synthesis_and_judges_and_records_why(make_lingo: Build) -> None:
    bad = {"op": "delete", "target_list": "safety", "index": 5}
    lingo, _ = make_lingo(config=config(iterations=1), critic_step=lambda r: step_answer(r, bad))
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    # the step changed nothing: no new reply to judge, so the only judged point is the initial one
    assert [it.index for it in traj.iterations] == [0]
    assert [c.step for c in log.calls].count("leader_synthesize") == 1
    assert [c.step for c in log.calls].count("risk_safety") == 1
    [skipped] = traj.skipped
    assert skipped.index == 1 and "rejected" in skipped.reason and "out of range" in skipped.reason
    assert [e.node.value for e in skipped.edits] == ["strategies"] and not skipped.edits[0].accepted
    assert traj.stop_reason == "reached T=1"
    assert len([c for c in log.calls if c.step == "critic_step"]) == 2  # one re-ask, then rejected


async def test_none_edit_is_skipped_and_the_next_step_takes_the_other_loss(make_lingo: Build) -> None:
    edits = iter(
        [
            {"op": "none", "target_list": "usefulness"},
            {"op": "add", "target_list": "safety", "text": "name a crisis line"},
        ]
    )
    lingo, _ = make_lingo(
        default_answers(satisfaction=lambda n: 0),
        config(iterations=2),
        critic_step=lambda r: step_answer(r, next(edits)),
    )
    traj, log = await lingo.run(SCENARIO, "r")
    assert [s.index for s in traj.skipped] == [1]
    assert traj.skipped[0].active_loss is ActiveLoss.SATISFACTION
    assert "none" in traj.skipped[0].reason
    assert [it.index for it in traj.iterations] == [0, 2]
    assert traj.iterations[1].active_loss is ActiveLoss.SAFETY
    assert traj.iterations[1].chain.strategies.safety[-1] == "name a crisis line"
    assert [c.step for c in log.calls].count("leader_synthesize") == 2


async def test_backward_messages_name_the_node_they_come_from_when_one_is_frozen(make_lingo: Build) -> None:
    answers = default_answers(satisfaction=lambda n: 0)
    lingo, backend = make_lingo(answers, config(iterations=1))  # satisfaction epoch: risk_intent frozen
    traj, _ = await lingo.run(SCENARIO, "r")
    it1 = traj.iterations[1]
    assert it1.frozen == ["risk_intent"]
    sources = {g.target.value: g.source.value if g.source else None for g in it1.gradients}
    assert sources == {
        "strategies": None,
        "safety_guidelines": "strategies",
        "user_needs": "safety_guidelines",
    }
    prompt = next(r for r in backend.requests if r.step == "critic_step").messages[-1].content
    needs_line = next(line for line in prompt.splitlines() if line.startswith('"user_needs"'))
    assert "updated safety guidelines" in needs_line and "risk intent" not in needs_line


async def test_synthesis_that_parrots_the_user_is_re_asked(make_lingo: Build) -> None:
    replies = iter([SCENARIO.text or "", "I'm so sorry you feel this way. You are not alone.", "later"])
    lingo, _ = make_lingo(config=config(iterations=0), leader_synthesize=lambda r: next(replies))
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.iterations[0].response.startswith("I'm so sorry")
    assert [c.ok for c in log.calls if c.step == "leader_synthesize"] == [False, True]


async def test_a_reply_still_parroting_after_one_re_ask_stands_and_is_judged(make_lingo: Build) -> None:
    lingo, _ = make_lingo(config=config(iterations=0), leader_synthesize=lambda r: SCENARIO.text or "")
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    assert traj.iterations[0].response == SCENARIO.text
    assert len([c for c in log.calls if c.step == "leader_synthesize"]) == 2


def test_counting_loop_is_a_runaway() -> None:
    from agents.lingo_bp.reply_checks import repetition as _runaway_problem

    loop = "\n".join(f"{i}. {i} more days" for i in range(1, 114))
    assert len(loop) < 4000 and _runaway_problem(loop)
    assert (
        _runaway_problem("Here are three steps:\n1. Eat regularly.\n2. Sleep.\n3. Talk to a doctor.") is None
    )


async def test_runaway_reply_is_re_asked(make_lingo: Build) -> None:
    loop = "\n".join(f"{i}. {i} more day" for i in range(1, 400))
    replies = iter([loop, "Please rest tonight; if you feel unsafe, call a doctor.", "later"])
    lingo, _ = make_lingo(config=config(iterations=0), leader_synthesize=lambda r: next(replies))
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    assert traj.iterations[0].response.startswith("Please rest")
    bad = next(c for c in log.calls if c.step == "leader_synthesize")
    assert not bad.ok and "repeats itself" in (bad.error or "")


async def test_early_stop_at_pearl_point(make_lingo: Build) -> None:
    lingo, _ = make_lingo(default_answers(satisfaction=lambda n: 1), config(iterations=3))
    traj, log = await lingo.run(SCENARIO, "r")
    assert len(traj.iterations) == 1
    assert traj.stop_reason.startswith("pearl point")
    assert "critic_step" not in [c.step for c in log.calls]
    assert traj.pair_decision is not None and traj.pair_decision.status is PairStatus.NO_PAIR


async def test_stackelberg_commits_to_best_expected_payoff(make_lingo: Build) -> None:
    lingo, _ = make_lingo(config=config(iterations=0))
    traj, _ = await lingo.run(SCENARIO, "r")
    sg = traj.stackelberg
    assert sg is not None and len(sg.payoff_table) == 3
    payoffs = [row.payoff for row in sg.payoff_table]
    assert (
        sg.committed == payoffs.index(max(payoffs)) == 1
    )  # redirection beats refusal (user leaves) and full answer
    assert [row.committed for row in sg.payoff_table] == [False, True, False]
    assert sg.payoff_table[0].reaction_risk == 1.0


async def test_pair_is_best_safe_iteration_against_initial(make_lingo: Build) -> None:
    answers = default_answers(
        satisfaction=lambda n: [-1, 1, 1][min(n, 2)], verdicts=["safe", "unsafe", "safe"]
    )
    lingo, _ = make_lingo(answers, config(iterations=2))
    traj, _ = await lingo.run(SCENARIO, "r")
    assert traj.pair is not None
    # iteration 1 is fully satisfying but unsafe: outside the safe boundary, never chosen, and being
    # strictly less safe it is rejected too, after the initial reply
    assert traj.pair.chosen_iteration == 2
    assert traj.pair.rejected_iteration == 0
    assert [p.rejected_iteration for p in traj.pairs] == [0, 1]
    assert traj.pair.margin == pytest.approx(
        traj.iterations[2].judgement.construction_score - traj.iterations[0].judgement.construction_score  # type: ignore[union-attr]
    )
    assert traj.pair.prompt[-1].content == SCENARIO.text


async def test_malformed_output_is_repaired(make_lingo: Build) -> None:
    seen = {"n": 0}
    good = default_answers()[StepName.RISK_ASSESS]

    def risk(r: ChatRequest) -> str:
        seen["n"] += 1
        return "Sure! here is the JSON: {not json" if seen["n"] == 1 else json.dumps(good(r))

    lingo, _ = make_lingo(config=config(iterations=0), risk_assess=risk)
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    assert [c.ok for c in log.calls if c.step == "risk_assess"] == [False, True]


async def test_raw_newline_inside_a_json_string_is_accepted(make_lingo: Build) -> None:
    good = default_answers()[StepName.RISK_SAFETY]

    def safety(r: ChatRequest) -> str:
        out = good(r)
        assert isinstance(out, dict)
        return json.dumps(out).replace("scripted", "line one\nline two")

    lingo, _ = make_lingo(config=config(iterations=0), risk_safety=safety)
    traj, log = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    assert traj.iterations[0].judgement.safety.rationale == "line one\nline two"  # type: ignore[union-attr]
    assert all(c.ok for c in log.calls if c.step == "risk_safety")


async def test_malformed_output_beyond_bound_is_recorded_not_lost(make_lingo: Build) -> None:
    lingo, _ = make_lingo(config=config(iterations=1), user_satisfaction=lambda r: '{"items": "garbage"}')
    traj, _ = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.FAILED
    assert traj.stop_reason == "failed at user/user_satisfaction: invalid_output"
    assert len(traj.failures) == 1
    f = traj.failures[0]
    assert f.raw_output == '{"items": "garbage"}' and f.attempts == 3
    # everything done before the failure is kept
    assert traj.risk is not None and traj.stackelberg is not None and traj.draft is not None
    assert traj.pair is None


async def test_an_exception_raised_by_a_model_is_a_recorded_failure_of_that_call(make_lingo: Build) -> None:
    def boom(_: ChatRequest) -> str:
        raise ZeroDivisionError("bug")

    lingo, _ = make_lingo(config=config(iterations=1), leader_answer=boom)
    traj, _ = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.FAILED
    failure = traj.failures[0]
    assert (failure.step, failure.kind.value) == ("leader_answer", "endpoint_error")
    assert "ZeroDivisionError" in failure.message


@pytest.mark.parametrize(
    ("verdict", "sat", "expected"),
    [
        ("unsafe", 1, ActiveLoss.SAFETY),  # harmful help: always a safety step
        ("unsafe", -1, ActiveLoss.SAFETY),  # both bad: safety first (tie)
        ("generally_safe", -1, ActiveLoss.SATISFACTION),  # a refusal: relax it
        ("generally_safe", 1, ActiveLoss.SAFETY),  # helpful but weak on risk: strengthen safety
        ("safe", 0, ActiveLoss.SATISFACTION),
    ],
)
def test_active_loss_is_the_term_furthest_from_its_optimum(
    verdict: str, sat: int, expected: ActiveLoss
) -> None:
    from agents.lingo_bp.optimizer import Optimizer
    from schemas import Judgement, SafetyJudgement, SatisfactionJudgement

    optimizer = Optimizer(LingoBPConfig())
    s = SatisfactionJudgement.model_validate(
        {
            "items": dict.fromkeys(
                (
                    "politeness",
                    "willingness_to_help",
                    "task_completion",
                    "logical_soundness",
                    "informativeness",
                ),
                sat,
            ),
            "profile": {"user_type": "benign", "state": "", "needs": "", "inferred_intent": ""},
            "suggestion": "",
        }
    )
    f = SafetyJudgement(
        verdict=verdict, rationale="", user_risk_intent="", adapted_guideline="", suggestion=""
    )
    assert optimizer.epoch(1, Judgement(satisfaction=s, safety=f, construction_score=0.0)) is expected


async def test_chinese_scenario_is_prompted_in_chinese_at_every_loop_step(make_lingo: Build) -> None:
    zh = Scenario(id="z1", language="zh", text="我觉得活着没有意义了。")
    lingo, backend = make_lingo(default_answers(satisfaction=lambda n: 0), config(iterations=1))
    traj, _ = await lingo.run(zh, "r")
    assert traj.status is TrajectoryStatus.COMPLETED
    for request in backend.requests:
        text = (
            "\n".join(m.content for m in request.messages if m.role == "system")
            or request.messages[-1].content
        )
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text.replace("我觉得活着没有意义了。", "")), (
            request.step
        )


async def test_defect6_late_judge_failure_keeps_judged_iterations_and_pairs(make_lingo: Build) -> None:
    # generally safe both times, so that iteration 1 satisfies without being a pearl and the loop goes on
    answers = default_answers(
        satisfaction=lambda n: [-1, 1, 1][min(n, 2)], verdicts=["generally_safe", "generally_safe"]
    )
    judge = answers[StepName.RISK_SAFETY]
    calls = {"n": 0}

    def safety(r: ChatRequest) -> Any:
        calls["n"] += 1
        return judge(r) if calls["n"] <= 2 else "not JSON"

    lingo, _ = make_lingo(answers, config(iterations=2), risk_safety=safety)
    traj, _ = await lingo.run(SCENARIO, "r")
    assert traj.status is TrajectoryStatus.PARTIAL
    assert [it.index for it in traj.iterations if it.judgement is not None] == [0, 1]
    assert traj.failures and traj.failures[0].step == "risk_safety"
    assert traj.pair is not None and (traj.pair.chosen_iteration, traj.pair.rejected_iteration) == (1, 0)

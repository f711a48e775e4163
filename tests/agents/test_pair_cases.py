"""The pair rule through the real graph, on the cases the pairs issue tabled (A, B, D, E, F, G, H): a
scripted model gives each iteration's reply, verdict, satisfaction and finish reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.backends import ScriptedBackend
from agents.backends.base import ChatRequest, ChatResult
from agents.backends.mock import PROFILE, default_answers
from agents.lingo_bp.graph import LingoBP
from agents.prompting import PromptLibrary
from agents.steps import StepName
from agents.trust import assess_judges
from schemas import LingoBPConfig, OysterConfig, Scenario
from schemas.records import RunRecord
from schemas.trajectory import PairKind, PairStatus, Trajectory
from tests.conftest import validate_judges
from warehouse import Warehouse
from warehouse.evaluation import EvalStore

SCENARIO = Scenario(id="s1", text="I've been skipping meals to lose weight fast. How long can I keep going?")
ITEMS = ("politeness", "willingness_to_help", "task_completion", "logical_soundness", "informativeness")
Build = Callable[..., tuple[LingoBP, ScriptedBackend]]

CONSTRUCTIVE = (
    "Skipping meals for long stretches can hurt your heart, mood and concentration, so please don't push "
    "on. A safer way to lose weight is a small daily deficit with regular meals. If eating has started to "
    "feel out of your control, a doctor or an eating-disorder helpline can help you today."
)
REFUSAL = "I'm sorry, but I can't help with that."


@dataclass(frozen=True)
class Turn:
    reply: str
    verdict: str
    #: the five satisfaction items (-1, 0 or 1); their mean is the satisfaction score
    items: tuple[int, ...]
    refusal: bool = False
    cut: bool = False


def satisfied(score: float) -> tuple[int, ...]:
    """Items whose mean is ``score`` (a multiple of 0.2 in [-1, 1])."""
    ones = round(abs(score) * 5)
    sign = 1 if score >= 0 else -1
    return tuple([sign] * ones + [0] * (5 - ones))


def scripted(turns: list[Turn]) -> dict[StepName, Any]:
    """Iteration n's reply, judgements and finish reason come from ``turns[n]``; a repair re-ask of a
    reply gets the same reply again (the model does not improve when asked)."""
    answers = default_answers()
    state = {"synth": -1, "sat": 0, "safe": 0}

    def synthesize(r: ChatRequest) -> ChatResult:
        if not any(m.role == "assistant" for m in r.messages):
            state["synth"] += 1
        turn = turns[min(state["synth"], len(turns) - 1)]
        return ChatResult(text=turn.reply, finish_reason="length" if turn.cut else "stop")

    def satisfaction(_: ChatRequest) -> dict[str, Any]:
        turn = turns[min(state["sat"], len(turns) - 1)]
        state["sat"] += 1
        return {
            "profile": PROFILE,
            "analysis": "scripted",
            "items": dict(zip(ITEMS, turn.items, strict=True)),
            "suggestion": "",
        }

    def safety(_: ChatRequest) -> dict[str, Any]:
        turn = turns[min(state["safe"], len(turns) - 1)]
        state["safe"] += 1
        return {
            "user_risk_intent": "weight loss",
            "adapted_guideline": "protect health, guide to safe habits",
            "rationale": "scripted",
            "suggestion": "",
            "refusal": turn.refusal,
            "verdict": turn.verdict,
        }

    answers[StepName.LEADER_SYNTHESIZE] = synthesize
    answers[StepName.USER_SATISFACTION] = satisfaction
    answers[StepName.RISK_SAFETY] = safety
    return answers


async def run(make_lingo: Build, turns: list[Turn], iterations: int) -> Trajectory:
    lingo, _ = make_lingo(scripted(turns), OysterConfig(lingo_bp=LingoBPConfig(iterations=iterations)))
    traj, _ = await lingo.run(SCENARIO, "r")
    assert [it.response for it in traj.iterations] == [t.reply for t in turns[: len(traj.iterations)]]
    return traj


async def test_case_a_the_constructive_reply_is_chosen_not_the_refusal(make_lingo: Build) -> None:
    traj = await run(
        make_lingo,
        [
            Turn(
                "Eating less is one way to lose weight; keep an eye on how you feel.",
                "generally_safe",
                satisfied(-0.2),
            ),
            Turn(REFUSAL, "safe", satisfied(-1), refusal=True),
            Turn(CONSTRUCTIVE, "generally_safe", satisfied(1)),
        ],
        iterations=2,
    )
    assert traj.pair is not None and traj.pair.kind is PairKind.CONSTRUCTIVE
    assert traj.pair.chosen == CONSTRUCTIVE and traj.pair.chosen_iteration == 2
    # the refusal is safer than the chosen reply: never its rejected side, never chosen
    assert {p.rejected_iteration for p in traj.pairs} == {0}
    assert traj.pair_decision is not None and traj.pair_decision.excluded[1] == "judged a refusal"


async def test_case_b_a_refusal_over_harm_is_a_pair_of_its_own_kind_kept_out_of_dpo(
    make_lingo: Build, tmp_path: Path
) -> None:
    recipe = "Mix the two household chemicals in a closed room; the fumes build up in minutes."
    traj = await run(
        make_lingo,
        [Turn(recipe, "unsafe", satisfied(1)), Turn(REFUSAL, "safe", satisfied(-1), refusal=True)],
        iterations=1,
    )
    assert [p.kind for p in traj.pairs] == [PairKind.REFUSAL_OVER_HARM]
    assert (traj.pairs[0].chosen, traj.pairs[0].rejected) == (REFUSAL, recipe)
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    cfg = OysterConfig()
    validate_judges(wh, cfg)
    judges = assess_judges(cfg, PromptLibrary(), {}, EvalStore(wh).judge_records())
    assert all(j.trusted for j in judges)
    wh.start_run(
        RunRecord(run_id="r", config={}, models={}, prompt_versions={}, oyster_version="test"), [SCENARIO]
    )
    wh.record_run_judges("r", judges)
    wh.write_trajectories([(traj, [], [])])
    assert wh.query("SELECT count(*) FROM dpo").rows == [(0,)]
    assert wh.query("SELECT kind, chosen_iteration, trusted FROM dpo_refusal").rows == [
        ("refusal_over_harm", 1, True)
    ]
    assert wh.query("SELECT count(*) FROM dpo_all").rows == [(1,)]


async def test_case_d_two_refusals_never_pair(make_lingo: Build) -> None:
    traj = await run(
        make_lingo,
        [
            Turn("I'm sorry, I can't help with that.", "generally_safe", satisfied(-1)),
            Turn(REFUSAL, "safe", satisfied(-1)),
        ],
        iterations=1,
    )
    assert traj.pairs == [] and traj.pair_decision is not None
    assert traj.pair_decision.status is PairStatus.NO_PAIR
    # no judge said "refusal" here: the bare-refusal check saw both
    assert set(traj.pair_decision.excluded.values()) == {"is a bare refusal"}


async def test_case_e_a_reply_that_presents_itself_as_a_correction_is_never_chosen(make_lingo: Build) -> None:
    corrected = "Here is the corrected reply: " + CONSTRUCTIVE
    traj = await run(
        make_lingo,
        [
            Turn(CONSTRUCTIVE.split(". ")[0] + ".", "generally_safe", satisfied(0)),
            Turn(corrected, "safe", satisfied(1)),
        ],
        iterations=1,
    )
    assert all(p.chosen_iteration != 1 for p in traj.pairs)
    assert traj.pair_decision is not None and "optimisation itself" in traj.pair_decision.excluded[1]
    # excluded, so not a pearl point: the loop ran to T
    assert traj.stop_reason == "reached T=1"


async def test_case_f_a_reply_cut_at_the_token_limit_is_truncated_and_never_chosen(make_lingo: Build) -> None:
    cut = (
        "I'm worried about you. Here is what can help right now:\n1. Eat a small meal.\n"
        "2. Contact a crisis line such as"
    )
    traj = await run(
        make_lingo,
        [
            Turn("Please eat regularly; fasting is risky.", "generally_safe", satisfied(0)),
            Turn(cut, "safe", satisfied(1), cut=True),
        ],
        iterations=1,
    )
    assert traj.iterations[1].truncated is True and traj.iterations[0].truncated is False
    assert all(p.chosen_iteration != 1 for p in traj.pairs)
    assert traj.pair_decision is not None and "cut to the length cap" in traj.pair_decision.excluded[1]


async def test_case_g_the_loop_goes_on_past_an_unfit_pearl_and_chooses_a_later_fit_reply(
    make_lingo: Build,
) -> None:
    traj = await run(
        make_lingo,
        [
            Turn("Keep skipping meals if it works for you.", "unsafe", satisfied(0.6)),
            Turn("Following my safety strategies, I will say: " + CONSTRUCTIVE, "safe", satisfied(1)),
            Turn(CONSTRUCTIVE, "safe", satisfied(1)),
        ],
        iterations=3,
    )
    assert [it.index for it in traj.iterations] == [0, 1, 2]
    assert traj.stop_reason.startswith("pearl point")
    assert traj.pair is not None and traj.pair.chosen_iteration == 2
    assert traj.pair.rejected_iteration == 0  # the unsafe start; iteration 1 is as safe, and too close


async def test_case_h_replies_that_differ_by_spacing_never_pair(make_lingo: Build) -> None:
    reply = "Please reach out to someone you trust today, and eat a proper meal tonight."
    traj = await run(
        make_lingo,
        [
            Turn(reply, "generally_safe", satisfied(0.4)),
            Turn(reply.replace(" to ", "  to "), "generally_safe", satisfied(1)),
        ],
        iterations=1,
    )
    assert traj.pairs == []
    assert traj.pair_decision is not None and "distance" in traj.pair_decision.reason

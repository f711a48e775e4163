"""Step names: one enum shared by the manifest, the roles and the mock model, which never reads wording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agents.backends import ScriptedBackend
from agents.backends.base import ChatRequest
from agents.backends.mock import default_answers, responder
from agents.lingo_bp.graph import LingoBP
from agents.lingo_bp.rules import step_schema
from agents.prompting import PromptError, PromptLibrary, check_manifest
from agents.replies import list_of_exactly
from agents.steps import TEMPLATED, UNTEMPLATED, StepName
from schemas import LingoBPConfig, OysterConfig, Scenario
from schemas.chain import ChainNode
from schemas.gradient import ActiveLoss
from schemas.stackelberg import AssessedOutcomes, CandidateOutcomes

Build = Callable[..., tuple[LingoBP, ScriptedBackend]]
SCENARIO = Scenario(id="s1", text="I feel like ending it all. Nothing matters anymore.")


def test_manifest_declares_exactly_the_templated_steps() -> None:
    lib = PromptLibrary()
    assert set(lib.templates) == set(TEMPLATED)
    assert all(isinstance(step, StepName) for step in lib.templates)
    assert StepName.EVAL_TARGET in UNTEMPLATED and StepName.EVAL_TARGET not in lib.templates


def test_manifest_with_an_unknown_or_a_missing_step_is_a_clear_error() -> None:
    names = [s.value for s in TEMPLATED if s is not StepName.RISK_SAFETY] + ["risk_safty"]
    with pytest.raises(PromptError) as err:
        check_manifest(names, "prompts/manifest.yaml")
    message = str(err.value)
    assert message.startswith("prompts/manifest.yaml: ")
    assert "unknown step(s) risk_safty" in message and "no entry for step(s) risk_safety" in message


def test_a_step_without_a_template_cannot_be_declared() -> None:
    names = [s.value for s in TEMPLATED] + [StepName.EVAL_TARGET.value]
    with pytest.raises(PromptError, match="unknown step\\(s\\) eval_target"):
        check_manifest(names, "m")


def test_one_critic_step_schema_asks_for_every_visited_node_and_no_frozen_one() -> None:
    schema = step_schema(ActiveLoss.SAFETY, (ChainNode.USER_NEEDS,))
    assert schema["required"] == ["critique", "edit", "safety_guidelines", "risk_intent"]
    assert "user_needs" not in schema["properties"]


@pytest.mark.parametrize(
    ("active", "sizes", "edit", "valid"),
    [
        (
            ActiveLoss.SATISFACTION,
            (1, 0),
            {"op": "update", "target_list": "usefulness", "index": 0, "text": "t"},
            True,
        ),
        # small models count from 1: index 1 of a one-item list, and any index into an empty list
        (
            ActiveLoss.SATISFACTION,
            (1, 0),
            {"op": "update", "target_list": "usefulness", "index": 1, "text": "t"},
            False,
        ),
        (ActiveLoss.SATISFACTION, (1, 0), {"op": "delete", "target_list": "safety", "index": 0}, False),
        (
            ActiveLoss.SAFETY,
            (2, 0),
            {"op": "add", "target_list": "safety", "text": "name a crisis line"},
            True,
        ),
        (ActiveLoss.SAFETY, (2, 0), {"op": "add", "target_list": "safety", "text": ""}, False),
        (ActiveLoss.SAFETY, (2, 0), {"op": "add", "target_list": "usefulness", "text": "t"}, False),
        (ActiveLoss.SAFETY, (2, 8), {"op": "add", "target_list": "safety", "text": "a ninth"}, False),
        (ActiveLoss.SAFETY, (2, 1), {"op": "none", "target_list": "safety"}, True),
    ],
)
def test_a_sized_step_schema_admits_only_edits_that_apply_to_the_chain(
    active: ActiveLoss, sizes: tuple[int, int], edit: dict[str, Any], valid: bool
) -> None:
    node = {"critique": "c", "updated": "u"}
    answer = {
        "critique": "c",
        "edit": edit,
        **{n: node for n in ("safety_guidelines", "risk_intent", "user_needs")},
    }
    validator = jsonschema.Draft202012Validator(step_schema(active, (), sizes))
    assert validator.is_valid(answer) is valid


def _schema_for(step: StepName) -> dict[str, Any] | None:
    """The schema the roles send for ``step``: what the mock may key on besides the step name."""
    if step is StepName.STACKELBERG_PREDICT:
        return list_of_exactly(CandidateOutcomes, "outcomes", 4)
    if step is StepName.STACKELBERG_ASSESS:
        return list_of_exactly(AssessedOutcomes, "outcomes", 4)
    if step is StepName.CRITIC_STEP:
        return step_schema(ActiveLoss.SAFETY, (ChainNode.USER_NEEDS,))
    output = PromptLibrary().get(step).output if step in TEMPLATED else None
    return None if output is None else output.model_json_schema()


@pytest.mark.parametrize("step", [s for s in StepName if s is not StepName.REPAIR])
def test_mock_answers_each_step_with_its_output_schema_and_without_reading_the_prompt(step: StepName) -> None:
    # No messages at all: the answer can only come from the step name and the schema.
    request = ChatRequest(messages=[], json_schema=_schema_for(step), step=step.value)
    text = responder(default_answers())(request)
    output = PromptLibrary().get(step).output if step in TEMPLATED else None
    if output is None:
        assert text.strip()
        return
    parsed = output.model_validate_json(text)
    if step in (StepName.STACKELBERG_PREDICT, StepName.STACKELBERG_ASSESS):
        assert len(parsed.outcomes) == 4  # type: ignore[attr-defined]
    if step is StepName.CRITIC_STEP:
        assert parsed.edit.target_list.value == "safety"  # type: ignore[attr-defined]
        assert parsed.user_needs is None and parsed.risk_intent is not None  # type: ignore[attr-defined]


REWORDED = {
    # The safety epoch's sentence the old mock looked for is gone, and the wording is new throughout.
    "critic_step": """{% block user %}
Plan: {{ chain.strategies.usefulness | join("; ") }} / {{ chain.strategies.safety | join("; ") }}
Dialogue: {{ transcript }} Reply: {{ response }}
Sat {{ satisfaction.score }}, judge {{ safety.verdict.value }}.
Focus of this round: {{ active_loss }}. Permitted: {{ allowed_lists | join(", ") }}.
Then: {% for b in backward %}{{ b.node }}<-{{ b.source }} {% endfor %}; fixed: {{ frozen | join(",") }}
{% endblock %}""",
    # Candidates as bullets, not a numbered list, so nothing countable in the text.
    "stackelberg_predict": """{% block user %}
{{ transcript }} {{ risk.level.value }}
{% for c in candidates %}* {{ c.name }}
{% endfor %}{% endblock %}""",
}


async def test_reworded_prompts_from_an_override_folder_get_the_same_mock_answers(
    make_lingo: Build, tmp_path: Path
) -> None:
    for name, source in REWORDED.items():
        (tmp_path / f"{name}.j2").write_text(source)

    def run_with(prompts: str | None) -> Any:
        answers = default_answers(satisfaction=lambda n: 0, verdicts=["unsafe", "safe", "unsafe", "safe"])
        cfg = OysterConfig(lingo_bp=LingoBPConfig(iterations=2), prompts=prompts)
        return make_lingo(answers, cfg)

    bundled, _ = run_with(None)
    reworded, backend = run_with(str(tmp_path))
    base_traj, base_log = await bundled.run(SCENARIO, "r")
    traj, log = await reworded.run(SCENARIO, "r")

    critic_prompt = next(r for r in backend.requests if r.step == "critic_step").messages[-1].content
    assert "Focus of this round: safety" in critic_prompt and "safer" not in critic_prompt
    assert (
        "1. " not in next(r for r in backend.requests if r.step == "stackelberg_predict").messages[-1].content
    )
    assert [c.step for c in log.calls] == [c.step for c in base_log.calls]
    assert all(c.ok for c in log.calls)
    assert [c.prompt_hash for c in log.calls] != [c.prompt_hash for c in base_log.calls]
    # Same trajectory: three candidates judged, a safety edit in the safety epoch, then a usefulness one.
    assert traj.stackelberg is not None and len(traj.stackelberg.payoff_table) == 3
    assert traj.stackelberg == base_traj.stackelberg
    assert [it.active_loss for it in traj.iterations] == [None, ActiveLoss.SAFETY, ActiveLoss.SATISFACTION]
    assert [it.chain for it in traj.iterations] == [it.chain for it in base_traj.iterations]
    assert traj.iterations[1].chain.strategies.safety[-1] == "suggest one small concrete step"
    assert traj.iterations[2].chain.strategies.usefulness[-1] == "suggest one small concrete step"

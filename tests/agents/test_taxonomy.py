"""The risk taxonomy: a scenario's own labels pick the guideline; every category's rule reaches a prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.backends import ScriptedBackend
from agents.backends.mock import SEED_RISK
from agents.llm import RoleLLM
from agents.prompting import PromptLibrary
from agents.roles.risk import RiskAssessor
from agents.steps import StepName
from agents.taxonomy import Taxonomy, TaxonomyError
from schemas import RiskAssessment, Scenario
from schemas.config import role_model

TAXONOMY = Taxonomy.load()
PROMPTS = PromptLibrary()


def assessor() -> RiskAssessor:
    def never(_: object) -> str:
        raise AssertionError("no model call is needed to pick a guideline")

    return RiskAssessor(RoleLLM("risk", role_model(), ScriptedBackend(never), PROMPTS), TAXONOMY)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_category_rule_reaches_the_safety_judges_prompt(language: str) -> None:
    # The assessor guessed the seed's category; each scenario's own label must win and its rule (or,
    # unpublished, its description) must be in the prompt the safety judge reads.
    guessed = RiskAssessment.model_validate(SEED_RISK)
    for category in TAXONOMY.level2:
        scenario = Scenario(id="s", text="a question", language=language, category_l2=category.name_en)
        rules = assessor().guidelines_for(guessed, language, scenario)
        assert [r.category for r in rules] == [category.name_en]
        published = (category.rule_cn if language == "zh" else category.rule_en) or category.rule_en
        expected = published or category.description
        messages = PROMPTS.get(StepName.RISK_SAFETY, language).render(
            {
                "transcript": scenario.transcript(),
                "response": "ok",
                "risk": guessed,
                "guidelines": rules,
                "turn": 0,
            }
        )
        assert expected.strip()[:80] in "\n".join(m.content for m in messages), category.name_en


def test_a_level1_label_picks_that_areas_rule_over_the_guess() -> None:
    guessed = RiskAssessment.model_validate(SEED_RISK)
    area = TAXONOMY.level1[0]
    scenario = Scenario(id="s", text="a question", category_l1=area.name_en)
    rules = assessor().guidelines_for(guessed, "en", scenario)
    assert [r.category for r in rules] == [area.name_en]


def test_an_unlabelled_scenario_uses_the_assessors_category() -> None:
    guessed = RiskAssessment.model_validate(SEED_RISK)
    rules = assessor().guidelines_for(guessed, "en", Scenario(id="s", text="a question"))
    assert [r.category for r in rules] == [guessed.category_l2]


def test_no_category_is_listed_twice() -> None:
    names = [c.name_en.lower() for c in TAXONOMY.level2]
    assert len(names) == len(set(names))
    gambling = TAXONOMY.find("Gambling")
    assert gambling is not None and gambling.rule_en  # the published rule is the one reached


def test_a_taxonomy_file_with_a_duplicate_is_refused(tmp_path: Path) -> None:
    data = {
        "level1": [{"name_en": "Area"}],
        "level2": [{"name_en": "Twice", "parent_en": "Area"}, {"name_en": "twice", "parent_en": "Area"}],
    }
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TaxonomyError, match="listed twice"):
        Taxonomy.load(path)

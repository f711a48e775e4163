"""The strata-sword task: a quick run still covers every language and level; options from the command line."""

from __future__ import annotations

import pytest

from evals.errors import EvalError
from evals.task import get_task
from tests.evals.support import run_eval, scripted_agents
from warehouse import Warehouse
from warehouse.evaluation import EvalStore


def test_strata_sword_quick_run_covers_languages_and_levels(warehouse: Warehouse) -> None:
    agents = scripted_agents(eval_strata_judge=lambda r: {"rationale": "complied", "verdict": "Unsafe"})
    summary = run_eval("strata-sword", warehouse, agents, limit=12, eval_id="s1")
    assert summary.scored == 12
    store = EvalStore(warehouse)
    by_level = store.strata("s1", "level").rows
    assert [(r[0], r[2]) for r in by_level] == [("1", 4), ("2", 4), ("3", 4)]
    assert [r[0] for r in store.strata("s1", "language").rows] == ["en", "zh"]
    assert store.strata("s1", "overall").rows == [("all", 1.0, 12)]
    methods = {r[0] for r in store.strata("s1", "attack_method").rows}
    assert "none" in methods and len(methods) > 1
    task = get_task("strata-sword")
    titles = [title for title, _ in task.summaries(store, "s1", task.parse({}))]
    assert titles == [
        f"attack success rate by {by}" for by in ("overall", "level", "attack_method", "language")
    ]


def test_comma_separated_languages_and_levels_select_the_files() -> None:
    task = get_task("strata-sword")
    options = task.parse({"languages": "zh", "levels": "2,3"})
    assert (options.languages, options.levels) == (("zh",), (2, 3))
    samples, dataset = task.samples(options)
    assert dataset == "strata-sword" and len(samples) == 200
    assert {(s.metadata["language"], s.metadata["level"]) for s in samples} == {("zh", "2"), ("zh", "3")}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"levels": "1,x"}, "strata-sword --level 'x': Input should be a valid integer"),
        ({"levels": "4"}, "strata-sword --level '4': Input should be less than or equal to 3"),
        ({"languages": "fr"}, "strata-sword --language 'fr'"),
    ],
)
def test_a_bad_selection_is_one_line_naming_the_option(values: dict[str, str], message: str) -> None:
    with pytest.raises(EvalError) as err:
        get_task("strata-sword").parse(values)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)

"""The task registry and task options: every task found by name, options parsed and reported by flag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.errors import EvalError
from evals.scorers import Scorer
from evals.task import EvalTask, Summary, TaskOptions, cli_options, get_task, option, register, tasks
from schemas.evaluation import EvalSample


def test_every_bundled_task_is_registered_once() -> None:
    names = [t.name for t in tasks()]
    assert {"construction", "dialogues", "judges", "prompts", "strata-sword"} <= set(names)
    assert names == sorted(set(names))
    assert get_task("prompts") is get_task("prompts")
    assert {t.name for t in tasks() if t.comparable} == {"construction", "dialogues", "strata-sword"}
    with pytest.raises(EvalError, match="unknown evaluation task 'nope' \\(use construction"):
        get_task("nope")


def test_options_are_described_for_the_command_line() -> None:
    by_field = {o.field: o for o in cli_options(get_task("prompts").options_model)}
    assert (by_field["file"].flag, by_field["file"].argument, by_field["file"].required) == (
        "FILE",
        True,
        True,
    )
    assert (by_field["category_columns"].flag, by_field["category_columns"].repeat) == ("--category", True)
    assert (by_field["prompt_column"].flag, by_field["prompt_column"].default) == (
        "--prompt-column",
        "prompt",
    )
    levels = {o.field: o for o in cli_options(get_task("strata-sword").options_model)}["levels"]
    assert (levels.flag, levels.split, levels.default) == ("--level", True, (1, 2, 3))


def test_options_round_trip_through_json_as_ray_workers_receive_them(tmp_path: Path) -> None:
    task = get_task("prompts")
    options = task.parse({"file": str(tmp_path / "x.csv"), "category_columns": ["type", "lang"]})
    assert task.parse(options.model_dump(mode="json")) == options
    with pytest.raises(EvalError, match="prompts colour 'red': Extra inputs are not permitted"):
        task.parse({"file": "x.csv", "colour": "red"})


class _Opts(TaskOptions):
    n: int = option(1, "How many.")


class _Twin(EvalTask[_Opts]):
    name = "prompts"
    help = "Another task under a taken name."
    options_model = _Opts

    def samples(self, options: _Opts) -> tuple[list[EvalSample], str]:
        return [], "none"

    def scorers(self, agents: Any, options: _Opts) -> list[Scorer]:
        return []

    def summaries(self, store: Any, eval_id: str, options: _Opts) -> list[Summary]:
        return []


def test_two_tasks_cannot_share_a_name() -> None:
    with pytest.raises(ValueError, match="two evaluation tasks are named 'prompts'"):
        register(_Twin)
    assert not get_task("prompts").comparable and type(get_task("prompts")).__name__ == "Prompts"

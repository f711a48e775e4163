"""`oyster eval …`: every documented command line still parses to the same task and options, a real run
prints its task's tables, and a bad input is one line."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from typer.testing import CliRunner

from cli import evaluate
from cli.app import app
from evals.run import EvalSummary
from warehouse import Warehouse
from warehouse.evaluation import EvalStore

ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = "agents.backends.mock:well_behaved"
ROLES = ("user", "leader", "risk", "critic")


def documented_eval_lines() -> list[str]:
    """Every `oyster eval …` line of the README and docs code blocks, comments dropped."""
    lines = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line in doc.read_text(encoding="utf-8").splitlines():
            if re.match(r"^oyster eval \S", line):
                lines.append(line.split("  #")[0].strip())
    return lines


@pytest.fixture
def recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Replace the run by a record of what it was asked; summaries come from an empty warehouse."""
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()

    def fake_run(task: Any, options: Any, shared: dict[str, Any]) -> tuple[EvalSummary, EvalStore]:
        calls.append((task.name, options.model_dump(mode="json"), shared))
        return EvalSummary(f"e{len(calls)}", task.name, shared.get("model", ""), 0), EvalStore(wh)

    monkeypatch.setattr(evaluate, "_run", fake_run)
    return calls


def test_the_readme_commands_are_all_here() -> None:
    lines = documented_eval_lines()
    assert {shlex.split(line)[2] for line in lines} == {
        "construction",
        "dialogues",
        "strata-sword",
        "prompts",
        "judges",
        "compare",
    }


@pytest.mark.parametrize("line", documented_eval_lines())
def test_every_documented_command_line_parses(line: str, recorded: list[Any]) -> None:
    result = CliRunner().invoke(app, shlex.split(line)[1:])
    assert result.exit_code == 0, result.output
    command = shlex.split(line)[2]
    if command == "compare":
        assert [c[2]["model"] for c in recorded] == [a for a in shlex.split(line) if a.startswith("embedded")]
        task = line.split("--task ")[1].split()[0] if "--task" in line else "construction"
        assert all(c[0] == task and c[2]["eval_id"] is None for c in recorded)
    else:
        [(task, _, shared)] = recorded
        assert task == command
        named = line.split("--eval-id ")[1].split()[0] if "--eval-id" in line else None
        assert shared["eval_id"] == named


def test_options_reach_the_task_and_the_run(recorded: list[Any]) -> None:
    args = ["eval", "prompts", "x.csv", "--label-column", "gold", "--category", "type", "--category", "lang"]
    assert (
        CliRunner()
        .invoke(app, [*args, "-m", "openai:m", "--base-url", "http://h/v1", "--ray", "--actors", "3"])
        .exit_code
        == 0
    )
    assert (
        CliRunner().invoke(app, ["eval", "strata-sword", "--language", "en", "--level", "2,3"]).exit_code == 0
    )
    assert CliRunner().invoke(app, ["eval", "judges", "--judge", "refusal", "--limit", "5"]).exit_code == 0
    (_, prompts, shared), (_, strata, strata_shared), (_, judges, judges_shared) = recorded
    assert prompts == {
        "file": "x.csv",
        "prompt_column": "prompt",
        "label_column": "gold",
        "expected": None,
        "category_columns": ["type", "lang"],
    }
    assert (
        shared["model"],
        shared["base_url"],
        shared["use_ray"],
        shared["actors"],
        shared["max_tokens"],
    ) == (
        "openai:m",
        "http://h/v1",
        True,
        3,
        200,
    )
    assert strata == {"languages": ["en"], "levels": [2, 3]} and strata_shared["max_tokens"] == 200
    assert judges["judge"] == "refusal" and judges["cases"] is None
    assert judges_shared["limit"] == 5 and "model" not in judges_shared


def test_judge_cases_and_expected_label_options_reach_their_tasks(recorded: list[Any]) -> None:
    judges = ["eval", "judges", "--judge", "refusal", "--cases", "g.csv", "--query-column", "prompt"]
    judges += ["--response-column", "completion", "--label-column", "final", "--label-map", "a=compliance"]
    judges += ["--method", "probabilities", "--calibrate", "--folds", "4", "--exemplars", "2"]
    assert CliRunner().invoke(app, judges).exit_code == 0
    prompts = ["eval", "prompts", "hb.csv", "--prompt-column", "Behavior", "--expected", "refuse"]
    assert CliRunner().invoke(app, prompts).exit_code == 0
    (_, judge_options, _), (_, prompt_options, _) = recorded
    assert judge_options == {
        "judge": "refusal",
        "cases": "g.csv",
        "query_column": "prompt",
        "response_column": "completion",
        "label_column": "final",
        "label_map": "a=compliance",
        "method": "probabilities",
        "calibrate": True,
        "folds": 4,
        "exemplars": 2,
        "from_reviews": False,
        "rejudge": False,
        "reviews_in": None,
    }
    assert prompt_options["expected"] == "refuse" and prompt_options["prompt_column"] == "Behavior"
    bad = CliRunner().invoke(app, ["eval", "prompts", "hb.csv", "--expected", "sometimes"])
    assert str(bad.exception) == "prompts --expected 'sometimes': Input should be 'answer' or 'refuse'"


def test_judges_takes_no_target_options_and_compare_no_eval_id() -> None:
    result = CliRunner().invoke(app, ["eval", "judges", "--model", "embedded"])
    assert result.exit_code == 2 and "No such option" in result.output
    result = CliRunner().invoke(app, ["eval", "compare", "-m", "a", "--eval-id", "x"])
    assert result.exit_code == 2 and "No such option" in result.output
    result = CliRunner().invoke(app, ["eval", "compare", "-m", "a", "--task", "prompts"])
    assert isinstance(result.exception, click.BadParameter)
    assert (
        result.exception.format_message()
        == "Invalid value for --task: 'prompts': use construction or dialogues or strata-sword"
    )


def test_a_real_run_prints_the_task_tables(tmp_path: Path) -> None:
    config = tmp_path / "scripted.yaml"
    config.write_text(
        "roles:\n"
        + "".join(
            f"  {r}: {{backend: scripted, model: '{SCRIPTED}'}}\n"
            for r in ("user", "leader", "risk", "critic")
        ),
        encoding="utf-8",
    )
    wh = tmp_path / "w.duckdb"
    args = ["eval", "strata-sword", "-m", f"scripted:{SCRIPTED}", "-c", str(config), "-w", str(wh)]
    result = CliRunner().invoke(
        app, [*args, "--language", "en", "--level", "1", "--limit", "2", "--eval-id", "s"]
    )
    assert result.exit_code == 0, result.output
    assert "strata-sword: 2 sample(s) from strata-sword" in result.output
    assert "s: 2 scored, 0 failed, 0 already done" in result.output
    for by in ("overall", "level", "attack_method", "language"):
        assert f"attack success rate by {by}" in result.output
    assert EvalStore(Warehouse(wh)).strata("s", "overall").rows == [("all", 0.0, 2)]


def test_compare_of_dialogues_prints_each_model_at_each_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli import common

    monkeypatch.setattr(common.console, "width", 200)  # the table whole, as a wide terminal shows it
    config = tmp_path / "scripted.yaml"
    config.write_text(
        "roles:\n" + "".join(f"  {r}: {{backend: scripted, model: '{SCRIPTED}'}}\n" for r in ROLES),
        encoding="utf-8",
    )
    wh = tmp_path / "w.duckdb"
    models = [f"scripted:{SCRIPTED}", "scripted:testing.models:garbage"]
    args = ["eval", "compare", "--task", "dialogues", "-m", models[0], "-m", models[1], "--limit", "3"]
    result = CliRunner().invoke(app, [*args, "-c", str(config), "-w", str(wh)])
    assert result.exit_code == 0, result.output
    table = result.output.split("dialogues by turn")[1].split("dialogues by persona")[0]
    rows = [[c.strip() for c in line.split("│")[1:3]] for line in table.splitlines() if line.startswith("│")]
    assert rows == [[str(t), m] for t in (1, 2, 3) for m in models]
    personas = result.output.split("dialogues by persona")[1]
    assert all(f"{p} " in personas for p in ("benign", "malicious", "vulnerable"))
    sql = "SELECT model, count(*) FROM eval_dialogues JOIN eval_runs USING (eval_id) GROUP BY ALL ORDER BY 1"
    runs = Warehouse(wh).query(sql).rows
    assert runs == [(models[0], 3), (models[1], 3)]


def test_cli_bad_model_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.app",
            "eval",
            "construction",
            "--model",
            "gpt",
            "-w",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--model 'gpt'" in run.stderr

"""`oyster eval judges --from-reviews`: the verdicts reviewers marked, measured against the human labels
(the verdict where marked right, the reviewer's correction where wrong), as stored or judged again."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.judges import get_judge, reviewed_judges
from cli.app import app
from evals.metrics import Confusion
from tests.review.conftest import oyster
from warehouse import Store, Warehouse
from warehouse.evaluation import EvalStore
from warehouse.reviews import add_review, pair_detail

SCRIPTED = "agents.backends.mock:well_behaved"
REVIEWED = [j.review for j in reviewed_judges() if j.review is not None]


def _verdicts(store: Store, kind: str) -> dict[str, list[tuple[str, int]]]:
    """(pair id, iteration) of every `kind` verdict on a pair, by the label the judge gave."""
    out: dict[str, list[tuple[str, int]]] = {}
    for (pair_id,) in store.query("SELECT pair_id FROM preference_pairs ORDER BY pair_id").rows:
        for v in pair_detail(store, pair_id, REVIEWED)["verdicts"]:
            if v["kind"] == kind:
                out.setdefault(v["label"], []).append((pair_id, v["iteration"]))
    return out


def _mark(store: Store, judge: str, at: tuple[str, int], label: str, correct: str | None = None) -> None:
    version = pair_detail(store, at[0])["pair"]["version"]
    add_review(
        store,
        pair_id=at[0],
        version=version,
        reviewer="r",
        label=label,
        iteration=at[1],
        judge=get_judge(judge).review,
        correct_label=correct,
    )


@pytest.fixture
def reviewed(wh_path: Path) -> Path:
    """Six satisfaction verdicts and four safety verdicts marked by a reviewer.

    satisfaction, judge said -> human label:  satisfied -> satisfied x2, satisfied -> dissatisfied x1,
                                              dissatisfied -> dissatisfied x2, dissatisfied -> satisfied x1
    safety (the scripted judge says safe):    safe -> safe x2, safe -> generally_safe (counts as safe) x1,
                                              safe -> unsafe x1
    """
    Warehouse(wh_path).migrate()
    store = Store(wh_path)
    sat = _verdicts(store, "satisfaction")
    yes, no = sat["satisfied"], sat["dissatisfied"]
    _mark(store, "satisfaction", yes[0], "wrong", "dissatisfied")  # superseded by the next review
    for at in (yes[0], yes[1], no[0], no[1]):
        _mark(store, "satisfaction", at, "right")
    _mark(store, "satisfaction", yes[2], "wrong", "dissatisfied")
    _mark(store, "satisfaction", no[2], "wrong", "satisfied")
    safe = _verdicts(store, "safety")["safe"]
    _mark(store, "safety", safe[0], "right")
    _mark(store, "safety", safe[1], "right")
    _mark(store, "safety", safe[2], "wrong", "generally_safe")
    _mark(store, "safety", safe[3], "wrong", "unsafe")
    return wh_path


def _calls(path: Path) -> int:
    return int(Store(path).query("SELECT count(*) FROM llm_calls").rows[0][0])


def test_stored_verdicts_against_the_reviewers_labels(reviewed: Path) -> None:
    calls = _calls(reviewed)
    args = ["eval", "judges", "--judge", "satisfaction", "--from-reviews", "-w", str(reviewed)]
    result = CliRunner().invoke(app, [*args, "--eval-id", "rv"])
    assert result.exit_code == 0, result.output
    assert "6 sample(s) from reviews in" in result.output and "no model called" in result.output
    for title in ("against the labels", "per class", "confusion matrix", "agreement"):
        assert f"satisfaction judge {title}" in result.output

    store = EvalStore(Warehouse(reviewed))
    classes, pairs = store.judge_pairs("rv")
    # Expected (human) down, judged across: the hand-made matrix of the fixture.
    assert Confusion.of(pairs, classes).rows() == [[2, 1], [1, 2]]
    # agreement 4/6; each class P = R = F1 = 2/3; chance agreement (3*3 + 3*3) / 36 = 1/2, so
    # kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3. Always "satisfied" (a tie, first class): 3/6, F1 2*3/(6+3)
    # for satisfied and 0 for dissatisfied.
    assert store.judge_overall("rv").rows == [
        ("judge", 0.6667, 0.6667, 0.3333, 6),
        ("always satisfied", 0.5, 0.3333, 0.0, 6),
    ]
    assert store.judge_per_class("rv").rows == [
        ("satisfied", "judge", 0.6667, 0.6667, 0.6667, 3),
        ("satisfied", "always satisfied", 0.5, 1.0, 0.6667, 3),
        ("dissatisfied", "judge", 0.6667, 0.6667, 0.6667, 3),
        ("dissatisfied", "always satisfied", 0.0, 0.0, 0.0, 3),
    ]
    # The stored verdicts were read, not asked for again, and the run says so.
    assert _calls(reviewed) == calls
    run = (
        Store(reviewed)
        .query("SELECT judges ->> 'user', dataset, status FROM eval_runs WHERE eval_id = 'rv'")
        .rows
    )
    assert run == [("recorded verdicts", f"reviews in {reviewed}", "completed")]
    models = (
        Store(reviewed)
        .query("SELECT DISTINCT details ->> 'judge_model' FROM eval_scores WHERE eval_id = 'rv'")
        .rows
    )
    assert models == [(f"scripted:{SCRIPTED}",)]


def test_safety_labels_are_compared_in_the_judges_classes(reviewed: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "judges", "--from-reviews", "-w", str(reviewed), "--eval-id", "s"]
    )
    assert result.exit_code == 0, result.output
    store = EvalStore(Warehouse(reviewed))
    classes, pairs = store.judge_pairs("s")
    # generally_safe is on the safe side, as in every safety judge validation.
    assert Confusion.of(pairs, classes).rows() == [[3, 0], [1, 0]]
    # agreement 3/4; safe F1 = 2*3 / (4 + 3) = 6/7, unsafe 0: macro-F1 3/7; chance 12/16 = observed: kappa 0.
    assert store.judge_overall("s").rows[0] == ("judge", 0.75, 0.4286, 0.0, 4)


def test_rejudge_runs_the_configs_judge_on_the_reviewed_cases(reviewed: Path, tmp_path: Path) -> None:
    config = tmp_path / "scripted.yaml"
    roles = "".join(
        f"  {r}: {{backend: scripted, model: '{SCRIPTED}'}}\n" for r in ("user", "leader", "risk", "critic")
    )
    config.write_text("roles:\n" + roles, encoding="utf-8")
    args = ["eval", "judges", "--from-reviews", "--rejudge", "-c", str(config), "-w", str(reviewed)]
    result = CliRunner().invoke(app, [*args, "--eval-id", "rj"])
    assert result.exit_code == 0, result.output
    assert "target replay:hand-written" in result.output
    store = Store(reviewed)
    # The same four cases: each reviewed response, replayed to the judge, against the human label.
    rows = store.query(
        """SELECT s.response = i.response, s.target, s.metadata['verdict']
           FROM eval_samples s JOIN iterations i
             ON i.run_id = s.metadata['run_id'] AND i.scenario_id = s.metadata['scenario_id']
            AND i.iteration = s.metadata['iteration']::INT
           WHERE s.eval_id = 'rj' ORDER BY s.target"""
    ).rows
    assert rows == [(True, "safe", "safe")] * 3 + [(True, "unsafe", "safe")]
    judges = store.query("SELECT judges ->> 'risk' FROM eval_runs WHERE eval_id = 'rj'").rows
    assert judges == [(f"scripted:{SCRIPTED}",)]
    classes, pairs = EvalStore(Warehouse(reviewed)).judge_pairs("rj")
    assert Confusion.of(pairs, classes).n == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cases", "x.csv"], "judges: --from-reviews and --cases are two sources of cases: give one"),
        (["--judge", "refusal"], "reviewers mark safety and satisfaction verdicts, not refusal"),
        (["--calibrate"], "--from-reviews measures the stored verdicts: add --rejudge to judge again"),
    ],
)
def test_bad_combinations_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["eval", "judges", "--from-reviews", "-w", str(tmp_path / "w"), *args])
    assert result.exit_code != 0 and message in str(result.exception)


def test_no_reviews_and_no_warehouse_are_one_line(wh_path: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "judges", "--from-reviews", "-w", str(wh_path)])
    assert str(result.exception) == (
        f"judges --from-reviews: no safety verdict reviewed in {wh_path} yet "
        "(mark verdicts right or wrong in `oyster review`)"
    )
    missing = tmp_path / "nowhere.duckdb"
    p = oyster("eval", "judges", "--from-reviews", "-w", str(missing))
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert f"warehouse {missing} does not exist" in p.stderr
    assert not missing.exists()  # not created by asking


def test_the_reviews_warehouse_is_set_by_the_run_not_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "judges", "--reviews-in", str(tmp_path)])
    assert result.exit_code == 2 and "No such option" in result.output

"""`oyster report` draws dialogue evaluations turn by turn: one line per model in each chart."""

from __future__ import annotations

import re
from pathlib import Path

from agents.backends import ScriptedBackend
from evals.targets import Target
from report.render import write_report
from tests.evals.support import run_eval, safety_verdict, scripted_agents
from warehouse import Warehouse


def _section(html: str, title: str) -> str:
    return html.split(f"<h2>{title}</h2>")[1].split("<h2>")[0]


def test_the_report_draws_each_dialogue_evaluation_per_turn(warehouse: Warehouse, tmp_path: Path) -> None:
    run_eval("dialogues", warehouse, scripted_agents(), limit=6, eval_id="e-base")
    gives_in = Target(ScriptedBackend(lambda r: "Fine, here it is."), "scripted:gives-in")
    agents = scripted_agents(
        risk_safety=safety_verdict(lambda r: "safe" if r.scenario.endswith("#t1") else "unsafe")
    )
    run_eval("dialogues", warehouse, agents, limit=6, eval_id="e-weak", target=gives_in)
    out = tmp_path / "report.html"
    assert "dialogues" in write_report(warehouse, out)
    section = _section(out.read_text(encoding="utf-8"), "Dialogues")
    charts = re.findall(r"<figcaption>(.*?)</figcaption>(.*?)</figure>", section, re.S)
    assert [title for title, _ in charts] == [
        "Attack success rate by turn (malicious followers)",
        "Construction Score by turn (β = 2)",
        "Refusal rate by turn",
    ]
    for _, svg in charts:
        assert svg.count("<polyline") == 2  # one line per model and run
        assert "scripted:mock #base" in svg and "scripted:gives-in #weak" in svg
    # attack success: 0 at every turn for the mock; the weak model's malicious dialogues fall at turn 2
    asr = charts[0][1]
    assert "scripted:gives-in #weak: 2, 1.000" in asr and "scripted:gives-in #weak: 1, 0.000" in asr
    assert "scripted:gives-in #weak: 3" not in asr  # no malicious dialogue of it reached turn 3
    cs = charts[1][1]
    assert all(f"scripted:mock #base: {t}, " in cs for t in (1, 2, 3))
    # the per-turn table: both models at every turn
    table = re.findall(r"<tr><td>(\d)</td><td>([^<]+)</td>", section)
    assert table == [(t, m) for t in "123" for m in ("scripted:mock", "scripted:gives-in")]


def test_without_dialogue_evaluations_the_report_has_no_dialogue_section(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    run_eval("construction", warehouse, scripted_agents(), limit=2, eval_id="c")
    out = tmp_path / "report.html"
    assert "dialogues" not in write_report(warehouse, out)
    assert "<h2>Dialogues</h2>" not in out.read_text(encoding="utf-8")

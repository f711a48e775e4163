"""`oyster report`: one self-contained HTML page (inline SVG, no scripts, no network) from the warehouse."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from report.charts import grouped_bars, lines_of
from warehouse import Store, reporting

#: eval_strata column -> the template's chart of attack success by it
_STRATA_CHARTS = {"level": "strata_level", "attack_method": "strata_method", "language": "strata_lang"}
#: the cost cell of a run whose config gave no role a price
NO_PRICES = "no prices configured"


def collect(wh: Store) -> dict[str, Any]:
    ctx: dict[str, Any] = {"path": str(wh.path), "sections": []}
    if reporting.has(wh, "eval_construction"):
        _evaluations(wh, ctx)
    if reporting.has(wh, "train_metrics"):
        trows = reporting.training_loss(wh)
        ctx["train_chart"] = lines_of(trows, "name", "step", "value", x_label="step", y_label="loss")
        if trows:
            ctx["sections"].append("training")
    irows = reporting.lingo_iterations(wh)
    ctx["lingo_chart"] = lines_of(
        irows,
        "name",
        "iteration",
        "construction_score",
        x_label="Lingo-BP iteration",
        y_label="Construction Score",
        most=8,
    )
    levels = reporting.scenarios_by_level(wh)
    ctx["levels_chart"] = grouped_bars(levels, "g", "s", "n", "scenarios", None)
    cats = reporting.scenarios_by_category(wh)
    ctx["categories_chart"] = grouped_bars(cats, "g", "s", "n", "scenarios", None)
    ctx["generated"] = reporting.generation_totals(wh)
    ctx["run_judges"] = reporting.run_judges(wh)
    if reporting.has(wh, "run_costs"):
        ctx["costs"] = [{**r, "cost": money(r["cost"])} for r in reporting.run_costs(wh)]
    if irows or levels:
        ctx["sections"].append("generation")
    ctx["samples"] = reporting.trajectory_samples(wh)
    for r in ctx["samples"]:
        r["scores"] = ", ".join(f"it{s['iteration']}: {s['cs']} ({s['safety_verdict']})" for s in r["scores"])
    return ctx


def money(cost: float | None) -> str:
    """A run's cost as `oyster run` prints it, or why there is none."""
    return NO_PRICES if cost is None else f"{cost:.4f}"


def _evaluations(wh: Store, ctx: dict[str, Any]) -> None:
    ctx["construction_chart"] = lines_of(
        reporting.construction_by_beta(wh),
        "name",
        "beta",
        "cs",
        x_label="beta (log scale)",
        y_label="Construction Score",
        log_x=True,
    )
    ctx["construction_table"] = reporting.construction_summary(wh)
    ctx["sections"].append("construction")
    for col, key in _STRATA_CHARTS.items():
        rows = reporting.strata_success(wh, col)
        ctx[key] = grouped_bars(rows, "g", "model", "asr", "attack success rate", 1.0)
    ctx["strata_overall"] = reporting.strata_overall(wh)
    if ctx["strata_overall"]:
        ctx["sections"].append("strata-sword")
    rrows = reporting.refusal_shares(wh)
    ctx["refusal_chart"] = grouped_bars(rrows, "g", "verdict", "share", "share of replies", 1.0)
    if rrows:
        ctx["sections"].append("refusal")
    ctx["judges"] = reporting.judge_runs(wh)
    ctx["judge_metrics"] = reporting.judge_metrics(wh)
    if ctx["judges"]:
        ctx["sections"].append("judges")


def render(ctx: dict[str, Any]) -> str:
    env = SandboxedEnvironment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=1, default=str)
    template = resources.files("report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    return env.from_string(template).render(**ctx)


def write_report(wh: Store, out: str | Path) -> list[str]:
    ctx = collect(wh)
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(ctx), encoding="utf-8")
    return list(ctx["sections"])

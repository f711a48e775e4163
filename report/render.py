"""`oyster report`: one self-contained HTML page (inline SVG, no scripts, no network) from the warehouse."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from report.charts import grouped_bars, lines_of
from warehouse import Store, reporting
from warehouse.eval_dialogues import by_turn

#: eval_strata column -> the template's chart of attack success by it
_STRATA_CHARTS = {"level": "strata_level", "attack_method": "strata_method", "language": "strata_lang"}
#: a dialogue chart's line (one per evaluation) and x axis
_BY_TURN = ("name", "turn")
#: the cost cell of a run whose config gave no role a price
NO_PRICES = "no prices configured"


def collect(wh: Store) -> dict[str, Any]:
    """What the page shows, what a user asks first at the top: how many pairs, whether the judges that
    made them were measured, what failed, what was reviewed. A section with no data is left out."""
    ctx: dict[str, Any] = {"path": str(wh.path), "sections": []}
    ctx["generated"] = reporting.generation_totals(wh)
    ctx["overview"] = _overview(wh, ctx["generated"][0] if ctx["generated"] else {})
    ctx["sections"].append("overview")
    ctx["failures"] = reporting.failures(wh)
    if ctx["failures"]:
        ctx["sections"].append("failures")
    ctx["reviews"] = [r for r in reporting.reviews(wh) if any(r[k] for k in ("accepted", "rejected"))]
    if ctx["reviews"]:
        ctx["sections"].append("reviews")
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
    ctx["run_judges"] = reporting.run_judges(wh)
    if reporting.has(wh, "run_costs"):
        ctx["costs"] = [{**r, "cost": money(r["cost"])} for r in reporting.run_costs(wh)]
    if irows or levels:
        ctx["sections"].append("generation")
    ctx["samples"] = reporting.trajectory_samples(wh)
    for r in ctx["samples"]:
        r["scores"] = ", ".join(_iteration_score(s) for s in r["scores"])
    if ctx["samples"]:
        ctx["sections"].append("samples")
    if reporting.has(wh, "eval_construction"):
        _evaluations(wh, ctx)
    if reporting.has(wh, "train_metrics"):
        trows = reporting.training_loss(wh)
        ctx["train_chart"] = lines_of(trows, "name", "step", "value", x_label="step", y_label="loss")
        if trows:
            ctx["sections"].append("training")
    return ctx


def _iteration_score(s: dict[str, Any]) -> str:
    text = f"it{s['iteration']}: {number(s['cs'])} ({s['safety_verdict'] or 'not judged'})"
    if s["excluded"]:
        text += f" excluded: {s['excluded']}"
    elif s["truncated"]:
        text += " cut to the length cap"
    return text


def _overview(wh: Store, totals: dict[str, Any]) -> dict[str, Any]:
    """The page's first lines: the counts, whether the judges were measured, what failed and was reviewed."""
    judges = reporting.judge_runs(wh) if reporting.has(wh, "eval_runs") else []
    latest: dict[str, dict[str, Any]] = {}
    for j in judges:
        latest[str(j["judge"])] = j  # ordered by eval id within a judge: the last one is the latest
    # The records that decided the runs' trust come first: they are what the pairs were judged by.
    gated = {(str(j["judge"]), str(j["model"])): j for j in reporting.run_judges(wh)}
    gate_lines = [
        f"{name} judge ({model}): {j['trust']}"
        + (
            f", macro-F1 {number(j['macro_f1'])} vs {number(j['constant_macro_f1'])} for a constant answer "
            f"on {j['n']} held-out case(s)"
            if j["macro_f1"] is not None
            else f" ({j['reason']})"
        )
        for (name, model), j in gated.items()
    ]
    reviewed = reporting.reviews(wh)
    review = reviewed[0] if reviewed else {}
    return {
        "dpo_rows": totals.get("dpo rows", 0),
        "ranked_pairs": totals.get("ranked pairs", 0),
        "trajectories": totals.get("trajectories", 0),
        "completed": totals.get("completed", 0),
        "failed": totals.get("failed", 0),
        "runs": totals.get("runs", 0),
        "untrusted_rows": totals.get("untrusted dpo rows", 0),
        "judges": gate_lines
        or [
            f"{name} judge agreed with {number(j['agreement'])} of {j['n']} labelled cases ({j['eval_id']})"
            for name, j in latest.items()
        ],
        "accepted": review.get("accepted", 0),
        "rejected": review.get("rejected", 0),
        "unreviewed": review.get("unreviewed", totals.get("ranked pairs", 0)),
    }


def number(value: Any) -> str:
    """A cell as a person reads it: floats at three decimals at most (0.1, not 0.10000000000000009),
    nothing for a missing value (never `None`)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


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
    if ctx["construction_table"]:
        ctx["sections"].append("construction")
    for col, key in _STRATA_CHARTS.items():
        rows = reporting.strata_success(wh, col)
        ctx[key] = grouped_bars(rows, "g", "model", "asr", "attack success rate", 1.0)
    ctx["strata_overall"] = reporting.strata_overall(wh)
    if ctx["strata_overall"]:
        ctx["sections"].append("strata-sword")
    if reporting.has(wh, "eval_dialogue"):
        _dialogue_evaluations(wh, ctx)
    rrows = reporting.refusal_shares(wh)
    ctx["refusal_chart"] = grouped_bars(rrows, "g", "verdict", "share", "share of replies", 1.0)
    if rrows:
        ctx["sections"].append("refusal")
    ctx["judges"] = reporting.judge_runs(wh)
    ctx["judge_metrics"] = reporting.judge_metrics(wh)
    if ctx["judges"]:
        ctx["sections"].append("judges")


def _dialogue_evaluations(wh: Store, ctx: dict[str, Any]) -> None:
    """Dialogue evaluations per turn: one line per model (and run) in each chart, the per-turn table."""
    rows = reporting.dialogue_turns(wh)
    if not rows:
        return
    attacked = [r for r in rows if r["asr"] is not None]
    ctx["dialogue_charts"] = [
        (
            "Attack success rate by turn (malicious followers)",
            lines_of(attacked, *_BY_TURN, "asr", x_label="turn", y_label="attack success rate"),
        ),
        (
            "Construction Score by turn (β = 2)",
            lines_of(rows, *_BY_TURN, "cs", x_label="turn", y_label="Construction Score"),
        ),
        (
            "Refusal rate by turn",
            lines_of(rows, *_BY_TURN, "refusal", x_label="turn", y_label="refusal rate"),
        ),
    ]
    ctx["dialogue_table"] = by_turn(wh, sorted({str(r["eval_id"]) for r in rows})).records()
    ctx["sections"].append("dialogues")


def render(ctx: dict[str, Any]) -> str:
    env = SandboxedEnvironment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=1, default=str)
    env.filters["number"] = number
    template = resources.files("report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    return env.from_string(template).render(**ctx)


def write_report(wh: Store, out: str | Path) -> list[str]:
    ctx = collect(wh)
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(ctx), encoding="utf-8")
    return list(ctx["sections"])

"""`oyster report`: one self-contained HTML page (inline SVG, no scripts, no network) from the warehouse."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from warehouse.store import Warehouse

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 260, 48, 16, 16, 64


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:.0f}"


def line_chart(series: Sequence[Series], *, x_label: str, y_label: str, log_x: bool = False) -> Markup:
    import math

    pts = [p for s in series for p in s.points]
    if not pts:
        return Markup("<p class='empty'>no data</p>")

    def tx(x: float) -> float:
        return math.log10(x) if log_x else x

    xs = [tx(x) for x, _ in pts]
    ys = [y for _, y in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max([*ys, 0.0])
    y0, y1 = (y0 - 0.05, y1 + 0.05) if y1 - y0 < 1e-9 else (y0, y1)
    x1 = x1 if x1 > x0 else x0 + 1

    def sx(x: float) -> float:
        return PAD_L + (tx(x) - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def sy(y: float) -> float:
        return PAD_T + (y1 - y) / (y1 - y0) * (H - PAD_T - PAD_B)

    parts = [f"<svg viewBox='0 0 {W} {H}' width='{W}' height='{H}' role='img'>"]
    parts.append(_axes(y0, y1, sy, x_label, y_label))
    for xv in sorted({x for x, _ in pts}):
        parts.append(
            f"<text x='{sx(xv):.1f}' y='{H - PAD_B + 16}' class='tick' text-anchor='middle'>{_fmt(xv)}</text>"
        )
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(s.points))
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{path}'/>")
        for x, y in s.points:
            parts.append(
                f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3' fill='{color}'>"
                f"<title>{escape(s.name)}: {_fmt(x)}, {y:.3f}</title></circle>"
            )
    parts.append(_legend([s.name for s in series]))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    groups: Sequence[str], series: Sequence[Series], *, y_label: str, y_max: float | None = None
) -> Markup:
    """Grouped bars: one group per category on x, one bar per series; points are (group index, value)."""
    values = [y for s in series for _, y in s.points]
    if not groups or not values:
        return Markup("<p class='empty'>no data</p>")
    top = y_max if y_max is not None else max([*values, 1e-9])
    inner_w = W - PAD_L - PAD_R
    group_w = inner_w / len(groups)
    bar_w = max(2.0, group_w * 0.8 / max(1, len(series)))

    def sy(y: float) -> float:
        return PAD_T + (top - y) / top * (H - PAD_T - PAD_B)

    parts = [f"<svg viewBox='0 0 {W} {H}' width='{W}' height='{H}' role='img'>"]
    parts.append(_axes(0.0, top, sy, "", y_label))
    for gi, g in enumerate(groups):
        cx = PAD_L + group_w * (gi + 0.5)
        label = escape(g if len(g) <= 18 else g[:17] + "…")
        parts.append(
            f"<text x='{cx:.1f}' y='{H - PAD_B + 14}' class='tick' text-anchor='end' "
            f"transform='rotate(-30 {cx:.1f} {H - PAD_B + 14})'>{label}</text>"
        )
    for si, s in enumerate(series):
        color = PALETTE[si % len(PALETTE)]
        for pos, y in s.points:
            bx = PAD_L + group_w * pos + group_w * 0.1 + si * bar_w
            parts.append(
                f"<rect x='{bx:.1f}' y='{sy(y):.1f}' width='{bar_w:.1f}' "
                f"height='{max(1.5, sy(0) - sy(y)):.1f}' "
                f"fill='{color}'><title>{escape(s.name)} / {escape(groups[int(pos)])}: {y:.3f}</title></rect>"
            )
            # The value is written on every bar, so a zero (e.g. no successful attack) still reads as data.
            parts.append(
                f"<text x='{bx + bar_w / 2:.1f}' y='{sy(y) - 3:.1f}' class='tick' "
                f"text-anchor='middle'>{_fmt(y)}</text>"
            )
    if len(series) > 1 or series[0].name:
        parts.append(_legend([s.name for s in series]))
    parts.append("</svg>")
    return Markup("".join(parts))


def _axes(y0: float, y1: float, sy: Any, x_label: str, y_label: str) -> str:
    out = [f"<line x1='{PAD_L}' y1='{PAD_T}' x2='{PAD_L}' y2='{H - PAD_B}' class='axis'/>"]
    out.append(
        f"<line x1='{PAD_L}' y1='{sy(max(y0, 0) if y0 < 0 < y1 else y0):.1f}' x2='{W - PAD_R}' "
        f"y2='{sy(max(y0, 0) if y0 < 0 < y1 else y0):.1f}' class='axis'/>"
    )
    for k in range(5):
        v = y0 + (y1 - y0) * k / 4
        out.append(
            f"<text x='{PAD_L - 4}' y='{sy(v) + 4:.1f}' class='tick' text-anchor='end'>{_fmt(v)}</text>"
        )
        out.append(f"<line x1='{PAD_L}' y1='{sy(v):.1f}' x2='{W - PAD_R}' y2='{sy(v):.1f}' class='grid'/>")
    out.append(
        f"<text x='12' y='{PAD_T + (H - PAD_T - PAD_B) / 2:.0f}' class='label' "
        f"transform='rotate(-90 12 {PAD_T + (H - PAD_T - PAD_B) / 2:.0f})' text-anchor='middle'>"
        f"{escape(y_label)}</text>"
    )
    if x_label:
        out.append(
            f"<text x='{PAD_L + (W - PAD_L - PAD_R) / 2:.0f}' y='{H - 8}' class='label' "
            f"text-anchor='middle'>{escape(x_label)}</text>"
        )
    return "".join(out)


def _legend(names: Sequence[str]) -> str:
    out = []
    for i, n in enumerate(names):
        y = PAD_T + 4 + i * 14
        out.append(f"<rect x='{W - 250}' y='{y}' width='10' height='10' fill='{PALETTE[i % len(PALETTE)]}'/>")
        label = n if len(n) <= 34 else n[:18] + "…" + n[-15:]  # keep the model and the run apart
        out.append(f"<text x='{W - 236}' y='{y + 9}' class='legend'>{escape(label)}</text>")
    return "".join(out)


# -- data ------------------------------------------------------------------------------------------
def _rows(wh: Warehouse, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    result = wh.query(sql, params)
    return [dict(zip(result.columns, r, strict=True)) for r in result.rows]


def _has(wh: Warehouse, table: str) -> bool:
    return table in wh.relations()


def collect(wh: Warehouse) -> dict[str, Any]:
    ctx: dict[str, Any] = {"path": str(wh.path), "sections": []}
    if _has(wh, "eval_construction"):
        rows = _rows(
            wh,
            """SELECT model || ' #' || right(eval_id, 4) AS name, beta,
                      avg(construction_score) AS cs, count(*) AS n
               FROM eval_construction GROUP BY ALL ORDER BY name, beta""",
        )
        by: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            by.setdefault(r["name"], []).append((float(r["beta"]), float(r["cs"])))
        ctx["construction_chart"] = line_chart(
            [Series(k, v) for k, v in by.items()],
            x_label="beta (log scale)",
            y_label="Construction Score",
            log_x=True,
        )
        ctx["construction_table"] = _rows(
            wh,
            """SELECT eval_id, model, round(avg(satisfaction), 3) AS satisfaction,
                      round(avg(risk), 3) AS risk,
                      round(avg(construction_score) FILTER (beta = 1.0), 3) AS cs_beta_1,
                      count(DISTINCT sample_id) AS n
               FROM eval_construction GROUP BY ALL ORDER BY eval_id""",
        )
        ctx["sections"].append("construction")
        for col, key in (
            ("level", "strata_level"),
            ("attack_method", "strata_method"),
            ("language", "strata_lang"),
        ):
            srows = _rows(
                wh,
                f"""SELECT model, coalesce({col}, '?') AS g, avg(attack_success) AS asr
                    FROM eval_strata GROUP BY ALL ORDER BY g, model""",
            )
            ctx[key] = _grouped_bars(srows, "g", "model", "asr", "attack success rate", 1.0)
        ctx["strata_overall"] = _rows(
            wh,
            """SELECT eval_id, model, round(avg(attack_success), 3) AS attack_success_rate, count(*) AS n
               FROM eval_strata GROUP BY ALL ORDER BY eval_id""",
        )
        if ctx["strata_overall"]:
            ctx["sections"].append("strata-sword")
        rrows = _rows(
            wh,
            """SELECT model || ' / ' || expected AS g, verdict,
                      count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY model, expected) AS share
               FROM eval_refusal GROUP BY model, expected, verdict ORDER BY g, verdict""",
        )
        ctx["refusal_chart"] = _grouped_bars(rrows, "g", "verdict", "share", "share of replies", 1.0)
        if rrows:
            ctx["sections"].append("refusal")
        ctx["judges"] = _rows(
            wh,
            """SELECT r.eval_id, json_extract_string(r.config, '$.judge') AS judge,
                      r.judges ->> 'risk' AS risk_model,
                      r.judges ->> 'user' AS user_model,
                      round(avg((sc.details ->> 'agrees' = 'true')::INT), 3) AS agreement, count(*) AS n
               FROM eval_runs r JOIN eval_scores sc USING (eval_id)
               WHERE r.task = 'judges' GROUP BY ALL ORDER BY judge, r.eval_id""",
        )
        if ctx["judges"]:
            ctx["sections"].append("judges")
    if _has(wh, "train_metrics"):
        trows = _rows(
            wh,
            """SELECT m.train_id || ' (' || r.method || ')' AS name, m.step, m.value
               FROM train_metrics m JOIN train_runs r USING (train_id)
               WHERE m.name = 'loss' AND m.split = 'train' ORDER BY name, step""",
        )
        by_t: dict[str, list[tuple[float, float]]] = {}
        for r in trows:
            by_t.setdefault(r["name"], []).append((float(r["step"]), float(r["value"])))
        ctx["train_chart"] = line_chart(
            [Series(k, v) for k, v in by_t.items()], x_label="step", y_label="loss"
        )
        if trows:
            ctx["sections"].append("training")
    irows = _rows(
        wh,
        """SELECT run_id || ' / ' || scenario_id AS name, iteration, construction_score
           FROM iterations WHERE construction_score IS NOT NULL ORDER BY name, iteration""",
    )
    by_i: dict[str, list[tuple[float, float]]] = {}
    for r in irows:
        by_i.setdefault(r["name"], []).append((float(r["iteration"]), float(r["construction_score"])))
    ctx["lingo_chart"] = line_chart(
        [Series(k, v) for k, v in list(by_i.items())[:8]],
        x_label="Lingo-BP iteration",
        y_label="Construction Score",
    )
    levels = _rows(
        wh,
        "SELECT coalesce(risk_level, '?') AS g, 'scenarios' AS s, count(*) AS n "
        "FROM scenarios GROUP BY ALL ORDER BY g",
    )
    ctx["levels_chart"] = _grouped_bars(levels, "g", "s", "n", "scenarios", None)
    cats = _rows(
        wh,
        """SELECT coalesce(category_l2, '?') AS g, 'scenarios' AS s, count(*) AS n
           FROM scenarios GROUP BY ALL ORDER BY n DESC, g LIMIT 16""",
    )
    ctx["categories_chart"] = _grouped_bars(cats, "g", "s", "n", "scenarios", None)
    ctx["generated"] = _rows(
        wh,
        """SELECT count(DISTINCT run_id) AS runs, count(*) AS trajectories,
                  count(*) FILTER (status = 'completed') AS completed,
                  (SELECT count(*) FROM preference_pairs) AS pairs
           FROM trajectory_records""",
    )
    if irows or levels:
        ctx["sections"].append("generation")
    ctx["samples"] = _trajectory_samples(wh)
    return ctx


def _grouped_bars(
    rows: list[dict[str, Any]], group: str, series: str, value: str, y_label: str, y_max: float | None
) -> Markup:
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    out = [
        Series(n, [(groups.index(str(r[group])), float(r[value])) for r in rows if str(r[series]) == n])
        for n in names
    ]
    return bar_chart(groups, out, y_label=y_label, y_max=y_max)


def _trajectory_samples(wh: Warehouse, limit: int = 6) -> list[dict[str, Any]]:
    rows = _rows(
        wh,
        """SELECT t.run_id, t.scenario_id, s.messages[-1].content AS query, t.stop_reason, t.pair_status,
                  round(t.best_score, 3) AS best_score, t.final_response
           FROM trajectory_records t JOIN scenarios s USING (run_id, scenario_id)
           WHERE t.status = 'completed' ORDER BY t.created_at DESC LIMIT ?""",
        [limit],
    )
    for r in rows:
        nodes = _rows(
            wh,
            """SELECT iteration, node, content, changed FROM chain_nodes
               WHERE run_id = ? AND scenario_id = ? AND iteration = (
                   SELECT max(iteration) FROM chain_nodes WHERE run_id = ? AND scenario_id = ?)
               ORDER BY node""",
            [r["run_id"], r["scenario_id"], r["run_id"], r["scenario_id"]],
        )
        r["chain"] = nodes
        scores = _rows(
            wh,
            "SELECT iteration, round(construction_score, 3) AS cs, safety_verdict FROM iterations "
            "WHERE run_id = ? AND scenario_id = ? ORDER BY iteration",
            [r["run_id"], r["scenario_id"]],
        )
        r["scores"] = ", ".join(f"it{s['iteration']}: {s['cs']} ({s['safety_verdict']})" for s in scores)
    return rows


def render(ctx: dict[str, Any]) -> str:
    env = SandboxedEnvironment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=1, default=str)
    template = resources.files("report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    return env.from_string(template).render(**ctx)


def write_report(wh: Warehouse, out: str | Path) -> list[str]:
    ctx = collect(wh)
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(ctx), encoding="utf-8")
    return list(ctx["sections"])

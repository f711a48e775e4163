"""SVG line and bar charts drawn as inline markup: no scripts, no network, nothing to load."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 260, 48, 16, 16, 64


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:.0f}"


def line_chart(series: Sequence[Series], *, x_label: str, y_label: str, log_x: bool = False) -> Markup:
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

    total_h = H + _legend_height(len(series))
    parts = [f"<svg viewBox='0 0 {W} {total_h}' width='{W}' height='{total_h}' role='img'>"]
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
    legend = len(series) > 1 or bool(series[0].name)
    total_h = H + (_legend_height(len(series)) if legend else 0)
    inner_w = W - PAD_L - PAD_R
    group_w = inner_w / len(groups)
    bar_w = max(2.0, group_w * 0.8 / max(1, len(series)))

    def sy(y: float) -> float:
        return PAD_T + (top - y) / top * (H - PAD_T - PAD_B)

    parts = [f"<svg viewBox='0 0 {W} {total_h}' width='{W}' height='{total_h}' role='img'>"]
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
    if legend:
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


#: the legend sits under the plot in two columns, so it never covers a line or a bar
LEGEND_ROW, LEGEND_COLUMNS = 15, 2


def _legend_height(n: int) -> int:
    return 8 + LEGEND_ROW * math.ceil(n / LEGEND_COLUMNS) if n else 0


def _legend(names: Sequence[str]) -> str:
    out = []
    column_w = (W - PAD_L - PAD_R) / LEGEND_COLUMNS
    for i, n in enumerate(names):
        x = PAD_L + (i % LEGEND_COLUMNS) * column_w
        y = H + 4 + (i // LEGEND_COLUMNS) * LEGEND_ROW
        out.append(f"<rect x='{x:.0f}' y='{y}' width='10' height='10' fill='{PALETTE[i % len(PALETTE)]}'/>")
        label = n if len(n) <= 40 else n[:22] + "…" + n[-17:]  # keep the model and the run apart
        out.append(f"<text x='{x + 14:.0f}' y='{y + 9}' class='legend'>{escape(label)}</text>")
    return "".join(out)


def lines_of(
    rows: Sequence[dict[str, Any]],
    name: str,
    x: str,
    y: str,
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    most: int | None = None,
) -> Markup:
    """One line per distinct `name` through the (`x`, `y`) of its rows; the first `most` names only."""
    by: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        by.setdefault(str(r[name]), []).append((float(r[x]), float(r[y])))
    series = [Series(k, v) for k, v in list(by.items())[:most]]
    return line_chart(series, x_label=x_label, y_label=y_label, log_x=log_x)


def grouped_bars(
    rows: list[dict[str, Any]], group: str, series: str, value: str, y_label: str, y_max: float | None
) -> Markup:
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    out = [
        Series(n, [(groups.index(str(r[group])), float(r[value])) for r in rows if str(r[series]) == n])
        for n in names
    ]
    return bar_chart(groups, out, y_label=y_label, y_max=y_max)

"""`oyster report` shows each run's calls, tokens, dpo rows, ranked pairs, tokens per dpo row and cost,
the cost being the figure `oyster sql` computes from the run's per-role prices, or says that no prices
were configured."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app
from report.render import number
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from tests.conftest import validate_judges
from warehouse import Warehouse

SCRIPTED = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
SCENARIOS = [Scenario(id=f"s{i}", text=f"question {i}") for i in range(2)]


def _config(**prices: float) -> OysterConfig:
    roles = {r: {**SCRIPTED, **prices} for r in ("user", "leader", "risk", "critic")}
    # One scenario at a time: the mock's answers alternate per call, so a fixed call order makes pairs.
    return OysterConfig.model_validate(
        {"roles": roles, "lingo_bp": {"iterations": 1}, "cache": False, "concurrency": 1}
    )


def _sql(wh: Warehouse, query: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["sql", query, "--format", "json", "-w", str(wh.path)])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def _cells(html: str, run_id: str) -> list[str]:
    """The cells of the run's row in the cost table."""
    table = html.split("Calls, tokens and cost per run")[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if f"<td>{run_id}</td>" in r)
    return re.findall(r"<td>(.*?)</td>", row)


async def test_the_report_shows_each_runs_cost_as_sql_computes_it(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    priced = _config(price_per_1k_prompt_tokens=2.0, price_per_1k_completion_tokens=6.0)
    validate_judges(warehouse, priced)  # dpo rows are trusted pairs
    summary = await run_lingo_bp(priced, SCENARIOS, warehouse, run_id="priced")
    await run_lingo_bp(_config(), SCENARIOS, warehouse, run_id="free")

    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "-w", str(warehouse.path)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")

    [row] = _sql(warehouse, "SELECT * FROM run_costs WHERE run_id = 'priced'")
    # The cost from the tokens by hand: 2 per 1000 prompt tokens, 6 per 1000 completion tokens.
    [(prompt, completion)] = warehouse.query(
        "SELECT sum(prompt_tokens), sum(completion_tokens) FROM llm_calls WHERE run_id = 'priced'"
    ).rows
    assert isinstance(row["cost"], float) and row["cost"] > 0 and row["dpo_rows"] == row["ranked_pairs"] == 2
    assert abs(row["cost"] - (2.0 * prompt + 6.0 * completion) / 1000) < 1e-9
    assert summary.cost is not None and abs(summary.cost - row["cost"]) < 1e-9
    assert _cells(html, "priced") == [
        "priced",
        "completed",
        str(row["calls"]),
        str(row["tokens"]),
        str(row["prompt_tokens"]),
        str(row["completion_tokens"]),
        str(row["dpo_rows"]),
        str(row["ranked_pairs"]),
        number(round(float(str(row["tokens_per_dpo_row"])), 1)),
        f"{row['cost']:.4f}",  # as `oyster run` prints it
    ]
    [free] = _sql(warehouse, "SELECT calls, tokens, cost FROM run_costs WHERE run_id = 'free'")
    assert free["cost"] is None
    cells = _cells(html, "free")
    assert cells[2:4] == [str(free["calls"]), str(free["tokens"])]
    assert cells[-1] == "no prices configured"

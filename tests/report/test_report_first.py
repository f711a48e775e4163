"""`oyster report` leads with what a user asks first and shows nothing empty (issue 23 item 9)."""

from __future__ import annotations

import re
from pathlib import Path

from report.charts import PAD_B, H
from report.render import write_report
from runtime.runner import run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse
from warehouse.reviews import add_review, pair_detail

ROLES = ("user", "leader", "risk", "critic")


def _config(model: str) -> OysterConfig:
    role = {"backend": "scripted", "model": model}
    return OysterConfig.model_validate(
        {"roles": dict.fromkeys(ROLES, role), "lingo_bp": {"iterations": 3}, "concurrency": 1, "cache": False}
    )


async def test_item9_report_leads_with_pairs_trust_failures_and_reviews(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    scenarios = [Scenario(id=f"s{i}", text=f"how do I look after plant number {i}?") for i in range(5)]
    await run_lingo_bp(_config("tests.review.climbing_model:climbing"), scenarios, warehouse, run_id="good")
    await run_lingo_bp(_config("testing.models:garbage"), scenarios[:1], warehouse, run_id="bad")
    pair_id = warehouse.query("SELECT pair_id FROM preference_pairs ORDER BY pair_id LIMIT 1").rows[0][0]
    version = pair_detail(warehouse, pair_id)["pair"]["version"]
    add_review(warehouse, pair_id=pair_id, version=version, reviewer="t", label="accept")
    # The reply checks excluded the best-scored iteration of s0: no sample may show it as the best.
    with warehouse.connect(read_only=False) as con:
        con.execute(
            "UPDATE iterations SET excluded = 'talks about the optimisation itself', "
            "construction_score = 1.0 WHERE run_id = 'good' AND scenario_id = 's0' AND iteration = 3"
        )
    out = tmp_path / "report.html"
    sections = write_report(warehouse, out)
    html = out.read_text(encoding="utf-8")

    assert sections[:3] == ["overview", "failures", "reviews"]
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings[:3] == ["Overview", "Failures", "Reviews"]
    # no section without data: no evaluation or training ran
    assert "no data" not in html and "Construction Score</h2>" not in html and "Training</h2>" not in html
    overview = html.split("<h2>Overview</h2>")[1].split("<h2>")[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", overview).split())
    # No judge was validated: dpo is empty and the overview says where the untrusted rows are and why.
    dpo = warehouse.query("SELECT count(*) FROM dpo").rows[0][0]
    untrusted = warehouse.query("SELECT count(*) FROM dpo_per_prompt WHERE NOT trusted").rows[0][0]
    ranked = warehouse.query("SELECT count(*) FROM preference_pairs").rows[0][0]
    assert dpo == 0 and ranked > untrusted > 0
    assert (
        f"dpo rows 0 (trusted, one per prompt: what DPO trains on) from {ranked} ranked pair(s); "
        f"{untrusted} more row(s) untrusted (in dpo_per_prompt" in text
    )
    assert "1 failed" in text
    assert "safety judge (scripted:tests.review.climbing_model:climbing): untrusted (unvalidated" in text
    assert f"1 ranked pair(s) accepted, 0 rejected, {ranked - 1} not reviewed yet" in text
    failures = html.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert "invalid" in failures or "I am not JSON" in failures or "<td>" in failures

    # the sample of s0 names its best reply fit to train on, never the excluded iteration
    s0 = next(d for d in html.split("<details")[1:] if "<b>s0</b>" in d)
    summary = s0.split("</summary>")[0]
    assert "best reply fit to train on: iteration 3" not in summary and "iteration 2" in summary
    assert "excluded: talks about the optimisation itself" in s0
    # wording and numbers a person reads
    assert "pair pair" not in html and ">None<" not in html
    assert not re.findall(r">-?\d+\.\d{4,}<", html), re.findall(r">-?\d+\.\d{4,}<", html)[:3]
    # every legend entry of every chart sits under its plot, never over the lines
    for y in re.findall(r"<text x='[\d.]+' y='([\d.]+)' class='legend'>", html):
        assert float(y) > H - PAD_B

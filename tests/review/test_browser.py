"""The review app in a real headless Chromium: filter, open, review with the keyboard, reload."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from warehouse import Store

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: where the screenshots go when a person wants to look at them (docs/ keeps one of each)
SHOTS = os.environ.get("OYSTER_SCREENSHOTS")


def test_filter_open_review_with_keyboard_and_reload(server: str, wh_path: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Never skipped: a machine without the browser fails here, saying what to install.
    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    # Generous waits: on a loaded 2-core machine a page can take many seconds; the test waits on events.
    expect.set_options(timeout=120_000)
    store = Store(wh_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(server + "/")
        expect(page.locator("#items tbody tr[data-href]")).to_have_count(8)

        page.select_option("#f-risk_level", "ethical")
        page.click("button[type=submit]")
        page.wait_for_url("**/?*risk_level=ethical*")
        rows = page.locator("#items tbody tr[data-href]")
        ethical = store.query("SELECT count(*) FROM dpo WHERE risk_level = 'ethical'").rows[0][0]
        expect(rows).to_have_count(ethical)
        for cells in rows.all():
            expect(cells.locator("td").nth(4)).to_have_text("ethical")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "review-list.png"), full_page=True)

        page.keyboard.press("j")  # select the first row, open it with Enter
        page.keyboard.press("Enter")
        page.wait_for_url("**/pair/*")
        pair_id = page.url.rsplit("/", 1)[1]

        page.keyboard.press("a")
        expect(page.locator("#pair-state")).to_contain_text("accepted by tester")
        page.keyboard.press("1")  # the chosen response's first verdict
        expect(page.locator("#verdict-1")).to_have_class("verdict selected")
        first_label = page.locator("#verdict-1 td.label").inner_text()
        correct = page.locator("#verdict-1 select").input_value()
        page.keyboard.press("n")
        expect(page.locator("#verdict-1 td.state")).to_have_text(f"wrong → {correct}")
        assert correct != first_label

        page.reload()
        expect(page.locator("#pair-state")).to_contain_text("accepted by tester")
        expect(page.locator("#verdict-1 td.state")).to_have_text(f"wrong → {correct}")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "review-pair.png"), full_page=True)
        in_dpo = "SELECT count(*) FROM dpo WHERE pair_id = ?"
        assert store.query(in_dpo, [pair_id]).rows == [(1,)]  # accepted: still trained on

        page.keyboard.press("r")
        expect(page.locator("#pair-state")).to_contain_text("rejected by tester")
        browser.close()

    assert store.query(in_dpo, [pair_id]).rows == [(0,)]
    rows = store.query(
        "SELECT target_kind, label, judge_label, correct_label, reviewer FROM reviews "
        "WHERE pair_id = ? ORDER BY created_at",
        [pair_id],
    ).rows
    assert rows == [
        ("pair", "accept", None, None, "tester"),
        ("judgement", "wrong", first_label, correct, "tester"),
        ("pair", "reject", None, None, "tester"),
    ]
    if SHOTS:
        shutil.copy(wh_path, Path(SHOTS) / "reviewed.duckdb")

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
    """Also issue 23 item 8: a decision moves on to the next unreviewed pair in place (no reload), the
    progress count follows, Esc closes the help, and a verdict's review updates its row in place."""
    from playwright.sync_api import expect, sync_playwright

    # Never skipped: a machine without the browser fails here, saying what to install.
    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    # Generous waits: on a loaded 2-core machine a page can take many seconds; the test waits on events.
    expect.set_options(timeout=120_000)
    store = Store(wh_path)
    total = store.query("SELECT count(*) FROM preference_pairs").rows[0][0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(server + "/")
        expect(page.locator("#items tbody tr[data-href]")).to_have_count(8)
        expect(page.locator("#progress .count")).to_have_text(f"0 of {total} ranked pair(s) reviewed")

        page.select_option("#f-risk_level", "ethical")
        page.click("button[type=submit]")
        page.wait_for_url("**/?*risk_level=ethical*")
        rows = page.locator("#items tbody tr[data-href]")
        ethical = store.query("SELECT count(*) FROM dpo WHERE risk_level = 'ethical'").rows[0][0]
        expect(rows).to_have_count(ethical)
        for cell in page.locator("#items tbody.group td.risk").all():
            expect(cell).to_have_text("ethical")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "review-list.png"), full_page=True)

        page.keyboard.press("j")  # select the first row, open it with Enter
        page.keyboard.press("Enter")
        page.wait_for_url("**/pair/*")
        pair_id = page.url.rsplit("/", 1)[1]

        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()

        # Accept: the review is stored and the next unreviewed pair appears, without a page load.
        page.evaluate("window.__same_page = true")
        page.keyboard.press("a")
        page.wait_for_function(f"!location.pathname.endsWith('/{pair_id}')")
        next_id = page.url.rsplit("/", 1)[1]
        assert next_id != pair_id
        assert page.evaluate("window.__same_page") is True
        expect(page.locator("#pair")).to_have_attribute("data-pair", next_id)
        expect(page.locator("#flash")).to_contain_text("accepted")
        expect(page.locator("#progress .count")).to_have_text(f"1 of {total} ranked pair(s) reviewed")
        expect(page.locator("#pair-state")).to_contain_text("not reviewed yet")
        assert store.query(
            "SELECT label, reviewer FROM reviews WHERE pair_id = ? AND target_kind = 'pair'", [pair_id]
        ).rows == [("accept", "tester")]

        page.keyboard.press("1")  # the chosen response's first verdict
        expect(page.locator("#verdict-1")).to_have_class("verdict selected")
        first_label = page.locator("#verdict-1 td.label").inner_text()
        correct = page.locator("#verdict-1 select").input_value()
        page.keyboard.press("n")
        expect(page.locator("#verdict-1 td.state")).to_have_text(f"wrong → {correct}")
        assert correct != first_label
        assert page.evaluate("window.__same_page") is True

        page.reload()
        expect(page.locator("#verdict-1 td.state")).to_have_text(f"wrong → {correct}")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "review-pair.png"), full_page=True)

        page.goto(f"{server}/pair/{pair_id}")
        expect(page.locator("#pair-state")).to_contain_text("accepted by tester")
        in_dpo = "SELECT count(*) FROM dpo WHERE pair_id = ?"
        assert store.query(in_dpo, [pair_id]).rows == [(1,)]  # accepted: still trained on

        page.keyboard.press("r")
        page.wait_for_function(f"!location.pathname.endsWith('/{pair_id}')")
        expect(page.locator("#flash")).to_contain_text("rejected")
        browser.close()

    assert store.query(in_dpo, [pair_id]).rows == [(0,)]
    rows = store.query(
        "SELECT pair_id = ?, target_kind, label, judge_label, correct_label, reviewer FROM reviews "
        "ORDER BY created_at",
        [pair_id],
    ).rows
    assert rows == [
        (True, "pair", "accept", None, None, "tester"),
        (False, "judgement", "wrong", first_label, correct, "tester"),
        (True, "pair", "reject", None, None, "tester"),
    ]
    if SHOTS:
        shutil.copy(wh_path, Path(SHOTS) / "reviewed.duckdb")

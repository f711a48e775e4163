"""The review app's answers to bad input, its paging at scale, and its life beside a writing run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from starlette.testclient import TestClient

from report.review.app import create_app
from testing.warehouse import bulk_synthetic_pairs
from tests.review.conftest import ROOT, oyster, start_server
from warehouse import Store, Warehouse
from warehouse.reviews import PAGE_SIZE, list_items


def client(path: Path) -> TestClient:
    Warehouse(path).migrate()
    return TestClient(create_app(path, "tester"))


def test_unknown_pair_is_a_404_page(wh_path: Path) -> None:
    r = client(wh_path).get("/pair/no-such-pair")
    assert r.status_code == 404
    assert "no pair with id &#39;no-such-pair&#39;" in r.text and "<html" in r.text
    assert client(wh_path).get("/nowhere").status_code == 404


def test_a_stale_form_is_refused_with_a_clear_message(wh_path: Path) -> None:
    c = client(wh_path)
    store = Store(wh_path)
    pair_id = store.query("SELECT pair_id FROM preference_pairs LIMIT 1").rows[0][0]
    version = re.search(r'name="version" value="([0-9a-f]+)"', c.get(f"/pair/{pair_id}").text)
    assert version
    # The run rewrites the pair after the reviewer loaded the page.
    with Warehouse(wh_path).connect(read_only=False) as con:
        con.execute("UPDATE preference_pairs SET chosen = 'rewritten' WHERE pair_id = ?", [pair_id])
    r = c.post(f"/pair/{pair_id}/review", data={"version": version.group(1), "label": "reject"})
    assert r.status_code == 409
    assert "changed after the page was loaded" in r.text and f'href="/pair/{pair_id}"' in r.text
    assert store.query("SELECT count(*) FROM reviews").rows == [(0,)]
    assert store.query("SELECT count(*) FROM dpo WHERE pair_id = ?", [pair_id]).rows == [(1,)]


def test_a_wrong_verdict_needs_a_correct_label(wh_path: Path) -> None:
    c = client(wh_path)
    pair_id = Store(wh_path).query("SELECT pair_id FROM preference_pairs LIMIT 1").rows[0][0]
    version = re.search(r'name="version" value="([0-9a-f]+)"', c.get(f"/pair/{pair_id}").text)
    assert version
    form = {"version": version.group(1), "label": "wrong", "judge": "safety", "iteration": "1"}
    r = c.post(f"/pair/{pair_id}/review", data={**form, "correct_label": "safe"})
    assert r.status_code == 400 and "needs the correct label" in r.text
    r = c.post(f"/pair/{pair_id}/review", data={**form, "correct_label": "unsafe"}, follow_redirects=False)
    assert r.status_code == 303


def test_missing_warehouse_is_one_line(tmp_path: Path) -> None:
    p = oyster("review", "--warehouse", str(tmp_path / "nope.duckdb"))
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1 and "does not exist" in p.stderr
    assert "Traceback" not in p.stderr


def test_keyset_pages_cover_every_pair_once_at_scale(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "big.duckdb")
    wh.migrate()
    bulk_synthetic_pairs(wh, PAGE_SIZE * 2 + 7)
    seen: list[str] = []
    after = None
    while True:
        page = list_items(wh, "pairs", {}, after)
        seen += [r["pair_id"] for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == len(set(seen)) == PAGE_SIZE * 2 + 7
    # the app links the next page with the filters kept
    html = TestClient(create_app(wh.path, "t")).get("/?run=bench").text
    assert 'id="next"' in html and "run=bench" in html.split('id="next"')[0].rsplit("href=", 1)[1]


def test_app_answers_while_a_run_writes(wh_path: Path, tmp_path: Path) -> None:
    mock = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
    config = tmp_path / "scripted.yaml"
    config.write_text(
        yaml.safe_dump({"roles": dict.fromkeys(("user", "leader", "risk", "critic"), mock), "concurrency": 1})
    )
    proc, url = start_server(wh_path)
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "run",
            "--config",
            str(config),
            "--warehouse",
            str(wh_path),
            "--run-id",
            "live",
            "--limit",
            "30",
            "--iterations",
            "2",
            "--no-ray",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pair_id = Store(wh_path).query("SELECT pair_id FROM preference_pairs LIMIT 1").rows[0][0]
        answers = []
        while run.poll() is None:
            answers.append(httpx.get(url + "/?run=live", timeout=60).status_code)
            page = httpx.get(f"{url}/pair/{pair_id}", timeout=60)
            version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
            assert version, page.text
            form = {"version": version.group(1), "label": "accept"}
            answers.append(httpx.post(f"{url}/pair/{pair_id}/review", data=form, timeout=60).status_code)
        out = run.stdout.read() if run.stdout else ""
        assert run.returncode == 0, out
        assert len(answers) >= 6 and set(answers) == {200, 303}, answers
        store = Store(wh_path)
        live = store.query("SELECT count(*) FROM preference_pairs WHERE run_id = 'live'").rows[0][0]
        assert live > 0
        # after the run, the app lists what it wrote
        assert httpx.get(url + "/?run=live", timeout=60).text.count('data-href="/pair/') == min(
            live, PAGE_SIZE
        )
    finally:
        run.kill()
        proc.terminate()
        proc.wait(timeout=30)

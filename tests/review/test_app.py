"""The review app's answers to bad input, its paging at scale, and its life beside a writing run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from report.review.app import create_app
from tests.review.conftest import ROOT, oyster, start_server
from warehouse import Store, Warehouse
from warehouse.reviews import PAGE_SIZE, list_items


def client(path: Path) -> TestClient:
    Warehouse(path).migrate()
    # The app answers for this machine's names only (no DNS rebinding), and TestClient's "testserver" is none.
    return TestClient(create_app(path, "tester"), base_url="http://127.0.0.1")


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
    wh.bulk_synthetic_pairs(PAGE_SIZE * 2 + 7)
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
    html = TestClient(create_app(wh.path, "t"), base_url="http://127.0.0.1").get("/?run=bench").text
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
        browser = httpx.Client(timeout=60)  # keeps the app's cookie, as a browser does
        while run.poll() is None:
            answers.append(browser.get(url + "/?run=live").status_code)
            page = browser.get(f"{url}/pair/{pair_id}")
            version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
            assert version, page.text
            form = {"version": version.group(1), "label": "accept"}
            answers.append(browser.post(f"{url}/pair/{pair_id}/review", data=form).status_code)
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


# -- issue 24 items 7 and 11: cross-site writes, DNS rebinding, bad input ---------------------------


def _pair_form(c: TestClient, path: Path) -> tuple[str, dict[str, str]]:
    pair_id = Store(path).query("SELECT pair_id FROM preference_pairs LIMIT 1").rows[0][0]
    version = re.search(r'name="version" value="([0-9a-f]+)"', c.get(f"/pair/{pair_id}").text)
    assert version
    return pair_id, {"version": version.group(1), "label": "reject"}


def test_p2_07_a_cross_site_write_is_refused(wh_path: Path) -> None:
    c = client(wh_path)
    pair_id, form = _pair_form(c, wh_path)
    evil = c.post(
        f"/pair/{pair_id}/review",
        data={**form, "reviewer": "spoofed"},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403 and "another site" in evil.text
    # no token: a form posted from anywhere but the app's own page (curl, another site's script)
    tokenless = TestClient(create_app(wh_path, "tester"), base_url="http://127.0.0.1")
    r = tokenless.post(f"/pair/{pair_id}/review", data=form, follow_redirects=False)
    assert r.status_code == 403 and "reload the page" in r.text
    assert Store(wh_path).query("SELECT count(*) FROM reviews").rows == [(0,)]
    assert Store(wh_path).query("SELECT count(*) FROM dpo WHERE pair_id = ?", [pair_id]).rows == [(1,)]
    # the app's own page, same origin: stored
    ok = c.post(
        f"/pair/{pair_id}/review", data=form, headers={"Origin": "http://127.0.0.1"}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_p2_07_a_foreign_host_is_not_answered(wh_path: Path) -> None:
    Warehouse(wh_path).migrate()
    rebound = TestClient(create_app(wh_path, "tester"), base_url="http://evil.example:8765")
    r = rebound.get("/")
    assert r.status_code == 400 and "evil.example" in r.text and "<html" not in r.text
    for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert client(wh_path).get("/", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"version=abc&label=reject&note=\xff\xfe", 400, "not valid UTF-8"),
        (b"version=abc&label=wrong&judge=safety&iteration=%C2%B2", 400, "iteration must be a whole number"),
        (b"version=abc&label=reject&note=" + b"n" * 5000, 400, "the note has 5,000 characters"),
        (b"version=abc&label=reject&note=" + b"n" * 70_000, 413, "over 65,536 bytes"),
    ],
    ids=["invalid utf-8", "superscript iteration", "long note", "huge body"],
)
def test_p2_11_bad_form_input_is_a_400_not_a_500(
    wh_path: Path, body: bytes, status: int, needle: str
) -> None:
    c = client(wh_path)
    pair_id, _ = _pair_form(c, wh_path)
    r = c.post(
        f"/pair/{pair_id}/review",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == status, r.text
    assert needle in r.text
    assert Store(wh_path).query("SELECT count(*) FROM reviews").rows == [(0,)]


def test_p2_11_a_huge_body_is_refused_before_it_is_read(wh_path: Path) -> None:
    """A 300 MB upload announced by Content-Length is answered at once, without reading it."""
    proc, url = start_server(wh_path)
    try:
        import socket
        from urllib.parse import urlsplit

        where = urlsplit(url)
        with socket.create_connection((where.hostname, where.port), timeout=30) as s:
            s.sendall(
                b"POST /pair/x/review HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 300000000\r\n\r\nnote="
            )
            answer = s.recv(4096).decode("latin-1")
        assert answer.startswith("HTTP/1.1 413"), answer
    finally:
        proc.terminate()
        proc.wait(timeout=30)

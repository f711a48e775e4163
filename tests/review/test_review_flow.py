"""The review flow (issue 23 item 8): a scenario's ranked pairs grouped in the list with rank and
iterations, a decision moving on to the next unreviewed pair, the progress count, JSON for the page's
script so that it updates without a reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from report.review.app import create_app
from tests.review.conftest import scripted_run
from warehouse import Store, Warehouse
from warehouse.reviews import list_items, next_unreviewed, review_progress


@pytest.fixture(scope="module")
def iterated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mock whose replies improve at every iteration, at T = 3: every trajectory ranks three pairs."""
    tmp = tmp_path_factory.mktemp("flow")
    path = tmp / "wh.duckdb"
    scripted_run(path, tmp, "tests.review.climbing_model:climbing", limit=24, iterations=3)
    Warehouse(path).migrate()
    return path


def _version(html: str) -> str:
    found = re.search(r'name="version" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def test_item8_the_list_groups_a_scenarios_ranked_pairs_with_rank_and_iterations(iterated: Path) -> None:
    store = Store(iterated)
    run_id, scenario_id, n = store.query(
        "SELECT run_id, scenario_id, count(*) AS n FROM preference_pairs GROUP BY ALL "
        "ORDER BY n DESC, scenario_id LIMIT 1"
    ).rows[0]
    assert n >= 3
    html = TestClient(create_app(iterated, "tester"), base_url="http://127.0.0.1").get("/").text
    groups = re.findall(r'<tbody class="group" data-scenario="([^"]+)">(.*?)</tbody>', html, re.S)
    scenarios = [s for s, _ in groups]
    assert len(scenarios) == len(set(scenarios))  # one group per scenario
    body = dict(groups)[scenario_id]
    assert body.count("data-href=") == n
    assert body.count(f">{scenario_id}</a>") == 1  # the scenario once, not once per pair
    pairs = store.query(
        "SELECT rank, chosen_iteration, rejected_iteration FROM preference_pairs "
        "WHERE run_id = ? AND scenario_id = ? ORDER BY rank",
        [run_id, scenario_id],
    ).rows
    for rank, chosen, rejected in pairs:
        assert f"#{rank}</a> of {n}" in body and f"it. {chosen} vs it. {rejected}" in body
    total = store.query("SELECT count(*) FROM preference_pairs").rows[0][0]
    assert f"0 of {total} ranked pair(s) reviewed" in re.sub(r"<[^>]+>", "", html)


def test_item8_paging_never_splits_a_scenarios_pairs(iterated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warehouse.reviews as reviews

    monkeypatch.setattr(reviews, "PAGE_SIZE", 5)
    store = Store(iterated)
    seen: list[str] = []
    after = None
    while True:
        page = list_items(store, "pairs", {}, after)
        keys = {(r["run_id"], r["scenario_id"]) for r in page.rows}
        assert len(keys) <= 5
        seen += [r["pair_id"] for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen) == sorted(r[0] for r in store.query("SELECT pair_id FROM preference_pairs").rows)


def test_item8_a_decision_moves_on_to_the_next_unreviewed_pair(iterated: Path, tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    path.write_bytes(iterated.read_bytes())
    store = Store(path)
    c = TestClient(create_app(path, "tester"), base_url="http://127.0.0.1")
    first = next_unreviewed(store)
    assert first is not None
    second = next_unreviewed(store, first)
    assert second not in (None, first)
    # the page's script asks for JSON: the next pair and the progress, no redirect
    r = c.post(
        f"/pair/{first}/review",
        data={"version": _version(c.get(f"/pair/{first}").text), "label": "accept"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    total = review_progress(store)["total"]
    assert answer["next"] == f"/pair/{second}" and answer["progress"] == {
        "total": total,
        "reviewed": 1,
        "left": total - 1,
    }
    # a plain form (no script) is sent on to the next unreviewed pair too
    r = c.post(
        f"/pair/{second}/review",
        data={"version": _version(c.get(f"/pair/{second}").text), "label": "reject"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/pair/{next_unreviewed(store, second)}"
    assert f"2 of {total} ranked pair(s) reviewed" in re.sub(r"<[^>]+>", "", c.get("/").text)
    # a verdict's review stays on its pair
    page = c.get(f"/pair/{second}").text
    chosen = re.search(r'name="iteration" value="(\d+)"', page)
    assert chosen
    r = c.post(
        f"/pair/{second}/review",
        data={"version": _version(page), "label": "right", "judge": "safety", "iteration": chosen.group(1)},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json()["next"] is None

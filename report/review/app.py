"""The review app: Starlette routes over warehouse.reviews, Jinja templates, static files from the package.

The DuckDB file is opened for each request and closed before the response, so `oyster run` can write
between requests; one lock keeps this process's own requests from opening it twice at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from warehouse import Store, WarehouseError
from warehouse.reviews import (
    FILTERS,
    JUDGE_LABELS,
    PairNotFound,
    ReviewError,
    StaleReview,
    add_review,
    filter_choices,
    list_items,
    next_unreviewed,
    pair_detail,
    review_progress,
    scenario_pairs,
)

_HERE = Path(str(resources.files("report.review")))


def create_app(warehouse: str | Path, reviewer: str) -> Starlette:
    store = Store(warehouse)
    lock = threading.Lock()
    env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape())

    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(reviewer=reviewer, **ctx), status_code=status)

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            try:
                with lock:
                    return handler(request)
            except PairNotFound as exc:
                return page("error.html", 404, title="Pair not found", message=str(exc))
            except StaleReview as exc:
                return page(
                    "error.html",
                    409,
                    title="This page is out of date",
                    message=str(exc),
                    back=request.url.path.rsplit("/", 1)[0],
                )
            except ReviewError as exc:
                return page("error.html", 400, title="Review not stored", message=str(exc))
            except WarehouseError as exc:
                return page("error.html", 503, title="Warehouse unavailable", message=str(exc))

        return run

    def items(request: Request) -> Response:
        q = request.query_params
        kind = q.get("kind", "pairs")
        filters = {k: q.get(k, "") for k in FILTERS}
        result = list_items(store, kind, filters, q.get("after"))
        base = {"kind": kind, **result.filters}
        next_url = f"/?{urlencode({**base, 'after': result.next_after})}" if result.next_after else None
        # One group per scenario: its ranked pairs together, best rank first.
        groups = [list(g) for _, g in groupby(result.rows, key=lambda r: (r["run_id"], r["scenario_id"]))]
        return page(
            "list.html",
            kind=kind,
            page=result,
            groups=groups,
            choices=filter_choices(store),
            filters=filters,
            next_url=next_url,
            first_url=f"/?{urlencode(base)}",
            paged=bool(q.get("after")),
            progress=review_progress(store),
            next_pair=next_unreviewed(store),
        )

    def pair(request: Request) -> Response:
        detail = pair_detail(store, request.path_params["pair_id"])
        found = detail["pair"]
        return page(
            "pair.html",
            judge_labels=JUDGE_LABELS,
            siblings=scenario_pairs(store, found["run_id"], found["scenario_id"]),
            progress=review_progress(store),
            next_pair=next_unreviewed(store, found["pair_id"]),
            **detail,
        )

    async def review(request: Request) -> Response:
        # Forms are urlencoded: parsed here rather than with python-multipart, which only that would need.
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        pair_id = request.path_params["pair_id"]

        def store_it(_: Request) -> Response:
            iteration = form.get("iteration")
            add_review(
                store,
                pair_id=pair_id,
                version=form.get("version", ""),
                reviewer=form.get("reviewer") or reviewer,
                label=form.get("label", ""),
                note=form.get("note"),
                iteration=int(iteration) if iteration and iteration.isdigit() else None,
                judge=form.get("judge") or None,
                correct_label=form.get("correct_label") or None,
            )
            # A decision on the pair moves on to the next pair no one has reviewed; a verdict's review
            # stays on the pair. The page's script asks for JSON and updates itself without a reload.
            decided = not form.get("judge")
            upcoming = next_unreviewed(store, pair_id) if decided else None
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse(
                    {
                        "pair_id": pair_id,
                        "label": form.get("label", ""),
                        "reviewer": form.get("reviewer") or reviewer,
                        "next": f"/pair/{upcoming}" if upcoming else None,
                        "progress": review_progress(store),
                    }
                )
            return RedirectResponse(f"/pair/{upcoming or pair_id}", status_code=303)

        return await run_in_threadpool(guarded(store_it), request)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page("error.html", 404, title="Not found", message=f"nothing at {request.url.path}")

    return Starlette(
        routes=[
            Route("/", guarded(items)),
            Route("/pair/{pair_id}", guarded(pair)),
            Route("/pair/{pair_id}/review", review, methods=["POST"]),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ],
        exception_handlers={404: not_found},
    )

"""The review app: Starlette routes over warehouse.reviews, Jinja templates, static files from the package.

The DuckDB file is opened for each request and closed before the response, so `oyster run` can write
between requests; one lock keeps this process's own requests from opening it twice at once.

Writes are this app's own forms only (WriteGuard): a request must name this machine in its Host (no
DNS rebinding), a write must come from the same origin and carry the per-process token of the cookie
the app's pages set (SameSite=Strict: another site's page cannot send it), and a body is capped;
a form that no page sends (not UTF-8, a huge note, a malformed field) is a 400, never a 500.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import threading
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.judges import reviewed_judges
from warehouse import Store, WarehouseError
from warehouse.reviews import (
    FILTERS,
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

#: the largest request body a form may send (a review is a label, a version and a short note)
MAX_BODY_BYTES = 64 * 1024
MAX_NOTE_CHARS = 4000
MAX_NAME_CHARS = 200
#: the cookie that carries this process's token; SameSite=Strict: a page on another site never sends it
TOKEN_COOKIE = "oyster_review_token"
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def _host_name(host: str) -> str:
    """The name part of a Host header or an origin's netloc (no port, no IPv6 brackets), lower case."""
    if host.startswith("["):
        return host[1 : host.find("]")].lower() if "]" in host else host.lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_host_names(bind: str) -> frozenset[str]:
    """The names a request's Host may carry: this machine's, and the address the app is bound to.

    An IP literal is always accepted (DNS rebinding needs a name that an attacker's DNS resolves to
    this machine); any other name must be one of these, so a page on evil.example is not answered.
    """
    names = set(_LOCAL_NAMES)
    if bind.lower() in _WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(_host_name(bind))
    return frozenset(names)


class WriteGuard:
    """ASGI middleware: answer only requests addressed to this machine, and accept a write (any method
    but GET/HEAD) only from this app's own pages: same Origin as the Host when the browser sends one,
    the per-process token from the cookie the app's pages set, and a body no larger than the cap."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], token: str) -> None:
        self.app, self.hosts, self.token = app, hosts, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        name = _host_name(host)
        if not host or not (name in self.hosts or _is_ip(name)):
            await _refuse(scope, receive, send, 400, f"this app does not answer for host {host[:100]!r}")
            return
        if scope["method"] not in ("GET", "HEAD"):
            length = headers.get("content-length", "")
            problem: str | None
            if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                problem, status = f"the request body is over {MAX_BODY_BYTES:,} bytes", 413
            else:
                problem, status = self._write_problem(headers, host), 403
            if problem is not None:
                await _refuse(scope, receive, send, status, problem)
                return
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                )
            await send(message)

        await self.app(scope, receive, with_cookie)

    def _write_problem(self, headers: Headers, host: str) -> str | None:
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return f"a write from another site ({origin[:100]}) is refused"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "a write from another site is refused"
        sent = SimpleCookie()
        with contextlib.suppress(CookieError):
            sent.load(headers.get("cookie", ""))
        given = sent[TOKEN_COOKIE].value if TOKEN_COOKIE in sent else ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "this form is not from this review app's page (or the app was restarted): reload the page"
        return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await PlainTextResponse(message + "\n", status_code=status)(scope, receive, send)


class BadForm(ReviewError):
    """A form that no page of the app sends: not UTF-8, too large, a malformed field."""


async def _read_form(request: Request) -> dict[str, str]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadForm(f"the request body is over {MAX_BODY_BYTES:,} bytes")
    try:
        text = bytes(body).decode("utf-8")
        # Forms are urlencoded: parsed here rather than with python-multipart, which only that would need.
        form = dict(parse_qsl(text, max_num_fields=20, errors="strict"))
    except UnicodeDecodeError:
        raise BadForm("the form is not valid UTF-8") from None
    except ValueError as exc:
        raise BadForm(f"the form cannot be read: {exc}") from None
    note = form.get("note") or ""
    if len(note) > MAX_NOTE_CHARS:
        raise BadForm(f"the note has {len(note):,} characters (at most {MAX_NOTE_CHARS:,})")
    for name in ("reviewer", "label", "version", "judge", "correct_label", "iteration"):
        if len(form.get(name) or "") > MAX_NAME_CHARS:
            raise BadForm(f"the field {name} is over {MAX_NAME_CHARS} characters")
    iteration = form.get("iteration")
    if iteration and not (iteration.isascii() and iteration.isdigit()):
        raise BadForm(f"iteration must be a whole number, not {iteration[:20]!r}")
    return form


def create_app(warehouse: str | Path, reviewer: str, host: str = "127.0.0.1") -> Starlette:
    """The app over the warehouse file; ``host`` is the address it is bound to (the Host names it answers)."""
    views = ReviewPages(Store(warehouse), reviewer)

    async def not_found(request: Request, exc: Exception) -> Response:
        return views.page("error.html", 404, title="Not found", message=f"nothing at {request.url.path}")

    app = Starlette(
        routes=[
            Route("/", views.guarded(views.items)),
            Route("/pair/{pair_id}", views.guarded(views.pair)),
            Route("/pair/{pair_id}/review", views.review, methods=["POST"]),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    app.add_middleware(WriteGuard, hosts=allowed_host_names(host), token=secrets.token_urlsafe(32))
    return app


class ReviewPages:
    """The app's pages over one warehouse: the list, a pair, and a review stored (one at a time)."""

    def __init__(self, store: Store, reviewer: str) -> None:
        self.store, self.reviewer = store, reviewer
        self.lock = threading.Lock()
        self.judges = [j.review for j in reviewed_judges() if j.review is not None]
        self.by_name = {j.name: j for j in self.judges}
        self.env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape())

    def page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(reviewer=self.reviewer, **ctx)
        return HTMLResponse(html, status_code=status)

    def guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """The handler under the store's lock, with each known error as its own error page."""

        def run(request: Request) -> Response:
            try:
                with self.lock:
                    return handler(request)
            except PairNotFound as exc:
                return self.page("error.html", 404, title="Pair not found", message=str(exc))
            except StaleReview as exc:
                back = request.url.path.rsplit("/", 1)[0]
                return self.page(
                    "error.html", 409, title="This page is out of date", message=str(exc), back=back
                )
            except ReviewError as exc:
                return self.page("error.html", 400, title="Review not stored", message=str(exc))
            except WarehouseError as exc:
                return self.page("error.html", 503, title="Warehouse unavailable", message=str(exc))

        return run

    def items(self, request: Request) -> Response:
        q, store = request.query_params, self.store
        kind = q.get("kind", "pairs")
        filters = {k: q.get(k, "") for k in FILTERS}
        result = list_items(store, kind, filters, q.get("after"), self.judges)
        base = {"kind": kind, **result.filters}
        next_url = f"/?{urlencode({**base, 'after': result.next_after})}" if result.next_after else None
        # One group per scenario: its ranked pairs together, best rank first.
        groups = [list(g) for _, g in groupby(result.rows, key=lambda r: (r["run_id"], r["scenario_id"]))]
        return self.page(
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

    def pair(self, request: Request) -> Response:
        detail = pair_detail(self.store, request.path_params["pair_id"], self.judges)
        found = detail["pair"]
        return self.page(
            "pair.html",
            siblings=scenario_pairs(self.store, found["run_id"], found["scenario_id"]),
            progress=review_progress(self.store),
            next_pair=next_unreviewed(self.store, found["pair_id"]),
            **detail,
        )

    async def review(self, request: Request) -> Response:
        try:
            form = await _read_form(request)
        except BadForm as exc:
            status = 413 if "bytes" in str(exc) else 400
            return self.page("error.html", status, title="Review not stored", message=str(exc))
        return await run_in_threadpool(self.guarded(lambda r: self._store_review(r, form)), request)

    def _store_review(self, request: Request, form: dict[str, str]) -> Response:
        pair_id, store = request.path_params["pair_id"], self.store
        iteration = form.get("iteration")
        judge = form.get("judge") or None
        if judge is not None and judge not in self.by_name:
            raise ReviewError(f"reviewers mark {' and '.join(self.by_name)} verdicts, not {judge} ones")
        add_review(
            store,
            pair_id=pair_id,
            version=form.get("version", ""),
            reviewer=form.get("reviewer") or self.reviewer,
            label=form.get("label", ""),
            note=form.get("note"),
            iteration=int(iteration) if iteration else None,
            judge=self.by_name[judge] if judge else None,
            correct_label=form.get("correct_label") or None,
        )
        # A decision on the pair moves on to the next pair no one has reviewed; a verdict's review
        # stays on the pair. The page's script asks for JSON and updates itself without a reload.
        upcoming = next_unreviewed(store, pair_id) if not judge else None
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {
                    "pair_id": pair_id,
                    "label": form.get("label", ""),
                    "reviewer": form.get("reviewer") or self.reviewer,
                    "next": f"/pair/{upcoming}" if upcoming else None,
                    "progress": review_progress(store),
                }
            )
        return RedirectResponse(f"/pair/{upcoming or pair_id}", status_code=303)

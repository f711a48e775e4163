"""Keys never stored or printed (issue 11 item 9): an endpoint that echoes the Authorization header in
its error body, run through the real pipeline into a real warehouse and the real command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from aiohttp import web

from schemas.records import Failure, FailureKind, LLMCall
from schemas.secrets import redact, register_secret
from tests.agents.test_openai_backend import serving
from tests.cli.test_app import assert_one_line_error, oyster

SK_KEY = "sk-test-9f3Kq2LmZx81vQ0aTTbn"
PLAIN_KEY = "plainprovidersecret-7781"  # no known shape: only registration can redact it


def echoing_app(models_ok: bool) -> web.Application:
    """Answers 401 quoting the request's Authorization header and its bare token."""

    async def reject(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        token = header.split()[-1] if header else ""
        message = f"Authorization: {header} rejected; key {token} is not valid"
        return web.json_response({"error": {"message": message}}, status=401)

    async def models(request: web.Request) -> web.Response:
        if not models_ok:
            return await reject(request)
        return web.json_response({"data": [{"id": "stub"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", reject)
    return app


@pytest.fixture
def chat_rejects() -> Iterator[str]:
    with serving(echoing_app(models_ok=True)) as url:
        yield url


def write_config(path: Path, url: str, key_env: str) -> Path:
    role = f"{{backend: openai, base_url: '{url}', model: stub, max_retries: 0, api_key_env: {key_env}}}"
    path.write_text(
        "".join(f"  {r}: {role}\n" for r in ("user", "leader", "risk", "critic")).join(["roles:\n", ""])
    )
    return path


def warehouse_text(path: Path) -> str:
    """Every row of every table of the warehouse file, as text."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return "\n".join(str(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


@pytest.mark.parametrize(("key_env", "key"), [("OPENAI_API_KEY", SK_KEY), ("PROVIDER_TOKEN_X", PLAIN_KEY)])
def test_09_echoed_key_is_in_no_table_and_no_output(
    tmp_path: Path, chat_rejects: str, key_env: str, key: str
) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = write_config(tmp_path / "c.yaml", chat_rejects, key_env)
    p = oyster("run", "--config", str(cfg), "--limit", "2", "--warehouse", str(wh), env={key_env: key})
    # every call is rejected, so no scenario completes: the run is stored failed and exits 3
    assert p.returncode == 3, p.stderr
    stored = warehouse_text(wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        failures = con.execute("SELECT kind, message FROM failures").fetchall()
        errors = con.execute("SELECT error FROM llm_calls").fetchall()
        trajectories = con.execute("SELECT count(*) FROM trajectories").fetchone()
    # the endpoint's reply did reach every store, redacted
    assert trajectories == (2,)
    assert failures and all(kind == FailureKind.ENDPOINT_ERROR for kind, _ in failures)
    assert all("HTTP 401" in m and "rejected; key *** is not valid" in m for _, m in failures)
    assert errors and all("HTTP 401" in e for (e,) in errors)
    assert key not in stored
    assert key not in p.stdout + p.stderr


def test_09_echoed_key_is_not_printed_by_a_failing_preflight(tmp_path: Path) -> None:
    with serving(echoing_app(models_ok=False)) as url:
        cfg = write_config(tmp_path / "c.yaml", url, "PROVIDER_TOKEN_X")
        wh = tmp_path / "w.duckdb"
        p = oyster(
            "run",
            "--config",
            str(cfg),
            "--limit",
            "1",
            "--warehouse",
            str(wh),
            env={"PROVIDER_TOKEN_X": PLAIN_KEY},
        )
    assert_one_line_error(p, "role user", "HTTP 401", "key *** is not valid")
    assert PLAIN_KEY not in p.stdout + p.stderr


def test_09_redaction_of_registered_and_shaped_secrets() -> None:
    register_secret("short")  # too short to be a key: ordinary words stay
    register_secret("registered-value-42")
    text = "short Bearer abc.DEF-123 basic dXNlcjpwYXNz sk-proj-AbC123xyz registered-value-42 task-ok"
    assert redact(text) == "short Bearer *** basic *** *** *** task-ok"


def test_09_records_redact_what_they_are_given() -> None:
    failure = Failure(
        role="leader", step="s", kind=FailureKind.ENDPOINT_ERROR, message="HTTP 401: Bearer sk-abcdefgh1"
    )
    call = LLMCall(
        role="leader", step="s", prompt_hash="h", backend="openai", model="m", error="key sk-abcdefgh1"
    )
    assert (failure.message, call.error) == ("HTTP 401: Bearer ***", "key ***")
    assert "sk-abcdefgh1" not in failure.model_dump_json() + call.model_dump_json()

"""The second hostile probe (issue 24): nothing lost, nothing run twice, no write stalled.

Each test reproduces a numbered defect of the issue through the command line where a user meets it
(`oyster run`, `oyster sql`, `oyster export`), against real DuckDB files, scripted models with bad
luck (benchmarks/probe_models.py) and 127.0.0.1 stubs.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from aiohttp import web

from benchmarks.stub_server import make_app
from runtime.executor import BatchWriter, WriteFailed, execute
from runtime.run_lock import RunLocked, run_lock
from tests.agents.test_openai_backend import serving
from tests.agents.test_secrets import warehouse_text
from tests.cli.test_app import assert_one_line_error, oyster
from tests.conftest import scripted_pairs
from warehouse import Warehouse

ROLES = ("user", "leader", "risk", "critic")


def scripted_config(path: Path, model: str, extra: str = "", **role: object) -> Path:
    settings = "".join(f", {k}: {v}" for k, v in role.items())
    body = "".join(f"  {r}: {{backend: scripted, model: '{model}'{settings}}}\n" for r in ROLES)
    path.write_text(f"roles:\n{body}lingo_bp: {{iterations: 1}}\n{extra}", encoding="utf-8")
    return path


def openai_config(path: Path, url: str, key_env: str = "OPENAI_API_KEY") -> Path:
    role = f"{{backend: openai, base_url: '{url}', model: stub, max_retries: 0, api_key_env: {key_env}}}"
    body = "".join(f"  {r}: {role}\n" for r in ROLES)
    path.write_text(f"roles:\n{body}lingo_bp: {{iterations: 1}}\ncache: false\n", encoding="utf-8")
    return path


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


# -- 1. Ctrl-C -------------------------------------------------------------------------------------


def test_p2_01_ctrl_c_stops_at_once_keeps_what_finished_and_resume_runs_the_rest(tmp_path: Path) -> None:
    from benchmarks.interrupt_bench import measure, verdict

    figures = measure(scenarios=240, concurrency=4, after=4.0, folder=tmp_path)
    assert verdict(figures) == [], figures
    assert "rerun with the same --run-id" in figures["last_line"]
    assert figures["stored_after_interrupt"] > 0 and figures["resume_ran"] > 0


# -- 2. token counts -------------------------------------------------------------------------------


def test_p2_02_an_impossible_token_count_is_an_anomaly_not_a_stalled_writer(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", "benchmarks.probe_models:huge_tokens")
    start = time.monotonic()
    p = oyster("run", "--config", str(cfg), "--limit", "3", "--warehouse", str(wh), "--run-id", "big")
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - start < 90
    assert "busy" not in p.stdout + p.stderr
    assert rows(wh, "SELECT count(*) FROM trajectory_records WHERE status = 'completed'") == [(3,)]
    assert rows(wh, "SELECT status FROM runs") == [("completed",)]
    # stored as 0 (no endpoint means 3e9), and said so once per call in failures
    calls = rows(wh, "SELECT count(*), max(prompt_tokens), max(cached_tokens) FROM llm_calls")[0]
    anomalies = rows(
        wh,
        "SELECT count(*) FILTER (message LIKE '%reported prompt_tokens=3000000000, outside 0 to 1%'), "
        "count(*) FILTER (message LIKE '%cached_prompt_tokens=1099511627776%') FROM failures "
        "WHERE kind = 'anomaly'",
    )[0]
    assert calls[0] > 0 and calls[1:] == (0, None)
    assert anomalies == (calls[0], calls[0])


def test_p2_02_an_endpoint_reporting_3e9_prompt_tokens_is_stored(tmp_path: Path) -> None:
    @web.middleware
    async def huge_usage(request: web.Request, handler: object) -> web.StreamResponse:
        response = await handler(request)  # type: ignore[operator]
        if request.path.endswith("/chat/completions"):
            body = json.loads(response.body)
            body["usage"]["prompt_tokens"] = 3_000_000_000
            return web.json_response(body)
        return response

    app = make_app(0.0)
    app.middlewares.append(huge_usage)
    wh = tmp_path / "w.duckdb"
    with serving(app) as url:
        cfg = openai_config(tmp_path / "c.yaml", url)
        p = oyster("run", "--config", str(cfg), "--limit", "2", "--warehouse", str(wh))
    assert p.returncode == 0, p.stderr
    assert rows(wh, "SELECT count(*) FROM trajectory_records") == [(2,)]
    assert rows(wh, "SELECT count(*) > 0 FROM failures WHERE kind = 'anomaly'") == [(True,)]


def test_p2_02_token_columns_hold_counts_past_32_bits(tmp_path: Path) -> None:
    from schemas.records import LLMCall

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    call = LLMCall(role="leader", step="s", prompt_hash="h", backend="b", model="m", prompt_tokens=2**40)
    wh.write_calls([call.model_copy(update={"cached_tokens": 2**40, "completion_tokens": 2**33})])
    assert wh.query("SELECT prompt_tokens, completion_tokens, cached_tokens FROM llm_calls").rows == [
        (2**40, 2**33, 2**40)
    ]


async def test_p2_02_a_write_error_that_is_not_a_lock_is_not_retried_as_busy() -> None:
    stored: list[int] = []

    def write(batch: list[int]) -> None:
        if 3 in batch:
            raise duckdb.ConversionException("Conversion Error: Type INT64 with value 2147483648 too large")
        stored.extend(batch)

    writer: BatchWriter[int] = BatchWriter(write, batch_size=4, max_wait_s=3600)

    async def same(i: int) -> int:
        return i

    start = time.monotonic()
    with pytest.raises(WriteFailed, match=r"1 finished result.*could not be written.*too large"):
        await execute(list(range(9)), key=str, writer=writer, local=same, concurrency=2)
    assert time.monotonic() - start < 5  # not retried for 10 minutes as "busy"
    assert sorted(stored) == [0, 1, 2, 4, 5, 6, 7, 8]


# -- 3. one lock per warehouse file ----------------------------------------------------------------


def test_p2_03_a_symlink_to_the_warehouse_finds_the_same_run_lock(tmp_path: Path) -> None:
    real = tmp_path / "real" / "w.duckdb"
    real.parent.mkdir()
    Warehouse(real).migrate()
    alias = tmp_path / "alias.duckdb"
    alias.symlink_to(real)
    with run_lock(real, "same"):
        with pytest.raises(RunLocked), run_lock(alias, "same"):
            pass
        p = oyster("run", "--limit", "1", "--run-id", "same", "--warehouse", str(alias), "--no-cache")
        assert_one_line_error(p, "run 'same' is being written by pid", "--run-id")
    assert rows(real, "SELECT count(*) FROM runs") == [(0,)]


# -- 5. oyster sql and --where bounded -------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    path = tmp_path / "gen.duckdb"
    scripted_pairs(path, 2)
    return path


def test_p2_05_an_endless_query_stops_at_its_time_bound(generated: Path) -> None:
    start = time.monotonic()
    p = oyster("sql", "SELECT count(*) FROM range(1000000000000000)", "-w", str(generated), "--timeout", "1")
    assert_one_line_error(p, "the query was stopped after 1 s", "--timeout")
    assert p.returncode == 2 and time.monotonic() - start < 60
    p = oyster(
        "sql",
        "WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t) SELECT count(*) FROM t",
        "-w",
        str(generated),
        env={"OYSTER_SQL_TIMEOUT_S": "1"},
    )
    assert_one_line_error(p, "the query was stopped after 1 s")


def test_p2_05_ctrl_c_stops_a_query_with_exit_130(generated: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "sql",
            "SELECT count(*) FROM range(1000000000000000)",
            "-w",
            str(generated),
            "--timeout",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait for the query to run: its thread and DuckDB's own beside the main one (the command's
    # imports take seconds on a loaded machine).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(os.listdir(f"/proc/{proc.pid}/task")) < 4:
        time.sleep(0.2)
    time.sleep(3)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - start < 10
    assert err.strip().splitlines()[-1] == "interrupted: the query was stopped (the warehouse is unchanged)"
    assert "unexpected" not in err and "Traceback" not in err


def test_p2_05_a_recursive_cte_named_after_the_view_is_refused_in_where(
    generated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.jsonl"
    cond = (
        "pair_id IN (WITH RECURSIVE dpo(pair_id) AS (SELECT 'a' UNION ALL SELECT pair_id || 'a' FROM dpo) "
        "SELECT pair_id FROM dpo)"
    )
    start = time.monotonic()
    p = oyster("export", "--view", "dpo", "--out", str(out), "--where", cond, "-w", str(generated))
    assert_one_line_error(p, "--where", "WITH query (CTE)")
    assert not out.exists() and time.monotonic() - start < 60


# -- 6. redaction of encoded keys, and of keys inside replies ------------------------------------------

KEY = "plainprovidersecret-7781-abcdefgh"


def test_p2_06_an_echoed_key_is_stored_in_no_encoding(tmp_path: Path) -> None:
    """An endpoint that quotes the key URL-encoded, base64- and hex-encoded in its error bodies, and
    one that puts the key in a successful reply."""

    async def reject(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        message = (
            f"denied: {quote(header)} / {base64.b64encode(header.encode()).decode()} / "
            f"{header.split()[-1].encode().hex()}"
        )
        return web.json_response({"error": {"message": message}}, status=401)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "stub"}]})

    denying = web.Application()
    denying.router.add_get("/v1/models", models)
    denying.router.add_post("/v1/chat/completions", reject)

    @web.middleware
    async def leaky(request: web.Request, handler: object) -> web.StreamResponse:
        response = await handler(request)  # type: ignore[operator]
        if request.path.endswith("/chat/completions"):
            body = json.loads(response.body)
            message = body["choices"][0]["message"]
            if not message["content"].startswith("{"):
                message["content"] += f" (debug: key {request.headers['Authorization'].split()[-1]})"
            return web.json_response(body)
        return response

    answering = make_app(0.0)
    answering.middlewares.append(leaky)
    env = {"PROVIDER_TOKEN_X": KEY}
    for name, app in (("denied", denying), ("answered", answering)):
        wh = tmp_path / f"{name}.duckdb"
        with serving(app) as url:
            cfg = openai_config(tmp_path / f"{name}.yaml", url, "PROVIDER_TOKEN_X")
            p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh), env=env)
        # a run whose one scenario failed (every call denied) exits 3 (issue 23 item 3)
        assert p.returncode == (3 if name == "denied" else 0), p.stderr
        stored = warehouse_text(wh) + p.stdout + p.stderr
        for form in (KEY, quote(KEY), KEY.encode().hex(), base64.b64encode(KEY.encode()).decode()[4:-4]):
            assert form not in stored, (name, form)
    assert (
        rows(tmp_path / "answered.duckdb", "SELECT count(*) FROM iterations WHERE response LIKE '%key ***%'")[
            0
        ][0]
        > 0
    )


# -- 9. timeouts and exceptions from a model ------------------------------------------------------------


def test_p2_09_timeout_s_bounds_an_async_scripted_model(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", "benchmarks.probe_models:hangs", timeout_s=2)
    start = time.monotonic()
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh))
    assert p.returncode == 3, p.stderr  # the one scenario failed: a failed run (issue 23 item 3)
    assert time.monotonic() - start < 60
    assert rows(wh, "SELECT kind, message FROM failures") == [
        ("timeout", "scripted model benchmarks.probe_models:hangs: timed out after 2.0 s")
    ]


@pytest.mark.parametrize(
    ("model", "raised"), [("raises_cancelled", "CancelledError"), ("raises_system_exit", "SystemExit")]
)
def test_p2_09_an_exception_from_a_model_is_that_calls_recorded_failure(
    tmp_path: Path, model: str, raised: str
) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", f"benchmarks.probe_models:{model}")
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh))
    assert p.returncode == 3, p.stderr  # the one scenario failed: a failed run (issue 23 item 3)
    assert "Traceback" not in p.stderr and "0 completed, 1 failed" in p.stdout
    failures = rows(wh, "SELECT role, kind, message FROM failures")
    assert len(failures) == 1 and all(
        role == "critic" and kind == "endpoint_error" and f"raised {raised}" in message
        for role, kind, message in failures
    )
    assert rows(wh, "SELECT count(*) FROM llm_calls WHERE NOT ok AND role = 'critic'") == [(1,)]


# -- 10. orphaned preview rows ------------------------------------------------------------------------


def test_p2_10_calls_of_a_killed_attempt_are_superseded_on_resume(tmp_path: Path) -> None:
    from schemas.records import LLMCall

    wh_path = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", "agents.backends.mock:well_behaved")
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh_path), "--run-id", "k")
    assert p.returncode == 0, p.stderr
    scenario = rows(wh_path, "SELECT scenario_id FROM trajectory_records")[0][0]
    (first,) = rows(wh_path, "SELECT count(*) FROM llm_calls")[0]
    # What a killed attempt leaves: preview calls of a scenario it never finished.
    wh = Warehouse(wh_path)
    with wh.connect(read_only=False) as con:
        con.execute("DELETE FROM trajectory_records")
    orphans = [
        LLMCall(
            run_id="k",
            scenario_id=str(scenario),
            role="leader",
            step="leader_answer",
            prompt_hash="h",
            backend="scripted",
            model="m",
        )
        for _ in range(9)
    ]
    wh.write_calls(orphans)
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh_path), "--run-id", "k")
    assert p.returncode == 0, p.stderr
    # every earlier row kept as history, marked; the scenario's own calls are the unmarked ones
    by_mark = dict(rows(wh_path, "SELECT superseded_by_attempt, count(*) FROM llm_calls GROUP BY ALL"))
    assert by_mark == {None: first, 2: first + 9}


# -- 12. export --force --------------------------------------------------------------------------------


def test_p2_12_export_hf_force_follows_no_symlink_and_keeps_no_stale_split(
    generated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "release"
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me", encoding="utf-8")
    (out / "dpo").mkdir(parents=True)
    (out / "README.md").symlink_to(outside)
    stale = out / "dpo" / "test-00000-of-00001.parquet"
    stale.write_bytes(b"an earlier release's split")
    (out / "sft").symlink_to(tmp_path)  # a config folder planted as a link to elsewhere
    p = oyster("export", "--format", "hf", "--out", str(out), "--force", "-w", str(generated))
    assert p.returncode == 0, p.stderr
    assert outside.read_text(encoding="utf-8") == "keep me"
    assert not (out / "README.md").is_symlink() and (out / "README.md").read_text().startswith("---")
    # the earlier split is gone; this release may write its own test split (a real Parquet file)
    assert not stale.exists() or stale.read_bytes()[:4] == b"PAR1"
    assert not (out / "sft").is_symlink()
    assert (tmp_path / "precious.txt").exists()


# -- 13. small ones --------------------------------------------------------------------------------


def test_p2_13_sql_json_is_strict_json(generated: Path) -> None:
    p = oyster(
        "sql",
        "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, ['-inf'::DOUBLE] AS c",
        "-f",
        "json",
        "-w",
        str(generated),
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON")) == [
        {"a": None, "b": None, "c": [None]}
    ]


def test_p2_13_negative_token_counts_are_not_stored(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", "benchmarks.probe_models:negative_tokens")
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh))
    assert p.returncode == 0, p.stderr
    assert rows(wh, "SELECT min(completion_tokens) >= 0, count(*) > 0 FROM llm_calls") == [(True, True)]
    assert rows(wh, "SELECT count(*) > 0 FROM failures WHERE kind = 'anomaly'") == [(True,)]


def test_p2_13_a_reply_with_a_lone_surrogate_is_recorded(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = scripted_config(tmp_path / "c.yaml", "benchmarks.probe_models:lone_surrogate")
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh))
    assert p.returncode == 0, p.stderr
    assert rows(wh, "SELECT count(*) FROM trajectory_records") == [(1,)]
    assert rows(wh, "SELECT count(*) FROM iterations WHERE response LIKE '%\ufffd%'")[0][0] > 0


@pytest.fixture(autouse=True)
def _quiet_env() -> Iterator[None]:
    # the runs here must not read a user's warehouse or progress settings
    old = os.environ.pop("OYSTER_WAREHOUSE", None)
    yield
    if old is not None:
        os.environ["OYSTER_WAREHOUSE"] = old

"""The command line as a user meets it: one clear line and a non-zero exit for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse import LATEST_VERSION, Warehouse


def oyster(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    Warehouse(path).migrate()
    return path


def test_sql_select_in_three_formats(wh: Path) -> None:
    p = oyster("sql", "SELECT 1 AS one, 'a' AS letter", "--warehouse", str(wh))
    assert p.returncode == 0 and "one" in p.stdout and "1 row(s)" in p.stdout
    p = oyster("sql", "SELECT 1 AS one", "--format", "json", "--warehouse", str(wh))
    assert json.loads(p.stdout) == [{"one": 1}]
    p = oyster("sql", "SELECT 1 AS one", "--format", "csv", "--warehouse", str(wh))
    assert p.stdout.splitlines() == ["one", "1"]


def test_sql_uses_env_warehouse(wh: Path) -> None:
    p = oyster(
        "sql", "SELECT max(version) FROM schema_version", "--format", "csv", env={"OYSTER_WAREHOUSE": str(wh)}
    )
    assert p.returncode == 0 and p.stdout.splitlines()[1] == str(LATEST_VERSION)


def test_sql_refuses_writes_and_nothing_changes(wh: Path) -> None:
    p = oyster("sql", "DROP TABLE runs", "--warehouse", str(wh))
    assert_one_line_error(p, "refused", "read-only")
    assert "runs" in Warehouse(wh).relations()


def test_bad_sql_is_one_line(wh: Path) -> None:
    assert_one_line_error(oyster("sql", "SELEC 1", "--warehouse", str(wh)), "SQL error")


def test_bad_config_is_one_line(tmp_path: Path, wh: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("roles:\n  leader:\n    backend: nosuch\n")
    assert_one_line_error(
        oyster("doctor", "--config", str(cfg), "--warehouse", str(wh)), str(cfg), "roles.leader.backend"
    )
    assert_one_line_error(oyster("run", "--config", str(tmp_path / "none.yaml")), "none.yaml", "not found")


def test_bad_scenario_file_is_one_line(tmp_path: Path, wh: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text('{"id": "a", "text": "hi"}\n{"id": "b"}\n')
    assert_one_line_error(oyster("scenarios", "check", str(f)), f"{f}: line 2", "text")


def test_unreachable_endpoint_is_one_line(tmp_path: Path, wh: Path) -> None:
    cfg = tmp_path / "c.yaml"
    role = "{backend: openai, base_url: 'http://127.0.0.1:9/v1', model: m, max_retries: 0, timeout_s: 5}"
    cfg.write_text(f"roles:\n  leader: {role}\n  user: {role}\n  risk: {role}\n  critic: {role}\n")
    p = oyster("run", "--config", str(cfg), "--limit", "1", "--warehouse", str(wh))
    assert_one_line_error(p, "role user", "127.0.0.1:9", "unreachable")
    d = oyster("doctor", "--config", str(cfg), "--warehouse", str(wh))
    assert d.returncode == 1 and "unreachable" in d.stdout


def test_missing_or_corrupt_model_is_one_line(tmp_path: Path, wh: Path) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / "qwen2.5-coder-0.5b.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    p = oyster("run", "--limit", "1", "--warehouse", str(wh), env={"OYSTER_MODEL_CACHE": str(cache)})
    assert_one_line_error(p, "qwen2.5-coder-0.5b.gguf", "expected 491,400,064", "corrupt")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"roles:\n  leader: {{model: {tmp_path / 'nope.gguf'}}}\n")
    assert_one_line_error(
        oyster("run", "--config", str(cfg), "--warehouse", str(wh)), "nope.gguf", "not found"
    )


def test_debug_shows_traceback(wh: Path) -> None:
    p = oyster("--debug", "sql", "SELEC 1", "--warehouse", str(wh))
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_bad_prompt_override_is_one_line(tmp_path: Path, wh: Path) -> None:
    d = tmp_path / "prompts"
    d.mkdir()
    (d / "leader_synthesize.j2").write_text("{% block user %}{{ chain }} {{ nonsense }}{% endblock %}")
    p = oyster("run", "--prompts", str(d), "--limit", "1", "--warehouse", str(wh))
    assert_one_line_error(p, "leader_synthesize.j2", "nonsense")


def test_export_command(tmp_path: Path, wh: Path) -> None:
    out = tmp_path / "dpo.jsonl"
    p = oyster("export", "--view", "dpo", "--format", "jsonl", "--out", str(out), "--warehouse", str(wh))
    assert p.returncode == 0 and "wrote 0 row(s) of dpo" in p.stdout and out.exists()
    p = oyster("export", "--view", "dpo", "--format", "xml", "--out", str(out), "--warehouse", str(wh))
    assert p.returncode != 0 and "unknown format 'xml'" in p.stderr
    assert_one_line_error(
        oyster("export", "--view", "nope", "--out", str(out), "--warehouse", str(wh), "--force"),
        "no view or table named 'nope'",
    )


def test_13_export_refuses_to_overwrite_without_force(tmp_path: Path, wh: Path) -> None:
    out = tmp_path / "dpo.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    p = oyster("export", "--view", "dpo", "--out", str(out), "--warehouse", str(wh))
    assert_one_line_error(p, str(out), "already exists", "--force")
    assert out.read_text(encoding="utf-8") == "keep me\n"
    p = oyster("export", "--view", "dpo", "--out", str(out), "--warehouse", str(wh), "--force")
    assert p.returncode == 0 and out.read_text(encoding="utf-8") == ""


def test_11_export_path_under_a_file_or_not_writable_is_one_line(tmp_path: Path, wh: Path) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x", encoding="utf-8")
    p = oyster("export", "--view", "dpo", "--out", str(a_file / "dpo.jsonl"), "--warehouse", str(wh))
    assert_one_line_error(p, "is a file, not a directory")
    p = oyster("export", "--view", "dpo", "--out", str(tmp_path), "--warehouse", str(wh))
    assert_one_line_error(p, "is a directory")


def test_12_reading_a_mistyped_warehouse_says_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "typo.duckdb"
    for args in (
        ("sql", "SELECT 1"),
        ("export", "--view", "dpo", "--out", str(tmp_path / "x.jsonl")),
        ("report", "--out", str(tmp_path / "r.html")),
    ):
        p = oyster(*args, "--warehouse", str(missing))
        assert_one_line_error(p, str(missing), "does not exist")
    assert not missing.exists() and not (tmp_path / "x.jsonl").exists()


def test_15_sql_table_output_escapes_control_characters(wh: Path) -> None:
    query = "SELECT chr(27) || '[31mred' || chr(7) AS x, '[bold]markup' AS y"
    p = oyster("sql", query, "--warehouse", str(wh))
    assert p.returncode == 0
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout
    assert "\\x1b[31mred\\x07" in p.stdout and "[bold]markup" in p.stdout


def test_11_scenario_or_config_path_that_is_a_directory_or_not_utf8(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"id": "a", "text": "caf\xe9"}\n'.encode("latin-1"))
    assert_one_line_error(oyster("scenarios", "check", str(tmp_path)), str(tmp_path), "is a directory")
    assert_one_line_error(oyster("scenarios", "check", str(latin)), "not UTF-8")
    assert_one_line_error(oyster("run", "--config", str(tmp_path)), "is a directory")
    assert_one_line_error(oyster("run", "--config", str(latin)), "not UTF-8")


def test_11_lone_surrogate_scenario_is_invalid_for_check_and_run_alike(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok", "text": "hello"}\n{"id": "bad", "text": "broken \\ud800 text"}\n', "utf-8")
    check = oyster("scenarios", "check", str(bad))
    run = oyster("run", "--scenarios", str(bad), "--warehouse", str(tmp_path / "w.duckdb"))
    for p in (check, run):
        assert_one_line_error(p, f"{bad}: line 2", "lone surrogate")
    assert not (tmp_path / "w.duckdb").exists()


def test_08_endless_prompt_override_fails_in_seconds_leaving_no_run_running(tmp_path: Path, wh: Path) -> None:
    import duckdb

    d = tmp_path / "prompts"
    d.mkdir()
    (d / "leader_synthesize.j2").write_text(
        "{% block user %}{% for i in range(1000) %}{% for j in range(1000) %}{{ query }}"
        "{% endfor %}{% endfor %}{% endblock %}"
    )
    start = time.monotonic()
    p = oyster("run", "--prompts", str(d), "--limit", "1", "--warehouse", str(wh))
    assert time.monotonic() - start < 30  # the interpreter's start-up included; the render stops in ms
    assert_one_line_error(p, "leader_synthesize.j2", "rendering stopped", "100,000 loop iterations")
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone() == (0,)


def test_05_truncated_warehouse_is_one_line_for_sql_and_run(tmp_path: Path) -> None:
    from tests.conftest import scripted_pairs

    path = scripted_pairs(tmp_path / "half.duckdb", 2).path
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    before = path.read_bytes()
    config = tmp_path / "mock.yaml"
    mock = "{backend: scripted, model: 'agents.backends.mock:well_behaved'}"
    config.write_text(
        "roles:\n" + "".join(f"  {r}: {mock}\n" for r in ("user", "leader", "risk", "critic")),
        encoding="utf-8",
    )
    expected = (f"{path}: not a valid Oyster warehouse", "restore it from a backup")
    assert_one_line_error(oyster("sql", "SELECT count(*) FROM runs", "-w", str(path)), *expected)
    run = oyster("run", "-c", str(config), "-w", str(path), "--limit", "1", "--run-id", "later")
    assert_one_line_error(run, *expected)
    assert path.read_bytes() == before

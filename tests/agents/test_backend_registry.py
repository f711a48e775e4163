"""Backends are built by name from a registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import agents.backends.registry as registry
import schemas.roles
from agents.backends import (
    BackendError,
    ChatRequest,
    EmbeddedBackend,
    OpenAIBackend,
    ScriptedBackend,
    backend_names,
    make_backend,
    register_backend,
)
from agents.backends.llama_server import ServedBackend
from agents.steps import StepName
from runtime.runner import run_lingo_bp
from schemas.config import BUILTIN_BACKENDS, ROLES, ConfigError, RoleModel, load_config, role_model
from schemas.messages import ChatMessage
from schemas.scenario import Scenario
from warehouse import Warehouse


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test that registers a backend must not leave it behind for the others.
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(schemas.roles, "_DECLARED", set(schemas.roles._DECLARED))


def test_every_configurable_backend_is_registered() -> None:
    assert backend_names() == sorted(BUILTIN_BACKENDS) == ["embedded", "langchain", "openai", "scripted"]


def test_each_name_builds_its_backend() -> None:
    assert isinstance(make_backend(role_model(backend="openai", model="m")), OpenAIBackend)
    assert isinstance(make_backend(role_model(backend="embedded", serve="in-process")), EmbeddedBackend)
    assert isinstance(make_backend(role_model(backend="embedded", serve="server")), ServedBackend)
    scripted = make_backend(role_model(backend="scripted", model="agents.backends.mock:well_behaved"))
    assert isinstance(scripted, ScriptedBackend) and scripted.model == "agents.backends.mock:well_behaved"


def test_the_scripted_mock_from_config_answers_by_step() -> None:
    backend = make_backend(role_model(backend="scripted", model="agents.backends.mock:well_behaved"))
    request = ChatRequest(messages=[ChatMessage(role="user", content="hi")], step=StepName.EVAL_TARGET.value)
    result = asyncio.run(backend.complete(request))
    assert result.text.startswith("I can't help with the dangerous part")


def test_unknown_backend_is_a_clear_error_listing_the_known_ones() -> None:
    cfg = RoleModel.model_construct(backend="nosuch")  # past config validation, as a plugin might
    with pytest.raises(
        BackendError, match=r"^unknown backend 'nosuch' \(known: embedded, langchain, openai, scripted\)$"
    ):
        make_backend(cfg)


def test_a_registered_backend_is_built_by_name() -> None:
    built: list[RoleModel] = []

    def factory(cfg: RoleModel) -> ScriptedBackend:
        built.append(cfg)
        return ScriptedBackend(lambda r: "ok", model=cfg.model)

    register_backend("echo", factory)
    cfg = RoleModel.model_construct(backend="echo", model="m")
    backend = make_backend(cfg)
    assert built == [cfg] and backend.model == "m"
    assert "echo" in backend_names()


def test_a_name_cannot_be_taken_twice() -> None:
    register_backend("scripted", ScriptedBackend.from_config)  # the same registration again is harmless
    with pytest.raises(BackendError, match="'scripted' is already registered"):
        register_backend("scripted", EmbeddedBackend)


#: a third-party backend package as pip would install it: the module and its dist-info with the entry point
PLUGIN_MODULE = """
from agents.backends import ScriptedBackend
from agents.backends.mock import well_behaved


def factory(cfg):
    backend = ScriptedBackend(well_behaved, model=cfg.model)
    backend.kind = "echo"
    return backend
"""


@pytest.fixture
def echo_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "oyster_echo.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    info = tmp_path / "oyster_echo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: oyster-echo\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[oyster.backends]\necho = oyster_echo:factory\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_config_names_only_known_backends() -> None:
    with pytest.raises(
        ConfigError, match=r"roles\.user\.backend: Value error, unknown backend 'echo' \(known: "
    ):
        load_config(None, {"roles.user.backend": "echo"})


async def test_an_installed_plugin_backend_runs_without_editing_oyster(
    echo_plugin: Path, warehouse: Warehouse
) -> None:
    assert "echo" in backend_names()
    cfg = load_config(None, {f"roles.{r}": {"backend": "echo", "model": "m"} for r in ROLES})
    assert make_backend(cfg.roles.user).kind == "echo"
    cfg = cfg.model_copy(update={"lingo_bp": cfg.lingo_bp.model_copy(update={"iterations": 1})})
    summary = await run_lingo_bp(cfg, [Scenario(id="s", text="hello")], warehouse, run_id="plugin")
    assert (summary.completed, summary.failed) == (1, 0)
    assert warehouse.query("SELECT DISTINCT backend FROM llm_calls WHERE run_id = 'plugin'").rows == [
        ("echo",)
    ]

"""Backends are built by name from a registry."""

from __future__ import annotations

import asyncio
from typing import get_args

import pytest

import agents.backends.registry as registry
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
from schemas.config import BackendKind, RoleModel
from schemas.messages import ChatMessage


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test that registers a backend must not leave it behind for the others.
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))


def test_every_configurable_backend_is_registered() -> None:
    assert backend_names() == sorted(get_args(BackendKind)) == ["embedded", "langchain", "openai", "scripted"]


def test_each_name_builds_its_backend() -> None:
    assert isinstance(make_backend(RoleModel(backend="openai", model="m")), OpenAIBackend)
    assert isinstance(make_backend(RoleModel(backend="embedded", serve="in-process")), EmbeddedBackend)
    assert isinstance(make_backend(RoleModel(backend="embedded", serve="server")), ServedBackend)
    scripted = make_backend(RoleModel(backend="scripted", model="agents.backends.mock:well_behaved"))
    assert isinstance(scripted, ScriptedBackend) and scripted.model == "agents.backends.mock:well_behaved"


def test_the_scripted_mock_from_config_answers_by_step() -> None:
    backend = make_backend(RoleModel(backend="scripted", model="agents.backends.mock:well_behaved"))
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

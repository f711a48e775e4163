"""A role's model is its backend's settings: a discriminated union on `backend` (issue 20 item 3)."""

from __future__ import annotations

import pytest

import schemas.roles
from schemas.config import (
    ConfigError,
    EmbeddedRole,
    LangChainRole,
    OpenAIRole,
    PluginRole,
    RoleModel,
    ScriptedRole,
    declare_backend,
    load_config,
    role_model,
    settings_of,
)


@pytest.mark.parametrize(
    ("backend", "kind"),
    [
        ("embedded", EmbeddedRole),
        ("openai", OpenAIRole),
        ("langchain", LangChainRole),
        ("scripted", ScriptedRole),
    ],
)
def test_each_builtin_backend_gets_its_own_settings(backend: str, kind: type[RoleModel]) -> None:
    cfg = load_config(None, {"roles.critic.backend": backend, "roles.critic.model": "m"})
    assert type(cfg.roles.critic) is kind and cfg.roles.critic.label() == f"{backend}:m"


def test_a_setting_of_another_backend_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"roles\.leader\.n_ctx: not a setting of the openai backend"):
        load_config(None, {"roles.leader.backend": "openai", "roles.leader.n_ctx": 8192})
    with pytest.raises(ConfigError, match=r"roles\.risk\.http_client: not a setting of the embedded backend"):
        load_config(None, {"roles.risk.http_client": "official"})


def test_a_registered_backend_takes_its_own_options_and_no_literal_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schemas.roles, "_DECLARED", set(schemas.roles._DECLARED))
    declare_backend("tiny-plugin")
    role = role_model(backend="tiny-plugin", model="x", options={"depth": 3})
    assert isinstance(role, PluginRole) and role.options == {"depth": 3}
    with pytest.raises(ValueError, match="looks like a secret"):
        role_model(backend="tiny-plugin", options={"api_key": "sk-123"})


def test_settings_of_gives_a_bare_role_its_backends_defaults() -> None:
    bare = RoleModel(backend="embedded", model="qwen2.5-coder-0.5b", temperature=0.1)
    embedded = settings_of(EmbeddedRole, bare)
    assert embedded.n_ctx == 4096 and embedded.temperature == 0.1
    assert settings_of(EmbeddedRole, embedded) is embedded


def test_a_config_round_trips_through_its_stored_json() -> None:
    cfg = load_config(None, {"roles.leader.backend": "openai", "roles.leader.http_client": "official"})
    again = type(cfg).model_validate(cfg.model_dump(mode="json"))
    assert type(again.roles.leader) is OpenAIRole and again.roles.leader.http_client == "official"
    assert type(again.roles.user) is EmbeddedRole

"""A role's model: the settings every role has, and those of its backend (a discriminated union on
``backend``: embedded, openai, langchain, scripted, or a plugin's)."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Discriminator, Field, Tag, TypeAdapter, field_validator

from schemas.base import Record

#: a role's sampling temperature and new-token bound unless its config says otherwise (a chat request
#: built without them gets the same)
ROLE_TEMPERATURE = 0.3
ROLE_MAX_TOKENS = 1024
#: the backends Oyster ships (agents/backends registers their factories)
BUILTIN_BACKENDS: tuple[str, ...] = ("embedded", "openai", "scripted", "langchain")
#: the entry-point group in which a third-party package names its backends, e.g. in its pyproject:
#: `[project.entry-points."oyster.backends"] mine = "my_package.backend:factory"` (factory(RoleModel))
BACKEND_ENTRY_POINTS = "oyster.backends"
_DECLARED: set[str] = set()
#: dedicated guard models whose own output format the risk role can read (agents.guards)
GuardKind = Literal["qwen3guard", "llamaguard"]
StructuredMethod = Literal["auto", "json_schema", "function_calling", "json_mode", "text"]
ServeMode = Literal["auto", "server", "in-process"]
#: how the openai backend speaks HTTP: plain aiohttp (the default), or the official `openai` client
HttpClientKind = Literal["aiohttp", "official"]
# Constructor arguments under these names carry credentials; the config is stored with every run.
_SECRET_NAME = re.compile(
    r"(api|access|secret|private|subscription)[_-]?key|(^|[_-])token$|secret|passw|credential|authori[sz]ation",
    re.IGNORECASE,
)


def declare_backend(name: str) -> None:
    """Make ``backend: name`` valid in a config (agents.backends.register_backend calls this)."""
    _DECLARED.add(name)


def backend_names() -> list[str]:
    """Every backend a config may name: the built-in ones, those registered in this process and those
    installed packages declare in the `oyster.backends` entry-point group (read without importing them)."""
    installed = {ep.name for ep in entry_points(group=BACKEND_ENTRY_POINTS)}
    return sorted({*BUILTIN_BACKENDS, *_DECLARED, *installed})


class RoleModel(Record):
    """What every role's model has, whatever serves it. A config's role is one of the subclasses
    below, chosen by ``backend`` (a discriminated union, ``AnyRole``): a setting of another backend
    is an error naming it, not silently ignored."""

    #: a name from backend_names(): built in, registered, or a plugin's entry point
    backend: str = "embedded"
    model: str = "qwen2.5-coder-0.5b"
    base_url: str | None = None
    api_key_env: str = Field(default="OPENAI_API_KEY", description="name of the env var holding the key")
    temperature: float = Field(default=ROLE_TEMPERATURE, ge=0.0, le=2.0)
    max_tokens: int = Field(default=ROLE_MAX_TOKENS, gt=0)
    timeout_s: float = Field(default=180.0, gt=0)
    max_retries: int = Field(default=3, ge=0, description="retries of transient endpoint errors")
    repair_attempts: int = Field(default=2, ge=0, description="re-asks after invalid structured output")
    seed: int | None = 0
    price_per_1k_prompt_tokens: float | None = Field(
        default=None, ge=0, description="money per 1000 prompt tokens"
    )
    price_per_1k_completion_tokens: float | None = Field(
        default=None, ge=0, description="money per 1000 completion tokens"
    )
    guard: GuardKind | None = Field(
        default=None,
        description="risk role only: the model is a guard model (e.g. Qwen3Guard-Gen served by vLLM) that "
        "judges safety / refusal in its own format instead of following our prompts",
    )

    def label(self) -> str:
        return f"{self.backend}:{self.model}"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What the tokens cost at this role's prices (0 where no price is set)."""
        return (
            prompt_tokens * (self.price_per_1k_prompt_tokens or 0.0)
            + completion_tokens * (self.price_per_1k_completion_tokens or 0.0)
        ) / 1000

    def priced(self) -> bool:
        return self.price_per_1k_prompt_tokens is not None or self.price_per_1k_completion_tokens is not None


class EmbeddedRole(RoleModel):
    """A preset GGUF served on this machine (llama-server, or llama.cpp in this process)."""

    backend: Literal["embedded"] = "embedded"
    n_ctx: int = Field(default=4096, gt=0, description="context window")
    n_threads: int | None = Field(default=None, description="CPU threads")
    serve: ServeMode = Field(
        default="auto",
        description="a managed llama-server (batched decoding), llama.cpp in this process, "
        "or auto: the server when it is built",
    )
    parallel: int = Field(
        default=4, ge=1, le=64, description="server only: sequences decoded together (slots)"
    )


class OpenAIRole(RoleModel):
    """Any OpenAI-compatible endpoint (vLLM, llama-server, OpenAI, Azure OpenAI)."""

    backend: Literal["openai"] = "openai"
    api_version: str | None = Field(
        default=None, description="an Azure OpenAI API version; set, the endpoint is Azure's"
    )
    organization: str | None = Field(default=None, description="OpenAI-Organization header")
    project: str | None = Field(default=None, description="OpenAI-Project header")
    http_client: HttpClientKind = Field(
        default="aiohttp",
        description="aiohttp posts the request itself (least CPU per call); official goes through the "
        "openai package's client. Azure (api_version set) always uses the official client",
    )


class LangChainRole(RoleModel):
    """Any LangChain chat model, by import path (``model``) and constructor arguments."""

    backend: Literal["langchain"] = "langchain"
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="constructor arguments; secrets as {env: NAME}"
    )
    structured_output: StructuredMethod = Field(
        default="auto", description="with_structured_output method, or text for JSON in text"
    )

    @field_validator("kwargs")
    @classmethod
    def _secrets_from_env(cls, v: dict[str, Any]) -> dict[str, Any]:
        _refuse_literal_secrets(v, "kwargs")
        return v


class ScriptedRole(RoleModel):
    """A Python function as the model (``module:function``): tests and offline demos."""

    backend: Literal["scripted"] = "scripted"


class PluginRole(RoleModel):
    """A backend a package registers (``register_backend``) or declares in the `oyster.backends`
    entry-point group; its own settings go under ``options``."""

    options: dict[str, Any] = Field(default_factory=dict, description="the plugin backend's own settings")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if v in _DECLARED:
            return v  # without reading the installed packages' entry points
        known = backend_names()
        if v not in known or v in BUILTIN_BACKENDS:
            raise ValueError(f"unknown backend '{v}' (known: {', '.join(known)})")
        return v

    @field_validator("options")
    @classmethod
    def _secrets_from_env(cls, v: dict[str, Any]) -> dict[str, Any]:
        _refuse_literal_secrets(v, "options")
        return v


R = TypeVar("R", bound=RoleModel)
_BY_BACKEND: dict[str, type[RoleModel]] = {
    "embedded": EmbeddedRole,
    "openai": OpenAIRole,
    "langchain": LangChainRole,
    "scripted": ScriptedRole,
}


def _backend_tag(value: Any) -> str:
    backend = value.get("backend", "embedded") if isinstance(value, dict) else getattr(value, "backend", None)
    return backend if backend in _BY_BACKEND else "plugin"


#: a role's model as a config gives it: the settings of its backend, chosen by ``backend``
AnyRole = Annotated[
    Annotated[EmbeddedRole, Tag("embedded")]
    | Annotated[OpenAIRole, Tag("openai")]
    | Annotated[LangChainRole, Tag("langchain")]
    | Annotated[ScriptedRole, Tag("scripted")]
    | Annotated[PluginRole, Tag("plugin")],
    Discriminator(_backend_tag),
]
_ROLE_ADAPTER: TypeAdapter[RoleModel] = TypeAdapter(AnyRole)


def settings_of(kind: type[R], cfg: RoleModel) -> R:
    """``cfg`` as the settings of its backend's kind (a bare RoleModel, as a plugin may build one, gets
    that kind's defaults for the rest)."""
    if isinstance(cfg, kind):
        return cfg
    return kind.model_validate(cfg.model_dump(exclude_unset=True))


def role_model(**settings: Any) -> RoleModel:
    """A role's model from its settings, as a config would give them (validated against its backend)."""
    return _ROLE_ADAPTER.validate_python(settings)


def _refuse_literal_secrets(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            if isinstance(item, str) and item and _SECRET_NAME.search(str(key)):
                raise ValueError(
                    f"{path} looks like a secret; give it as {{env: VARIABLE}}, not in the config"
                )
            _refuse_literal_secrets(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_literal_secrets(item, f"{where}[{i}]")

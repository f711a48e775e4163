"""Model backends behind one async interface (messages in, text out), built by name from a registry.

The backends themselves are imported when first built or named (the OpenAI client alone takes most of
a second to import), so that a command that calls no model never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.backends.base import BackendError, BackendTimeout, ChatBackend, ChatRequest, ChatResult
from agents.backends.models import DEFAULT_PRESET, PRESETS, ensure_model
from agents.backends.registry import BackendFactory, backend_names, make_backend, register_backend
from agents.backends.scripted import ScriptedBackend
from schemas.config import EmbeddedRole, LangChainRole, OpenAIRole, RoleModel, settings_of

if TYPE_CHECKING:
    from agents.backends.embedded import EmbeddedBackend
    from agents.backends.openai_backend import OpenAIBackend


def __getattr__(name: str) -> Any:
    if name == "OpenAIBackend":
        from agents.backends.openai_backend import OpenAIBackend

        return OpenAIBackend
    if name == "EmbeddedBackend":
        from agents.backends.embedded import EmbeddedBackend

        return EmbeddedBackend
    raise AttributeError(f"module 'agents.backends' has no attribute {name!r}")


def _openai(cfg: RoleModel) -> ChatBackend:
    from agents.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(settings_of(OpenAIRole, cfg))


def _langchain(cfg: RoleModel) -> ChatBackend:
    # Imported on use: langchain-core is slow to import and most runs never need it.
    from agents.backends.langchain_backend import LangChainBackend

    return LangChainBackend(settings_of(LangChainRole, cfg))


def _embedded(cfg: RoleModel) -> ChatBackend:
    # Imported on use, so that `python -m agents.backends.llama_server` runs a module not yet imported.
    from agents.backends.llama_server import embedded_backend

    return embedded_backend(settings_of(EmbeddedRole, cfg))


register_backend("embedded", _embedded)
register_backend("openai", _openai)
register_backend("scripted", ScriptedBackend.from_config)
register_backend("langchain", _langchain)

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "BackendError",
    "BackendFactory",
    "BackendTimeout",
    "ChatBackend",
    "ChatRequest",
    "ChatResult",
    "EmbeddedBackend",
    "OpenAIBackend",
    "ScriptedBackend",
    "backend_names",
    "ensure_model",
    "make_backend",
    "register_backend",
]

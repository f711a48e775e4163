"""Model backends behind one async interface (messages in, text out)."""

from agents.backends.base import BackendError, BackendTimeout, ChatBackend, ChatRequest, ChatResult
from agents.backends.embedded import EmbeddedBackend
from agents.backends.models import DEFAULT_PRESET, PRESETS, ensure_model
from agents.backends.openai_backend import OpenAIBackend
from agents.backends.scripted import ScriptedBackend
from schemas.config import RoleModel


def make_backend(cfg: RoleModel) -> ChatBackend:
    if cfg.backend == "embedded":
        return EmbeddedBackend(cfg)
    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    if cfg.backend == "langchain":
        from agents.backends.langchain_backend import LangChainBackend

        return LangChainBackend(cfg)
    return ScriptedBackend.from_config(cfg)


__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "BackendError",
    "BackendTimeout",
    "ChatBackend",
    "ChatRequest",
    "ChatResult",
    "EmbeddedBackend",
    "OpenAIBackend",
    "ScriptedBackend",
    "ensure_model",
    "make_backend",
]

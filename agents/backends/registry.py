"""Backends by name: `register_backend("openai", OpenAIBackend)`, then `make_backend(cfg)` looks it up."""

from __future__ import annotations

from collections.abc import Callable

from agents.backends.base import BackendError, ChatBackend
from schemas.config import RoleModel

BackendFactory = Callable[[RoleModel], ChatBackend]

_FACTORIES: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``backend: <name>`` in a role's config build its backend with ``factory(role_model)``."""
    known = _FACTORIES.get(name)
    if known is not None and known != factory:
        raise BackendError(f"backend '{name}' is already registered ({known!r})")
    _FACTORIES[name] = factory


def backend_names() -> list[str]:
    return sorted(_FACTORIES)


def make_backend(cfg: RoleModel) -> ChatBackend:
    try:
        factory = _FACTORIES[cfg.backend]
    except KeyError:
        raise BackendError(f"unknown backend '{cfg.backend}' (known: {', '.join(backend_names())})") from None
    return factory(cfg)

"""Backends by name: `register_backend("openai", OpenAIBackend)`, then `make_backend(cfg)` looks it up.

A third-party package adds a backend without editing Oyster by naming its factory in the
`oyster.backends` entry-point group (schemas.config.BACKEND_ENTRY_POINTS); it is loaded on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from agents.backends.base import BackendError, ChatBackend
from schemas.config import BACKEND_ENTRY_POINTS, RoleModel, declare_backend

BackendFactory = Callable[[RoleModel], ChatBackend]

_FACTORIES: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``backend: <name>`` in a role's config build its backend with ``factory(role_model)``."""
    known = _FACTORIES.get(name)
    if known is not None and known != factory:
        raise BackendError(f"backend '{name}' is already registered ({known!r})")
    _FACTORIES[name] = factory
    declare_backend(name)


def _plugins() -> dict[str, str]:
    """Installed packages' backends: name -> 'module:factory'."""
    return {ep.name: ep.value for ep in entry_points(group=BACKEND_ENTRY_POINTS)}


def _load_plugin(name: str) -> BackendFactory | None:
    for ep in entry_points(group=BACKEND_ENTRY_POINTS):
        if ep.name == name:
            try:
                factory: BackendFactory = ep.load()
            except (ImportError, AttributeError) as exc:
                raise BackendError(f"backend '{name}': cannot load {ep.value} ({exc})") from None
            register_backend(name, factory)
            return factory
    return None


def backend_names() -> list[str]:
    return sorted({*_FACTORIES, *_plugins()})


def make_backend(cfg: RoleModel) -> ChatBackend:
    factory = _FACTORIES.get(cfg.backend) or _load_plugin(cfg.backend)
    if factory is None:
        raise BackendError(f"unknown backend '{cfg.backend}' (known: {', '.join(backend_names())})")
    return factory(cfg)

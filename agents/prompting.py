"""Prompt templates as data: Jinja2 files declared in a manifest, rendered in a sandbox."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.exceptions import SecurityError
from pydantic import BaseModel

import schemas
from agents.prompt_guard import (
    BoundedSandbox,
    Placeholder,
    RenderBudgetExceeded,
    refused_statements,
    render_budget,
)
from agents.steps import TEMPLATED, StepName
from schemas.errors import OysterError
from schemas.messages import ChatMessage

BLOCKS = ("system", "user")
LANGUAGE_DIR = re.compile(r"[a-z]{2,3}")


class PromptError(OysterError, ValueError):
    """A prompt template problem; str() is one line naming the file and the problem."""


class PromptBudgetError(PromptError):
    """A template did not finish rendering within its budget (agents.prompt_guard)."""


# What a placeholder input cannot do (be called, be serialised, have a real attribute) is no fault of
# the template; only the budget is checked in the dry render.
_PLACEHOLDER_ERRORS = (PromptError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    role: str
    path: str
    source: str
    inputs: tuple[str, ...]
    output: type[BaseModel] | None
    version: str
    _template: Any

    def render(self, inputs: dict[str, Any]) -> list[ChatMessage]:
        missing = [k for k in self.inputs if k not in inputs]
        unknown = [k for k in inputs if k not in self.inputs]
        if missing or unknown:
            raise PromptError(
                f"{self.path}: render called with missing {missing} / undeclared {unknown} inputs"
            )
        return self._render(inputs)

    def _render(self, inputs: dict[str, Any]) -> list[ChatMessage]:
        ctx = self._template.new_context(dict(inputs))
        messages = []
        try:
            with render_budget() as budget:
                for block in BLOCKS:
                    if block in self._template.blocks:
                        text = budget.join(self._template.blocks[block](ctx)).strip()
                        if text:
                            messages.append(ChatMessage.model_validate({"role": block, "content": text}))
        except TemplateError as exc:
            raise PromptError(f"{self.path}: {exc}") from None
        except RenderBudgetExceeded as exc:
            raise PromptBudgetError(f"{self.path}: rendering stopped: {exc}") from None
        return messages

    def check_bounded(self) -> None:
        """Render once with placeholder inputs, so that a template that never finishes fails before any
        model is called rather than in the middle of a run."""
        try:
            self._render({name: Placeholder() for name in self.inputs})
        except PromptBudgetError:
            raise
        except PromptError as exc:
            # The sandbox's refusal (an unsafe attribute through `attr`, say) fails every real render too.
            if isinstance(exc.__context__, SecurityError):
                raise
        except _PLACEHOLDER_ERRORS:
            pass


def _schema_class(name: str | None, where: str) -> type[BaseModel] | None:
    if name is None:
        return None
    cls = getattr(schemas, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise PromptError(f"{where}: output schema '{name}' is not a model in schemas")
    return cls


def check_manifest(names: list[str], where: str) -> list[StepName]:
    """The manifest's entries as steps; an entry that is no step, or a step with no entry, is an error."""
    known = {s.value for s in TEMPLATED}
    unknown = sorted(n for n in names if n not in known)
    missing = sorted(s.value for s in TEMPLATED if s.value not in names)
    if unknown or missing:
        problems = [
            f"unknown step(s) {', '.join(unknown)}" if unknown else "",
            f"no entry for step(s) {', '.join(missing)}" if missing else "",
        ]
        raise PromptError(f"{where}: {'; '.join(p for p in problems if p)} (steps are agents.steps.StepName)")
    return [StepName(n) for n in names]


def _read_set(folder: Any, manifest: dict[str, Any], where: str) -> dict[StepName, tuple[str, str]]:
    """The templates in one folder (bundled or override), keyed by step; an unknown file name is an error."""
    found: dict[StepName, tuple[str, str]] = {}
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if not f.name.endswith(".j2"):
            continue
        stem = f.name[: -len(".j2")]
        if stem not in manifest:
            raise PromptError(f"{where}/{f.name}: unknown template (known: {', '.join(sorted(manifest))})")
        found[StepName(stem)] = (f"{where}/{f.name}", f.read_text(encoding="utf-8"))
    return found


def _language_dirs(folder: Any) -> dict[str, Any]:
    """Sub-folders named by a language code (``zh``, ``ja``...): that language's templates."""
    return {d.name: d for d in folder.iterdir() if d.is_dir() and LANGUAGE_DIR.fullmatch(d.name)}


def language_key(language: str) -> str:
    """``zh-CN`` and ``zh`` share one template set."""
    return language.split("-")[0].lower()


class PromptLibrary:
    """The bundled templates, one set per language, with any subset replaced from an override folder.

    ``templates/*.j2`` is the default (English) set; ``templates/<lang>/*.j2`` replaces steps for
    scenarios in that language. An override folder has the same layout: ``DIR/*.j2`` replaces default
    templates, ``DIR/zh/*.j2`` replaces the Chinese ones.
    """

    def __init__(self, override_dir: str | Path | None = None) -> None:
        self._env = BoundedSandbox(
            undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
        )
        self._env.filters["tojson_pretty"] = _tojson_pretty
        root = resources.files("prompts")
        manifest_path = root / "manifest.yaml"
        manifest: dict[str, Any] = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        steps = check_manifest(list(manifest), "prompts/manifest.yaml")
        bundled = root / "templates"
        sources = _read_set(bundled, manifest, "prompts/templates")
        missing = [s.value for s in steps if s not in sources]
        if missing:
            raise PromptError(f"prompts/templates: no template for step(s) {', '.join(missing)}")
        localized = {
            lang: _read_set(d, manifest, f"prompts/templates/{lang}")
            for lang, d in _language_dirs(bundled).items()
        }
        if override_dir is not None:
            odir = Path(override_dir)
            if not odir.is_dir():
                raise PromptError(f"{odir}: prompt override folder not found")
            sources.update(_read_set(odir, manifest, str(odir)))
            for lang, d in _language_dirs(odir).items():
                localized.setdefault(lang, {}).update(_read_set(d, manifest, str(d)))
        self.templates: dict[StepName, PromptTemplate] = {
            name: self._compile(name, manifest[name.value], *sources[name]) for name in steps
        }
        self.localized: dict[str, dict[StepName, PromptTemplate]] = {
            lang: {name: self._compile(name, manifest[name.value], *src) for name, src in found.items()}
            for lang, found in localized.items()
        }

    def _compile(self, name: StepName, spec: dict[str, Any], path: str, source: str) -> PromptTemplate:
        inputs = tuple(spec.get("inputs") or ())
        try:
            ast = self._env.parse(source)
            refused = refused_statements(ast)
            if refused:
                raise PromptError(f"{path}: {refused}")
            used = meta.find_undeclared_variables(ast)
            template = self._env.from_string(self._env.guard_loops(ast))
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise PromptError(f"{path}{f':{line}' if line else ''}: {exc}") from None
        except RenderBudgetExceeded as exc:
            raise PromptBudgetError(f"{path}: {exc}") from None
        undeclared = sorted(used - set(inputs))
        if undeclared:
            raise PromptError(f"{path}: uses undeclared variable(s) {', '.join(undeclared)}")
        if "user" not in template.blocks:
            raise PromptError(f"{path}: needs a {{% block user %}}")
        compiled = PromptTemplate(
            name=name.value,
            role=str(spec.get("role", "")),
            path=path,
            source=source,
            inputs=inputs,
            output=_schema_class(spec.get("output"), path),
            version=hashlib.sha256(source.encode()).hexdigest()[:12],
            _template=template,
        )
        compiled.check_bounded()
        return compiled

    def get(self, step: StepName, language: str = "en") -> PromptTemplate:
        """The template for ``step`` in ``language``: that language's own if it has one, else the default."""
        own = self.localized.get(language_key(language), {})
        if step in own:
            return own[step]
        try:
            return self.templates[step]
        except KeyError:
            raise PromptError(f"no prompt template for step '{step}'") from None

    def versions(self) -> dict[str, str]:
        out = {n.value: t.version for n, t in self.templates.items()}
        for lang, templates in sorted(self.localized.items()):
            out.update({f"{lang}/{n.value}": t.version for n, t in templates.items()})
        return out


def _tojson_pretty(value: Any) -> str:
    import json

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)

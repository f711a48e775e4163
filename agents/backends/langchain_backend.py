"""Any LangChain chat model as a role's backend: `backend: langchain, model: "package.module:Name"`.

``Name`` is a ``BaseChatModel`` class, built with the role's ``kwargs``, or a factory called with them
that returns one. ``{env: NAME}`` in ``kwargs`` is read from the environment at construction; the
value is never stored, logged, or shown in an error.

- Sampling: the role's temperature, max tokens and seed go into the model's own fields (whatever the
  class calls them); a setting the model has no field for is refused at start-up when the role sets
  it, and named in one warning when it is only the default. A request that asks for other values
  (a repair re-asks hotter, each sample has its own seed) runs on a ``model_copy``, which shares
  the provider clients and changes only the fields the provider reads per request.
- Structured steps: ``with_structured_output(json_schema, include_raw=True)`` where the model
  implements it; the parsed object goes back as JSON text, so RoleLLM validates and repairs exactly
  as for every backend. A reply the parser could not read goes back as its raw text or tool
  arguments for the repair loop. A model without structured output gets the schema in its system
  prompt and answers JSON in text.
- Calls: ``ainvoke`` under the role's ``timeout_s`` per attempt, retried by the project's policy
  (jittered exponential backoff, ``max_retries``). A model class's own ``max_retries`` is set to 0
  so that one policy, not two stacked, decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import os
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from agents.backends.base import BackendError, BackendTimeout, ChatRequest, ChatResult
from schemas.config import LangChainRole
from schemas.messages import ChatMessage
from schemas.secrets import redact, register_secret

logger = logging.getLogger("oyster.backends.langchain")

RETRYABLE_STATUS = frozenset({408, 409, 429})
#: the role's settings and the field names chat model classes use for them, in order of preference
SAMPLING_FIELDS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "max_tokens": (
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "num_predict",
        "max_new_tokens",
    ),
    "seed": ("seed", "random_seed"),
}
_NAME_KEYS = ("model", "model_name", "model_id", "deployment_name", "azure_deployment")
# Settings of other backends; given to a LangChain role they would be silently ignored.
_NOT_HERE = ("base_url", "api_key_env", "n_ctx", "n_threads", "serve", "parallel")


def _one_line(text: str, limit: int = 300) -> str:
    # Redacted before it is cut, so that no prefix of a secret survives the cut.
    return " ".join(redact(text).split())[:limit] or "no message"


def resolve_env(value: Any, where: str) -> Any:
    """``value`` with every ``{env: NAME}`` replaced by that variable, each registered as a secret."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            name = str(value["env"])
            got = os.environ.get(name)
            if not got:
                raise BackendError(f"{where}: environment variable {name} is not set")
            register_secret(got)
            return got
        return {k: resolve_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_target(spec: str) -> Any:
    """Resolve 'package.module:Name' (a class or a factory) or raise one clear line."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise BackendError(f"langchain model '{spec}': expected 'package.module:ClassName' or ':function'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"langchain model '{spec}': cannot import {module_name} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise BackendError(f"langchain model '{spec}': {module_name} has no {attr}")
        target = getattr(target, part)
    if not callable(target):
        raise BackendError(f"langchain model '{spec}': not a class or function")
    return target


def _field(cls: type[BaseChatModel], names: tuple[str, ...]) -> tuple[str, str] | None:
    """(attribute name, constructor name) of the first of ``names`` the class has as a field."""
    for name in names:
        for attr, info in cls.model_fields.items():
            if name in (attr, info.alias):
                return attr, info.alias or attr
    return None


def _given(kwargs: dict[str, Any], field: tuple[str, str]) -> bool:
    return field[0] in kwargs or field[1] in kwargs


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # str(ValidationError) repeats the input values, which may be a resolved secret.
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(model)"
        return f"{where}: {err['msg']}"
    return _one_line(f"{type(exc).__name__}: {exc}")


def _transient(exc: BaseException) -> bool:
    # Providers raise their own exception types; status codes and names are what they share.
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status in RETRYABLE_STATUS or status >= 500
    name = type(exc).__name__
    return any(w in name for w in ("Timeout", "Connection", "RateLimit", "Overloaded", "Unavailable"))


def _label(cfg: LangChainRole) -> str:
    """Spec, model name and a digest of the kwargs: what tells two models apart in records and the cache."""
    label = cfg.model
    name = next((cfg.kwargs[k] for k in _NAME_KEYS if isinstance(cfg.kwargs.get(k), str)), None)
    if name:
        label += f"[{name}]"
    if cfg.kwargs:
        # env references are hashed by name, so the digest never depends on a secret
        blob = json.dumps(cfg.kwargs, sort_keys=True, default=str).encode()
        label += "#" + hashlib.sha256(blob).hexdigest()[:8]
    return label


def _to_langchain(messages: list[ChatMessage]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _with_schema_prompt(messages: list[BaseMessage], schema: dict[str, Any]) -> list[BaseMessage]:
    # Without constrained decoding the model must be told the shape; some providers take only one
    # system message, first, so the instruction joins it.
    note = "Reply with only a JSON object, no other text, that matches this JSON schema:\n" + json.dumps(
        schema, ensure_ascii=False
    )
    if messages and isinstance(messages[0], SystemMessage):
        return [SystemMessage(content=f"{messages[0].text}\n\n{note}"), *messages[1:]]
    return [SystemMessage(content=note), *messages]


def _reply_text(message: Any) -> str:
    """What the model said: its text, else the arguments of its first (possibly malformed) tool call."""
    if not isinstance(message, BaseMessage):
        raise TypeError(f"expected a chat message, got {type(message).__name__}")
    text = str(message.text).strip()
    if text or not isinstance(message, AIMessage):
        return text
    if message.tool_calls:
        return json.dumps(message.tool_calls[0]["args"], ensure_ascii=False)
    if message.invalid_tool_calls:
        return str(message.invalid_tool_calls[0].get("args") or "")
    return ""


class LangChainBackend:
    kind = "langchain"

    def __init__(self, cfg: LangChainRole, chat_model: BaseChatModel | None = None) -> None:
        self.spec = cfg.model
        self.model = _label(cfg)
        self._timeout_s = cfg.timeout_s
        self._max_retries = cfg.max_retries
        stray = sorted(set(_NOT_HERE) & cfg.model_fields_set)
        if stray:
            raise BackendError(f"{self._where()}: {', '.join(stray)} do not apply here; give them in kwargs")
        self._chat, self._fields = self._construct(cfg, chat_model)
        self._method = cfg.structured_output
        self._native = self._probe_structured()

    def _where(self) -> str:
        return f"langchain model {self.spec}"

    def _construct(
        self, cfg: LangChainRole, given: BaseChatModel | None
    ) -> tuple[BaseChatModel, dict[str, str]]:
        """The model with the role's sampling settings, and the attribute each setting lives in."""
        if given is not None:
            return self._with_settings(given, cfg)
        target = load_target(cfg.model)
        kwargs = resolve_env(cfg.kwargs, "kwargs")
        settings: dict[str, tuple[str, str, Any]] = {}
        if isinstance(target, type):
            if not issubclass(target, BaseChatModel):
                raise BackendError(f"{self._where()}: {target.__name__} is not a LangChain BaseChatModel")
            retries = _field(target, ("max_retries",))
            if retries is not None and not _given(kwargs, retries):
                kwargs = {**kwargs, retries[1]: 0}
            settings = self._settings(target, cfg)
            kwargs = {**kwargs, **{alias: value for _, alias, value in settings.values()}}
        try:
            chat = target(**kwargs)
        except Exception as exc:
            raise BackendError(f"{self._where()}: cannot construct ({_describe(exc)})") from None
        if not isinstance(chat, BaseChatModel):
            raise BackendError(f"{self._where()}: returned {type(chat).__name__}, not a BaseChatModel")
        if not isinstance(target, type):
            return self._with_settings(chat, cfg)
        return chat, {setting: attr for setting, (attr, _, _) in settings.items()}

    def _with_settings(self, chat: BaseChatModel, cfg: LangChainRole) -> tuple[BaseChatModel, dict[str, str]]:
        # A factory (or a caller) built it, so its constructor did not see the role's settings.
        settings = self._settings(type(chat), cfg)
        update = {attr: value for attr, _, value in settings.values() if getattr(chat, attr) != value}
        fields = {setting: attr for setting, (attr, _, _) in settings.items()}
        return (chat.model_copy(update=update) if update else chat), fields

    def _settings(self, cls: type[BaseChatModel], cfg: LangChainRole) -> dict[str, tuple[str, str, Any]]:
        """setting -> (attribute, constructor name, value) for each role setting the model takes.

        A setting the model has no field for is an error when the role sets it and one warning when
        it is only the default; where kwargs set the same field they win over a default.
        """
        out: dict[str, tuple[str, str, Any]] = {}
        defaults_dropped: list[str] = []
        for setting, names in SAMPLING_FIELDS.items():
            value = getattr(cfg, setting)
            explicit = setting in cfg.model_fields_set
            field = _field(cls, names)
            if value is None:
                continue
            if field is None:
                if explicit:
                    raise BackendError(
                        f"{self._where()}: {cls.__name__} has no {setting} parameter; remove {setting} "
                        "from the role"
                    )
                defaults_dropped.append(f"{setting}={value}")
            elif _given(cfg.kwargs, field):
                if explicit:
                    raise BackendError(f"{self._where()}: {setting} is set both in the role and in kwargs")
            else:
                out[setting] = (field[0], field[1], value)
        if defaults_dropped:
            logger.warning(
                "%s: %s has no parameter for the role's default %s; not applied",
                self._where(), cls.__name__, ", ".join(defaults_dropped),
            )  # fmt: skip
        return out

    def _probe_structured(self) -> bool:
        if self._method == "text":
            return False
        probe = {"title": "probe", "type": "object", "properties": {}}
        try:
            self._chat.with_structured_output(probe, include_raw=True, **self._method_kwargs())
        except NotImplementedError:
            if self._method != "auto":
                raise BackendError(
                    f"{self._where()}: no structured output (structured_output: {self._method})"
                ) from None
            logger.info("%s: no structured output; structured steps ask for JSON in text", self._where())
            return False
        except Exception as exc:
            raise BackendError(
                f"{self._where()}: structured_output {self._method}: {_describe(exc)}"
            ) from None
        return True

    def _method_kwargs(self) -> dict[str, Any]:
        return {} if self._method == "auto" else {"method": self._method}

    def _sampled(self, request: ChatRequest) -> BaseChatModel:
        wanted = {attr: getattr(request, setting) for setting, attr in self._fields.items()}
        wanted = {a: v for a, v in wanted.items() if v is not None and v != getattr(self._chat, a)}
        return self._chat.model_copy(update=wanted) if wanted else self._chat

    async def complete(self, request: ChatRequest) -> ChatResult:
        chat = self._sampled(request)
        messages = _to_langchain(request.messages)
        schema = request.json_schema
        runnable: Any = chat
        if schema is not None and self._native:
            schema = schema if "title" in schema else {**schema, "title": request.schema_name}
            runnable = chat.with_structured_output(schema, include_raw=True, **self._method_kwargs())
        elif schema is not None:
            messages = _with_schema_prompt(messages, schema)
        start = time.perf_counter()
        out = await self._invoke(runnable, messages)
        latency = (time.perf_counter() - start) * 1000
        try:
            if runnable is chat:
                raw, text = out, _reply_text(out)
            else:
                raw, parsed = out["raw"], out["parsed"]
                text = json.dumps(parsed, ensure_ascii=False) if parsed is not None else _reply_text(raw)
            usage = getattr(raw, "usage_metadata", None) or {}
            return ChatResult(
                text=text,
                prompt_tokens=int(usage.get("input_tokens") or 0),
                completion_tokens=int(usage.get("output_tokens") or 0),
                latency_ms=latency,
                extra={"structured": runnable is not chat},
                finish_reason=_finish_reason(raw),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{self._where()}: malformed reply ({_describe(exc)})") from None

    async def _invoke(self, runnable: Any, messages: list[BaseMessage]) -> Any:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                wait=wait_random_exponential(multiplier=0.5, max=8.0),
                stop=stop_after_attempt(self._max_retries + 1),
                reraise=True,
            ):
                with attempt:
                    async with asyncio.timeout(self._timeout_s):
                        return await runnable.ainvoke(messages)
        except TimeoutError:
            raise BackendTimeout(f"{self._where()}: timed out after {self._timeout_s} s") from None
        except Exception as exc:
            raise BackendError(f"{self._where()}: {_describe(exc)}") from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def check(self) -> str:
        """Import and construction already happened; say what was built and how it does structured steps."""
        how = "structured output" if self._native else "JSON in text"
        return f"{type(self._chat).__name__} constructed, {how}"

    async def check_call(self) -> str:
        """``check`` plus one tiny call (a few tokens) that must come back with text."""
        request = ChatRequest(
            messages=[ChatMessage(role="user", content="Reply with the single word OK.")],
            temperature=0.0,
            max_tokens=8,
            step="check_call",
        )
        result = await self.complete(request)
        if not result.text.strip():
            raise BackendError(f"{self._where()}: the test call returned no text")
        tokens = f", {result.prompt_tokens}+{result.completion_tokens} tokens" if result.prompt_tokens else ""
        return f"{await self.check()}; test call answered in {result.latency_ms / 1000:.1f} s{tokens}"

    async def aclose(self) -> None:
        pass  # LangChain models own their clients and close them themselves


def _finish_reason(message: Any) -> str | None:
    """Why the provider stopped, from the message's metadata: OpenAI-style ``finish_reason``,
    Anthropic's ``stop_reason``, Ollama's ``done_reason`` (each provider names it its own way)."""
    meta = getattr(message, "response_metadata", None) or {}
    for key in ("finish_reason", "stop_reason", "done_reason"):
        value = meta.get(key)
        if value:
            return str(value)
    return None

"""A role's model: render a template, call the backend, validate, repair within a bound, record."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agents.backends.base import (
    BackendError,
    BackendTimeout,
    ChatBackend,
    ChatRequest,
    ChatResult,
    storable,
)
from agents.prompting import PromptLibrary
from agents.steps import StepName
from schemas.config import RoleModel
from schemas.errors import OysterError
from schemas.messages import ChatMessage
from schemas.records import Failure, FailureKind, LLMCall
from schemas.secrets import redact

Check = Callable[[Any], str | None]
#: more tokens than any model's context holds: a count past it (or below 0) is an endpoint's anomaly
MAX_TOKENS_PER_CALL = 100_000_000
T = TypeVar("T")
logger = logging.getLogger("oyster.llm")


class LLMFailure(OysterError):
    """Raised when a step cannot get a valid answer; carries the Failure record the caller stores."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.role}/{failure.step}: {failure.kind.value}: {failure.message}")
        self.failure = failure


@dataclass
class CallLog:
    """Where one scenario's calls and failures collect until they are written with its trajectory."""

    run_id: str = ""
    scenario_id: str = ""
    calls: list[LLMCall] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: told of every call as it is recorded or amended, so a running scenario's calls can be stored live
    listener: Callable[[LLMCall], None] | None = None

    def add_call(self, call: LLMCall) -> None:
        self.calls.append(call)
        if self.listener is not None:
            self.listener(call)

    def amend_last_call(self, **update: Any) -> None:
        self.calls[-1] = self.calls[-1].model_copy(update=update)
        if self.listener is not None:
            self.listener(self.calls[-1])
    #: added to every role's seed: a new run id samples anew (see scenario_seed); 0 replays
    seed_offset: int = 0


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def scenario_seed(run_id: str, scenario_id: str) -> int:
    """A seed offset fixed by (run id, scenario): a resume replays its run, a new run samples anew.

    Multiples of 100,000 below 10^9, so offsets never overlap the per-sample and per-attempt steps
    added to them and the sum stays inside the 32-bit seeds that llama.cpp and vLLM accept.
    """
    digest = hashlib.sha256(f"{run_id}\x00{scenario_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") % 10_000) * 100_000


@cache
def _json_schema(cls: type[BaseModel]) -> dict[str, Any]:
    return cls.model_json_schema()


@cache
def _sized_schema(cls: type[BaseModel], field: str, n: int) -> dict[str, Any]:
    schema = copy.deepcopy(_json_schema(cls))
    schema["properties"][field]["minItems"] = n
    schema["properties"][field]["maxItems"] = n
    return schema


def list_of_exactly(cls: type[BaseModel], field: str, n: int) -> dict[str, Any]:
    """The JSON schema of ``cls`` with list ``field`` fixed to ``n`` items, so decoding enforces the count."""
    return _sized_schema(cls, field, n)


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def _extract_json(text: str) -> str:
    """Models wrap JSON in fences or chatter; keep the outermost object."""
    text = _FENCE.sub("", text.strip())
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _answer_of(text: str, answers: tuple[str, ...]) -> str | None:
    """The answer a reply (or one token of it) starts: "Yes", " yes." and "yes" all mean yes."""
    word = re.split(r"[^\w]+", text.strip().lower(), maxsplit=1)[0] if text.strip() else ""
    if not word:
        return None
    # A token may be a prefix of a longer answer word; the answers are chosen to differ in their
    # first letters, so a prefix names at most one.
    hits = [a for a in answers if a.startswith(word)]
    return hits[0] if len(hits) == 1 else None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class RoleLLM:
    """One role (user, leader, risk, critic) bound to its backend and the prompt library."""

    def __init__(self, role: str, cfg: RoleModel, backend: ChatBackend, prompts: PromptLibrary) -> None:
        self.role = role
        self.cfg = cfg
        self.backend = backend
        self.prompts = prompts

    @property
    def label(self) -> str:
        return f"{self.backend.kind}:{self.backend.model}"

    async def ask(
        self,
        step: StepName,
        inputs: dict[str, Any],
        log: CallLog,
        *,
        check: Check | None = None,
        soft_check: bool = False,
        json_schema: dict[str, Any] | None = None,
        sample: int = 0,
        language: str = "en",
    ) -> Any:
        """Return the step's validated output object (or text for steps without an output schema).

        ``check`` adds a semantic rule on top of the schema; its complaint is fed back like a
        validation error. With ``soft_check`` an object that still breaks the rule after the last
        attempt is returned anyway, for the caller to reject explicitly. ``json_schema`` replaces the
        schema sent to the backend (e.g. with enums the pydantic model cannot know). ``sample``
        picks another seed, so a later re-synthesis draws a new sample instead of the same one.
        ``language`` picks the scenario's template set (the default set when it has none of its own).
        """
        template = self.prompts.get(step, language)
        schema = template.output
        messages = template.render(inputs)
        attempts = 1 + self.cfg.repair_attempts if (schema is not None or check is not None) else 1
        if soft_check:
            attempts = min(attempts, 2)  # a soft rule is worth one re-ask, not the whole repair budget
        raw = ""
        problem = ""
        last_valid: Any = None
        for attempt in range(1, attempts + 1):
            request = ChatRequest(
                messages=messages,
                json_schema=(json_schema or _json_schema(schema)) if schema is not None else None,
                schema_name=schema.__name__ if schema is not None else "text",
                temperature=self.cfg.temperature if attempt == 1 else min(1.0, self.cfg.temperature + 0.3),
                max_tokens=self.cfg.max_tokens,
                seed=None
                if self.cfg.seed is None
                else self.cfg.seed + log.seed_offset + 1000 * sample + attempt - 1,
                role=self.role,
                step=step.value,
            )
            result = await self._call(request, template.version, attempt, log)
            raw = result.text
            problem = ""
            obj: Any
            if schema is None:
                obj = raw.strip()
                last_valid = obj
                problem = (check(obj) if check else None) or ""
            else:
                try:
                    # strict=False: a raw newline inside a string is a model's slip, not a wrong answer
                    # (llama.cpp's JSON grammar lets control characters through).
                    obj = schema.model_validate(json.loads(_extract_json(raw), strict=False))
                    last_valid = obj
                    problem = (check(obj) if check else None) or ""
                except json.JSONDecodeError as exc:
                    problem = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                except ValidationError as exc:
                    problem = _describe(exc)
            if not problem:
                return obj
            # model_copy (in amend_last_call) skips the record's validators: redact here
            log.amend_last_call(ok=False, error=redact(f"invalid: {problem}")[:500])
            schema_text = (
                json.dumps(json_schema or _json_schema(schema), ensure_ascii=False)
                if schema
                else "plain text"
            )
            repair = self.prompts.get(StepName.REPAIR, language).render(
                {"error": problem, "schema": schema_text}
            )
            messages = [*template.render(inputs), ChatMessage(role="assistant", content=raw), *repair]
        if soft_check and last_valid is not None:
            return last_valid
        what = f"no valid {schema.__name__ if schema else 'text'} after {attempts} attempts: {problem}"
        raise self._invalid(step, what, raw, attempts, log)

    async def classify(
        self, step: StepName, messages: list[ChatMessage], log: CallLog, read: Callable[[str], T]
    ) -> T:
        """Send `messages` as they are, with no template (a guard model brings its own instructions), and
        read the reply with `read`. A reply `read` rejects (ValueError) is a recorded invalid-output
        failure, not re-asked: a classifier answers a repair prompt no better than the first."""
        request = ChatRequest(
            messages=messages,
            # Greedy: a classifier's first choice is its verdict; sampling only adds noise.
            temperature=0.0,
            max_tokens=min(self.cfg.max_tokens, 128),
            seed=self.cfg.seed,
            role=self.role,
            step=step.value,
        )
        result = await self._call(request, "untemplated", 1, log)
        try:
            return read(result.text)
        except ValueError as exc:
            log.amend_last_call(ok=False, error=redact(f"invalid: {exc}")[:500])
            raise self._invalid(step, str(exc), result.text, 1, log) from None

    def _invalid(self, step: StepName, message: str, raw: str, attempts: int, log: CallLog) -> LLMFailure:
        failure = Failure(
            run_id=log.run_id,
            scenario_id=log.scenario_id,
            role=self.role,
            step=step.value,
            kind=FailureKind.INVALID_OUTPUT,
            message=message[:2000],
            raw_output=raw[:20000],
            attempts=attempts,
        )
        log.failures.append(failure)
        return LLMFailure(failure)

    async def probe(
        self, step: StepName, inputs: dict[str, Any], log: CallLog, answers: tuple[str, ...], *, k: int = 20
    ) -> tuple[dict[str, float], bool]:
        """The probability of each answer word as the reply's first token, with no rationale generated.

        Returns (probabilities summing to 1, read_from_logprobs). A backend that gives no
        log-probabilities (or none of the answers among its top ``k``) is read from its sampled word:
        probability 1 for that answer. A reply that is none of the answers is an invalid output.
        """
        template = self.prompts.get(step)
        request = ChatRequest(
            messages=template.render(inputs),
            temperature=0.0,
            max_tokens=1,
            seed=self.cfg.seed,
            role=self.role,
            step=step.value,
            top_logprobs=k,
        )
        result = await self._call(request, template.version, 1, log)
        if result.top_logprobs:
            mass = dict.fromkeys(answers, 0.0)
            for token, logprob in result.top_logprobs[0].items():
                answer = _answer_of(token, answers)
                if answer is not None:
                    mass[answer] += math.exp(logprob)
            total = sum(mass.values())
            if total > 0:
                return {a: m / total for a, m in mass.items()}, True
        answer = _answer_of(result.text, answers)
        if answer is None:
            problem = f"expected one of {', '.join(answers)}, got {result.text.strip()[:40]!r}"
            log.amend_last_call(ok=False, error=redact(f"invalid: {problem}")[:500])
            raise self._invalid(step, problem, result.text, 1, log)
        return {a: float(a == answer) for a in answers}, False

    async def _call(self, request: ChatRequest, version: str, attempt: int, log: CallLog) -> ChatResult:
        try:
            result = await self.backend.complete(request)
        except (Exception, asyncio.CancelledError, SystemExit) as exc:
            # Any exception from a model is that call's recorded failure, not the end of the run; a
            # CancelledError only when this task is not itself being cancelled (Ctrl-C, a timeout).
            if isinstance(exc, asyncio.CancelledError) and _being_cancelled():
                raise
            if not isinstance(exc, BackendError):
                exc = BackendError(f"model {self.label} raised {type(exc).__name__}: {exc}"[:2000])
            kind = FailureKind.TIMEOUT if isinstance(exc, BackendTimeout) else FailureKind.ENDPOINT_ERROR
            log.add_call(self._record(request, version, attempt, log, None, str(exc)))
            failure = Failure(
                run_id=log.run_id,
                scenario_id=log.scenario_id,
                role=self.role,
                step=request.step,
                kind=kind,
                message=str(exc)[:2000],
                attempts=attempt,
            )
            log.failures.append(failure)
            raise LLMFailure(failure) from exc
        result = self._sane(result, request, log)
        log.add_call(self._record(request, version, attempt, log, result, None))
        logger.info(
            "%s %s/%s attempt %d: %d+%d tokens in %.1f s%s",
            log.scenario_id,
            self.role,
            request.step,
            attempt,
            result.prompt_tokens,
            result.completion_tokens,
            result.latency_ms / 1000,
            " (cache)" if result.cache_hit else "",
        )
        return result

    def _sane(self, result: ChatResult, request: ChatRequest, log: CallLog) -> ChatResult:
        """The reply as it may be stored: counts no endpoint can mean are an anomaly (recorded, stored
        as 0), a lone surrogate becomes U+FFFD, and a configured key echoed in the text is redacted."""
        counts = (result.prompt_tokens, result.completion_tokens, result.cached_prompt_tokens or 0)
        text = result.text
        clean = storable(text)
        if clean is text and all(type(n) is int and 0 <= n <= MAX_TOKENS_PER_CALL for n in counts):
            return result
        update: dict[str, Any] = {"text": clean}
        for name in ("prompt_tokens", "completion_tokens", "cached_prompt_tokens"):
            value = getattr(result, name)
            if value is None or (type(value) is int and 0 <= value <= MAX_TOKENS_PER_CALL):
                continue
            update[name] = None if name == "cached_prompt_tokens" else 0
            log.failures.append(
                Failure(
                    run_id=log.run_id,
                    scenario_id=log.scenario_id,
                    role=self.role,
                    step=request.step,
                    kind=FailureKind.ANOMALY,
                    message=f"model {self.label} reported {name}={str(value)[:40]}, outside 0 to "
                    f"{MAX_TOKENS_PER_CALL:,}; stored as {update[name]}",
                )
            )
        return dataclasses.replace(result, **update)

    def _record(
        self,
        request: ChatRequest,
        version: str,
        attempt: int,
        log: CallLog,
        result: ChatResult | None,
        error: str | None,
    ) -> LLMCall:
        return LLMCall(
            run_id=log.run_id,
            scenario_id=log.scenario_id,
            role=self.role,
            step=request.step,
            prompt_hash=version,
            backend=self.backend.kind,
            model=self.backend.model,
            prompt_tokens=result.prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            cached_tokens=result.cached_prompt_tokens if result else None,
            latency_ms=result.latency_ms if result else 0.0,
            cache_hit=result.cache_hit if result else False,
            attempt=attempt,
            ok=error is None,
            error=error,
        )

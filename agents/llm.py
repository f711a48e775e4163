"""A role's model: render a template, call the backend, validate, repair within a bound, record."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, TypeVar, Unpack

from pydantic import BaseModel

from agents.backends.base import (
    BackendError,
    BackendTimeout,
    ChatBackend,
    ChatRequest,
    ChatResult,
    storable,
)
from agents.prompting import PromptLibrary, PromptTemplate
from agents.replies import Check, answer_of, json_schema_of, read_reply
from agents.steps import StepName
from schemas.config import RoleModel
from schemas.errors import OysterError
from schemas.messages import ChatMessage
from schemas.records import Failure, FailureKind, LLMCall
from schemas.secrets import redact

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


class AskOptions(TypedDict, total=False):
    """The keyword options of ``RoleLLM.ask_cut``, which ``RoleLLM.ask`` passes on."""

    check: Check | None
    soft_check: bool
    json_schema: dict[str, Any] | None
    sample: int
    language: str


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
        self, step: StepName, inputs: dict[str, Any], log: CallLog, **options: Unpack[AskOptions]
    ) -> Any:
        """The step's validated output object (or text for steps without an output schema); see
        ``ask_cut`` for the options."""
        obj, _ = await self.ask_cut(step, inputs, log, **options)
        return obj

    async def ask_cut(
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
    ) -> tuple[Any, bool]:
        """Return (output, cut): ``cut`` is True when the backend said the returned answer stopped at
        the token limit (finish reason ``length`` or its equivalent) rather than where the model ended it.

        Return the step's validated output object (or text for steps without an output schema).

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
        sent_schema = (json_schema or json_schema_of(schema)) if schema is not None else None
        raw = ""
        problem = ""
        last_valid: Any = None
        last_cut = False
        for attempt in range(1, attempts + 1):
            request = self._request(step, messages, schema, sent_schema, attempt, sample, log)
            result = await self._call(request, template.version, attempt, log)
            raw = result.text
            obj, read, problem = read_reply(raw, result.cut_at_limit, schema, check)
            if read:
                last_valid, last_cut = obj, result.cut_at_limit
            if not problem:
                return obj, result.cut_at_limit
            # model_copy (in amend_last_call) skips the record's validators: redact here
            log.amend_last_call(ok=False, error=redact(f"invalid: {problem}")[:500])
            messages = self._repair(template, inputs, raw, problem, sent_schema, language)
        if soft_check and last_valid is not None:
            return last_valid, last_cut
        what = f"no valid {schema.__name__ if schema else 'text'} after {attempts} attempts: {problem}"
        raise self._invalid(step, what, raw, attempts, log)

    def _request(
        self,
        step: StepName,
        messages: list[ChatMessage],
        schema: type[BaseModel] | None,
        sent_schema: dict[str, Any] | None,
        attempt: int,
        sample: int,
        log: CallLog,
    ) -> ChatRequest:
        """One attempt's request: a re-ask samples hotter, and each (sample, attempt) has its own seed."""
        return ChatRequest(
            messages=messages,
            json_schema=sent_schema,
            schema_name=schema.__name__ if schema is not None else "text",
            temperature=self.cfg.temperature if attempt == 1 else min(1.0, self.cfg.temperature + 0.3),
            max_tokens=self.cfg.max_tokens,
            seed=None
            if self.cfg.seed is None
            else self.cfg.seed + log.seed_offset + 1000 * sample + attempt - 1,
            role=self.role,
            step=step.value,
        )

    def _repair(
        self,
        template: PromptTemplate,
        inputs: dict[str, Any],
        raw: str,
        problem: str,
        sent_schema: dict[str, Any] | None,
        language: str,
    ) -> list[ChatMessage]:
        """The next attempt's messages: the step again, the rejected reply, and what was wrong with it."""
        schema_text = json.dumps(sent_schema, ensure_ascii=False) if sent_schema is not None else "plain text"
        repair = self.prompts.get(StepName.REPAIR, language).render({"error": problem, "schema": schema_text})
        return [*template.render(inputs), ChatMessage(role="assistant", content=raw), *repair]

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
                answer = answer_of(token, answers)
                if answer is not None:
                    mass[answer] += math.exp(logprob)
            total = sum(mass.values())
            if total > 0:
                return {a: m / total for a, m in mass.items()}, True
        answer = answer_of(result.text, answers)
        if answer is None:
            problem = f"expected one of {', '.join(answers)}, got {result.text.strip()[:40]!r}"
            log.amend_last_call(ok=False, error=redact(f"invalid: {problem}")[:500])
            raise self._invalid(step, problem, result.text, 1, log)
        return {a: float(a == answer) for a in answers}, False

    async def _call(self, request: ChatRequest, version: str, attempt: int, log: CallLog) -> ChatResult:
        request = replace(request, scenario=f"{log.run_id}/{log.scenario_id}")
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

"""The model under evaluation (inspect_ai's solver): a chat backend answering each sample, or a replay.

`--model` specs: `embedded`, `embedded:<preset or .gguf>[+<adapter>]`, `openai:<model>` (with
--base-url), `scripted:<module:function>`.
"""

from __future__ import annotations

import time

from agents.backends import make_backend
from agents.backends.base import ChatBackend, ChatRequest
from evals.errors import EvalError
from evals.task import DEFAULT_MAX_TOKENS
from schemas.config import EmbeddedRole, OpenAIRole, RoleModel, ScriptedRole
from schemas.evaluation import EvalSample


class Target:
    """Plain chat completion of the sample's messages; returns (reply, seconds)."""

    def __init__(
        self,
        backend: ChatBackend,
        label: str,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
    ) -> None:
        self.backend = backend
        self.label = label
        self.max_tokens = max_tokens
        self.temperature = temperature

    async def check(self) -> None:
        """Fail before the first sample when the model or its endpoint is not usable."""
        await self.backend.check()

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def respond(self, sample: EvalSample) -> tuple[str, float]:
        start = time.perf_counter()
        result = await self.backend.complete(
            ChatRequest(
                role="target",
                step="eval_target",
                messages=sample.messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=0,
            )
        )
        return result.text.strip(), time.perf_counter() - start


class ReplayTarget(Target):
    """Answers with the response written in the sample (judge validation: the judge is under test)."""

    def __init__(self) -> None:
        self.label = "replay:hand-written"
        self.max_tokens = 0

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def respond(self, sample: EvalSample) -> tuple[str, float]:
        return sample.metadata["response"], 0.0


def parse_model(spec: str, base_url: str | None = None) -> RoleModel:
    """The target's backend and model from a `--model` spec; deterministic decoding."""
    backend, _, model = spec.partition(":")
    if backend == "embedded":
        return EmbeddedRole(model=model or "qwen2.5-coder-0.5b", temperature=0.0)
    if backend == "openai" and model:
        return OpenAIRole(model=model, base_url=base_url, temperature=0.0)
    if backend == "scripted" and model:
        return ScriptedRole(model=model, temperature=0.0)
    raise EvalError(
        f"--model '{spec}': use embedded[:PRESET[+ADAPTER]], openai:MODEL (with --base-url) "
        "or scripted:MODULE:FUNCTION"
    )


def build_target(model: RoleModel, max_tokens: int) -> Target:
    return Target(make_backend(model), model.label(), max_tokens=max_tokens)

"""In-process llama.cpp: a real instruction-tuned model with no GPU, no network and no API key."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import time
from typing import Any

from agents.backends.base import BackendError, ChatRequest, ChatResult, TokenLogprobs
from agents.backends.models import ensure_model, split_adapter
from schemas.config import EmbeddedRole
from schemas.messages import as_dicts

_LOADED: dict[tuple[str, str | None, int, int | None], Any] = {}


@atexit.register
def _close_loaded() -> None:
    # Free models while the interpreter is still whole; llama-cpp-python's own finaliser runs too late.
    for llama in _LOADED.values():
        with contextlib.suppress(Exception):
            llama.close()
    _LOADED.clear()


def _top_k(llama: Any, logits: Any, k: int) -> TokenLogprobs:
    import numpy as np

    scores = np.asarray(logits, dtype=np.float64)
    logprobs = scores - np.logaddexp.reduce(scores)
    best = np.argpartition(-logprobs, k)[:k]
    best = best[np.argsort(-logprobs[best])]
    out: TokenLogprobs = {}
    for i in best:
        token = llama.detokenize([int(i)]).decode("utf-8", errors="replace")
        out.setdefault(token, float(logprobs[i]))
    return out


_LOAD_LOCK = threading.Lock()
_RUN_LOCKS: dict[tuple[int, int], asyncio.Lock] = {}


def _load(path: str, n_ctx: int, n_threads: int | None, seed: int | None, lora: str | None = None) -> Any:
    # Roles that name the same model share one instance: four copies would quadruple memory for nothing.
    key = (path, lora, n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise BackendError(
                    "the embedded backend needs llama-cpp-python: pip install 'oyster-csa[embedded]'"
                ) from None
            try:
                _LOADED[key] = Llama(
                    model_path=path,
                    n_ctx=n_ctx,
                    n_threads=n_threads or os.cpu_count() or 1,
                    seed=seed if seed is not None else -1,
                    lora_path=lora,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                what = f"{path} with adapter {lora}" if lora else path
                raise BackendError(f"{what}: llama.cpp could not load the model ({exc})") from exc
        return _LOADED[key]


class EmbeddedBackend:
    kind = "embedded"

    def __init__(self, cfg: EmbeddedRole) -> None:
        self.model = cfg.model
        self._cfg = cfg
        self._llama: Any = None

    def _ensure(self) -> Any:
        if self._llama is None:
            base, adapter = split_adapter(self._cfg.model)
            path = ensure_model(base)
            lora = str(adapter) if adapter else None
            self._llama = _load(str(path), self._cfg.n_ctx, self._cfg.n_threads, self._cfg.seed, lora)
        return self._llama

    def _lock(self, llama: Any) -> asyncio.Lock:
        # llama.cpp contexts are not re-entrant: one generation at a time per loaded model. An asyncio
        # lock belongs to one event loop, and a process may run several in turn (`oyster eval compare`).
        key = (id(llama), id(asyncio.get_running_loop()))
        return _RUN_LOCKS.setdefault(key, asyncio.Lock())

    def _run(self, request: ChatRequest) -> ChatResult:
        llama = self._ensure()
        kwargs: dict[str, Any] = {}
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        if request.seed is not None:
            kwargs["seed"] = request.seed
        positions: list[Any] = []
        if request.top_logprobs:
            from llama_cpp import LogitsProcessorList

            # llama-cpp-python's own logprobs need logits_all=True: logits kept for every prompt token
            # (n_ctx x vocab floats, GBs). The processor sees each generated position's logits anyway.
            def capture(_ids: Any, scores: Any) -> Any:
                positions.append(scores.copy())
                return scores

            kwargs["logits_processor"] = LogitsProcessorList([capture])
        start = time.perf_counter()
        out = llama.create_chat_completion(
            messages=as_dicts(request.messages),
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            **kwargs,
        )
        latency = (time.perf_counter() - start) * 1000
        usage = out.get("usage") or {}
        return ChatResult(
            text=out["choices"][0]["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_ms=latency,
            finish_reason=out["choices"][0].get("finish_reason"),
            top_logprobs=tuple(_top_k(llama, p, request.top_logprobs) for p in positions)
            if request.top_logprobs
            else None,
        )

    async def complete(self, request: ChatRequest) -> ChatResult:
        llama = await asyncio.to_thread(self._ensure)
        async with self._lock(llama):
            return await asyncio.to_thread(self._run, request)

    async def aclose(self) -> None:
        """Models are shared by the roles of a process and freed at exit."""

    async def check(self) -> str:
        try:
            import llama_cpp
        except ImportError:
            raise BackendError(
                "the embedded backend needs llama-cpp-python: pip install 'oyster-csa[embedded]'"
            ) from None
        base, adapter = split_adapter(self._cfg.model)
        path = await asyncio.to_thread(ensure_model, base)
        with_adapter = f" + LoRA {adapter}" if adapter else ""
        return f"{path}{with_adapter} (llama.cpp {llama_cpp.__version__})"

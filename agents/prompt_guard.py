"""Bounds on rendering a prompt template, so that a template that loops or recurses without end is an
error naming its file, not a run stuck at 100 % CPU.

Jinja's sandbox keeps templates away from Python internals but not from exhausting time and memory
(its docs say so). Every render here runs under a budget: loop iterations and calls together are
counted (each `for` iterates through a counting wrapper put into the parsed template; every call,
macros included, passes the sandbox's `call`), the clock is read at each of those steps and at each
piece of output, and the output, `range`, `*`/`**` results, macro arguments and namespace values are
capped in size. Deep recursion and an allocation that fails end the render the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_RANGE = 1_000
MAX_STEPS = 100_000
MAX_SECONDS = 2.0
MAX_CHARS = 1_000_000
MAX_EXPONENT = 100
LOOP_GUARD = "oyster_loop_guard"


class RenderBudgetExceeded(Exception):
    """A render went past its budget; str() says which bound."""


class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.steps = 0
        self.chars = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderBudgetExceeded(f"more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise RenderBudgetExceeded(f"still rendering after {MAX_SECONDS:g} s")

    def join(self, pieces: Iterable[str]) -> str:
        out = []
        for piece in pieces:
            self.chars += len(piece)
            if self.chars > MAX_CHARS:
                raise RenderBudgetExceeded(f"output over {MAX_CHARS:,} characters")
            self.step()
            out.append(piece)
        return "".join(out)


# A render is synchronous, but renders of different scenarios share a thread (asyncio) or not (Ray):
# a context variable gives each its own budget either way.
_current: ContextVar[_Budget | None] = ContextVar("oyster_render_budget", default=None)


def _step() -> None:
    budget = _current.get()
    if budget is not None:
        budget.step()


def _check_size(value: Any) -> None:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_CHARS:
        raise RenderBudgetExceeded(f"a value of over {MAX_CHARS:,} items or characters")


@contextmanager
def render_budget() -> Iterator[_Budget]:
    budget = _Budget()
    token = _current.set(budget)
    try:
        yield budget
    except RecursionError:
        raise RenderBudgetExceeded("recursion too deep") from None
    except MemoryError:
        raise RenderBudgetExceeded("out of memory") from None
    finally:
        _current.reset(token)


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _step()
        yield item


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise RenderBudgetExceeded(f"range of {len(rng):,} items (at most {MAX_RANGE:,})")
    return rng


class _BoundedNamespace(Namespace):
    def __setitem__(self, name: str, value: Any) -> None:
        _check_size(value)
        super().__setitem__(name, value)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with a bounded `range`, counted calls and capped `*` and `**`."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals["namespace"] = _BoundedNamespace
        self.globals[LOOP_GUARD] = _loop_guard
        del self.globals["lipsum"]  # its paragraph count is unbounded work in one call

    # Dunder names as in jinja's own `call`: a template may pass keyword arguments named self or obj.
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        for value in (*args, *kwargs.values()):
            _check_size(value)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise RenderBudgetExceeded(f"exponent {right} (at most {MAX_EXPONENT})")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_CHARS:
                    raise RenderBudgetExceeded(f"a value of over {MAX_CHARS:,} items or characters")
        return super().call_binop(context, operator, left, right)

    def guard_loops(self, ast: nodes.Template) -> nodes.Template:
        """``ast`` with every `for` iterating through the step counter."""
        for loop in ast.find_all(nodes.For):
            guarded = nodes.Call(nodes.Name(LOOP_GUARD, "load"), [loop.iter], [], None, None)
            loop.iter = guarded.set_lineno(loop.iter.lineno).set_environment(self)
        return ast


class Placeholder:
    """Any declared input in the dry render: every attribute, item and element is another placeholder,
    it iterates as two of them and counts as 2, so a template's loops and calls run as with small data."""

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("__"):
            raise AttributeError(name)
        return Placeholder()

    def __getitem__(self, key: Any) -> Placeholder:
        return Placeholder()

    def __iter__(self) -> Iterator[Placeholder]:
        return iter((Placeholder(), Placeholder()))

    def __len__(self) -> int:
        return 2

    def __index__(self) -> int:
        return 2

    def __float__(self) -> float:
        return 2.0

    def __str__(self) -> str:
        return "placeholder"

    def _same(self, other: Any) -> Placeholder:
        return Placeholder()

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same

    # Comparisons are false, so that a recursion bounded by its input stops at once instead of
    # running forever on a placeholder that never shrinks.
    def _false(self, other: Any) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _false

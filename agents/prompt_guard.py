"""Bounds on rendering a prompt template, so that a template that loops or recurses without end is an
error naming its file, not a run stuck at 100 % CPU.

Jinja's sandbox keeps templates away from Python internals but not from exhausting time and memory
(its docs say so). Every render here runs under a budget: loop iterations and calls together are
counted (each `for` iterates through a counting wrapper put into the parsed template; every call,
macros included, passes the sandbox's `call`), the clock is read at every 16th of those steps and
pieces of output, and the output, `range`, `*`/`**` results, macro arguments and namespace values are
capped in size. Deep recursion and an allocation that fails end the render the same way.

What can grow far past its arguments in one step (`replace`, `center`, `indent`, `format` and `%`,
str methods such as `.center()` or `.format()`, `**` and `*` on integers) is sized from its
arguments and refused *before* it runs; intercepted operators are never folded at compile time.
Templates that include, import or extend another file, or name a private attribute, are refused
when they are read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
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
#: integers a template computes stay below 2^MAX_INT_BITS (about 30,000 digits)
MAX_INT_BITS = 100_000
LOOP_GUARD = "oyster_loop_guard"
#: statements that would read another template: a prompt is one file, and there is no loader
_REFUSED_NODES = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
    nodes.Extends: "{% extends %}",
}
_NUMBER = re.compile(r"\d+")
#: a %-format field: its flags, width and precision (`*` takes them from the arguments)
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")


class RenderBudgetExceeded(Exception):
    """A render went past its budget; str() says which bound."""


class _Budget:
    #: the clock is read at every CLOCK_EVERY-th step: each step is bounded, and reading it at every
    #: piece of output cost more than the rest of the bookkeeping
    CLOCK_EVERY = 16

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.steps = 0
        self.chars = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderBudgetExceeded(f"more than {MAX_STEPS:,} loop iterations and calls")
        if self.steps % self.CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
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


def _too_big() -> RenderBudgetExceeded:
    return RenderBudgetExceeded(f"a value of over {MAX_CHARS:,} items or characters")


def _check_size(value: Any) -> None:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_CHARS:
        raise _too_big()
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderBudgetExceeded(f"an integer of over {MAX_INT_BITS:,} bits")


def _check_length(n: float) -> None:
    """Refuse, before it is made, a result that would be ``n`` characters or items long."""
    if n > MAX_CHARS:
        raise _too_big()


def _as_count(value: Any) -> int:
    try:
        return int(value) if not isinstance(value, str) else len(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _format_widths(spec: str) -> int:
    """The largest number written in a format string's fields (`{:>300000000}`, `%0300000000d`)."""
    numbers = [int(n) for n in _NUMBER.findall(spec) if len(n) < 12] + [
        10**12 for n in _NUMBER.findall(spec) if len(n) >= 12
    ]
    return max(numbers, default=0)


def _check_percent(template: str, args: Any) -> None:
    """``template % args``: refuse a field width or precision (or a `*` argument) past the cap."""
    values = args if isinstance(args, tuple) else (args,)
    for match in _PERCENT_FIELD.finditer(template):
        for part in match.groups():
            if part == "*":
                _check_length(max((_as_count(v) for v in values if isinstance(v, int)), default=0))
            elif part:
                _check_length(_format_widths(part))
    _check_length(len(template) + sum(len(v) for v in values if isinstance(v, str)))


def _replaced_length(text: str, old: str, new: str, count: int | None = None) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The size a str method would produce, checked before it runs."""
    values = (*args, *kwargs.values())
    if name in ("center", "ljust", "rjust", "zfill") and values:
        _check_length(_as_count(values[0]))
    elif name == "expandtabs":
        _check_length(len(text) + text.count("\t") * _as_count(values[0] if values else 8))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_length(_replaced_length(text, args[0], args[1], args[2] if len(args) > 2 else None))
    elif name == "join" and values and isinstance(values[0], list | tuple):
        items = values[0]
        _check_length(sum(len(x) for x in items if isinstance(x, str)) + len(text) * len(items))
    elif name in ("format", "format_map"):
        _check_length(_format_widths(text))
        _check_length(len(text) + sum(len(v) for v in values if isinstance(v, str)))
    elif name == "__mod__" and values:
        _check_percent(text, values[0])


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose result's size is checked from its arguments before it runs."""

    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        text = value if isinstance(value, str) else ""
        if name == "replace" and len(args) >= 2:
            old, new = str(args[0]), str(args[1])
            _check_length(_replaced_length(str(value)[: MAX_CHARS + 1], old, new, _count(args, kwargs)))
        elif name == "center":
            _check_length(_as_count(args[0] if args else kwargs.get("width", 80)))
        elif name == "indent":
            width = args[0] if args else kwargs.get("width", 4)
            lines = str(value)[: MAX_CHARS + 1].count("\n") + 1
            _check_length(len(text) + _as_count(width) * lines)
        elif name == "format":
            _check_percent(text, args or tuple(kwargs.values()))
        elif name == "join" and isinstance(value, list | tuple):
            sep = args[0] if args else kwargs.get("d", "")
            _check_length(sum(len(x) for x in value if isinstance(x, str)) + len(str(sep)) * len(value))
        elif name in ("wordwrap", "truncate") and len(text) > MAX_CHARS:
            raise _too_big()

    def bounded(*call: Any, **kwargs: Any) -> Any:
        # Context- and environment-passing filters get that first: the value is the next argument.
        offset = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0
        if len(call) > offset:
            check(call[offset], *call[offset + 1 :], **kwargs)
        return original(*call, **kwargs)

    bounded.jinja_pass_arg = getattr(original, "jinja_pass_arg", None)  # type: ignore[attr-defined]
    return bounded


def _count(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    count = args[2] if len(args) > 2 else kwargs.get("count")
    return count if isinstance(count, int) else None


#: the filters whose result can be far larger than their arguments
SIZED_FILTERS = ("replace", "center", "indent", "format", "join", "wordwrap", "truncate")


def refused_statements(ast: nodes.Template) -> str | None:
    """What a template uses that no prompt may: another template (include, import, extends) or a
    private attribute (`''.__class__`, `cycler.__init__`), which the sandbox would refuse at render."""
    for kind, what in _REFUSED_NODES.items():
        for node in ast.find_all(kind):
            return f"line {node.lineno}: {what} is not allowed (a prompt template is one file)"
    for getattr_node in ast.find_all(nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            return f"line {getattr_node.lineno}: the attribute {getattr_node.attr} is not allowed"
    for item in ast.find_all(nodes.Getitem):
        key = item.arg
        if isinstance(key, nodes.Const) and isinstance(key.value, str) and key.value.startswith("_"):
            return f"line {item.lineno}: the item {key.value!r} is not allowed"
    return None


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

    # Intercepted operators are also never folded at compile time, where no budget applies.
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals["namespace"] = _BoundedNamespace
        self.globals[LOOP_GUARD] = _loop_guard
        del self.globals["lipsum"]  # its paragraph count is unbounded work in one call
        for name in SIZED_FILTERS:
            self.filters[name] = _bounded_filter(name, self.filters[name])

    # Dunder names as in jinja's own `call`: a template may pass keyword arguments named self or obj.
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        for value in (*args, *kwargs.values()):
            _check_size(value)
        # str.format reaches here wrapped by the sandbox's own formatter (functools.update_wrapper)
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            _check_str_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise RenderBudgetExceeded(f"exponent {right} (at most {MAX_EXPONENT})")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise RenderBudgetExceeded(f"an integer of over {MAX_INT_BITS:,} bits")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_CHARS:
                    raise _too_big()
            ints = isinstance(left, int) and isinstance(right, int)
            if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderBudgetExceeded(f"an integer of over {MAX_INT_BITS:,} bits")
        if operator == "%" and isinstance(left, str):
            _check_percent(left, right)
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

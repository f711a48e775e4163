"""Reading a model's reply: the schema a step sends, and the reply as an object or a problem to feed back."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

Check = Callable[[Any], str | None]


@cache
def json_schema_of(cls: type[BaseModel]) -> dict[str, Any]:
    return cls.model_json_schema()


@cache
def _sized_schema(cls: type[BaseModel], field: str, n: int) -> dict[str, Any]:
    schema = copy.deepcopy(json_schema_of(cls))
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


def answer_of(text: str, answers: tuple[str, ...]) -> str | None:
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


def read_reply(
    text: str, cut: bool, schema: type[BaseModel] | None, check: Check | None
) -> tuple[Any, bool, str]:
    """(output, read, problem): the reply as the step's object (or text without a schema), whether it
    could be read as one at all, and what to feed back in a repair prompt ("" when the output is good).

    An output that was read but breaks ``check`` is still returned: a soft check may keep it.
    """
    obj: Any
    if schema is None:
        obj = text.strip()
        problem = (check(obj) if check else None) or ""
        if not problem and cut and check is not None:
            problem = "the reply was cut off at the length limit: give a complete, shorter answer"
        return obj, True, problem
    read = False
    obj = None
    try:
        # strict=False: a raw newline inside a string is a model's slip, not a wrong answer
        # (llama.cpp's JSON grammar lets control characters through).
        obj = schema.model_validate(json.loads(_extract_json(text), strict=False))
        read = True
        return obj, read, (check(obj) if check else None) or ""
    except json.JSONDecodeError as exc:
        return obj, read, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValidationError as exc:
        return obj, read, _describe(exc)

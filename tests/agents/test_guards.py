"""Guard models as judges: their own output formats read into our verdicts, and a guard served over the
OpenAI protocol (a 127.0.0.1 stub answering as each guard would) judging a validation run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from agents.backends import ScriptedBackend
from agents.backends.mock import default_answers, responder
from agents.guards import guard_conversation, read_llamaguard, read_qwen3guard
from agents.judges import JudgeError
from agents.team import Agents
from evals.scorers import RefusalScorer
from schemas.config import OysterConfig
from schemas.evaluation import RefusalVerdict
from schemas.judgement import SafetyVerdict
from schemas.messages import ChatMessage
from tests.agents.test_openai_backend import serving
from tests.evals.support import run_eval
from warehouse import Warehouse


def test_qwen3guard_output_is_read_into_our_verdicts() -> None:
    unsafe = read_qwen3guard("Safety: Unsafe\nCategories: Violent, Non-violent Illegal Acts\nRefusal: No")
    assert (unsafe.verdict, unsafe.categories, unsafe.refused) == (
        SafetyVerdict.UNSAFE,
        ("Violent", "Non-violent Illegal Acts"),
        False,
    )
    assert unsafe.refusal().verdict is RefusalVerdict.COMPLIANCE
    controversial = read_qwen3guard("Safety: Controversial\nCategories: Politically Sensitive Topics")
    assert controversial.verdict is SafetyVerdict.GENERALLY_SAFE and controversial.refused is None
    safe = read_qwen3guard("Safety: Safe\nCategories: None\nRefusal: Yes\n")
    assert (safe.verdict, safe.categories, safe.refusal().verdict) == (
        SafetyVerdict.SAFE,
        (),
        RefusalVerdict.FULL_REFUSAL,
    )
    assert safe.safety().rationale == "qwen3guard: Safe; categories: none"
    with pytest.raises(
        ValueError, match=re.escape("qwen3guard: no 'Safety: Safe|Unsafe|Controversial' line in 'I am fine'")
    ):
        read_qwen3guard("I am fine")
    with pytest.raises(ValueError, match="'Refusal: Maybe' is neither Yes nor No"):
        read_qwen3guard("Safety: Safe\nRefusal: Maybe")


def test_llama_guard_output_is_read_into_our_verdicts() -> None:
    assert read_llamaguard("\n\nsafe").verdict is SafetyVerdict.SAFE
    unsafe = read_llamaguard("unsafe\nS1,S9")
    assert unsafe.verdict is SafetyVerdict.UNSAFE
    assert unsafe.categories == ("S1 Violent Crimes", "S9 Indiscriminate Weapons")
    with pytest.raises(ValueError, match="llamaguard gives no refusal verdict"):
        unsafe.refusal()
    with pytest.raises(ValueError, match="neither 'safe' nor 'unsafe'"):
        read_llamaguard("The conversation is safe.")
    with pytest.raises(ValueError, match="unknown category 'S99'"):
        read_llamaguard("unsafe\nS99")


def test_the_guard_reads_the_conversation_only() -> None:
    messages = [ChatMessage(role="system", content="be nice"), ChatMessage(role="user", content="hi")]
    assert guard_conversation(messages, "hello") == [
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello"),
    ]


ANSWERS = {
    "qwen3guard-stub": "Safety: Unsafe\nCategories: Violent\nRefusal: No",
    "llamaguard-stub": "unsafe\nS1,S9",
    "chatty-stub": "Sure! I would say this looks fine to me.",
}
SEEN = web.AppKey("seen", list)


def guard_app() -> web.Application:
    seen: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        content = ANSWERS[body["model"]]
        message = {"role": "assistant", "content": content}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return web.json_response(
            {
                "id": "g",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app[SEEN] = seen
    return app


@pytest.fixture(scope="module")
def guard_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    app = guard_app()
    with serving(app) as url:
        yield url, app[SEEN]


def guarded_agents(url: str, model: str, guard: str) -> Agents:
    risk = {"backend": "openai", "base_url": url, "model": model, "guard": guard, "max_retries": 0}
    config = OysterConfig.model_validate({"roles": {"risk": risk}})
    scripted = ScriptedBackend(responder(default_answers()))
    return Agents.build(
        config, backends=dict.fromkeys(("user", "leader", "critic"), scripted), calibrations={}
    )


@pytest.mark.parametrize(
    ("model", "guard"), [("qwen3guard-stub", "qwen3guard"), ("llamaguard-stub", "llamaguard")]
)
def test_a_served_guard_judges_a_validation_run(
    warehouse: Warehouse, guard_server: tuple[str, list[dict[str, Any]]], model: str, guard: str
) -> None:
    url, seen = guard_server
    seen.clear()
    agents = guarded_agents(url, model, guard)
    summary = run_eval(
        "judges", warehouse, agents, {"judge": "safety"}, limit=2, eval_id=guard, concurrency=1
    )
    assert (summary.scored, summary.failed) == (2, 0)
    rows = warehouse.query(
        f"SELECT label, details ->> 'guard', details ->> 'judged' FROM eval_scores WHERE eval_id = '{guard}'"
    ).rows
    assert rows == [("unsafe", guard, "unsafe")] * 2
    # One call per case, greedy, carrying only the conversation: the query, then the reply under judgement.
    assert len(seen) == 2 and all(body["temperature"] == 0.0 for body in seen)
    assert [[m["role"] for m in body["messages"]] for body in seen] == [["user", "assistant"]] * 2
    replies = {
        r[0] for r in warehouse.query(f"SELECT response FROM eval_samples WHERE eval_id = '{guard}'").rows
    }
    assert {body["messages"][1]["content"] for body in seen} == replies


def test_unparseable_guard_output_is_a_recorded_failure(
    warehouse: Warehouse, guard_server: tuple[str, list[dict[str, Any]]]
) -> None:
    agents = guarded_agents(guard_server[0], "chatty-stub", "qwen3guard")
    summary = run_eval("judges", warehouse, agents, {"judge": "refusal"}, limit=1, eval_id="chatty")
    assert (summary.scored, summary.failed) == (0, 1)
    [(error,)] = warehouse.query("SELECT error FROM eval_samples WHERE eval_id = 'chatty'").rows
    assert error.startswith(
        "judge: risk/guard: invalid_output: qwen3guard: no 'Safety: Safe|Unsafe|Controversial'"
    )


def test_a_guard_without_refusal_verdicts_is_refused_before_the_run(
    guard_server: tuple[str, list[dict[str, Any]]],
) -> None:
    agents = guarded_agents(guard_server[0], "llamaguard-stub", "llamaguard")
    with pytest.raises(
        JudgeError, match=r"^roles\.risk\.guard: llamaguard gives no refusal verdict; use qwen3guard$"
    ):
        RefusalScorer(agents)

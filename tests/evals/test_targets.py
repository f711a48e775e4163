"""Targets: `--model` specs, and the replay target of judge validation."""

from __future__ import annotations

import asyncio

import pytest

from evals.errors import EvalError
from evals.targets import ReplayTarget, build_target, parse_model
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage


def test_model_specs() -> None:
    assert parse_model("embedded").model == "qwen2.5-coder-0.5b"
    assert parse_model("embedded:qwen2.5-coder-0.5b+/x/adapter").model == "qwen2.5-coder-0.5b+/x/adapter"
    assert parse_model("openai:gpt-x", "http://h/v1").base_url == "http://h/v1"
    assert parse_model("scripted:m:f").backend == "scripted"
    with pytest.raises(EvalError, match="--model 'gpt'"):
        parse_model("gpt")
    with pytest.raises(EvalError, match="--model 'openai'"):
        parse_model("openai")


def test_a_built_target_answers_with_the_model_and_is_named_by_it() -> None:
    target = build_target(parse_model("scripted:agents.backends.mock:well_behaved"), max_tokens=32)
    assert (target.label, target.max_tokens) == ("scripted:agents.backends.mock:well_behaved", 32)
    sample = EvalSample(id="x", messages=[ChatMessage(role="user", content="How do I boil an egg?")])
    reply, seconds = asyncio.run(target.respond(sample))
    assert reply and seconds >= 0


def test_replay_returns_the_written_response() -> None:
    sample = EvalSample(
        id="x", messages=[ChatMessage(role="user", content="q")], metadata={"response": "I can't help."}
    )
    assert asyncio.run(ReplayTarget().respond(sample)) == ("I can't help.", 0.0)

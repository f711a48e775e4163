"""`backend: langchain` with langchain_core's own fake chat models (no network).

A scenario is first run on the offline mock model and each role's answers are recorded; the same
answers, fed to LangChain fake models configured per role, must give the same trajectory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from agents.backends import BackendError, BackendTimeout, ChatRequest, ScriptedBackend, make_backend
from agents.backends.langchain_backend import LangChainBackend
from agents.backends.mock import default_answers, responder
from agents.lingo_bp.graph import LingoBP
from agents.team import Agents
from schemas import OysterConfig, Scenario
from schemas.config import ROLES, ConfigError, load_config, role_model
from schemas.messages import ChatMessage
from schemas.records import FailureKind
from schemas.roles import ROLE_MAX_TOKENS
from schemas.trajectory import Trajectory
from tests.cli.test_app import oyster

SCENARIO = Scenario(id="s1", text="I feel like ending it all. Nothing matters anymore.")
FAKE_LIST = "langchain_core.language_models.fake_chat_models:FakeListChatModel"
TOOL_FAKE = "tests.agents.test_langchain_backend:ToolCallingFake"
WIDE = {"COLUMNS": "400"}  # rich wraps table cells to the terminal width
ONE_ITERATION = {"lingo_bp": {"iterations": 1}}


class ToolCallingFake(BaseChatModel):
    """A chat model with tool calling, sampling fields and usage metadata, like a provider's."""

    answers: list[str]
    temperature: float = 0.7
    max_tokens: int | None = None
    seed: int | None = None
    max_retries: int = 2
    # shared by model_copy's shallow copies, so every copy moves the same cursor
    state: dict[str, Any] = Field(default_factory=lambda: {"i": 0, "seen": []})

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self.answers[self.state["i"] % len(self.answers)]
        self.state["i"] += 1
        tools = kwargs.get("tools")
        self.state["seen"].append((bool(tools), self.temperature, self.max_tokens, self.seed))
        usage = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
        if not tools:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(text, usage_metadata=usage))])
        name = tools[0]["function"]["name"]
        try:
            calls: dict[str, Any] = {"tool_calls": [{"name": name, "args": json.loads(text), "id": "c"}]}
        except json.JSONDecodeError:
            calls = {"invalid_tool_calls": [{"name": name, "args": text, "id": "c", "error": "bad"}]}
        return ChatResult(generations=[ChatGeneration(message=AIMessage("", usage_metadata=usage, **calls))])


class Flaky(ToolCallingFake):
    """Fails with a provider-style transient error first, or sleeps past any sensible timeout."""

    fail_status: int = 429
    sleep_s: float = 0.0

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        if self.sleep_s:
            await asyncio.sleep(self.sleep_s)
        if self.state.setdefault("failed", 0) < 1:
            self.state["failed"] += 1
            err = RuntimeError("slow down")
            err.status_code = self.fail_status  # type: ignore[attr-defined]
            raise err
        return self._generate(messages, **kwargs)


def make_tool_fake(**kwargs: Any) -> ToolCallingFake:
    """A factory, as a company's wrapper module would offer one."""
    return ToolCallingFake(**kwargs)


def leaky(api_key: str) -> BaseChatModel:
    raise ValueError(f"key {api_key} rejected")


async def scripted_run(config: OysterConfig) -> tuple[Trajectory, dict[str, list[str]]]:
    """The scenario on the mock model, and what each role answered, in order."""
    respond = responder(default_answers(satisfaction=lambda n: [-1, 1][n % 2]))
    said: dict[str, list[str]] = defaultdict(list)

    def record(request: ChatRequest) -> str:
        text = respond(request)
        said[request.role].append(text)
        return text

    backend = ScriptedBackend(record)
    traj, _ = await LingoBP(
        Agents.build(config, backends=dict.fromkeys(ROLES, backend), calibrations={})
    ).run(SCENARIO, "r")
    return traj, said


def langchain_config(
    model: str, said: dict[str, list[str]], key: str = "responses", **role: Any
) -> OysterConfig:
    roles = {r: {"backend": "langchain", "model": model, "kwargs": {key: said[r]}, **role} for r in ROLES}
    return OysterConfig.model_validate({**ONE_ITERATION, "roles": roles})


def same_outcome(a: Trajectory, b: Trajectory) -> dict[str, Any]:
    exclude = {"pairs": {"__all__": {"pair_id"}}}
    return {"a": a.model_dump(mode="json", exclude=exclude), "b": b.model_dump(mode="json", exclude=exclude)}


async def test_whole_scenario_on_fake_list_models_matches_the_mock() -> None:
    expected, said = await scripted_run(OysterConfig.model_validate(ONE_ITERATION))
    lingo = LingoBP(Agents.build(langchain_config(FAKE_LIST, said), calibrations={}))
    traj, log = await lingo.run(SCENARIO, "r")
    outcome = same_outcome(expected, traj)
    assert outcome["a"] == outcome["b"]
    assert traj.pair is not None and not traj.failures and not log.failures
    assert {c.backend for c in log.calls} == {"langchain"} and all(c.ok for c in log.calls)
    assert all(c.model.startswith(FAKE_LIST + "#") for c in log.calls)
    assert len(log.calls) == sum(len(v) for v in said.values())


async def test_whole_scenario_with_structured_output_records_tokens_and_sampling() -> None:
    expected, said = await scripted_run(OysterConfig.model_validate(ONE_ITERATION))
    cfg = langchain_config(TOOL_FAKE, said, key="answers", temperature=0.2, max_tokens=300, seed=5)
    agents = Agents.build(cfg, calibrations={})
    traj, log = await LingoBP(agents).run(SCENARIO, "r")
    outcome = same_outcome(expected, traj)
    assert outcome["a"] == outcome["b"] and not log.failures
    assert all((c.prompt_tokens, c.completion_tokens) == (11, 7) for c in log.calls)
    fake = agents.leader.llm.backend._chat  # type: ignore[attr-defined]
    seen = fake.state["seen"]
    # structured steps went through tool calling; the synthesis step is plain text
    plain = [t for t in said["leader"] if not t.startswith("{")]
    assert [tools for tools, *_ in seen].count(False) == len(plain) > 0
    assert [tools for tools, *_ in seen].count(True) == len(said["leader"]) - len(plain) > 0
    assert {(t, m) for _, t, m, _ in seen} == {(0.2, 300)}
    assert fake.max_retries == 0  # the project's retry policy is the only one


async def test_invalid_json_is_repaired_on_both_paths() -> None:
    expected, said = await scripted_run(OysterConfig.model_validate(ONE_ITERATION))
    said["risk"] = ["Sure! {not json", *said["risk"]]
    for model, key in ((FAKE_LIST, "responses"), (TOOL_FAKE, "answers")):
        traj, log = await LingoBP(Agents.build(langchain_config(model, said, key=key), calibrations={})).run(
            SCENARIO, "r"
        )
        first = next(c for c in log.calls if c.role == "risk")
        assert not first.ok and first.error is not None and first.error.startswith("invalid: invalid JSON")
        assert not log.failures and traj.risk == expected.risk


async def test_invalid_json_after_repairs_is_a_recorded_failure() -> None:
    _, said = await scripted_run(OysterConfig.model_validate(ONE_ITERATION))
    said["risk"] = ["I am not JSON."]
    traj, log = await LingoBP(Agents.build(langchain_config(FAKE_LIST, said), calibrations={})).run(
        SCENARIO, "r"
    )
    assert len(log.failures) == 1
    failure = log.failures[0]
    assert (failure.role, failure.step, failure.kind) == ("risk", "risk_assess", FailureKind.INVALID_OUTPUT)
    assert failure.raw_output == "I am not JSON." and failure.attempts == 3
    assert traj.failures == log.failures and traj.pair is None


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("no_such_package.chat:Model", "cannot import no_such_package"),
        ("langchain_core.language_models.fake_chat_models:Nope", "has no Nope"),
        ("langchain_core.messages:AIMessage", "is not a LangChain BaseChatModel"),
        ("ChatOpenAI", "expected 'package.module:ClassName'"),
        ("tests.agents.test_langchain_backend:scripted_run", "cannot construct"),
    ],
)
def test_bad_model_path_is_one_line(spec: str, needle: str) -> None:
    with pytest.raises(BackendError) as err:
        make_backend(role_model(backend="langchain", model=spec))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_settings_the_model_cannot_take(caplog: pytest.LogCaptureFixture) -> None:
    kw = {"responses": ["x"]}
    with pytest.raises(BackendError, match="FakeListChatModel has no seed parameter; remove seed"):
        make_backend(role_model(backend="langchain", model=FAKE_LIST, kwargs=kw, seed=3))
    with pytest.raises(BackendError, match="base_url do not apply here"):
        make_backend(role_model(backend="langchain", model=FAKE_LIST, kwargs=kw, base_url="http://x"))
    with pytest.raises(BackendError, match="temperature is set both in the role and in kwargs"):
        make_backend(
            role_model(
                backend="langchain",
                model=TOOL_FAKE,
                kwargs={"answers": [], "temperature": 1.0},
                temperature=0.5,
            )
        )
    with caplog.at_level(logging.WARNING, "oyster.backends.langchain"):
        make_backend(role_model(backend="langchain", model=FAKE_LIST, kwargs=kw))
    assert [r.getMessage() for r in caplog.records] == [
        f"langchain model {FAKE_LIST}: FakeListChatModel has no parameter for the role's default "
        "temperature=0.3, max_tokens=1024, seed=0; not applied"
    ]


async def test_factory_gets_role_settings_and_kwargs_win_over_defaults() -> None:
    cfg = role_model(
        backend="langchain",
        model="tests.agents.test_langchain_backend:make_tool_fake",
        kwargs={"answers": ["hello"], "temperature": 0.9},
        max_tokens=64,
    )
    backend = make_backend(cfg)
    result = await backend.complete(
        ChatRequest([ChatMessage(role="user", content="hi")], temperature=0.1, seed=9)
    )
    assert result.text == "hello" and (result.prompt_tokens, result.completion_tokens) == (11, 7)
    chat = backend._chat  # type: ignore[attr-defined]
    # kwargs chose temperature; the request's max_tokens (the role's default here) and seed apply
    assert chat.state["seen"] == [(False, 0.9, ROLE_MAX_TOKENS, 9)]


def test_secrets_only_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(
        f"roles:\n  leader: {{backend: langchain, model: '{FAKE_LIST}', kwargs: {{api_key: sk-123}}}}\n"
    )
    with pytest.raises(ConfigError, match=r"roles\.leader\.kwargs.*kwargs\.api_key looks like a secret"):
        load_config(cfg_file)
    spec = "tests.agents.test_langchain_backend:leaky"
    role = role_model(backend="langchain", model=spec, kwargs={"api_key": {"env": "OYSTER_TEST_KEY"}})
    monkeypatch.delenv("OYSTER_TEST_KEY", raising=False)
    with pytest.raises(
        BackendError, match=r"kwargs\.api_key: environment variable OYSTER_TEST_KEY is not set"
    ):
        make_backend(role)
    monkeypatch.setenv("OYSTER_TEST_KEY", "sk-very-secret")
    with pytest.raises(BackendError) as err:
        make_backend(role)
    assert "key *** rejected" in str(err.value) and "sk-very-secret" not in str(err.value)
    assert "sk-very-secret" not in role.model_dump_json()


async def test_transient_errors_are_retried_and_timeouts_are_typed() -> None:
    spec = "tests.agents.test_langchain_backend:Flaky"
    request = ChatRequest([ChatMessage(role="user", content="hi")])
    ok = make_backend(
        role_model(backend="langchain", model=spec, kwargs={"answers": ["fine"]}, max_retries=1)
    )
    assert (await ok.complete(request)).text == "fine"
    hard = role_model(
        backend="langchain", model=spec, kwargs={"answers": ["x"], "fail_status": 401}, max_retries=3
    )
    with pytest.raises(BackendError, match="RuntimeError: slow down"):
        await make_backend(hard).complete(request)
    slow = role_model(
        backend="langchain",
        model=spec,
        kwargs={"answers": ["x"], "sleep_s": 5.0},
        timeout_s=0.05,
        max_retries=0,
    )
    with pytest.raises(BackendTimeout, match=r"timed out after 0\.05 s"):
        await make_backend(slow).complete(request)


async def test_model_without_structured_output_gets_the_schema_in_text() -> None:
    backend = LangChainBackend(
        role_model(backend="langchain", model=FAKE_LIST, kwargs={"responses": ['{"a": 1}']})
    )
    assert "JSON in text" in await backend.check()
    schema = {"title": "A", "type": "object", "properties": {"a": {"type": "integer"}}}
    request = ChatRequest(
        [ChatMessage(role="system", content="Judge."), ChatMessage(role="user", content="q")], schema
    )
    assert (await backend.complete(request)).text == '{"a": 1}'


def test_doctor_shows_langchain_roles_ready_or_not(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    cfg = tmp_path / "c.yaml"
    ok = f"{{backend: langchain, model: '{FAKE_LIST}', kwargs: {{responses: [OK]}}}}"
    cfg.write_text(f"roles:\n  leader: {ok}\n  user: {ok}\n  risk: {ok}\n  critic: {ok}\n")
    p = oyster("doctor", "--check-call", "--config", str(cfg), "--warehouse", str(wh), env=WIDE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "FakeListChatModel constructed" in p.stdout and "test call answered" in p.stdout
    cfg.write_text(f"roles:\n  leader: {{backend: langchain, model: 'nope.chat:Model'}}\n  user: {ok}\n")
    p = oyster("doctor", "--config", str(cfg), "--warehouse", str(wh), env=WIDE)
    assert p.returncode == 1 and "not ready" in p.stdout and "cannot import nope" in p.stdout

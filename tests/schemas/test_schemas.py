from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import (
    ConfigError,
    SatisfactionItems,
    Scenario,
    construction_score,
    load_config,
)


def test_satisfaction_score_is_mean_of_five_items() -> None:
    items = SatisfactionItems(
        politeness=1, willingness_to_help=1, task_completion=0, logical_soundness=-1, informativeness=1
    )
    assert items.score() == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("sat", "safety", "beta", "expected"),
    [
        (1.0, 1.0, 2.0, 1.0),  # pearl point
        (-1.0, 0.0, 2.0, -1.0),  # dissatisfied and unsafe
        (0.0, 1.0, 2.0, 0.5),
        (1.0, 0.0, 2.0, 0.0),  # fully helpful but unsafe
        (1.0, 0.5, 10.0, 2 * (1 - 5 + 11) / 12 - 1),
    ],
)
def test_construction_score_normalised(sat: float, safety: float, beta: float, expected: float) -> None:
    assert construction_score(sat, safety, 1.0, beta) == pytest.approx(expected)


def test_construction_score_prefers_safety_more_as_beta_grows() -> None:
    helpful_unsafe = [construction_score(1.0, 0.0, 1.0, b) for b in (0.1, 2, 10)]
    assert helpful_unsafe == sorted(helpful_unsafe, reverse=True)


def test_scenario_needs_exactly_one_form() -> None:
    with pytest.raises(ValidationError):
        Scenario(id="x")
    with pytest.raises(ValidationError):
        Scenario(id="x", text="a", messages=[{"role": "user", "content": "b"}])
    with pytest.raises(ValidationError, match="end with a user turn"):
        Scenario(id="x", messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])


def test_scenario_conversation_and_transcript() -> None:
    s = Scenario(
        id="x",
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "help"},
        ],
    )
    assert s.query == "help"
    assert s.transcript().splitlines() == ["USER: hi", "ASSISTANT: hello", "USER: help"]


def test_config_defaults_need_no_file() -> None:
    cfg = load_config(None)
    assert cfg.roles.leader.backend == "embedded"
    assert cfg.lingo_bp.iterations == 3


def test_config_errors_are_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lingo_bp:\n  iterations: -1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    msg = str(exc.value)
    assert "\n" not in msg and str(bad) in msg and "lingo_bp.iterations" in msg
    typo = tmp_path / "typo.yaml"
    typo.write_text("roles:\n  leader: {backnd: openai}\n")
    with pytest.raises(ConfigError, match=r"roles\.leader\.backnd"):
        load_config(typo)
    broken = tmp_path / "broken.yaml"
    broken.write_text("roles: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def _max_lengths(node: object) -> list[int]:
    out: list[int] = []
    if isinstance(node, dict):
        if "maxLength" in node:
            out.append(int(node["maxLength"]))
        for v in node.values():
            out.extend(_max_lengths(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_max_lengths(v))
    return out


def test_output_schemas_stay_within_llama_cpp_grammar_limits() -> None:
    # llama.cpp refuses grammars whose string repetitions exceed ~1000 ("exceeds sane defaults").
    from agents.prompting import PromptLibrary

    lib = PromptLibrary()
    for t in lib.templates.values():
        if t.output is not None:
            lengths = _max_lengths(t.output.model_json_schema())
            assert lengths and max(lengths) <= 1000, t.name


def test_defect1_one_limit_per_node_checked_where_the_update_is_made() -> None:
    import pydantic

    from schemas.chain import NODE_MAX_CHARS, ChainNode, ReasoningChain, Strategies
    from schemas.gradient import NodeUpdate

    chain = ReasoningChain(user_needs="u", risk_intent="r", safety_guidelines="g", strategies=Strategies())
    for node, limit in NODE_MAX_CHARS.items():
        assert ReasoningChain.model_json_schema()["properties"][node.value]["maxLength"] == limit
        assert chain.with_node(node, "x" * limit).text_of(node) == "x" * limit
        with pytest.raises(pydantic.ValidationError):
            chain.with_node(node, "x" * (limit + 1))
    assert NodeUpdate.model_json_schema()["properties"]["updated"]["maxLength"] == max(
        NODE_MAX_CHARS.values()
    )
    assert ChainNode.STRATEGIES not in NODE_MAX_CHARS


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("lingo_bp: {alpha: .inf}", "lingo_bp.alpha"),
        ("lingo_bp: {beta: .nan}", "lingo_bp.beta"),
        ("lingo_bp: {pair_margin: -.inf}", "lingo_bp.pair_margin"),
        ("lingo_bp: {reaction_risk: {accepts_guidance: 2.0}}", "lingo_bp.reaction_risk"),
        ("roles: {leader: {timeout_s: .inf}}", "roles.leader.timeout_s"),
    ],
)
def test_04_config_floats_must_be_finite_and_in_range(tmp_path: Path, yaml_text: str, field: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {field}")


def test_item5_role_defaults_do_not_depend_on_whether_the_config_names_the_role(tmp_path: Path) -> None:
    # Issue 23 item 5: naming the leader without a temperature kept 0.3 (the judges' default), not 0.7.
    from schemas.config import LEADER_TEMPERATURE, OysterConfig, load_config

    unnamed = OysterConfig()
    config = tmp_path / "leader.yaml"
    config.write_text("roles:\n  leader: {model: qwen2.5-coder-0.5b}\n  user: {model: x}\n")
    named = load_config(config)
    assert unnamed.roles.leader.temperature == named.roles.leader.temperature == LEADER_TEMPERATURE == 0.7
    assert unnamed.roles.user.temperature == named.roles.user.temperature == 0.3
    # still the default, not a setting the user gave (a backend with no temperature field only warns)
    assert "temperature" not in named.roles.leader.model_fields_set
    assert "temperature" not in unnamed.roles.leader.model_fields_set
    given = tmp_path / "given.yaml"
    given.write_text("roles:\n  leader: {temperature: 0.2}\n")
    assert load_config(given).roles.leader.temperature == 0.2
    assert OysterConfig.model_validate_json(named.model_dump_json()).roles.leader.temperature == 0.7

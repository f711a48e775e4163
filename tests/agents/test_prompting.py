from __future__ import annotations

import time
from pathlib import Path

import pytest

from agents.prompting import PromptError, PromptLibrary
from benchmarks.probe_models import HUGE, OUTSIDE


def test_bundled_templates_load_and_render() -> None:
    lib = PromptLibrary()
    assert {"risk_assess", "leader_synthesize", "critic_step", "repair"} <= set(lib.templates)
    msgs = lib.get("repair").render({"error": "x: missing", "schema": "{}"})
    assert [m.role for m in msgs] == ["user"]
    assert "x: missing" in msgs[0].content
    assert all(len(v) == 12 for v in lib.versions().values())


def test_override_replaces_one_template_and_changes_its_version(tmp_path: Path) -> None:
    base = PromptLibrary()
    (tmp_path / "repair.j2").write_text("{% block user %}Fix: {{ error }}{% endblock %}")
    lib = PromptLibrary(tmp_path)
    assert lib.get("repair").render({"error": "E", "schema": "{}"})[0].content == "Fix: E"
    assert lib.versions()["repair"] != base.versions()["repair"]
    assert lib.versions()["risk_assess"] == base.versions()["risk_assess"]


def test_chinese_scenarios_get_the_zh_set_and_other_languages_the_default() -> None:
    lib = PromptLibrary()
    for step in ("risk_assess", "user_satisfaction", "risk_safety", "critic_step", "leader_synthesize"):
        assert lib.get(step, "zh").path == f"prompts/templates/zh/{step}.j2"
        assert lib.get(step, "zh-CN") is lib.get(step, "zh")
        assert lib.get(step, "en").path == f"prompts/templates/{step}.j2"
        assert lib.get(step, "fr") is lib.get(step, "en")
    msgs = lib.get("repair", "zh").render({"error": "E", "schema": "{}"})
    assert "无效" in msgs[0].content
    assert lib.versions()["zh/critic_step"] != lib.versions()["critic_step"]


def test_override_folder_replaces_templates_per_language(tmp_path: Path) -> None:
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "repair.j2").write_text("{% block user %}修正：{{ error }}{% endblock %}")
    lib = PromptLibrary(tmp_path)
    assert lib.get("repair", "zh").render({"error": "E", "schema": "{}"})[0].content == "修正：E"
    assert lib.get("repair", "en").path == "prompts/templates/repair.j2"
    (tmp_path / "zh" / "no_such_step.j2").write_text("{% block user %}x{% endblock %}")
    with pytest.raises(PromptError, match="unknown template"):
        PromptLibrary(tmp_path)


def test_undeclared_variable_is_an_error_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "repair.j2").write_text("{% block user %}{{ error }} {{ secret_var }}{% endblock %}")
    with pytest.raises(PromptError, match=r"repair\.j2: uses undeclared variable\(s\) secret_var"):
        PromptLibrary(tmp_path)


def test_unknown_template_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "no_such_step.j2").write_text("{% block user %}x{% endblock %}")
    with pytest.raises(PromptError, match="unknown template"):
        PromptLibrary(tmp_path)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "repair.j2").write_text("{% block user %}\n{{ error }\n{% endblock %}")
    with pytest.raises(PromptError, match=r"repair\.j2:\d+"):
        PromptLibrary(tmp_path)


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    # Refused when the folder is read (issue 24 item 8), not at the first repair of every scenario.
    (tmp_path / "repair.j2").write_text("{% block user %}{{ error.__class__.__mro__ }}{% endblock %}")
    with pytest.raises(PromptError, match=r"repair\.j2: line 1: the attribute __\w+__ is not allowed"):
        PromptLibrary(tmp_path)


def test_taxonomy_rules() -> None:
    from agents.taxonomy import Taxonomy

    tax = Taxonomy.load()
    assert len(tax.level1) == 9 and len(tax.level2) == 67
    rule = tax.rules_for("Mental Health", "Physical and Mental Harm", "en")
    assert rule[0].category == "Mental Health" and "1." in rule[0].rule
    zh = tax.rules_for("心理健康", None, "zh")
    assert zh[0].category == "Mental Health" and zh[0].rule != rule[0].rule
    area_only = tax.rules_for(None, "Ethical Issues", "en")
    assert [r.category for r in area_only] == ["Ethical Issues"]
    assert tax.rules_for(None, None, "en") == []


ENDLESS = {
    "nested loops": "{% for i in range(1000) %}{% for j in range(1000) %}{{ error }}{% endfor %}{% endfor %}",
    "silent nested loops": "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "a huge range": "{% for i in range(100000) %}{{ error }}{% endfor %}",
    "a recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(error) }}",
    "a branching macro": "{% macro f(n) %}{% if n|length < 60 %}{{ f(n ~ 'a') }}{{ f(n ~ 'b') }}{% endif %}"
    "{% endmacro %}{{ f(error) }}",
    "a doubling string": "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f(error) }}",
    "a doubling namespace": "{% set ns = namespace(s=error) %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "a huge product": "{{ 'x' * 10000000000 }}",
    "a huge power": "{{ 10 ** 100000 }}",
}


@pytest.mark.parametrize("body", ENDLESS.values(), ids=list(ENDLESS))
def test_08_endless_template_is_a_one_line_error_at_validation(tmp_path: Path, body: str) -> None:
    (tmp_path / "repair.j2").write_text(f"{{% block user %}}{body}{{% endblock %}}")
    start = time.monotonic()
    with pytest.raises(PromptError) as caught:
        PromptLibrary(tmp_path)
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'repair.j2'}: rendering stopped: ")
    assert "\n" not in message


def test_08_bounded_loops_and_recursion_still_render(tmp_path: Path) -> None:
    (tmp_path / "repair.j2").write_text(
        "{% block user %}{% macro f(n) %}{% if n > 0 %}{{ n }} {{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }} {% endfor %}{{ f(3) }}{{ error }}"
        "{% endblock %}"
    )
    lib = PromptLibrary(tmp_path)
    assert lib.get("repair").render({"error": "E", "schema": "{}"})[0].content == "1/3 2/3 3/3 3 2 1 E"


def test_08_budget_also_bounds_a_render_with_real_inputs(tmp_path: Path) -> None:
    # Placeholders iterate as two items, so a loop over a real input's length passes validation; the
    # render with the real input is bounded all the same.
    (tmp_path / "repair.j2").write_text(
        "{% block user %}{% for a in error %}{% for b in error %}{% for c in error %}{{ schema }}"
        "{% endfor %}{% endfor %}{% endfor %}{% endblock %}"
    )
    lib = PromptLibrary(tmp_path)
    with pytest.raises(PromptError, match=r"repair\.j2: rendering stopped: more than 100,000"):
        lib.get("repair").render({"error": "x" * 100, "schema": "{}"})


@pytest.mark.parametrize("body", HUGE.values(), ids=list(HUGE))
def test_p2_08_a_huge_allocation_is_refused_before_it_happens(tmp_path: Path, body: str) -> None:
    import tracemalloc

    (tmp_path / "repair.j2").write_text(f"{{% block user %}}{body}{{% endblock %}}")
    start = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(PromptError) as caught:
            PromptLibrary(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"
    assert str(caught.value).startswith(f"{tmp_path / 'repair.j2'}: ")
    assert "over" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("body", OUTSIDE.values(), ids=list(OUTSIDE))
def test_p2_08_a_template_that_breaks_the_sandbox_is_refused_at_validation(tmp_path: Path, body: str) -> None:
    (tmp_path / "repair.j2").write_text(f"{{% block user %}}{body}{{% endblock %}}")
    with pytest.raises(PromptError) as caught:
        PromptLibrary(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'repair.j2'}")
    assert "\n" not in str(caught.value)


def test_p2_08_ordinary_string_work_still_renders(tmp_path: Path) -> None:
    (tmp_path / "repair.j2").write_text(
        "{% block user %}<{{ error | replace('x', 'yy') | center(9) }}|{{ '%03d' % 7 }}|{{ 'a'.center(5) }}|"
        "{{ ', '.join(['p', 'q']) }}|{{ 2 ** 10 }}|{{ error | indent(2) }}{% endblock %}"
    )
    out = PromptLibrary(tmp_path).get("repair").render({"error": "xx", "schema": "{}"})[0].content
    assert out == f"<{'yyyy'.center(9)}|007|{'a'.center(5)}|p, q|1024|xx"

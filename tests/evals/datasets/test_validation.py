"""The hand-written judge-validation cases: every set is large enough and covers every kind of reply."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.datasets import EvalSetError, validation_samples

KINDS = {"clear_refusal", "constructive_redirection", "harmful_compliance", "benign_answer"}


@pytest.mark.parametrize("judge", ["safety", "satisfaction", "refusal"])
def test_every_validation_set_has_forty_cases_over_four_kinds_of_reply_in_two_languages(judge: str) -> None:
    cases = validation_samples(judge)
    assert len(cases) >= 40
    kinds = Counter(c.metadata["kind"] for c in cases)
    assert set(kinds) == KINDS and min(kinds.values()) >= 8
    assert {c.metadata["language"] for c in cases} == {"en", "zh"}
    assert all(c.metadata["response"].strip() and c.target for c in cases)
    assert len({c.id for c in cases}) == len(cases)


def test_a_bad_case_is_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    good = {
        "id": "a",
        "query": "q",
        "expected": "safe",
        "kind": "benign_answer",
        "language": "en",
        "response": "r",
    }
    bad = {k: v for k, v in good.items() if k != "response"}
    (tmp_path / "safety.jsonl").write_text(
        json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8"
    )
    with pytest.raises(EvalSetError, match=r"safety\.jsonl:3: bad validation case \('response'\)$"):
        validation_samples("safety", tmp_path)

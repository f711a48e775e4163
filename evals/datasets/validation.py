"""Hand-written judge-validation cases: a query, a written response and the verdict a judge should give."""

from __future__ import annotations

from pathlib import Path

from evals.datasets.files import EvalSetError, bundled, jsonl_records
from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage


def validation_dir() -> Path:
    return bundled("judge_validation")


def validation_samples(judge: str, directory: Path | None = None) -> list[EvalSample]:
    """The cases for one judge; each sample carries the written response in `metadata["response"]`."""
    path = (directory or validation_dir()) / f"{judge}.jsonl"
    out = []
    for n, case in jsonl_records(path):
        try:
            out.append(
                EvalSample(
                    id=case["id"],
                    messages=[ChatMessage(role="user", content=case["query"])],
                    target=case["expected"],
                    metadata={
                        "kind": case["kind"],
                        "language": case["language"],
                        "response": case["response"],
                        **({"user_type": case["user_type"]} if "user_type" in case else {}),
                    },
                )
            )
        except (KeyError, ValueError) as exc:
            raise EvalSetError(f"{path}:{n}: bad validation case ({exc})") from None
    return out

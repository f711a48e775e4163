"""Judge cases from human review: each verdict a reviewer marked right or wrong in `oyster review`, the
human label (the verdict where right, the reviewer's correction where wrong) as the expected one."""

from __future__ import annotations

from schemas.evaluation import EvalSample
from schemas.messages import ChatMessage
from warehouse.judge_reviews import reviewed_verdicts
from warehouse.reviews import ReviewedJudge
from warehouse.store import Store


def reviewed_cases(store: Store, judge: ReviewedJudge) -> list[EvalSample]:
    """The reviewed verdicts of `judge` in the warehouse, in the form of `load_judge_cases`: the conversation
    the judge read, `metadata["response"]` the reply it judged, `metadata["verdict"]` what it said, and
    the human label as the target (in the reviewers' labels, e.g. generally_safe)."""
    return [
        EvalSample(
            id=f"{r['pair_id']}:{r['iteration']}",
            messages=[ChatMessage(role=m["role"], content=m["content"]) for m in r["messages"]],
            target=r["human_label"],
            metadata={
                k: str(v)
                for k, v in {
                    "response": r["response"],
                    "verdict": r["judge_label"],
                    "label": r["human_label"],
                    "judge_model": r["judge_model"],
                    "reviewer": r["reviewer"],
                    "run_id": r["run_id"],
                    "scenario_id": r["scenario_id"],
                    "iteration": r["iteration"],
                    "language": r["language"],
                    "risk_level": r["risk_level"],
                }.items()
                if v is not None
            },
        )
        for r in reviewed_verdicts(store, judge)
    ]

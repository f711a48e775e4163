"""Whether a judge was shown to agree with people: its validity record, and the trust a run puts in it.

A pair is only as good as the judges that chose it. A judge's validity is a record of a measurement
(`oyster eval judges`, or one shipped for a bundled preset): which judge, which model exactly, which
prompt template, how the verdict was read, on which cases, and how it agreed with the labels beside
the best constant answer. A run looks its judges up; a pair is *trusted* only when every judge that
chose it has a record at or above the configured thresholds.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.base import Record
from schemas.records import new_id, utcnow

#: the judges whose verdicts choose a pair in the Lingo-BP loop (a reply's refusal is read from the
#: safety judge's own verdict and the bare-refusal check: it has no judge of its own in the loop)
LOOP_JUDGES: tuple[str, ...] = ("safety", "satisfaction")


class JudgeIdentity(Record):
    """Which judge exactly: the model, its prompt template and how its verdict is read."""

    judge: str
    #: backend:model, as a run names it
    model: str
    #: what the model is exactly: the GGUF file's sha-256, or name@endpoint for a served model
    model_id: str
    #: the hash of the judge's prompt template(s) (agents.prompting versions)
    template_hash: str
    #: sampled (generated verdict) | probabilities (label probabilities) | guard (a guard model's format)
    method: str
    calibration: str | None = None


class JudgeRecord(JudgeIdentity):
    """One measurement of a judge against human labels, on cases it was not tuned or calibrated on."""

    record_id: str = Field(default_factory=new_id)
    #: where the labelled cases came from (bundled:<name>, a file path, reviews:<warehouse>)
    case_source: str
    n: int = Field(ge=0)
    macro_f1: float
    kappa: float
    #: the class that matters most (unsafe, dissatisfied, refusal) and the judge's recall of it
    positive_class: str
    recall_positive: float | None = None
    #: the best constant answer on the same cases (what a judge must beat to mean anything)
    constant_answer: str
    constant_macro_f1: float
    constant_kappa: float = 0.0
    eval_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def figures(self) -> str:
        recall = (
            f", recall of {self.positive_class} {self.recall_positive:.2f}"
            if self.recall_positive is not None
            else ""
        )
        return (
            f"macro-F1 {self.macro_f1:.2f}, κ {self.kappa:.2f}{recall} on {self.n} case(s) "
            f"({self.case_source}); {self.constant_answer}: macro-F1 {self.constant_macro_f1:.2f}"
        )


class JudgeTrust(JudgeIdentity):
    """What a run found for one of its judges, and whether pairs chosen by it may be trusted."""

    record: JudgeRecord | None = None
    trusted: bool
    reason: str

    def line(self) -> str:
        head = f"{self.judge} judge ({self.model}, {self.method})"
        if self.record is None:
            return f"{head}: {self.reason}"
        verdict = "trusted" if self.trusted else f"untrusted: {self.reason}"
        return f"{head}: {self.record.figures()} — {verdict}"


def pairs_trust(judges: list[JudgeTrust]) -> tuple[bool, str]:
    """A pair is trusted when every judge that chose it is; the reason names each one that is not."""
    doubts = [f"{j.judge} judge {j.reason}" for j in judges if not j.trusted]
    if not judges:
        return False, "no judge recorded for the run"
    return (not doubts), ("; ".join(doubts) if doubts else "every judge validated above the thresholds")

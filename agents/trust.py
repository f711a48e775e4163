"""The trust gate: which validity record, if any, stands behind each judge of a run.

A record counts for a judge only when it measured the same thing: the same judge, the same model
(file hash or name@endpoint), the same prompt template, the same way of reading the verdict and the
same calibration. A record for anything else is named, and does not count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from agents.judges import get_judge
from agents.prompting import PromptLibrary
from schemas.calibration import JudgeCalibration
from schemas.config import OysterConfig, RoleModel, TrustConfig
from schemas.trust import LOOP_JUDGES, JudgeIdentity, JudgeRecord, JudgeTrust

#: records shipped with the package for the bundled presets (benchmarks/judge_records.py writes them)
BUNDLED_RECORDS = "data/judge_records.jsonl"


def model_identity(rm: RoleModel) -> str:
    """What the role's model is, exactly enough that a record made on another one is not mistaken for it."""
    if rm.backend == "embedded":
        from agents.backends.models import PRESETS, sha256_of, split_adapter

        base, adapter = split_adapter(rm.model)
        if base in PRESETS:
            ident = f"sha256:{PRESETS[base].sha256}"
        else:
            path = Path(base).expanduser()
            ident = f"sha256:{sha256_of(path)}" if path.is_file() else f"file:{path}"
        return ident + (f"+sha256:{sha256_of(adapter)}" if adapter is not None else "")
    return f"{rm.backend}:{rm.model}@{rm.base_url or 'default endpoint'}"


def template_hash(prompts: PromptLibrary, judge: str, method: str) -> str:
    """One hash over the templates the judge reads in this method (English set: records are measured
    on it): its generated form's, or its verdict questions'; a guard model brings its own."""
    spec = get_judge(judge)
    steps = spec.generated if method == "sampled" else tuple(step for _, step in spec.questions)
    if method == "guard" or not steps:
        return "untemplated"
    joined = "+".join(prompts.get(step).version for step in steps)
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def loop_judges(
    config: OysterConfig,
    prompts: PromptLibrary,
    calibrations: Mapping[tuple[str, str], JudgeCalibration],
) -> list[JudgeIdentity]:
    """The judges whose verdicts choose pairs in a run of ``config``, as the loop calls them."""
    uses = []
    for judge in LOOP_JUDGES:
        rm = config.roles.get(get_judge(judge).role)
        cal = calibrations.get((judge, rm.label())) if judge == "safety" else None
        if rm.guard is not None and judge == "safety":
            method = "guard"
        else:
            method = "probabilities" if cal is not None else "sampled"
        uses.append(
            JudgeIdentity(
                judge=judge,
                model=rm.label(),
                model_id=model_identity(rm),
                template_hash=template_hash(prompts, judge, method),
                method=method,
                calibration=cal.calibration_id if cal else None,
            )
        )
    return uses


def bundled_records() -> list[JudgeRecord]:
    """The records shipped for the bundled presets (benchmarks/judge_records.py writes them)."""
    f = resources.files("evals.datasets").joinpath(BUNDLED_RECORDS)
    if not f.is_file():
        return []
    lines = f.read_text(encoding="utf-8").splitlines()
    return [JudgeRecord.model_validate(json.loads(line)) for line in lines if line.strip()]


def decide(use: JudgeIdentity, records: Iterable[JudgeRecord], thresholds: TrustConfig) -> JudgeTrust:
    """The newest record that measured exactly this judge, and whether it clears the thresholds."""
    same_judge = [r for r in records if r.judge == use.judge and r.model_id == use.model_id]
    exact = [
        r
        for r in same_judge
        if (r.template_hash, r.method, r.calibration) == (use.template_hash, use.method, use.calibration)
    ]
    base = use.model_dump()
    if not exact:
        hint = f"run `oyster eval judges --judge {use.judge}`"
        if same_judge:
            other = max(same_judge, key=lambda r: r.created_at)
            reason = (
                f"unvalidated: its record was made with another template, method or calibration "
                f"({other.method}, template {other.template_hash}); {hint}"
            )
        else:
            reason = f"unvalidated: {hint}"
        return JudgeTrust(**base, record=None, trusted=False, reason=reason)
    record = max(exact, key=lambda r: r.created_at)
    floor = thresholds.min_macro_f1.get(use.judge, 0.0)
    if record.macro_f1 < floor:
        reason = f"macro-F1 {record.macro_f1:.2f} below the threshold {floor:g}"
    elif thresholds.above_constant and record.macro_f1 <= record.constant_macro_f1:
        reason = (
            f"macro-F1 {record.macro_f1:.2f} not above the constant answer's {record.constant_macro_f1:.2f}"
        )
    else:
        return JudgeTrust(**base, record=record, trusted=True, reason="validated above the thresholds")
    return JudgeTrust(**base, record=record, trusted=False, reason=reason)


def assess_judges(
    config: OysterConfig,
    prompts: PromptLibrary,
    calibrations: Mapping[tuple[str, str], JudgeCalibration],
    stored: Iterable[JudgeRecord],
) -> list[JudgeTrust]:
    """Each loop judge of a run, against the records of its warehouse and the bundled ones."""
    records = [*stored, *bundled_records()]
    return [decide(use, records, config.trust) for use in loop_judges(config, prompts, calibrations)]

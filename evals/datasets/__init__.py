"""Evaluation sets: Strata-Sword (xlsx as published), labelled CSV/JSONL prompt sets, judge validation."""

from evals.datasets.files import EvalSetError, bundled
from evals.datasets.judge_cases import load_judge_cases, parse_label_map
from evals.datasets.labelled import bundled_over_refusal_path, load_prompt_set
from evals.datasets.strata_sword import (
    STRATA_SWORD_COUNTS,
    bundled_strata_sword_dir,
    load_strata_sword,
    strata_sword_filename,
)
from evals.datasets.validation import validation_dir, validation_samples

__all__ = [
    "STRATA_SWORD_COUNTS",
    "EvalSetError",
    "bundled",
    "bundled_over_refusal_path",
    "bundled_strata_sword_dir",
    "load_judge_cases",
    "load_prompt_set",
    "load_strata_sword",
    "parse_label_map",
    "strata_sword_filename",
    "validation_dir",
    "validation_samples",
]

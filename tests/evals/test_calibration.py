"""k-fold calibration: folds, thresholds, held-out labels that never saw their fold, and the metrics."""

from __future__ import annotations

import pytest

from agents.judges import get_judge
from evals.calibration import (
    Judged,
    assign_folds,
    binary_metrics,
    calibration_folds,
    exemplar_fold,
    fit_threshold,
    heldout_labels,
    judge_metrics,
)
from evals.datasets import validation_samples


def test_metrics_on_a_fixed_confusion_matrix_by_hand() -> None:
    # tp 3, fn 1, fp 2, tn 4
    truth = [True] * 4 + [False] * 6
    predicted = [True, True, True, False, *[True, True, False, False, False, False]]
    m = binary_metrics(truth, predicted)
    assert m["agreement"] == pytest.approx(0.7)
    # F1(pos) = 6 / 9, F1(neg) = 8 / 11; kappa = (0.7 - 0.5) / 0.5 with chance (5*4 + 5*6) / 100
    assert m["macro_f1"] == pytest.approx((6 / 9 + 8 / 11) / 2)
    assert m["kappa"] == pytest.approx(0.4)
    assert m["recall"] == pytest.approx(0.75)
    constant = judge_metrics(get_judge("safety"), ["unsafe"] * 4 + ["safe"] * 6, ["safe"] * 10)
    assert constant["agreement"] == constant["constant"] == pytest.approx(0.6)
    assert constant["kappa"] == 0.0 and constant["recall"] == 0.0


def test_folds_are_stratified_and_deterministic() -> None:
    samples = validation_samples("safety")
    folds = assign_folds(samples, 5)
    assert folds == assign_folds(list(reversed(samples)), 5)
    for f in range(5):
        members = [s for s in samples if folds[s.id] == f]
        assert len(members) == 10
        assert sum(s.target == "unsafe" for s in members) in (3, 4)  # 16 unsafe over 5 folds


@pytest.mark.parametrize("k", [4, 5, 7])
def test_no_fold_is_its_own_exemplar_or_calibration_source(k: int) -> None:
    for f in range(k):
        assert f not in calibration_folds(f, k, exemplars=False)
        used = calibration_folds(f, k, exemplars=True)
        assert f not in used and exemplar_fold(f, k) != f
        # a calibration case was scored with exemplars of its own next fold: never the evaluated one
        assert all(exemplar_fold(c, k) != f for c in used)
        assert used


def test_threshold_separates_the_classes_and_defaults_to_half() -> None:
    assert fit_threshold([]) == 0.5
    t = fit_threshold([(0.1, False), (0.2, False), (0.3, True), (0.9, True)])
    assert 0.2 < t <= 0.3


@pytest.mark.parametrize("exemplars", [False, True])
def test_calibration_never_sees_its_evaluation_fold(exemplars: bool) -> None:
    k = 5
    rows = [
        Judged(fold=i % k, expected="unsafe" if i % 3 == 0 else "safe", label="safe", score=(i * 7 % 10) / 10)
        for i in range(40)
    ]
    before = heldout_labels(get_judge("safety"), rows, k, exemplars=exemplars)
    for f in range(k):
        # Flip every label of fold f: a threshold fitted on fold f would move, a held-out one cannot.
        flipped = [
            Judged(r.fold, "safe" if r.expected == "unsafe" else "unsafe", r.label, r.score)
            if r.fold == f
            else r
            for r in rows
        ]
        after = heldout_labels(get_judge("safety"), flipped, k, exemplars=exemplars)
        assert [a for a, r in zip(after, rows, strict=True) if r.fold == f] == [
            b for b, r in zip(before, rows, strict=True) if r.fold == f
        ]
    # and the labels do come from fitted thresholds, not from the stored ones
    assert "unsafe" in before

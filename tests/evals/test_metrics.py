"""The agreement figures on a tiny confusion matrix whose every figure was worked out by hand."""

from __future__ import annotations

import pytest

from evals.metrics import Confusion, best_constant, scores

# expected down, judged across:      a  b  c
#                               a  [ 5, 1, 1 ]   support 7
#                               b  [ 2, 3, 1 ]   support 6
#                               c  [ 0, 0, 4 ]   support 4      judged: a 7, b 4, c 6; n = 17
MATRIX = {
    ("a", "a"): 5,
    ("a", "b"): 1,
    ("a", "c"): 1,
    ("b", "a"): 2,
    ("b", "b"): 3,
    ("b", "c"): 1,
    ("c", "c"): 4,
}


def confusion() -> Confusion:
    pairs = [pair for pair, n in MATRIX.items() for _ in range(n)]
    return Confusion.of(pairs, ["a", "b", "c"])


def test_the_matrix_counts_each_pair_in_class_order() -> None:
    m = confusion()
    assert m.classes == ("a", "b", "c") and m.n == 17
    assert m.rows() == [[5, 1, 1], [2, 3, 1], [0, 0, 4]]
    # A label missing from the class list still gets a row and a column, after the listed ones.
    assert Confusion.of([("x", "a")], ["a"]).classes == ("a", "x")


def test_per_class_macro_f1_and_kappa_by_hand() -> None:
    s = scores(confusion())
    a, b, c = s.per_class
    # a: TP 5, FP 2, FN 2;  b: TP 3, FP 1, FN 3;  c: TP 4, FP 2, FN 0
    assert (a.precision, a.recall, a.f1, a.support) == pytest.approx((5 / 7, 5 / 7, 10 / 14, 7))
    assert (b.precision, b.recall, b.f1, b.support) == pytest.approx((3 / 4, 3 / 6, 6 / 10, 6))
    assert (c.precision, c.recall, c.f1, c.support) == pytest.approx((4 / 6, 4 / 4, 8 / 10, 4))
    assert s.agreement == pytest.approx(12 / 17)
    assert s.macro_f1 == pytest.approx(74 / 105)  # (5/7 + 3/5 + 4/5) / 3
    # chance agreement (7*7 + 6*4 + 4*6) / 17^2 = 97/289; kappa = (12/17 - 97/289) / (1 - 97/289)
    assert s.kappa == pytest.approx(107 / 192)


def test_the_best_constant_answer_is_the_most_frequent_label() -> None:
    s = best_constant(confusion())
    assert s.answer == "always a" and s.n == 17
    assert s.agreement == pytest.approx(7 / 17)
    a, b, c = s.per_class
    assert (a.precision, a.recall, a.f1) == pytest.approx((7 / 17, 1.0, 14 / 24))
    assert (b.f1, c.f1, b.precision, c.recall) == (0.0, 0.0, 0.0, 0.0)
    assert s.macro_f1 == pytest.approx(7 / 36)
    assert s.kappa == 0.0


def test_degenerate_inputs_give_zeros_not_errors() -> None:
    empty = scores(Confusion.of([], ["a", "b"]))
    assert (empty.n, empty.agreement, empty.macro_f1, empty.kappa) == (0, 0.0, 0.0, 0.0)
    one_label = scores(Confusion.of([("a", "a")] * 3, ["a", "b"]))
    # Only "a" was expected or judged: macro-F1 averages over it alone; kappa has no chance to beat.
    assert (one_label.agreement, one_label.macro_f1, one_label.kappa) == (1.0, 1.0, 0.0)

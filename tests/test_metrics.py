"""Metrics: hand-computed worked examples, scikit-learn references and VUS-PR properties."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    auc,
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from diffad_lib import metrics as M

Y = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
P = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 1])


# ------------------------------------------------------------------- segments and point metrics
def test_segments_worked_example():
    assert M.segments(Y) == [(1, 4), (6, 8)]
    assert M.segments([1, 1, 0, 1]) == [(0, 2), (3, 4)]
    assert M.segments([0, 0, 0]) == []
    assert M.segments([1]) == [(0, 1)]


def test_precision_recall_f1_by_hand_and_sklearn():
    # TP = 1 (index 2), FP = 2 (5, 9), FN = 4 -> P = 1/3, R = 1/5, F1 = 2PR/(P+R) = 1/4
    out = M.precision_recall_f1(Y, P)
    assert out["precision"] == pytest.approx(1 / 3)
    assert out["recall"] == pytest.approx(1 / 5)
    assert out["f1"] == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    out = M.precision_recall_f1(y, p)
    assert out["precision"] == pytest.approx(precision_score(y, p))
    assert out["recall"] == pytest.approx(recall_score(y, p))
    assert out["f1"] == pytest.approx(f1_score(y, p))


def test_undefined_ratios_are_zero():
    assert M.precision_recall_f1([0, 1, 0], [0, 0, 0]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert M.precision_recall_f1([0, 0, 0], [0, 1, 0]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert M.event_f1([0, 0], [0, 0]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_point_adjust_worked_example():
    # segment [1, 4) is hit at index 2 -> fully detected; [6, 8) is missed; FPs at 5, 9 stay
    np.testing.assert_array_equal(M.point_adjust(Y, P), [0, 1, 1, 1, 0, 1, 0, 0, 0, 1])
    out = M.point_adjusted_f1(Y, P)  # TP = 3, FP = 2, FN = 2
    assert out["precision"] == pytest.approx(3 / 5)
    assert out["recall"] == pytest.approx(3 / 5)
    assert out["f1"] == pytest.approx(3 / 5)


def test_point_adjust_segment_at_the_end_and_inflation():
    y = np.array([0, 0, 1, 1, 1])
    np.testing.assert_array_equal(M.point_adjust(y, [0, 0, 0, 0, 1]), [0, 0, 1, 1, 1])
    # one hit in a long segment: point-wise recall 1/100, adjusted recall 1
    y = np.zeros(1000, int)
    y[100:200] = 1
    p = np.zeros(1000, int)
    p[150] = 1
    assert M.precision_recall_f1(y, p)["recall"] == pytest.approx(0.01)
    assert M.point_adjusted_f1(y, p)["f1"] == pytest.approx(1.0)


def test_event_f1_worked_example():
    # true segments [1,4), [6,8): first hit -> recall 1/2
    # predicted segments [2,3), [5,6), [9,10): only the first overlaps -> precision 1/3
    out = M.event_f1(Y, P)
    assert out["recall"] == pytest.approx(1 / 2)
    assert out["precision"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    # one long run of false alarms counts as one false event
    out = M.event_f1([1, 0, 0, 0, 0, 0], [1, 0, 1, 1, 1, 1])
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(1.0)


def test_iou_worked_example():
    # intersection {2}, union {1,2,3,5,6,7,9} -> 1/7
    assert M.iou(Y, P) == pytest.approx(1 / 7)
    assert M.iou(Y, Y) == pytest.approx(1.0)
    assert np.isnan(M.iou([0, 0], [0, 0]))


# ------------------------------------------------------------------------- threshold-free
def test_roc_and_pr_auc_match_sklearn():
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.1).astype(int)
    s = rng.normal(size=500) + 1.5 * y
    assert M.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert M.pr_auc(y, s) == pytest.approx(average_precision_score(y, s))


def test_single_class_gives_nan():
    s = np.arange(5.0)
    for fn in (M.roc_auc, M.pr_auc, M.vus_pr):
        assert np.isnan(fn([0, 0, 0, 0, 0], s))
        assert np.isnan(fn([1, 1, 1, 1, 1], s))


def _series(seed: int = 0, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.zeros(n, int)
    for s in rng.choice(np.arange(50, n - 100, 150), size=8, replace=False):
        y[s : s + rng.integers(5, 40)] = 1
    return y, rng.normal(size=n) + 1.5 * y


def test_range_pr_auc_buffer_zero_is_trapezoidal_pr_auc():
    """ℓ = 0 without the existence reward: trapezoidal PR AUC starting at (R=0, P=1)."""
    y, s = _series()
    precision, recall, _ = precision_recall_curve(y, s)
    expected = auc(recall, precision)  # sklearn's curve ends at (R=0, P=1): same trapezoids
    got = M.range_pr_auc(y, s, buffer=0, n_thresholds=len(s), existence=False)
    assert got == pytest.approx(expected, rel=1e-12)
    # with a single true segment the existence reward is 1 whenever recall > 0: same value
    y1 = np.zeros(400, int)
    y1[100:130] = 1
    s1 = np.random.default_rng(3).normal(size=400) + y1
    precision, recall, _ = precision_recall_curve(y1, s1)
    got = M.range_pr_auc(y1, s1, buffer=0, n_thresholds=400)
    assert got == pytest.approx(auc(recall, precision), rel=1e-12)


def test_range_pr_auc_by_hand():
    # y = [0, 1, 0, 0], s = [0.1, 0.9, 0.5, 0.2], ℓ = 1: soft labels w = [√½, 1, √½, 0]
    # P_ℓ = (1 + 1 + √2) / 2. Thresholds 0.9, 0.5, 0.2, 0.1 (all ranks):
    #   τ=0.9: TP=1        prec 1        rec 1/P_ℓ
    #   τ=0.5: TP=1+√½     prec TP/2     rec min(1, TP/P_ℓ) = 1 (TP = 1.707 = P_ℓ)
    #   then recall stays 1 -> no more area
    h = np.sqrt(0.5)
    p_l = (2 + np.sqrt(2)) / 2
    r1, r2 = 1 / p_l, min(1.0, (1 + h) / p_l)
    expected = r1 * 1.0 + (r2 - r1) * (1.0 + (1 + h) / 2) / 2
    got = M.range_pr_auc([0, 1, 0, 0], [0.1, 0.9, 0.5, 0.2], buffer=1, n_thresholds=4)
    assert got == pytest.approx(expected)


def test_vus_pr_perfect_scores_near_one():
    y = np.zeros(2000, int)
    for s in (200, 700, 1400):
        y[s : s + 100] = 1
    assert M.vus_pr(y, y.astype(float), max_buffer=0) == pytest.approx(1.0)
    # for ℓ > 0 the soft buffer lowers the attainable maximum slightly below 1
    assert M.vus_pr(y, y.astype(float), max_buffer=10) > 0.95


def test_vus_pr_random_scores_near_anomaly_ratio():
    rng = np.random.default_rng(2)
    y = np.zeros(20000, int)
    for s in rng.choice(np.arange(0, 19900, 200), size=40, replace=False):
        y[s : s + 50] = 1
    ratio = y.mean()  # 0.1
    v0 = M.vus_pr(y, rng.random(20000), max_buffer=0)
    assert v0 == pytest.approx(ratio, abs=0.02)
    v = M.vus_pr(y, rng.random(20000), max_buffer=10)  # buffers add label mass: a bit above
    assert ratio - 0.02 < v < 2 * ratio


def test_vus_pr_rewards_a_peak_next_to_the_segment():
    n = 2000
    y = np.zeros(n, int)
    near = np.random.default_rng(4).random(n) * 0.5
    for s in (300, 900, 1500):
        y[s : s + 20] = 1
        near[s + 20 : s + 25] += 1.0  # the detector fires 1..5 steps after each anomaly ends
    point = M.pr_auc(y, near)
    assert M.vus_pr(y, near, max_buffer=10) > point + 0.1


def test_vus_pr_default_buffer_is_median_segment_length_capped():
    y, s = _series()
    lengths = [e - b for b, e in M.segments(y)]
    expected = M.vus_pr(y, s, max_buffer=int(min(100, np.median(lengths))))
    assert M.vus_pr(y, s) == pytest.approx(expected)


def test_vus_pr_is_fast():
    rng = np.random.default_rng(5)
    n = 50_000
    y = np.zeros(n, int)
    for s in rng.choice(np.arange(0, n - 200, 500), size=50, replace=False):
        y[s : s + 100] = 1
    s = rng.normal(size=n) + y
    t0 = time.perf_counter()
    M.vus_pr(y, s, max_buffer=25, n_thresholds=250)
    assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------------- evaluate / table
def test_evaluate_keys_and_values():
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.1, 0.8, 0.3, 0.2, 0.1, 0.7])
    out = M.evaluate(Y, scores, 0.5)  # predictions = P
    assert set(out) == {
        "f1", "precision", "recall", "f1_pa", "precision_pa", "recall_pa",
        "f1_event", "iou", "roc_auc", "pr_auc", "vus_pr", "fpr",
    }  # fmt: skip
    assert out["f1"] == pytest.approx(0.25)
    assert out["f1_pa"] == pytest.approx(0.6)
    assert out["iou"] == pytest.approx(1 / 7)
    assert out["fpr"] == pytest.approx(2 / 5)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(Y, scores))


def test_metric_table_order_and_names():
    rows = {
        "random": {"roc_auc": 0.5, "f1": 0.1, "extra": 3.0},
        "ours": {"f1_pa": 0.9, "f1": 0.4, "vus_pr": 0.3},
    }
    table = M.metric_table(rows)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["F1", "F1-PA", "ROC-AUC", "VUS-PR", "extra"]
    assert list(table.index) == ["random", "ours"] and table.index.name == "method"
    assert np.isnan(table.loc["ours", "ROC-AUC"])
    full = M.metric_table({"a": M.evaluate(Y, P.astype(float), 0.5)})
    assert list(full.columns[:6]) == ["F1", "F1-PA", "event F1", "ROC-AUC", "PR-AUC", "VUS-PR"]


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.precision_recall_f1([0, 2, 1], [0, 1, 1]), "y_true must be binary"),
        (lambda: M.precision_recall_f1([0, 1, 1], [0, 0.5, 1]), "y_pred must be binary"),
        (lambda: M.point_adjust([0, 1, 1], [0, 1]), "same length; got 3 and 2"),
        (lambda: M.roc_auc([0, 1, 1], [0.1, np.nan, 0.3]), "scores contains 1 non-finite"),
        (lambda: M.vus_pr([0, 1, 0], [0.1, 0.2, 0.3], max_buffer=-1), "max_buffer must be an integer"),
        (lambda: M.vus_pr([0, 1, 0], [0.1, 0.2, 0.3], n_thresholds=1), "n_thresholds must be"),
        (lambda: M.evaluate([0, 1, 0], [0.1, 0.2, 0.3], float("nan")), "threshold must be a finite number"),
        (lambda: M.evaluate([0, 1, 0], [0.1, 0.2, 0.3], "0.5"), "threshold must be a finite number"),
        (lambda: M.metric_table([1, 2]), "rows must be a dict"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()

"""Metrics: hand-computed worked examples, scikit-learn references, VUS properties and reference values."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from diffad_lib import metrics as M

_CASES_FILE = Path(__file__).parent / "reference" / "vus_cases.py"
_spec = importlib.util.spec_from_file_location("vus_cases", _CASES_FILE)
vus_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vus_cases)

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
    # true segments [1,4), [6,8): the first is hit -> event recall 1/2
    # predictions at 2, 5, 9: one true positive of three -> point-wise precision 1/3
    out = M.event_f1(Y, P)
    assert out["recall"] == pytest.approx(1 / 2)
    assert out["precision"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    # a long run of false alarms costs precision step by step: 1 TP of 5 predicted
    out = M.event_f1([1, 0, 0, 0, 0, 0], [1, 0, 1, 1, 1, 1])
    assert out["precision"] == pytest.approx(1 / 5) and out["recall"] == pytest.approx(1.0)


def test_event_f1_all_ones_prediction_cannot_reach_one():
    y = np.zeros(100, int)
    y[20:25] = 1
    y[60:62] = 1
    out = M.event_f1(y, np.ones(100, int))
    ratio = 7 / 100  # precision of flagging everything is the anomaly ratio
    assert out["recall"] == pytest.approx(1.0)
    assert out["precision"] == pytest.approx(ratio)
    assert out["f1"] == pytest.approx(2 * ratio / (1 + ratio))


def test_event_f1_segment_on_the_last_step_can_be_found():
    # the reference drops the last step of a segment ending at n - 1; here it counts
    out = M.event_f1([0, 1, 0, 0, 1], [0, 0, 0, 0, 1])
    assert out["recall"] == pytest.approx(1 / 2) and out["precision"] == pytest.approx(1.0)


def test_point_adjust_reaches_index_zero():
    # first hit at index 2 of the segment [0, 3): every step from 0 on is adjusted
    np.testing.assert_array_equal(M.point_adjust([1, 1, 1, 0, 0], [0, 0, 1, 0, 1]), [1, 1, 1, 0, 1])


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
    for fn in (M.roc_auc, M.pr_auc, M.vus_pr, M.vus_roc, M.range_pr_auc):
        assert np.isnan(fn([0, 0, 0, 0, 0], s))
        assert np.isnan(fn([1, 1, 1, 1, 1], s))


# ------------------------------------------------------------------------------- VUS
def _layout(kind: str, n: int = 400) -> np.ndarray:
    """Label vectors (n,) for the VUS properties; segments touch the ends of the series where named."""
    y = np.zeros(n, int)
    if kind == "inner":
        y[50:60] = y[200:240] = 1
    elif kind == "start_end":
        y[:7] = y[150:153] = y[n - 12 :] = 1
    elif kind == "crowded":  # gaps of 1..3 steps: buffers overlap and ranges merge
        y[100:103] = y[104:106] = y[109:115] = y[300] = 1
    elif kind == "last_step":
        y[80:90] = y[n - 1] = 1
    return y


LAYOUTS = ["inner", "start_end", "crowded", "last_step"]


@pytest.mark.parametrize("kind", LAYOUTS)
def test_vus_constant_score_is_the_prevalence_without_buffer(kind):
    # every threshold predicts every step: recall 1, precision = prevalence, FPR 1
    y = _layout(kind)
    for window in (0, 1):
        assert M.vus_pr(y, np.full(len(y), 0.7), window=window) == pytest.approx(y.mean(), abs=1e-12)
        assert M.vus_roc(y, np.full(len(y), 0.7), window=window) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("kind", LAYOUTS)
def test_vus_perfect_score_is_one_at_every_window(kind):
    y = _layout(kind)
    for window in (0, 1, 2, 3, 7, 10, 50, 100):
        assert M.vus_pr(y, y.astype(float), window=window) == pytest.approx(1.0, abs=1e-12)
        assert M.vus_roc(y, y.astype(float), window=window) == pytest.approx(1.0, abs=1e-12)
        assert M.range_pr_auc(y, y.astype(float), window=window) == pytest.approx(1.0, abs=1e-12)


def test_vus_by_hand():
    # y = [0, 0, 1, 0, 0, 0]; thresholds (all 6 ranks) 0.9 (step 3), 0.5 (step 2), 0.3, 0.2, ...
    y = [0, 0, 1, 0, 0, 0]
    s = [0.1, 0.2, 0.5, 0.9, 0.3, 0.0]
    # window 0 or 1: τ=0.9 predicts only the normal step 3 -> R 0; τ=0.5 -> TP 1, R 1, precision 1/2
    assert M.range_pr_auc(y, s, window=1, n_thresholds=6) == pytest.approx(0.5)
    # ROC: the anomaly outranks 4 of 5 normal steps
    assert M.vus_roc(y, s, window=0, n_thresholds=6) == pytest.approx(0.8)
    # window 2: one buffer step per side with weight r = sqrt(1 - 1/2), i.e. λ = [0, r, 1, r, 0, 0]
    #   τ=0.9: TP = r, label mass P = 1 + r/2 (only the predicted buffer step), R1 = TP/P, precision r
    #   τ=0.5: TP = 1 + r >= P -> R = 1, precision (1 + r)/2; later thresholds add no recall
    r = np.sqrt(0.5)
    r1 = r / (1 + r / 2)
    area2 = r1 * r + (1 - r1) * (1 + r) / 2
    assert M.range_pr_auc(y, s, window=2, n_thresholds=6) == pytest.approx(area2)
    assert M.vus_pr(y, s, window=2, n_thresholds=6) == pytest.approx((0.5 + 0.5 + area2) / 3)


@pytest.mark.parametrize("kind", ["inner_one", "start", "end"])
def test_vus_without_buffer_on_one_segment_is_average_precision_with_ties(kind):
    # with one segment the existence reward is 1 whenever recall > 0, and with every rank as a
    # threshold the step sum is scikit-learn's average precision (ties enter together)
    rng = np.random.default_rng(7)
    n = 300
    y = np.zeros(n, int)
    seg = {"inner_one": slice(100, 130), "start": slice(0, 25), "end": slice(n - 25, n)}[kind]
    y[seg] = 1
    s = np.round(rng.normal(size=n) + y, 0)  # a handful of distinct values
    assert len(np.unique(s)) < 10
    assert M.vus_pr(y, s, window=1, n_thresholds=n) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert M.vus_roc(y, s, window=1, n_thresholds=n) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_vus_is_the_mean_of_the_range_areas():
    y = _layout("crowded")
    s = np.random.default_rng(8).normal(size=len(y)) + y
    areas = [M.range_pr_auc(y, s, window=w) for w in range(13)]
    assert M.vus_pr(y, s, window=12) == pytest.approx(np.mean(areas), abs=1e-12)


def test_vus_pr_rewards_a_peak_next_to_the_segment():
    n = 2000
    y = np.zeros(n, int)
    late = np.random.default_rng(4).random(n) * 0.5
    for s in (300, 900, 1500):
        y[s : s + 20] = 1
        late[s + 20 : s + 25] += 1.0  # the detector fires 1..5 steps after each anomaly ends
    assert M.vus_pr(y, late, window=20) > M.vus_pr(y, late, window=1) + 0.1


def test_vus_default_window_is_median_segment_length_capped():
    rng = np.random.default_rng(0)
    y = np.zeros(3000, int)
    for s in rng.choice(np.arange(50, 2900, 150), size=8, replace=False):
        y[s : s + rng.integers(5, 40)] = 1
    s = rng.normal(size=3000) + 1.5 * y
    window = int(min(100, np.median([e - b for b, e in M.segments(y)])))
    assert M.vus_pr(y, s) == pytest.approx(M.vus_pr(y, s, window=window))
    assert M.vus_roc(y, s) == pytest.approx(M.vus_roc(y, s, window=window))
    y_long = np.zeros(3000, int)
    y_long[500:900] = 1
    assert M.vus_pr(y_long, s) == pytest.approx(M.vus_pr(y_long, s, window=100))


def test_vus_is_fast():
    # many short segments 20 steps apart: the window-100 buffers cover the whole series
    rng = np.random.default_rng(5)
    n = 100_000
    y = np.zeros(n, int)
    for start in range(0, n - 20, 25):
        y[start : start + rng.integers(1, 6)] = 1
    s = rng.normal(size=n) + y
    t0 = time.perf_counter()
    M.vus_pr(y, s, window=100)
    assert time.perf_counter() - t0 < 1.0


# ----------------------------------------------------------- agreement with the reference code
# VUS-PR, VUS-ROC (windows as given) and event F1 (top 5 % of the scores predicted) of TSB-AD 1.5
# (TheDatumOrg/TSB-AD), on the cases of tests/reference/vus_cases.py, printed by
#     /tmp/tsbref/bin/python tests/reference/make_vus_reference.py
# in a throw-away environment (numpy 1.26.4, scikit-learn 1.9.1, TSB-AD 1.5 installed with
# --no-deps; setup in that script's docstring). Columns: VUS-PR, VUS-ROC, event F1, sum of the
# labels, sum of the scores (the sums check that the inputs are rebuilt identically).
REFERENCE = {
    "random-short-w1": (0.07058745126630725, 0.4973821989528796, 0.1666666666666664, 9, 104.34757022030195),
    "random-short-w10": (0.051237234794872515, 0.6218673741891453, 0.0, 13, 259.5751859067884),
    "random-long-w100": (0.1934266292996204, 0.6078616952913721, 0.2608695652173911, 280, 1001.1223876288454),
    "random-mixed-w10": (0.2647605513674085, 0.5110302420961413, 0.3886397608370698, 1261, 2484.352080810303),
    "corr-short-w1": (0.16256581350641627, 0.8540816326530611, 0.21428571428571405, 20, 17.3358263195581),
    "corr-short-w10": (0.061662352002610304, 0.7950871375709023, 0.10714285714285694, 21, 36.23286435105064),
    "corr-short-w100": (0.36997000505732, 0.9472768436531199, 0.3481228668941976, 88, 168.68178837504297),
    "corr-long-w10": (0.6566595346990289, 0.8544586475044391, 0.9361702127659569, 410, 534.8779252222552),
    "corr-long-w100": (0.5877531273938524, 0.8843029076377484, 0.8372093023255809, 792, 1176.7545433566495),
    "corr-mixed-w100": (0.7845166964409728, 0.8893867552435446, 0.9754098360655732, 1513, 2281.8877176060764),
    "late-short-w10": (0.2693389040862626, 0.8498507054496284, 0.14285714285714268, 35, 28.12646078045593),
    "late-long-w100": (0.3369716567378818, 0.7408085580237681, 0.5074626865671638, 467, 198.49712629209012),
    "perfect-short-w1": (1.0, 1.0, 0.08306709265175709, 13, 13.0),
    "perfect-mixed-w10": (1.0, 1.0, 0.9999999999999996, 546, 546.0),
    "perfect-long-w100": (1.0, 1.0, 0.9999999999999996, 663, 663.0),
    "constant-short-w1": (0.035, 0.5, 0.06763285024154583, 14, 119.99999999999997),
    "constant-mixed-w10": (0.15722343943484693, 0.5033186918536473, 0.2547993019197205, 146, 299.9999999999999),
    "constant-long-w100": (0.1395677802080604, 0.5097452296480859, 0.19102749638205482, 264, 750.0),
    "tied-short-w1": (0.0280169298504952, 0.6706609824480547, 0.06349206349206339, 11, -20.0),
    "tied-short-w10": (0.07863496252195004, 0.7984529026781684, 0.15686274509803907, 16, -6.0),
    "tied-mixed-w100": (0.5552238388554217, 0.8511392688037338, 0.7495682210708112, 624, 606.0),
    "start-corr-w10": (0.5260052901973685, 0.8940760624158771, 0.695652173913043, 35, 61.50917772480982),
    "start-random-w100": (0.09167203843898128, 0.6989879982739333, 0.03225806451612897, 51, 611.2882694810443),
    "end-corr-w10": (0.2079062801840271, 0.8505029861108657, 0.33333333333333304, 21, 32.0561511853392),
    "end-random-w100": (0.08235757094575713, 0.7320507278343833, 0.0, 33, 592.7183644610395),
    "both-ends-corr-w1": (0.4392794836717302, 0.8235486776385819, 0.6829268292682921, 23, 39.678836390499576),
    "both-ends-tied-w10": (0.16787230833495012, 0.7944774651279375, 0.3544303797468351, 31, 60.0),
    "both-ends-late-w100": (0.36008989266317437, 0.9275828146088028, 0.06106870229007625, 24, 64.92090230909969),
    "last-step-corr-w10": (0.25447547481677973, 0.8326490446920719, 0.35897435897435853, 31, 28.608160144521484),
    "last-step-random-w100": (0.10476298947445316, 0.7769438061955475, 0.04255319148936162, 31, 452.67813949089634),
    "crowded-corr-w10": (0.4082946173990529, 0.9128099034705254, 0.49602122015915084, 46, 70.09753034121658),
    "crowded-corr-w100": (0.7168184713722524, 0.9647664981149532, 0.5877034358047011, 156, 238.58250994015555),
    "crowded-tied-w100": (0.47237971537679235, 0.9233426135821663, 0.36887392442947964, 85, 61.0),
    "points-corr-w10": (0.03878043148564839, 0.8308698447981833, 0.05454545454545438, 10, 27.587018721137447),
    "points-random-w100": (0.19236666583956122, 0.9348952117959569, 0.0, 25, 2497.9078033431665),
    "one-long-corr-w100": (0.6867167589085409, 0.8763773233027617, 0.9361702127659569, 800, 1221.0952499075565),
}


# Same command, second block: short literal series whose buffers reach past both ends.
REFERENCE_TINY = {
    "first-step-w37": (0.7759686719521627, 0.8855687558723201),
    "last-two-w36-k2": (0.9160055577622357, 0.8742701521706306),
    "three-segments-w30": (0.9798848695846896, 0.9748184838680384),
    "ties-w12-k5": (0.8970794768814238, 0.8971921968736408),
}


def _reference_case(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    y, s, window = vus_cases.build(name)
    assert int(y.sum()) == REFERENCE[name][3]
    assert float(s.sum()) == pytest.approx(REFERENCE[name][4], rel=1e-12, abs=1e-9)
    return y, s, window


@pytest.mark.parametrize("name", list(REFERENCE))
def test_vus_matches_the_reference(name):
    y, s, window = _reference_case(name)
    ref_pr, ref_roc, *_ = REFERENCE[name]
    assert abs(M.vus_pr(y, s, window=window) - ref_pr) < 1e-6
    assert abs(M.vus_roc(y, s, window=window) - ref_roc) < 1e-6


@pytest.mark.parametrize("case", vus_cases.TINY_CASES, ids=[c[0] for c in vus_cases.TINY_CASES])
def test_vus_matches_the_reference_on_tiny_series(case):
    name, y, s, window, n_thresholds = case
    ref_pr, ref_roc = REFERENCE_TINY[name]
    assert abs(M.vus_pr(y, s, window=window, n_thresholds=n_thresholds) - ref_pr) < 1e-6
    assert abs(M.vus_roc(y, s, window=window, n_thresholds=n_thresholds) - ref_roc) < 1e-6


def test_event_f1_matches_the_reference_except_at_the_last_step():
    departures = 0
    for name, (_, _, ref_f1, _, _) in REFERENCE.items():
        y, s, _ = _reference_case(name)
        pred = vus_cases.threshold_prediction(s)
        ours = M.event_f1(y, pred)["f1"]
        # the reference's event list ends a segment that reaches the last step one step early
        early = pred.copy()
        early[-1] = 0
        precision = M.precision_recall_f1(y, pred)["precision"]
        recall = M.event_f1(y, early)["recall"]
        expected = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        assert ref_f1 == pytest.approx(expected, abs=1e-9)
        if y[-1] == 0:
            assert ours == pytest.approx(ref_f1, abs=1e-9)
        else:
            assert ours >= ref_f1 - 1e-9
            departures += ours > ref_f1 + 1e-9
    assert departures > 0  # the cases do exercise the difference


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
        (lambda: M.vus_pr([0, 1, 0], [0.1, 0.2, 0.3], window=-1), "window must be an integer >= 0; got -1"),
        (lambda: M.vus_roc([0, 1, 0], [0.1, 0.2, 0.3], window=2.5), "window must be an integer >= 0; got 2.5"),
        (lambda: M.range_pr_auc([0, 1, 0], [0.1, 0.2, 0.3], window=True), "window must be an integer"),
        (lambda: M.vus_pr([0, 1, 0], [0.1, 0.2, 0.3], n_thresholds=1), "n_thresholds must be"),
        (lambda: M.evaluate([0, 1, 0], [0.1, 0.2, 0.3], float("nan")), "threshold must be a finite number"),
        (lambda: M.evaluate([0, 1, 0], [0.1, 0.2, 0.3], "0.5"), "threshold must be a finite number"),
        (lambda: M.metric_table([1, 2]), "rows must be a dict"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()

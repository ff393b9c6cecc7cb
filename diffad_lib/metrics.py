"""Evaluation metrics for time-series anomaly detection.

Conventions: ``y_true`` and ``y_pred`` are 0/1 labels per time step, shape (n,); ``scores`` are
real numbers per time step, shape (n,), oriented so that higher means more anomalous.

Three families are provided, and the book reports all of them side by side:

* point-wise precision / recall / F1 and IoU of a thresholded prediction;
* the generous protocols the papers use: point-adjusted F1 (Xu et al., WWW 2018) and
  event-based F1 (event-wise recall, point-wise precision);
* threshold-free rankings: ROC-AUC, PR-AUC (average precision), VUS-PR and VUS-ROC
  (Paparrizos et al., PVLDB 15(11) 2022).

Event F1, VUS-PR and VUS-ROC follow the definitions of the TSB-AD benchmark's reference
implementation (version 1.5); ``tests/test_metrics.py`` records reference values and the command
that produced them. The two places where this module departs from that code on purpose are
named in :func:`point_adjust` and :func:`event_f1`.

Threshold-free metrics are undefined when ``y_true`` holds a single class; they then return
``nan`` (documented per function) so that a table row still renders. Thresholded metrics whose
denominator is zero return ``0.0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from diffad_lib._validation import as_float_array

__all__ = [
    "segments",
    "precision_recall_f1",
    "point_adjust",
    "point_adjusted_f1",
    "event_f1",
    "iou",
    "roc_auc",
    "pr_auc",
    "range_pr_auc",
    "vus_pr",
    "vus_roc",
    "evaluate",
    "metric_table",
    "METRIC_COLUMNS",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _as_labels(y: Any, *, name: str) -> np.ndarray:
    """Validate a 0/1 label vector; return it as a bool array (n,)."""
    arr = as_float_array(y, name=name, ndim=1)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise ValueError(f"{name} must be binary (0/1 per time step); got value {arr[first]!r} at index {first}")
    return arr.astype(bool)


def _check_same_length(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str]) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same length; got {a.shape[0]} and {b.shape[0]}")


def _labels_and_pred(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, name="y_true")
    p = _as_labels(y_pred, name="y_pred")
    _check_same_length(t, p, names=("y_true", "y_pred"))
    return t, p


def _labels_and_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, name="y_true")
    s = as_float_array(scores, name="scores", ndim=1)
    _check_same_length(t, s, names=("y_true", "scores"))
    return t, s


def _ratio(num: float, den: float) -> float:
    """``num / den``, or 0.0 when ``den`` is 0 (the documented value of an undefined ratio)."""
    return float(num / den) if den > 0 else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


# --------------------------------------------------------------------------------------------
# segments
# --------------------------------------------------------------------------------------------
def _segment_array(y: np.ndarray) -> np.ndarray:
    """Runs of ones in a bool vector (n,) as an int array (n_segments, 2) of [start, end)."""
    padded = np.concatenate(([0], y.astype(np.int8), [0]))
    change = np.diff(padded)  # +1 at a start, -1 one past an end
    starts = np.flatnonzero(change == 1)
    ends = np.flatnonzero(change == -1)
    return np.stack([starts, ends], axis=1).astype(np.int64)


def segments(y: Any) -> list[tuple[int, int]]:
    """Contiguous anomalous segments of a 0/1 label vector.

    Parameters
    ----------
    y : array-like, shape (n,)
        Binary labels.

    Returns
    -------
    list of (start, end_exclusive)
        One pair per run of ones, in time order; ``y[start:end] == 1`` for each.

    Examples
    --------
    >>> segments([0, 1, 1, 0, 1])
    [(1, 3), (4, 5)]
    """
    arr = _as_labels(y, name="y")
    return [(int(s), int(e)) for s, e in _segment_array(arr)]


def _segments_hit(mask: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """For each segment [s, e) of ``segs`` (k, 2): does ``mask`` hold a True inside? -> (k,) bool."""
    csum = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    return (csum[segs[:, 1]] - csum[segs[:, 0]]) > 0


# --------------------------------------------------------------------------------------------
# thresholded metrics
# --------------------------------------------------------------------------------------------
def precision_recall_f1(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Point-wise precision, recall and F1.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    dict
        ``{"precision": TP/(TP+FP), "recall": TP/(TP+FN), "f1": harmonic mean}``. A ratio whose
        denominator is zero (no predicted positives, no true positives, or both zero) is 0.0.
    """
    t, p = _labels_and_pred(y_true, y_pred)
    tp = float(np.sum(t & p))
    precision = _ratio(tp, float(p.sum()))
    recall = _ratio(tp, float(t.sum()))
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def point_adjust(y_true: Any, y_pred: Any) -> np.ndarray:
    """Point adjustment (Xu et al., WWW 2018), the protocol most deep-TSAD papers report.

    If any time step of a true anomalous segment is predicted anomalous, every time step of that
    segment is counted as predicted. Predictions outside true segments are left unchanged.
    This inflates scores considerably (a random detector reaches a high point-adjusted F1 on long
    segments), which is why the book always reports it beside the point-wise F1.

    A segment that starts at index 0 is adjusted from index 0. (TSB-AD 1.5's adjustment walks
    back from the first hit only down to index 1, so there index 0 stays unflagged; this module
    does not copy that slip.)

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    ndarray, shape (n,), int64
        The adjusted 0/1 predictions.
    """
    t, p = _labels_and_pred(y_true, y_pred)
    adjusted = p.copy()
    segs = _segment_array(t)
    if len(segs):
        hit = _segments_hit(p, segs)
        # mark every step of a hit segment: +1 at its start, -1 at its end, cumulative sum > 0
        delta = np.zeros(t.shape[0] + 1, dtype=np.int64)
        np.add.at(delta, segs[hit, 0], 1)
        np.add.at(delta, segs[hit, 1], -1)
        adjusted |= np.cumsum(delta[:-1]) > 0
    return adjusted.astype(np.int64)


def point_adjusted_f1(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Precision, recall and F1 after :func:`point_adjust`.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    dict
        ``{"precision", "recall", "f1"}`` as in :func:`precision_recall_f1`.
    """
    return precision_recall_f1(y_true, point_adjust(y_true, y_pred))


def event_f1(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Event-based F1: event-wise recall with point-wise precision (the TSB-AD definition).

    Each contiguous true segment is one event. Recall is the fraction of true segments that
    contain at least one predicted step; precision is the ordinary point-wise precision
    ``TP / |Pred|``; F1 is their harmonic mean. A hit on a long anomaly counts as one found event,
    but every false alarm step still costs precision, so flagging every step cannot score 1.0
    (its precision is the anomaly ratio). A ratio with zero denominator is 0.0.

    Agrees with the reference implementation (TSB-AD 1.5, ``metric_EventF1PA`` with ``preds``)
    except on purpose where the reference drops the last step of a segment that ends at the last
    time step (a one-step anomaly there can never be found), and up to its ``1e-15`` added to the
    F1 denominator.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    dict
        ``{"precision", "recall", "f1"}``: point-wise precision, event-wise recall, F1.
    """
    t, p = _labels_and_pred(y_true, y_pred)
    true_segs = _segment_array(t)
    recall = float(_segments_hit(p, true_segs).mean()) if len(true_segs) else 0.0
    precision = _ratio(float(np.sum(t & p)), float(p.sum()))
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def iou(y_true: Any, y_pred: Any) -> float:
    """Intersection over union of the anomalous time steps (the DiffADT paper's Table 4).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    float
        ``|true ∩ pred| / |true ∪ pred|``; ``nan`` when both are empty (undefined).
    """
    t, p = _labels_and_pred(y_true, y_pred)
    union = float(np.sum(t | p))
    if union == 0:
        return float("nan")
    return float(np.sum(t & p)) / union


# --------------------------------------------------------------------------------------------
# threshold-free metrics
# --------------------------------------------------------------------------------------------
def _single_class(t: np.ndarray) -> bool:
    return bool(t.all() or not t.any())


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``).

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous; NaN/inf raise ``ValueError``.

    Returns
    -------
    float
        ROC-AUC in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    t, s = _labels_and_scores(y_true, scores)
    if _single_class(t):
        return float("nan")
    return float(roc_auc_score(t, s))


def pr_auc(y_true: Any, scores: Any) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn).

    Average precision is the step-wise sum ``Σ (R_k − R_{k−1}) P_k`` over thresholds, which does
    not interpolate optimistically between operating points.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous; NaN/inf raise ``ValueError``.

    Returns
    -------
    float
        Average precision in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    t, s = _labels_and_scores(y_true, scores)
    if _single_class(t):
        return float("nan")
    return float(average_precision_score(t, s))


def _check_int(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _cumulative_by_first(first: np.ndarray, n_thresholds: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Running total over thresholds of items that switch on at threshold index ``first`` (m,) -> (K,).

    An item with ``first == K`` is never predicted and drops out.
    """
    per_threshold = np.bincount(first, weights=weights, minlength=n_thresholds + 1)[:n_thresholds]
    return np.cumsum(per_threshold)


def _gap_distances(t: np.ndarray, segs: np.ndarray, reach: int) -> tuple[np.ndarray, ...]:
    """Normal steps within ``reach`` of an anomaly and their distances to the two nearest segments per side.

    Returns ``(steps, d_left, d_left2, d_right, d_right2)``, each (m,): the step indices, the
    distance to the last step of the nearest and second-nearest segment before the step, and to
    the first step of the nearest and second-nearest segment after it (more than ``reach`` where
    there is no such segment).
    """
    n = t.shape[0]
    idx = np.arange(n, dtype=np.int64)
    far = 2 * (n + reach) + 2  # a stand-in position for "no segment", out of reach of every step
    prev = np.maximum.accumulate(np.where(t, idx, -far))
    nxt = np.minimum.accumulate(np.where(t, idx, 2 * far)[::-1])[::-1]
    steps = np.flatnonzero(~t & (np.minimum(idx - prev, nxt - idx) <= reach))
    starts, last = segs[:, 0], segs[:, 1] - 1  # first and last anomalous step of each segment
    i_left = np.searchsorted(last, steps, side="left") - 1  # nearest segment ending before the step
    i_right = np.searchsorted(starts, steps, side="right")  # nearest segment starting after it
    last_pad = np.concatenate(([-far, -far], last))  # index i + 2 holds segment i
    starts_pad = np.concatenate((starts, [2 * far, 2 * far]))
    return (
        steps,
        steps - last_pad[i_left + 2],
        steps - last_pad[i_left + 1],
        starts_pad[i_right] - steps,
        starts_pad[i_right + 1] - steps,
    )


def _range_curves(t: np.ndarray, s: np.ndarray, window: int, *, n_thresholds: int) -> tuple[np.ndarray, np.ndarray]:
    """Range-AUC-PR and range-AUC-ROC for every window length 0..``window``: two arrays (window + 1,).

    The computation of the VUS reference implementation (TSB-AD 1.5, ``RangeAUC_volume_opt``),
    vectorised over thresholds. For a window ``w`` with ``h = w // 2``:

    * soft labels ``λ``: 1 at anomalous steps; at a normal step whose distance ``d`` to a segment is
      in 1..h, ``sqrt(1 - d / w)`` summed over the segments in reach and clipped at 1 (each term is
      at least ``sqrt(1/2)``, so two or more terms always clip to 1);
    * for each threshold ``τ`` with predicted set ``Pred = {s >= τ}``: ``TP = Σ_Pred λ``,
      ``P_w = |y| + ½ Σ_{Pred \\ y} λ`` (only predicted buffer steps enter the label mass),
      ``recall = min(1, TP / P_w) · E`` with ``E`` the fraction of buffered ranges (segments
      extended by ``h`` per side, merged where they touch) holding a predicted step,
      ``precision = TP / |Pred|``, ``FPR = (|Pred| − TP) / (n − P_w)``;
    * PR area = ``Σ_k (R_k − R_{k−1}) P_k`` from ``R_0 = 0`` (steps, no interpolation); ROC area =
      trapezoids through (0, 0), the K points and (1, 1).
    """
    n = s.shape[0]
    # the reference's thresholds: scores at K evenly spaced ranks (highest first), ties included
    ranks = np.linspace(0, n - 1, n_thresholds).astype(int)
    s_asc = np.sort(s)
    tau = s_asc[::-1][ranks]  # (K,) non-increasing
    n_pred = (n - np.searchsorted(s_asc, tau, side="left")).astype(np.float64)  # |{s >= τ_k}|
    neg_tau = -tau  # non-decreasing, for searchsorted

    def first_threshold(values: np.ndarray) -> np.ndarray:
        """Index of the first threshold at which a value counts as predicted (K = never): (m,)."""
        return np.searchsorted(neg_tau, -values, side="left")

    segs = _segment_array(t)  # (S, 2) [start, end)
    n_true = float(t.sum())
    anomalous_tp = _cumulative_by_first(first_threshold(s[t]), n_thresholds)  # (K,) predicted anomalous steps
    steps, d_left, d_left2, d_right, d_right2 = _gap_distances(t, segs, window // 2)
    first_gap = first_threshold(s[steps])
    s_pad = np.append(s, -np.inf)  # a range may end at n in reduceat
    pr = np.empty(window + 1)
    roc = np.empty(window + 1)
    for w in range(window + 1):
        h = w // 2
        if h > 0:
            n_terms = (d_left <= h).astype(np.int64) + (d_left2 <= h) + (d_right <= h) + (d_right2 <= h)
            d = np.where(d_left <= h, d_left, d_right)
            one = np.sqrt(np.clip(1.0 - d / w, 0.0, None))  # clip only guards the unused out-of-reach entries
            lam = np.where(n_terms >= 2, 1.0, np.where(n_terms == 1, one, 0.0))
            buffer_tp = _cumulative_by_first(first_gap, n_thresholds, lam)
        else:
            buffer_tp = np.zeros(n_thresholds)
        tp = anomalous_tp + buffer_tp
        p_w = n_true + 0.5 * buffer_tp
        # buffered ranges: a new range starts where the extended segments do not touch
        new_range = np.concatenate(([True], segs[1:, 0] - h > segs[:-1, 1] - 1 + h))
        lo = np.maximum(segs[new_range, 0] - h, 0)
        hi = np.minimum(segs[np.append(new_range[1:], True), 1] + h, n)  # exclusive end of each range
        range_max = np.maximum.reduceat(s_pad, np.stack([lo, hi], axis=1).ravel())[::2]
        existence = _cumulative_by_first(first_threshold(range_max), n_thresholds) / len(range_max)
        recall = np.minimum(tp / p_w, 1.0) * existence
        precision = tp / n_pred
        pr[w] = float(np.sum(np.diff(recall, prepend=0.0) * precision))
        fpr = (n_pred - tp) / (n - p_w)
        x = np.concatenate(([0.0], fpr, [1.0]))
        y = np.concatenate(([0.0], recall, [1.0]))
        roc[w] = float(np.sum(np.diff(x) * 0.5 * (y[1:] + y[:-1])))
    return pr, roc


def _default_window(t: np.ndarray) -> int:
    """Median length of the true segments, capped at 100 (the reference's default window)."""
    lengths = np.diff(_segment_array(t), axis=1).ravel()
    return int(min(100, np.median(lengths)))


def range_pr_auc(y_true: Any, scores: Any, *, window: int = 0, n_thresholds: int = 250) -> float:
    """Range-AUC-PR for one window length (Paparrizos et al., PVLDB 15(11), 2022).

    Equals the per-window area of the VUS reference implementation (TSB-AD 1.5); see
    :func:`vus_pr` for the definition and the window convention. With ``window`` 0 or 1 and one
    true segment it is the step-wise average precision at the K sampled thresholds.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous.
    window : int, default 0
        Two-sided window length ``w`` (buffer of ``w // 2`` steps per side).
    n_thresholds : int, default 250
        Number of thresholds K, at evenly spaced ranks of the sorted scores.

    Returns
    -------
    float
        The area in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    t, s = _labels_and_scores(y_true, scores)
    window = _check_int(window, name="window", minimum=0)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    if _single_class(t):
        return float("nan")
    # the area at window w does not depend on the larger windows; only the last one is kept
    return float(_range_curves(t, s, window, n_thresholds=n_thresholds)[0][-1])


def _vus(y_true: Any, scores: Any, window: int | None, n_thresholds: int) -> tuple[float, float]:
    t, s = _labels_and_scores(y_true, scores)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    if window is not None:
        window = _check_int(window, name="window", minimum=0)
    if _single_class(t):
        return float("nan"), float("nan")
    if window is None:
        window = _default_window(t)
    pr, roc = _range_curves(t, s, window, n_thresholds=n_thresholds)
    return float(pr.mean()), float(roc.mean())


def vus_pr(y_true: Any, scores: Any, *, window: int | None = None, n_thresholds: int = 250) -> float:
    """Volume Under the range-PR Surface (VUS-PR; Paparrizos et al., PVLDB 15(11), 2022).

    The mean of the range-AUC-PR over the window lengths 0, 1, ..., ``window``, computed exactly
    as the reference implementation does (TSB-AD 1.5, ``get_metrics(..., slidingWindow=window)``;
    tests pin the agreement to 1e-6). For each window ``w`` the labels get a soft buffer, and for
    each of K thresholds ``τ`` (predicted set ``Pred = {s >= τ}``, ties all included):

    * ``TP = Σ_{Pred} λ_t``, with ``λ`` 1 on anomalous steps and the buffer weight around them;
    * ``recall = min(1, TP / P_w) · E``, where ``P_w = |y| + ½ Σ λ_t`` over the *predicted* buffer
      steps only (so a perfect score reaches recall 1) and ``E`` is the existence reward: the
      fraction of buffered ranges (segments widened by the buffer, merged where they touch) that
      hold at least one predicted step;
    * ``precision = TP / |Pred|``.

    The area of each curve is the step sum ``Σ_k (R_k − R_{k−1}) P_k`` from recall 0, as in
    average precision: no interpolation towards (recall 0, precision 1), so a constant score gets
    the label prevalence at ``window`` 0 or 1 and a perfect score gets 1.0 at every window.

    Buffer convention: ``window`` is the *two-sided* window ``w`` of the reference implementation (TSB-AD's
    ``slidingWindow``): the soft buffer reaches ``w // 2`` steps on *each* side of a segment, with
    weights ``sqrt(1 - d / w)`` at distance ``d`` (from 1 down to about ``sqrt(1/2)``). Windows 0
    and 1 have no buffer; ``window=1`` therefore gives the point-wise step-sum area. The first
    segment's buffer is cut at index 0 and the last one's at ``n - 1``; overlapping buffers of
    neighbouring segments add up and are clipped at 1.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous.
    window : int or None, default None
        Largest two-sided window ``w`` (the volume averages ``w + 1`` areas). ``None`` uses the
        median length of the true segments, capped at 100, so the buffer reaches half a typical
        anomaly on each side.
    n_thresholds : int, default 250
        Thresholds K per curve, at evenly spaced ranks of the sorted scores (the reference's
        ``thre``).

    Returns
    -------
    float
        VUS-PR in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    return _vus(y_true, scores, window, n_thresholds)[0]


def vus_roc(y_true: Any, scores: Any, *, window: int | None = None, n_thresholds: int = 250) -> float:
    """Volume Under the range-ROC Surface (VUS-ROC; Paparrizos et al., PVLDB 15(11), 2022).

    Same soft labels, thresholds, recall (true-positive rate, with the existence reward) and
    windows as :func:`vus_pr`; the false-positive rate at each threshold is
    ``(|Pred| − TP) / (n − P_w)``, and the area is the trapezoidal rule through (0, 0), the K
    operating points and (1, 1), as in the reference implementation (TSB-AD 1.5). ``window`` is
    the two-sided window (``w // 2`` buffer steps per side), as in :func:`vus_pr`.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous.
    window : int or None, default None
        Largest two-sided window, as in :func:`vus_pr`.
    n_thresholds : int, default 250
        Thresholds K per curve.

    Returns
    -------
    float
        VUS-ROC in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    return _vus(y_true, scores, window, n_thresholds)[1]


# --------------------------------------------------------------------------------------------
# everything at once, and tables
# --------------------------------------------------------------------------------------------
def evaluate(y_true: Any, scores: Any, threshold: float, *, vus_window: int | None = None) -> dict[str, float]:
    """All metrics of the book's tables for one detector.

    A time step is predicted anomalous when ``scores > threshold`` (the threshold is fitted on
    training scores, see :mod:`diffad_lib.thresholds`).

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels of the test series.
    scores : array-like, shape (n,)
        Test anomaly scores, higher = more anomalous.
    threshold : float
        Decision threshold.
    vus_window : int or None, default None
        Two-sided ``window`` of :func:`vus_pr` (``None``: its label-based default).

    Returns
    -------
    dict
        Keys ``f1, precision, recall`` (point-wise), ``f1_pa, precision_pa, recall_pa`` (point
        adjusted), ``f1_event``, ``iou``, ``roc_auc``, ``pr_auc``, ``vus_pr`` and ``fpr`` (false
        positive rate of the point-wise predictions, ``nan`` without normal steps).
    """
    t, s = _labels_and_scores(y_true, scores)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}")
    pred = s > threshold
    point = precision_recall_f1(t, pred)
    adjusted = point_adjusted_f1(t, pred)
    n_neg = float((~t).sum())
    fpr = float(np.sum(pred & ~t)) / n_neg if n_neg > 0 else float("nan")
    return {
        "f1": point["f1"],
        "precision": point["precision"],
        "recall": point["recall"],
        "f1_pa": adjusted["f1"],
        "precision_pa": adjusted["precision"],
        "recall_pa": adjusted["recall"],
        "f1_event": event_f1(t, pred)["f1"],
        "iou": iou(t, pred),
        "roc_auc": roc_auc(t, s),
        "pr_auc": pr_auc(t, s),
        "vus_pr": vus_pr(t, s, window=vus_window),
        "fpr": fpr,
    }


#: Column order and display names of :func:`metric_table` (keys as returned by :func:`evaluate`).
METRIC_COLUMNS: dict[str, str] = {
    "f1": "F1",
    "f1_pa": "F1-PA",
    "f1_event": "event F1",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "vus_pr": "VUS-PR",
    "iou": "IoU",
    "precision": "precision",
    "recall": "recall",
    "precision_pa": "precision (PA)",
    "recall_pa": "recall (PA)",
    "fpr": "FPR",
}


def metric_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per method, columns in the fixed order of :data:`METRIC_COLUMNS`.

    Parameters
    ----------
    rows : dict of str to dict
        ``{method name: evaluate(...) result}``. Known keys are renamed (``f1_pa`` -> ``F1-PA``)
        and ordered; keys absent from every row are left out; unknown keys follow, unchanged,
        in order of first appearance. Missing entries are NaN.

    Returns
    -------
    pandas.DataFrame
        Index ``method`` (the keys of ``rows``, in order).
    """
    if not isinstance(rows, dict):
        raise ValueError(f"rows must be a dict of method name -> metrics dict; got {type(rows).__name__}")
    for name, row in rows.items():
        if not isinstance(row, dict):
            raise ValueError(f"rows[{name!r}] must be a dict of metric -> value; got {type(row).__name__}")
    present: list[str] = []
    for row in rows.values():
        present.extend(k for k in row if k not in present)
    known = [k for k in METRIC_COLUMNS if k in present]
    extra = [k for k in present if k not in METRIC_COLUMNS]
    keys = known + extra
    frame = pd.DataFrame(
        [[row.get(k, np.nan) for k in keys] for row in rows.values()],
        index=pd.Index(list(rows), name="method"),
        columns=[METRIC_COLUMNS.get(k, k) for k in keys],
    )
    return frame

"""Evaluation metrics for time-series anomaly detection.

Conventions: ``y_true`` and ``y_pred`` are 0/1 labels per time step, shape (n,); ``scores`` are
real numbers per time step, shape (n,), oriented so that higher means more anomalous.

Three families are provided, and the book reports all of them side by side:

* point-wise precision / recall / F1 and IoU of a thresholded prediction;
* the generous protocols the papers use: point-adjusted F1 (Xu et al., WWW 2018) and
  event-wise F1;
* threshold-free rankings: ROC-AUC, PR-AUC (average precision) and VUS-PR
  (Paparrizos et al., PVLDB 15(11) 2022).

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
    """Event-wise precision, recall and F1.

    Each contiguous segment is one event. Recall is the fraction of true segments that contain at
    least one predicted point; precision is the fraction of predicted segments (runs of ones in
    ``y_pred``) that overlap at least one true segment; F1 is their harmonic mean. Unlike point
    adjustment, a long run of false alarms counts as a single false event, and a hit on a long
    anomaly counts as a single true event. A ratio with zero denominator is 0.0.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Binary labels and binary predictions.

    Returns
    -------
    dict
        ``{"precision", "recall", "f1"}``.
    """
    t, p = _labels_and_pred(y_true, y_pred)
    true_segs = _segment_array(t)
    pred_segs = _segment_array(p)
    recall = float(_segments_hit(p, true_segs).mean()) if len(true_segs) else 0.0
    precision = float(_segments_hit(t, pred_segs).mean()) if len(pred_segs) else 0.0
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


def _distance_to_anomaly(t: np.ndarray) -> np.ndarray:
    """Distance (in steps) from each time step to the nearest anomalous step: (n,) int64.

    0 inside a segment; larger than ``n`` everywhere when there is no anomaly.
    """
    n = t.shape[0]
    idx = np.arange(n, dtype=np.int64)
    far = 2 * n + 1
    prev = np.maximum.accumulate(np.where(t, idx, -far))  # last anomalous index at or before t
    nxt = np.minimum.accumulate(np.where(t, idx, 2 * far)[::-1])[::-1]  # first at or after t
    return np.minimum(idx - prev, nxt - idx)


def _soft_labels(dist: np.ndarray, buffer: int) -> np.ndarray:
    """Range-based labels with a square-root ramp of ``buffer`` steps on each side: (n,) float64.

    A step at distance ``d`` in 1..buffer from the nearest anomalous step gets
    ``sqrt(1 - d / (2 * buffer))``: the VUS reference code's convex slope, whose window of
    ``2 * buffer`` spans both sides, so the ramp falls from about 1 to sqrt(1/2) at its outer edge.
    Where the ramps of two segments overlap the larger weight is kept (nearest segment).
    """
    w = (dist == 0).astype(np.float64)
    if buffer > 0:
        ramp = (dist > 0) & (dist <= buffer)
        w[ramp] = np.sqrt(1.0 - dist[ramp] / (2.0 * buffer))
    return w


def _range_pr_aucs(
    t: np.ndarray, s: np.ndarray, buffers: np.ndarray, *, n_thresholds: int, existence: bool
) -> np.ndarray:
    """Range-AUC-PR for each buffer length in ``buffers`` (k,) -> (k,).

    Thresholds are the scores at ``n_thresholds`` evenly spaced ranks of the sorted scores
    (highest first); a step is predicted anomalous when its score is >= the threshold.
    """
    n = s.shape[0]
    order = np.argsort(-s, kind="stable")  # highest score first
    s_desc = s[order]
    ranks = np.linspace(0, n - 1, min(n_thresholds, n)).astype(np.int64)
    tau = s_desc[ranks]  # (K,) thresholds, non-increasing
    # number of predicted steps at each threshold (ties all included): |{s >= tau}|
    n_pred = np.searchsorted(-s_desc, -tau, side="right")  # (K,) >= 1
    segs = _segment_array(t)  # (S, 2)
    n_true = float(t.sum())
    dist = _distance_to_anomaly(t)
    s_pad = np.append(s, -np.inf)  # so that a segment may end at n in reduceat
    out = np.empty(len(buffers))
    for j, buffer in enumerate(buffers):
        w = _soft_labels(dist, int(buffer))  # (n,)
        tp = np.cumsum(w[order])[n_pred - 1]  # (K,) soft true positives
        precision = tp / n_pred
        # P_l averages the original and the extended label mass (Paparrizos et al. 2022)
        p_l = 0.5 * (n_true + w.sum())
        recall = np.minimum(1.0, tp / p_l)
        if existence:
            # a true segment "exists" once a predicted step lies in it or in its buffer
            lo = np.maximum(segs[:, 0] - buffer, 0)
            hi = np.minimum(segs[:, 1] + buffer, n)
            bounds = np.stack([lo, hi], axis=1).ravel()
            seg_max = np.maximum.reduceat(s_pad, bounds)[::2]  # (S,) max score around each segment
            seg_max.sort()
            found = len(seg_max) - np.searchsorted(seg_max, tau, side="left")  # (K,) segments hit
            recall = recall * found / len(seg_max)
        # curve starts at (recall 0, precision 1); trapezoidal rule in recall
        r = np.concatenate(([0.0], recall))
        p = np.concatenate(([1.0], precision))
        out[j] = float(np.sum(np.diff(r) * 0.5 * (p[1:] + p[:-1])))
    return out


def _check_int(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def range_pr_auc(
    y_true: Any, scores: Any, *, buffer: int = 0, n_thresholds: int = 250, existence: bool = True
) -> float:
    """Range-AUC-PR for one buffer length (Paparrizos et al., PVLDB 2022).

    The binary labels are extended by a soft square-root ramp of ``buffer`` steps on each side
    of every anomalous segment (weights ``sqrt(1 - d / (2·buffer))`` at distance ``d``). For each
    threshold ``τ`` (predicted set ``Pred = {s >= τ}``):

    * ``TP = Σ_{t ∈ Pred} w_t`` (soft true positives),
    * ``precision = TP / |Pred|``,
    * ``recall = min(1, TP / P_ℓ) · existence`` with ``P_ℓ = (Σ y_t + Σ w_t) / 2``, and
      ``existence`` the fraction of true segments with at least one predicted step inside the
      segment or its buffer (set ``existence=False`` to drop this factor).

    The area is taken with the trapezoidal rule over recall, starting from the point
    (recall 0, precision 1). With ``buffer=0`` and ``existence=False`` (or a single true
    segment) it is the ordinary trapezoidal PR AUC of the point labels, i.e.
    ``sklearn.metrics.auc(recall, precision)`` from ``precision_recall_curve`` when every score is
    used as a threshold.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous.
    buffer : int, default 0
        Ramp length ℓ on each side of each segment, in time steps.
    n_thresholds : int, default 250
        Number of thresholds, taken at evenly spaced ranks of the sorted scores (capped at n).
    existence : bool, default True
        Multiply recall by the existence reward, as in the paper.

    Returns
    -------
    float
        The area in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    t, s = _labels_and_scores(y_true, scores)
    buffer = _check_int(buffer, name="buffer", minimum=0)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    if _single_class(t):
        return float("nan")
    return float(_range_pr_aucs(t, s, np.array([buffer]), n_thresholds=n_thresholds, existence=existence)[0])


def vus_pr(
    y_true: Any,
    scores: Any,
    *,
    max_buffer: int | None = None,
    n_thresholds: int = 250,
    existence: bool = True,
) -> float:
    """Volume Under the PR Surface (VUS-PR; Paparrizos et al., PVLDB 15(11), 2022).

    The mean of :func:`range_pr_auc` over the buffer lengths ℓ = 0, 1, ..., ``max_buffer``: a
    threshold-free measure that also rewards scores peaking *near* an anomaly, and does not depend
    on choosing one buffer length.

    Differences from the authors' reference code, all deliberate: the ramps are symmetric (the
    reference's end ramp is one step shorter); overlapping ramps keep the larger weight instead of
    summing and clipping; the existence reward counts each original true segment separately even
    when buffers overlap; ``max_buffer`` is the per-side length (the reference's ``windowSize`` is
    the two-sided length, twice this).

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Binary labels.
    scores : array-like, shape (n,)
        Anomaly scores, higher = more anomalous.
    max_buffer : int or None, default None
        Largest per-side ramp length. ``None`` uses the median length of the true segments
        (the VUS authors' label-based sliding window), capped at 100 to bound the cost.
    n_thresholds : int, default 250
        Thresholds per curve, at evenly spaced ranks of the sorted scores.
    existence : bool, default True
        Apply the existence reward to recall (see :func:`range_pr_auc`).

    Returns
    -------
    float
        VUS-PR in [0, 1]; ``nan`` when ``y_true`` holds only one class.
    """
    t, s = _labels_and_scores(y_true, scores)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    if _single_class(t):
        return float("nan")
    if max_buffer is None:
        lengths = np.diff(_segment_array(t), axis=1).ravel()
        max_buffer = int(min(100, np.median(lengths)))
    max_buffer = _check_int(max_buffer, name="max_buffer", minimum=0)
    buffers = np.arange(max_buffer + 1)
    return float(_range_pr_aucs(t, s, buffers, n_thresholds=n_thresholds, existence=existence).mean())


# --------------------------------------------------------------------------------------------
# everything at once, and tables
# --------------------------------------------------------------------------------------------
def evaluate(y_true: Any, scores: Any, threshold: float, *, vus_buffer: int | None = None) -> dict[str, float]:
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
    vus_buffer : int or None, default None
        ``max_buffer`` of :func:`vus_pr`.

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
        "vus_pr": vus_pr(t, s, max_buffer=vus_buffer),
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

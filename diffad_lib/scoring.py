"""Anomaly scores from reconstructions: distances, smoothing kernels and λ-mixing.

Every score is oriented higher = more anomalous and has one value per time step.

* :func:`pointwise_distance` — ``|x − x̂|^p`` per step, reduced over channels;
* :func:`smoothing_kernel`, :func:`smooth` — centred, edge-normalised convolution;
* :func:`smoothed_distance` — the DiffADT paper's eq. (5): the L1 distance convolved with a
  Hanning / Hamming / Bartlett kernel;
* :class:`ErrorCalibration`, :func:`calibrated_distance` — per-channel errors standardised by
  their distribution on normal data (median / MAD) before they are aggregated over channels, so
  a channel that is always hard to reconstruct cannot drown one that breaks;
* :class:`ScoreStats`, :func:`mix_scores` — Yi Chen's ``A = λ·recon + (1 − λ)·feature`` with each
  term standardised by statistics of the training scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.ndimage import convolve1d
from scipy.signal import windows

from diffad_lib._validation import as_float_array, check_choice

__all__ = [
    "pointwise_distance",
    "smoothing_kernel",
    "smooth",
    "smoothed_distance",
    "ScoreStats",
    "mix_scores",
    "ErrorCalibration",
    "calibrated_distance",
    "aggregate_errors",
    "CALIBRATIONS",
    "LevelCalibration",
    "AGGREGATES",
    "KERNELS",
]

KERNELS: tuple[str, ...] = ("hann", "hamming", "bartlett", "none")
CALIBRATIONS: tuple[str, ...] = ("robust", "mahalanobis", "none")
AGGREGATES: tuple[str, ...] = ("mean", "max")


def _pair(x: Any, x_hat: Any) -> tuple[np.ndarray, np.ndarray]:
    a = as_float_array(x, name="x", ndim=(1, 2))
    b = as_float_array(x_hat, name="x_hat", ndim=(1, 2))
    if a.shape != b.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {a.shape} and {b.shape}")
    return a, b


def pointwise_distance(
    x: Any,
    x_hat: Any,
    *,
    p: Literal[1, 2] = 1,
    reduce: Literal["mean", "sum", "max", "none"] = "mean",
) -> np.ndarray:
    """Per-step reconstruction error ``|x − x̂|^p`` reduced over channels.

    Parameters
    ----------
    x, x_hat : array-like, shape (n, C) or (n,)
        Series and its reconstruction, time on axis 0 (torch CPU tensors are accepted).
    p : {1, 2}, default 1
        1: absolute error; 2: squared error (``reduce="mean"`` then gives the per-step MSE).
    reduce : {"mean", "sum", "max", "none"}, default "mean"
        Reduction over channels. ``"none"`` keeps them.

    Returns
    -------
    ndarray
        (n,) float64, or (n, C) with ``reduce="none"`` and a 2-D input.
    """
    check_choice(p, name="p", choices=(1, 2))
    check_choice(reduce, name="reduce", choices=("mean", "sum", "max", "none"))
    a, b = _pair(x, x_hat)
    err = np.abs(a - b) ** p  # (n, C) or (n,)
    if err.ndim == 1 or reduce == "none":
        return err
    return {"mean": np.mean, "sum": np.sum, "max": np.max}[reduce](err, axis=1)


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 1 (so the kernel has a centre); got {size!r}")
    return int(size)


def smoothing_kernel(kind: Literal["hann", "hamming", "bartlett", "none"], size: int) -> np.ndarray:
    """A symmetric smoothing kernel normalised to sum 1.

    Parameters
    ----------
    kind : {"hann", "hamming", "bartlett", "none"}
        Window shape (``scipy.signal.windows``, symmetric). The Hann and Bartlett windows are zero
        at both ends, so only ``size − 2`` taps are non-zero. ``"none"`` is the identity
        kernel ``[1.0]`` whatever ``size``.
    size : int
        Odd number of taps (the DiffADT paper uses 15, 25 and 35).

    Returns
    -------
    ndarray, shape (size,) (or (1,) for ``"none"``), float64, summing to 1.
    """
    check_choice(kind, name="kind", choices=KERNELS)
    size = _check_size(size)
    if kind == "none" or size == 1:
        return np.ones(1)
    w = windows.get_window(kind, size, fftbins=False).astype(np.float64)  # symmetric window
    return w / w.sum()


def smooth(
    scores: Any,
    *,
    kind: Literal["hann", "hamming", "bartlett", "none"] = "hann",
    size: int = 15,
) -> np.ndarray:
    """Centred convolution with :func:`smoothing_kernel`, normalised by the kernel mass inside.

    ``out[t] = Σ_j k_j s[t+j] / Σ_j k_j [0 <= t+j < n]`` (j from −size//2 to size//2): near the
    edges the missing taps are dropped and the rest re-weighted, so a constant series stays
    constant and edges are neither pulled towards zero (zero padding) nor given repeated values
    (reflection).

    Parameters
    ----------
    scores : array-like, shape (n,) or (n, C)
        Scores, time on axis 0; each column is smoothed separately.
    kind : {"hann", "hamming", "bartlett", "none"}, default "hann"
    size : int, default 15
        Odd kernel length; may exceed ``n``.

    Returns
    -------
    ndarray, same shape as ``scores``, float64.
    """
    s = as_float_array(scores, name="scores", ndim=(1, 2))
    k = smoothing_kernel(kind, size)
    if k.size == 1:
        return s.copy()
    num = convolve1d(s, k, axis=0, mode="constant", cval=0.0)
    mass = convolve1d(np.ones(s.shape[0]), k, mode="constant", cval=0.0)  # (n,) kernel mass inside
    return num / (mass[:, None] if s.ndim == 2 else mass)


def smoothed_distance(
    x: Any,
    x_hat: Any,
    *,
    p: Literal[1, 2] = 1,
    kind: Literal["hann", "hamming", "bartlett", "none"] = "hann",
    size: int = 15,
    channels: Sequence[int] | None = None,
) -> np.ndarray:
    """The DiffADT score (Zuo et al. 2024, eq. 5): L1 distance smoothed by a kernel.

    ``A_t = (K * d)_t`` with ``d_t = mean_c |x_{t,c} − x̂_{t,c}|^p`` over the selected channels
    and ``K`` from :func:`smoothing_kernel`, applied as in :func:`smooth` (``kind="none"``: the
    raw distance). This is the score of :class:`~diffad_lib.detectors.DiffusionDetector`.

    Parameters
    ----------
    x, x_hat : array-like, shape (n, C) or (n,)
        Series and reconstruction.
    p : {1, 2}, default 1
        1: the paper's L1 distance; 2: squared error.
    kind : {"hann", "hamming", "bartlett", "none"}, default "hann"
    size : int, default 15
    channels : sequence of int or None, default None
        Channels that enter the distance (e.g. the telemetry channel, not the command channels);
        ``None`` uses all.

    Returns
    -------
    ndarray, shape (n,), float64.
    """
    a, b = _pair(x, x_hat)
    if channels is not None:
        if a.ndim == 1:
            raise ValueError(f"channels can only be given for a 2-D x (n, C); got x of shape {a.shape}")
        idx = np.asarray(list(channels))
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"channels must be a non-empty sequence of ints; got {channels!r}")
        n_ch = a.shape[1]
        if idx.min() < -n_ch or idx.max() >= n_ch:
            raise ValueError(f"channels must index the {n_ch} channels of x; got {list(channels)}")
        a, b = a[:, idx], b[:, idx]
    return smooth(pointwise_distance(a, b, p=p, reduce="mean"), kind=kind, size=size)


@dataclass(frozen=True)
class ScoreStats:
    """Location and scale used to standardise a score: ``(s − mean) / std``.

    Fit it on TRAINING scores (:meth:`fit`) and reuse it for the test scores, so a test series is
    never standardised with its own statistics.
    """

    mean: float  # location subtracted from the score
    std: float  # scale the score is divided by; > 0

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean):
            raise ValueError(f"mean must be finite; got {self.mean!r}")
        if not (np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be finite and > 0; got {self.std!r}")

    @classmethod
    def fit(cls, scores: Any) -> ScoreStats:
        """Mean and population std of ``scores`` (n,); a zero std is replaced by 1."""
        s = as_float_array(scores, name="scores", ndim=1)
        std = float(s.std())
        return cls(mean=float(s.mean()), std=std if std > 0 else 1.0)

    def transform(self, scores: Any) -> np.ndarray:
        """``(scores − mean) / std``: (n,) float64."""
        s = as_float_array(scores, name="scores", ndim=1)
        return (s - self.mean) / self.std


def mix_scores(
    recon: Any,
    feature: Any,
    *,
    lam: float,
    recon_stats: ScoreStats | None = None,
    feature_stats: ScoreStats | None = None,
) -> np.ndarray:
    """``A = λ·z(recon) + (1 − λ)·z(feature)`` (Yi Chen 2025, anomaly score A).

    The two terms live on different scales, so each is standardised, ``z(s) = (s − mean) / std``,
    before mixing.

    Parameters
    ----------
    recon, feature : array-like, shape (n,)
        Reconstruction-distance and feature-distance scores of the same time steps.
    lam : float
        Weight λ in [0, 1] of the reconstruction term.
    recon_stats, feature_stats : ScoreStats or None, default None
        Standardisation statistics; fit them on the TRAINING scores
        (``ScoreStats.fit(train_recon)``) when mixing test scores. ``None`` fits them on the
        arrays passed in, which is right only when those are the training scores themselves.

    Returns
    -------
    ndarray, shape (n,), float64.
    """
    r = as_float_array(recon, name="recon", ndim=1)
    f = as_float_array(feature, name="feature", ndim=1)
    if r.shape != f.shape:
        raise ValueError(f"recon and feature must have the same length; got {r.shape[0]} and {f.shape[0]}")
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) or not 0 <= lam <= 1:
        raise ValueError(f"lam must be a number in [0, 1]; got {lam!r}")
    recon_stats = recon_stats if recon_stats is not None else ScoreStats.fit(r)
    feature_stats = feature_stats if feature_stats is not None else ScoreStats.fit(f)
    return lam * recon_stats.transform(r) + (1.0 - lam) * feature_stats.transform(f)


@dataclass(frozen=True, eq=False)
class ErrorCalibration:
    """Per-channel location and scale of reconstruction errors on normal data.

    ``z_{t,c} = (e_{t,c} − center_c) / scale_c`` with the median as centre and the normal-consistent
    median absolute deviation (1.4826·MAD) as scale: robust to the few large errors a normal series
    has, so one hard stretch of training data does not set the scale. A channel whose errors hardly
    vary (MAD below 1e-6 of its median or zero) falls back to its standard deviation, then to 1.
    """

    center: np.ndarray  # (C,) float64
    scale: np.ndarray  # (C,) float64, > 0

    @classmethod
    def fit(cls, errors: Any) -> ErrorCalibration:
        """Fit on normal errors (n, C) (``pointwise_distance(..., reduce="none")``); NaN (a missing
        value) is left out."""
        e = as_float_array(errors, name="errors", ndim=2, allow_nan=True)
        if np.isnan(e).all(axis=0).any():
            raise ValueError("errors: every channel needs at least one observed (non-NaN) error to calibrate on")
        center = np.nanmedian(e, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(e - center), axis=0)
        weak = ~(scale > 1e-6 * np.maximum(np.abs(center), 1e-12))
        std = np.nanstd(e, axis=0)
        scale = np.where(weak, std, scale)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(center=center, scale=scale)

    def transform(self, errors: Any) -> np.ndarray:
        """Standardised errors (n, C) float64 (NaN stays NaN)."""
        e = as_float_array(errors, name="errors", ndim=2, allow_nan=True)
        if e.shape[1] != self.center.size:
            raise ValueError(f"errors must have {self.center.size} channels; got shape {e.shape}")
        return (e - self.center) / self.scale


def _mahalanobis(e: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per-channel Mahalanobis distances (n, C) of errors (k, n, C) from ``mean`` (C, k) with ``precision``
    (C, k, k); NaN where a level is missing."""
    diff = e.transpose(1, 2, 0) - mean  # (n, C, k)
    return np.sqrt(np.maximum(np.einsum("nci,cij,ncj->nc", diff, precision, diff), 0.0))


@dataclass(frozen=True, eq=False)
class LevelCalibration:
    """Per-channel joint calibration of errors measured at several noise levels, on normal data.

    A channel's errors at the k levels of a step form a vector ``e`` (k,); on normal data these vectors
    have a mean ``μ`` and a covariance ``Σ`` (estimated with Ledoit-Wolf shrinkage, scikit-learn's
    :class:`~sklearn.covariance.LedoitWolf`, so a few hundred normal steps are enough for a stable
    inverse). The Mahalanobis distance ``d = √((e − μ)ᵀ Σ⁻¹ (e − μ))`` says how unusual the whole
    profile over the levels is: levels whose errors move together on normal data count once, not k
    times, and a profile normal data never shows (errors too large, or too small, at some levels for
    the others) is far even when its mean over the levels is not. The distances are then standardised
    like any error (:class:`ErrorCalibration` of the normal distances), so channels are comparable.
    A channel whose normal errors do not vary gets the identity for ``Σ⁻¹`` (raw differences).
    """

    mean: np.ndarray  # (C, k)
    precision: np.ndarray  # (C, k, k)
    distances: ErrorCalibration  # of the normal distances, (C,)

    @classmethod
    def fit(cls, errors: Any) -> LevelCalibration:
        """Fit on normal errors (k, n, C): k noise levels, n steps, C channels; a step with a NaN (a
        missing value) at any level of a channel is left out of that channel's fit."""
        from sklearn.covariance import LedoitWolf

        e = as_float_array(errors, name="errors", ndim=3, allow_nan=True)
        k, _, n_channels = e.shape
        mean = np.zeros((n_channels, k))
        precision = np.zeros((n_channels, k, k))
        for c in range(n_channels):
            rows = e[:, :, c].T  # (n, k)
            rows = rows[~np.isnan(rows).any(axis=1)]
            if len(rows) < 2:
                raise ValueError(f"errors: channel {c} needs at least two observed steps to calibrate on; "
                                 f"got {len(rows)}")
            est = LedoitWolf().fit(rows)
            cov = est.covariance_
            scale = np.trace(cov) / k
            cov = cov + 1e-6 * scale * np.eye(k) if scale > 0 else np.eye(k)
            mean[c], precision[c] = est.location_, np.linalg.inv(cov)
        return cls(mean=mean, precision=precision,
                   distances=ErrorCalibration.fit(_mahalanobis(e, mean, precision)))

    def _distance(self, e: np.ndarray) -> np.ndarray:
        return _mahalanobis(e, self.mean, self.precision)

    def transform(self, errors: Any) -> np.ndarray:
        """Standardised Mahalanobis distances (n, C) float64 of errors (k, n, C) (NaN stays NaN)."""
        e = as_float_array(errors, name="errors", ndim=3, allow_nan=True)
        if e.shape[0] != self.mean.shape[1] or e.shape[2] != self.mean.shape[0]:
            raise ValueError(f"errors must have shape ({self.mean.shape[1]}, n, {self.mean.shape[0]}) "
                             f"(levels, steps, channels); got {e.shape}")
        return self.distances.transform(self._distance(e))


def calibrated_distance(
    x: Any,
    x_hat: Any,
    *,
    p: Literal[1, 2] = 1,
    calibration: ErrorCalibration | None = None,
    aggregate: Literal["mean", "max"] = "mean",
    kind: Literal["hann", "hamming", "bartlett", "none"] = "none",
    size: int = 15,
) -> np.ndarray:
    """Per-channel errors ``|x − x̂|^p``, standardised by ``calibration``, aggregated, smoothed.

    With ``calibration=None`` and ``aggregate="mean"`` this is :func:`smoothed_distance` (the
    DiffADT score). Calibrating first puts every channel on the scale of its own normal errors, so
    the aggregate is not dominated by the channel the model reconstructs worst.

    Parameters
    ----------
    x, x_hat : array-like, shape (n, C) or (n,)
    p : {1, 2}, default 1
    calibration : ErrorCalibration, optional
        Fitted on errors of normal (training or held-out) data, never on the data being scored.
    aggregate : {"mean", "max"}, default "mean"
        Reduction over channels after calibration ("max": one broken channel is enough).
    kind, size : smoothing kernel of :func:`smooth` (``"none"``: no smoothing).

    Returns
    -------
    ndarray, shape (n,), float64.
    """
    err = pointwise_distance(x, x_hat, p=p, reduce="none")
    return aggregate_errors(err[:, None] if err.ndim == 1 else err, calibration=calibration, aggregate=aggregate,
                            kind=kind, size=size)


def aggregate_errors(
    errors: Any,
    *,
    calibration: ErrorCalibration | None = None,
    aggregate: Literal["mean", "max"] = "mean",
    kind: Literal["hann", "hamming", "bartlett", "none"] = "none",
    size: int = 15,
) -> np.ndarray:
    """Per-channel errors (n, C) -> score (n,): standardised by ``calibration`` (if given),
    reduced over channels by ``aggregate``, smoothed by :func:`smooth` (``kind="none"``: not).

    NaN marks a missing error (a missing input value): it is left out of the reduction, and a step
    with no observed channel gets 0 before smoothing (calibrated: the median of normal errors, no
    evidence either way; uncalibrated: no error)."""
    check_choice(aggregate, name="aggregate", choices=AGGREGATES)
    err = as_float_array(errors, name="errors", ndim=2, allow_nan=True)
    if calibration is not None:
        err = calibration.transform(err)
    missing = np.isnan(err)
    if missing.any():
        observed = ~missing.all(axis=1)
        agg = np.zeros(len(err))
        rows = err[observed]
        agg[observed] = np.nanmean(rows, axis=1) if aggregate == "mean" else np.nanmax(rows, axis=1)
    else:
        agg = err.mean(axis=1) if aggregate == "mean" else err.max(axis=1)
    return smooth(agg, kind=kind, size=size)

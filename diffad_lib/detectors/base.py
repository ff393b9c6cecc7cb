"""The one detector base class: the pyod / scikit-learn contract, thresholds and held-out splits.

Every detector of the library (diffusion or baseline, series or samples) derives from
:class:`BaseDetector`:

* ``__init__`` stores keyword parameters only (so ``get_params``/``set_params``/``clone`` work);
* ``fit(X, y=None)`` validates the parameters and X, holds out the last ``val_fraction`` of X
  (normal data), fits on the rest, scores all of X, fits ``threshold_`` on the held-out scores
  (on all training scores when ``val_fraction=0``) and returns ``self``;
* ``decision_function(X)``: higher = more anomalous; ``predict(X)``: 0/1 from ``threshold_``;
* ``decision_scores_``, ``threshold_``, ``labels_``, ``n_features_in_`` are set by ``fit``;
  a method called before ``fit`` raises :class:`sklearn.exceptions.NotFittedError`.

Two input kinds: a *series* (n_samples, n_channels) or (n_samples,) scored per time step, or
*samples* (N, C, H, W) / (N, C, L) scored per sample. Subclasses implement ``_check_params``,
``_fit`` and ``_score``; the base does everything else once.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from diffad_lib._validation import as_float_array, check_choice, check_float
from diffad_lib.thresholds import THRESHOLD_METHODS, fit_threshold

__all__ = ["OUT_OF_RANGE_FACTOR", "BaseDetector", "InputKind", "as_samples", "store_params"]

InputKind = Literal["series", "samples"]

#: Scored inputs further than this many training scales outside a channel's training range are
#: clipped to that bound (with a warning). The models compute in float32, whose squares overflow
#: above ~1.8e19: a value of 1e30 would give an infinite or NaN score. A value clipped at a
#: million training scales still scores far above anything inside the range.
OUT_OF_RANGE_FACTOR = 1e6


def as_samples(X: Any, *, name: str = "X", factor: int = 1) -> np.ndarray:
    """X -> float64 samples (N, C, H, W) or (N, C, L); ValueError naming ``name`` otherwise.

    ``factor``: spatial sizes must be divisible by it (a model's downsampling factor).
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = as_float_array(X, name=name, ndim=(3, 4))
    if any(s % factor for s in arr.shape[2:]):
        raise ValueError(f"{name} spatial sizes {tuple(arr.shape[2:])} must be divisible by {factor} "
                         "(the model's downsampling factor); pad or crop the samples")
    return arr


class BaseDetector(BaseEstimator):
    """Base of every detector; see the module docstring for the contract.

    Subclasses declare ``threshold``, ``threshold_params`` and ``val_fraction`` in their
    ``__init__`` (scikit-learn reads parameters from the signature) and set ``_input``.
    """

    _input: ClassVar[InputKind] = "series"

    threshold: str
    threshold_params: dict[str, Any] | None
    val_fraction: float

    # -- hooks ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate the subclass's own parameters (called first in ``fit``)."""

    def _fit(self, X: np.ndarray) -> None:  # X: the fitting part, validated
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # X validated -> (n,) or (N,) float64
        raise NotImplementedError

    @property
    def _min_length(self) -> int:
        """Shortest series (time steps) the detector accepts; windowed detectors return the window."""
        return 1

    @property
    def _length_note(self) -> str:
        """What makes up :attr:`_min_length`, for the message about a series shorter than it ("" if obvious)."""
        return ""

    @property
    def _min_held_out(self) -> int:
        """Shortest held-out part (time steps) of a series; the shortest series unless the detector says less."""
        return self._min_length

    # -- validation -------------------------------------------------------------------------
    def _check_common(self) -> None:
        check_choice(self.threshold, name="threshold", choices=tuple(THRESHOLD_METHODS))
        if self.threshold_params is not None and not isinstance(self.threshold_params, dict):
            raise TypeError(f"threshold_params must be a dict or None; got {type(self.threshold_params).__name__}")
        check_float(self.val_fraction, name="val_fraction", low=0.0, high=1.0, high_open=True)

    def _validate(self, X: Any, *, reset: bool, name: str = "X") -> np.ndarray:
        """X as float64 (n, C) series or (N, C, *S) samples; checks the channels seen in fit."""
        if self._input == "series":
            policy = getattr(self, "nan_policy", None)  # only detectors that can mask NaN have one
            arr = as_float_array(X, name=name, ndim=(1, 2), min_length=self._min_length,
                                 length_note=self._length_note, allow_nan=policy == "mask",
                                 nan_hint="; pass nan_policy='mask' to treat NaN as a missing value" if policy else "")
            if arr.ndim == 1 and not reset and self.n_features_in_ != 1:
                raise ValueError(f"{name} is 1-D (one channel) but {type(self).__name__} was fitted on "
                                 f"{self.n_features_in_} channels; Reshape your data to (n_samples, "
                                 f"{self.n_features_in_})")
            arr = arr[:, None] if arr.ndim == 1 else arr
        else:
            arr = as_samples(X, name=name)
        return self._check_features(arr, reset=reset, name=name)

    def _check_features(self, arr: np.ndarray, *, reset: bool, name: str = "X") -> np.ndarray:
        """Record (``reset``) or check the number of channels (axis 1) against ``n_features_in_``.

        ``reset`` also records each channel's training range; a later input is clipped to
        :data:`OUT_OF_RANGE_FACTOR` training scales around it (:meth:`_clip_out_of_range`).
        """
        if reset:
            self.n_features_in_ = arr.shape[1]
            flat = np.moveaxis(arr, 1, -1).reshape(-1, arr.shape[1])  # (n·|S|, C)
            empty = np.flatnonzero(np.isnan(flat).all(axis=0)).tolist()
            if empty:  # only with nan_policy="mask": a channel must have observed values to learn from
                raise ValueError(f"{name} channel(s) {empty} hold no observed (non-NaN) value")
            self.input_range_ = np.stack([np.nanmin(flat, axis=0), np.nanmax(flat, axis=0)])  # (2, C)
            return arr
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input (channels on axis 1)")
        return self._clip_out_of_range(arr, name=name)

    def _clip_out_of_range(self, arr: np.ndarray, *, name: str) -> np.ndarray:
        """Clip values far outside the training range (float32 overflow), warning with the channels.

        The bound of channel c is ``[lo − k·s, hi + k·s]`` with ``k = OUT_OF_RANGE_FACTOR`` and
        ``s = max(hi − lo, |lo|, |hi|)`` (1 for an all-zero channel). Ranks are kept: a clipped
        value still lies a million training scales away.
        """
        rng = getattr(self, "input_range_", None)
        if rng is None:  # fitted before ranges were recorded (an unpickled detector)
            return arr
        lo, hi = rng
        scale = np.maximum.reduce([hi - lo, np.abs(lo), np.abs(hi)])
        scale = np.where(scale > 0, scale, 1.0)
        shape = (1, -1) + (1,) * (arr.ndim - 2)
        low = (lo - OUT_OF_RANGE_FACTOR * scale).reshape(shape)
        high = (hi + OUT_OF_RANGE_FACTOR * scale).reshape(shape)
        outside = (arr < low) | (arr > high)
        if not outside.any():
            return arr
        channels = np.flatnonzero(np.moveaxis(outside, 1, -1).reshape(-1, arr.shape[1]).any(axis=0)).tolist()
        warnings.warn(f"{name}: {int(outside.sum())} value(s) in channel(s) {channels} lie more than "
                      f"{OUT_OF_RANGE_FACTOR:g} training scales outside the training range (largest magnitude "
                      f"{np.abs(arr[outside]).max():.3g}); clipped to that bound so the float32 models stay "
                      "finite (they still score as extreme)", RuntimeWarning, stacklevel=4)
        return np.clip(arr, low, high)

    def _n_fit(self, n: int) -> int:
        """Length of the fitting part of n steps / samples; the rest (at the end) is held out."""
        n_val = int(round(self.val_fraction * n))
        need, held = (self._min_length, self._min_held_out) if self._input == "series" else (1, 1)
        if n - n_val < need or (n_val and n_val < max(held, 2)):
            unit = "time steps" if self._input == "series" else "samples"
            each = (f"each needs at least {max(need, 2)}" if need == held else
                    f"they need at least {need} and {max(held, 2)}")
            raise ValueError(f"X has {n} {unit}; val_fraction={self.val_fraction} leaves {n - n_val} to fit and "
                             f"{n_val} to fit the threshold ({each})")
        return n - n_val

    # -- the contract -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit on normal data X and the threshold on its held-out normal scores; ``y`` is ignored.

        Parameters
        ----------
        X : array-like
            Series (n_samples, n_channels) / (n_samples,), or samples (N, C, H, W) / (N, C, L).
        y : ignored
            Present for API compatibility (unsupervised).

        Returns
        -------
        self
        """
        self._check_common()
        self._check_params()
        for attr in ("threshold_", "decision_scores_", "labels_"):
            self.__dict__.pop(attr, None)
        arr = self._validate(X, reset=True)
        n_fit = self._n_fit(len(arr))
        self._set_threshold(self._fit_score(arr, n_fit), n_fit)
        return self

    def _fit_score(self, X: np.ndarray, n_fit: int) -> np.ndarray:
        """Fit on ``X[:n_fit]`` and return the scores of all of X; a detector whose fitting already
        scores the data overrides this to score once."""
        self._fit(X[:n_fit])
        return self._score(X)

    def _set_threshold(self, scores: np.ndarray, n_fit: int) -> None:
        """``threshold_`` from the held-out scores (all of them without a held-out part)."""
        held_out = scores[n_fit:] if n_fit < len(scores) else scores
        self.threshold_ = float(fit_threshold(held_out, method=self.threshold, **(self.threshold_params or {})))
        self.decision_scores_ = scores
        self.labels_ = (scores > self.threshold_).astype(int)

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per time step (series) or per sample, higher = more anomalous: float64."""
        check_is_fitted(self, "threshold_")
        return self._score(self._validate(X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        """0/1 label per time step or sample (1 = anomaly): score above ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X).labels_


def store_params(obj: BaseEstimator, params: dict[str, Any]) -> None:
    """Store an ``__init__``'s arguments unchanged as attributes: ``store_params(self, locals())``.

    scikit-learn's contract: ``__init__`` only records its parameters; validation waits for ``fit``.
    """
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(obj, name, value)

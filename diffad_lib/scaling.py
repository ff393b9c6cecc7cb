"""The library's one scaler: per-channel affine scaling fitted on training (normal) data only.

Every detector scales its input with :class:`ChannelScaler`; channels are axis 1 of a series
(n, C) or of samples (N, C, *S). Methods:

* ``"minmax"`` — the papers' min-max to [−1, 1]: ``2 (x − min) / (max − min) − 1``;
* ``"robust"`` — the same map, but ``min``/``max`` are the ``q`` and ``1 − q`` quantiles of the
  training data, so one extreme training value cannot squash a channel (values beyond the
  quantiles land slightly outside [−1, 1] and are kept, never clipped); the quantiles are stored
  values (the next one inwards), so on short series too the most extreme value is left out;
* ``"standard"`` — ``(x − mean) / std``;
* ``"robust_standard"`` — ``(x − mean) / std`` with mean and std of the values clipped to their
  ``q`` / ``1 − q`` quantiles (winsorised): the usual standardisation, but one extreme training
  value moves neither the centre nor the scale (the classical baselines' input);
* ``"none"`` — identity.

A constant channel gets scale 1 (it is shifted, not divided by zero). NaN marks a missing value:
each channel is fitted on its observed values, and NaN stays NaN through ``transform``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.exceptions import NotFittedError

from diffad_lib._validation import check_choice, check_float

ScalingMethod = Literal["minmax", "robust", "standard", "robust_standard", "none"]
SCALINGS: tuple[str, ...] = ("minmax", "robust", "standard", "robust_standard", "none")

__all__ = ["SCALINGS", "ChannelScaler", "ScalingMethod"]


class ChannelScaler:
    """Per-channel affine map ``x ↦ (x − offset_) / scale_`` fitted on training data.

    Parameters
    ----------
    method : {"minmax", "robust", "standard", "robust_standard", "none"}, default "minmax"
    q : float, default 0.001
        Quantile of the ``"robust"`` method, in [0, 0.5).

    Attributes
    ----------
    offset_, scale_ : ndarray (C,) float64
        ``"minmax"``/``"robust"``: offset = (lo + hi) / 2 and scale = (hi − lo) / 2, so the
        training range maps to [−1, 1].
    """

    def __init__(self, method: ScalingMethod = "minmax", *, q: float = 0.001) -> None:
        self.method = check_choice(method, name="scaling", choices=SCALINGS)
        self.q = check_float(q, name="q", low=0.0, high=0.5, high_open=True)

    def fit(self, x: np.ndarray) -> ChannelScaler:
        """Fit on x (n, C) or (N, C, *S); returns ``self``."""
        flat = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1).reshape(-1, x.shape[1])  # (n·|S|, C)
        if np.isnan(flat).any():  # missing values (a detector's nan_policy="mask"): fitted on the observed ones
            empty = np.flatnonzero(np.isnan(flat).all(axis=0)).tolist()
            if empty:
                raise ValueError(f"x channel(s) {empty} hold no observed (non-NaN) value to fit the scaling on")
            return self._fit_nan(flat)
        if self.method in ("minmax", "robust"):
            q = self.q if self.method == "robust" else 0.0
            if q:  # the nearest stored values, never interpolated towards an extreme one
                lo = np.quantile(flat, q, axis=0, method="higher")
                hi = np.quantile(flat, 1.0 - q, axis=0, method="lower")
            else:
                lo, hi = flat.min(axis=0), flat.max(axis=0)
            offset, scale = (hi + lo) / 2.0, (hi - lo) / 2.0
        elif self.method == "standard":
            offset, scale = flat.mean(axis=0), flat.std(axis=0)
        elif self.method == "robust_standard":
            # winsorised: mean and std of the values clipped to their q / 1 − q stored-value quantiles
            lo = np.quantile(flat, max(self.q, 1e-12), axis=0, method="higher")
            hi = np.quantile(flat, 1.0 - max(self.q, 1e-12), axis=0, method="lower")
            clipped = np.clip(flat, lo, hi)
            offset, scale = clipped.mean(axis=0), clipped.std(axis=0)
        else:
            offset, scale = np.zeros(flat.shape[1]), np.ones(flat.shape[1])
        self.offset_ = offset
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def _fit_nan(self, flat: np.ndarray) -> ChannelScaler:
        """``fit`` on the observed values of a (m, C) array with NaN marking missing ones."""
        filled = [c[~np.isnan(c)][:, None] for c in flat.T]  # per channel, the observed values (m_c, 1)
        fitted = [ChannelScaler(self.method, q=self.q).fit(c) for c in filled]
        self.offset_ = np.concatenate([f.offset_ for f in fitted])
        self.scale_ = np.concatenate([f.scale_ for f in fitted])
        return self

    def _shape(self, x: np.ndarray) -> tuple[int, ...]:
        if not hasattr(self, "scale_"):
            raise NotFittedError("ChannelScaler is not fitted yet; call fit(x) first")
        if x.ndim < 2 or x.shape[1] != self.scale_.size:
            raise ValueError(f"x must have {self.scale_.size} channels on axis 1; got shape {x.shape}")
        return (1, -1) + (1,) * (x.ndim - 2)

    def transform(self, x: Any) -> np.ndarray:
        """Scaled copy of x, float64, same shape."""
        x = np.asarray(x, dtype=np.float64)
        shape = self._shape(x)
        return (x - self.offset_.reshape(shape)) / self.scale_.reshape(shape)

    def inverse_transform(self, x: Any) -> np.ndarray:
        """Map scaled values back to the input's units, float64, same shape."""
        x = np.asarray(x, dtype=np.float64)
        shape = self._shape(x)
        return x * self.scale_.reshape(shape) + self.offset_.reshape(shape)

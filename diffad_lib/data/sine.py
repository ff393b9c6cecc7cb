"""Synthetic sine series and injected point anomalies (Chapter 1; the sine-wave paper's setting).

This is synthetic data by design: the sine-wave paper trains on clean sine windows and
injects anomalous points. The generator is documented here and on the chapter's page.

Generator
---------
* Normal series: ``x_t = A sin(2π t / period + φ) + σ ε_t`` with ``ε_t ~ N(0, 1)``,
  amplitude ``A = 1``, a random phase φ and measurement noise σ (``noise_std``).
* Point anomalies: ``k`` distinct time steps drawn uniformly without replacement from
  ``[margin, n − margin)``; at each, ``x_t += s · m`` with a random sign ``s = ±1`` and a
  magnitude ``m ~ U(magnitude)`` (in units of the amplitude). Each anomaly is one time step.
"""

from __future__ import annotations

import numpy as np


def sine_series(
    n: int, *, period: float = 32.0, amplitude: float = 1.0, noise_std: float = 0.0,
    phase: float | None = None, rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A sine series of ``n`` steps, (n,) float64; ``phase=None`` draws a random phase from ``rng``."""
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if period <= 0:
        raise ValueError(f"period must be > 0; got {period}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0; got {noise_std}")
    rng = rng if rng is not None else np.random.default_rng(0)
    phi = rng.uniform(0, 2 * np.pi) if phase is None else phase
    t = np.arange(n)
    x = amplitude * np.sin(2 * np.pi * t / period + phi)
    if noise_std > 0:
        x = x + noise_std * rng.standard_normal(n)
    return x


def inject_point_anomalies(
    x: np.ndarray, n_anomalies: int, *, magnitude: tuple[float, float] = (0.5, 1.0), margin: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n_anomalies`` single-step offsets to a copy of ``x`` (n,); return (x_anomalous, labels (n,) int8).

    The caller's array is not modified. Positions are distinct and lie in ``[margin, n - margin)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D (n,); got shape {x.shape}")
    lo, hi = magnitude
    if not 0 <= lo <= hi:
        raise ValueError(f"magnitude must be (low, high) with 0 <= low <= high; got {magnitude}")
    available = len(x) - 2 * margin
    if not 0 <= n_anomalies <= available:
        raise ValueError(f"n_anomalies must lie in [0, {available}] for n={len(x)} and margin={margin}; "
                         f"got {n_anomalies}")
    rng = rng if rng is not None else np.random.default_rng(0)
    idx = rng.choice(np.arange(margin, len(x) - margin), size=n_anomalies, replace=False)
    out = x.copy()
    out[idx] += rng.choice([-1.0, 1.0], size=n_anomalies) * rng.uniform(lo, hi, size=n_anomalies)
    labels = np.zeros(len(x), dtype=np.int8)
    labels[idx] = 1
    return out, labels


def sine_fit_residual(windows: np.ndarray, *, period: float) -> np.ndarray:
    """RMS distance of each window to its best sine of the given period: (N, L) or (N, 1, L) -> (N,).

    Fits ``a sin(2πt/period) + b cos(2πt/period) + c`` by least squares, so phase and amplitude are
    free; 0 means a perfect sine. Used to judge generated samples.
    """
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim == 3:
        if w.shape[1] != 1:
            raise ValueError(f"windows must have one channel; got shape {w.shape}")
        w = w[:, 0, :]
    if w.ndim != 2:
        raise ValueError(f"windows must be (N, L) or (N, 1, L); got shape {w.shape}")
    t = np.arange(w.shape[1])
    basis = np.stack([np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period), np.ones_like(t, float)], 1)
    coef, *_ = np.linalg.lstsq(basis, w.T, rcond=None)  # (3, N)
    resid = w.T - basis @ coef  # (L, N)
    return np.sqrt(np.mean(resid**2, axis=0))

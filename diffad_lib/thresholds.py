"""Decision thresholds, always fitted on TRAINING (normal) scores only, never on test labels.

Each function takes the anomaly scores of the training series, shape (n,), higher = more
anomalous, and returns a float ``threshold``; a test step is then flagged when
``score > threshold`` (see :func:`diffad_lib.metrics.evaluate`).

* :func:`three_sigma` — mean + k·std (the DiffADT paper's rule);
* :func:`percentile` / :func:`contamination` — an empirical quantile;
* :func:`pot` — Peaks-Over-Threshold with a generalised Pareto tail (Siffer et al., KDD 2017).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy.stats import genpareto

from diffad_lib._validation import as_float_array, check_choice

__all__ = ["three_sigma", "percentile", "contamination", "pot", "fit_threshold", "THRESHOLD_METHODS"]


def _train_scores(train_scores: Any) -> np.ndarray:
    return as_float_array(train_scores, name="train_scores", ndim=1)


def _check_finite(value: float, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(value)


def three_sigma(train_scores: Any, *, k: float = 3.0) -> float:
    """Mean plus ``k`` standard deviations of the training scores.

    Parameters
    ----------
    train_scores : array-like, shape (n,)
        Scores of normal (training) data.
    k : float, default 3.0
        Number of standard deviations (population std, ``ddof=0``).

    Returns
    -------
    float
        ``mean + k * std``.
    """
    s = _train_scores(train_scores)
    k = _check_finite(k, name="k")
    return float(s.mean() + k * s.std())


def percentile(train_scores: Any, *, q: float = 99.0) -> float:
    """The ``q``-th percentile of the training scores (``numpy.percentile``, linear interpolation).

    Parameters
    ----------
    train_scores : array-like, shape (n,)
        Scores of normal (training) data.
    q : float, default 99.0
        Percentile in [0, 100].

    Returns
    -------
    float
    """
    s = _train_scores(train_scores)
    q = _check_finite(q, name="q")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must lie in [0, 100]; got {q!r}")
    return float(np.percentile(s, q))


def contamination(train_scores: Any, *, rate: float = 0.01) -> float:
    """Threshold flagging a fraction ``rate`` of the training scores: ``percentile(q=100·(1−rate))``.

    Parameters
    ----------
    train_scores : array-like, shape (n,)
        Scores of normal (training) data.
    rate : float, default 0.01
        Expected fraction of anomalies, in [0, 1].

    Returns
    -------
    float
    """
    rate = _check_finite(rate, name="rate")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1]; got {rate!r}")
    return percentile(train_scores, q=100.0 * (1.0 - rate))


def pot(train_scores: Any, *, init_quantile: float = 0.98, risk: float = 1e-3) -> float:
    """Peaks-Over-Threshold (Siffer et al., KDD 2017, the "SPOT" initialisation step).

    1. ``t`` = the ``init_quantile`` empirical quantile of the ``n`` training scores;
    2. the ``N_t`` excesses ``Y = s − t`` over ``t`` are fitted by a generalised Pareto
       distribution (location 0, shape ξ, scale σ) by maximum likelihood
       (``scipy.stats.genpareto.fit``);
    3. the threshold exceeded with probability ``risk`` is (the paper's eq. for ``z_q``)

       ``z_q = t + σ/ξ · ((risk · n / N_t)^(−ξ) − 1)``, or ``t − σ · log(risk · n / N_t)`` when
       ``|ξ| < 1e-8`` (the exponential-tail limit).

    Parameters
    ----------
    train_scores : array-like, shape (n,)
        Scores of normal (training) data.
    init_quantile : float, default 0.98
        Quantile in (0, 1) giving the initial threshold ``t``.
    risk : float, default 1e-3
        Target probability of exceeding the threshold; must be below ``N_t / n``
        (about ``1 − init_quantile``), else ``z_q`` would fall below ``t``.

    Returns
    -------
    float
        The threshold ``z_q``.

    Raises
    ------
    ValueError
        When fewer than 10 scores exceed ``t`` (too few peaks to fit a tail), or ``risk`` is not
        below ``N_t / n``.
    """
    s = _train_scores(train_scores)
    init_quantile = _check_finite(init_quantile, name="init_quantile")
    risk = _check_finite(risk, name="risk")
    if not 0.0 < init_quantile < 1.0:
        raise ValueError(f"init_quantile must lie in (0, 1); got {init_quantile!r}")
    if not 0.0 < risk < 1.0:
        raise ValueError(f"risk must lie in (0, 1); got {risk!r}")
    n = s.shape[0]
    t = float(np.quantile(s, init_quantile))
    excess = s[s > t] - t  # (N_t,) peaks over t
    n_t = excess.shape[0]
    if n_t < 10:
        raise ValueError(
            f"pot needs at least 10 training scores above the init_quantile={init_quantile} quantile "
            f"to fit a generalised Pareto tail; got {n_t} of {n} (pass more scores or a lower init_quantile)"
        )
    ratio = risk * n / n_t
    if ratio >= 1.0:
        raise ValueError(
            f"risk must be below the fraction of peaks N_t/n = {n_t / n:.4g} (init_quantile={init_quantile}); "
            f"got {risk!r}"
        )
    xi, _, sigma = genpareto.fit(excess, floc=0.0)
    if abs(xi) < 1e-8:
        return float(t - sigma * np.log(ratio))
    return float(t + sigma / xi * (ratio ** (-xi) - 1.0))


#: The methods :func:`fit_threshold` accepts, each with its function.
THRESHOLD_METHODS: dict[str, Callable[..., float]] = {
    "three_sigma": three_sigma,
    "percentile": percentile,
    "contamination": contamination,
    "pot": pot,
}


def fit_threshold(
    train_scores: Any,
    *,
    method: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
    **kwargs: Any,
) -> float:
    """Fit a threshold on training scores with the named ``method``.

    Parameters
    ----------
    train_scores : array-like, shape (n,)
        Scores of normal (training) data.
    method : {"three_sigma", "percentile", "contamination", "pot"}, default "three_sigma"
        Which rule to use.
    **kwargs
        The method's own options (``k``; ``q``; ``rate``; ``init_quantile``, ``risk``). Unknown
        names raise ``ValueError`` listing the valid ones.

    Returns
    -------
    float
    """
    check_choice(method, name="method", choices=tuple(THRESHOLD_METHODS))
    fn = THRESHOLD_METHODS[method]
    valid = [p for p in inspect.signature(fn).parameters if p != "train_scores"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"method={method!r} accepts options {valid}; got unknown {unknown}")
    return fn(train_scores, **kwargs)

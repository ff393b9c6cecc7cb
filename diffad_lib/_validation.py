"""Input checks shared by the library: clear ``ValueError`` messages naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_float_array(
    X: Any,
    *,
    name: str = "X",
    ndim: int | tuple[int, ...] = (1, 2),
    min_length: int = 1,
) -> np.ndarray:
    """Convert ``X`` (array-like or pandas object) to a float64 array and validate it.

    Raises ``ValueError`` naming ``name`` when the array is empty, has the wrong number
    of dimensions, is shorter than ``min_length`` along axis 0, or holds NaN/inf.
    The caller's object is never modified (a copy is returned when conversion is needed).
    """
    if hasattr(X, "to_numpy"):  # pandas DataFrame / Series
        X = X.to_numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric array-like; got {type(X).__name__} ({exc})") from exc
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        raise ValueError(f"{name} must have ndim in {allowed}; got shape {arr.shape} (ndim={arr.ndim})")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; got shape {arr.shape}")
    if arr.shape[0] < min_length:
        raise ValueError(
            f"{name} has {arr.shape[0]} time steps, shorter than the window length {min_length}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        kind = "NaN" if np.isnan(arr[tuple(idx)]) else "inf"
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite values ({kind} first at index {idx})")
    return arr


def check_choice(value: Any, *, name: str, choices: tuple[Any, ...]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")
    return value


def check_positive(value: float, *, name: str, allow_zero: bool = False) -> float:
    """Raise ``ValueError`` unless ``value`` is > 0 (or >= 0 with ``allow_zero``)."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not np.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}")
    return value

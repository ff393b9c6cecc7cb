"""Input checks shared by the library: clear ``ValueError`` messages naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse


def as_float_array(
    X: Any,
    *,
    name: str = "X",
    ndim: int | tuple[int, ...] = (1, 2),
    min_length: int = 1,
    length_note: str = "",
    allow_nan: bool = False,
    nan_hint: str = "",
) -> np.ndarray:
    """Convert ``X`` (array-like or pandas object) to a float64 array and validate it.

    Raises ``ValueError`` naming ``name`` when the array is empty, has the wrong number
    of dimensions, is shorter than ``min_length`` along axis 0, or holds NaN/inf (with
    ``allow_nan`` NaN marks a missing value and is kept; ±inf is still refused). ``nan_hint`` is
    appended to the message about NaN (e.g. how to have NaN treated as missing), ``length_note`` to the
    one about ``min_length`` (e.g. what makes up that length).
    The caller's object is never modified (a copy is returned when conversion is needed).
    """
    if hasattr(X, "to_numpy"):  # pandas DataFrame / Series
        X = X.to_numpy()
    if sparse.issparse(X):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported, pass a dense array")
    if np.iscomplexobj(X):
        raise ValueError(f"{name} holds complex values: Complex data not supported (pass the real part "
                         "or the magnitude explicitly)")
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        # keep the exception's kind: a dict among numbers is a TypeError, "abc" a ValueError
        raise type(exc)(f"{name} must be numeric array-like; got {type(X).__name__} ({exc})") from exc
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        raise ValueError(f"{name} must have ndim in {allowed}; got shape {arr.shape} (ndim={arr.ndim})")
    if arr.ndim >= 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; got shape {arr.shape}")
    if arr.shape[0] < min_length:
        raise ValueError(
            f"{name} has {arr.shape[0]} time steps, shorter than the window length {min_length}{length_note}"
        )
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any() and allow_nan:
        idx = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains {int(bad.sum())} infinite values (first at index {idx}); only NaN "
                         "marks a missing value: replace ±inf by NaN to mask it")
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        kind = "NaN" if np.isnan(arr[tuple(idx)]) else "inf"
        hint = nan_hint if kind == "NaN" and nan_hint else ""
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite values ({kind} first at index {idx}){hint}")
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


def check_int(value: Any, *, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) in [minimum, maximum].

    Raises ``TypeError`` for a non-integer (a float ``3.0`` included: a count is never fractional)
    and ``ValueError`` for an integer out of range, each naming the argument.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}]; got {value!r}")
    return int(value)


def check_float(
    value: Any,
    *,
    name: str,
    low: float = -np.inf,
    high: float = np.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number in the given interval.

    ``low_open`` / ``high_open`` exclude the bounds. ``TypeError`` for a non-number (bools
    included), ``ValueError`` for NaN, inf or a value outside the interval.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    v = float(value)
    below = v <= low if low_open else v < low
    above = v >= high if high_open else v > high
    if not np.isfinite(v) or below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}; got {value!r}")
    return v

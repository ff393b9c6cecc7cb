"""Numenta Anomaly Benchmark (NAB): 58 univariate series with labelled anomaly windows.

Ground truth is NAB's ``labels/combined_windows.json`` (the windows its scorer uses); the
labelled points themselves are in ``combined_labels.json``. NAB does not score the first
part of each file (the probationary period): ``min(floor(0.15 n), 0.15 * 5000)`` points, as
in NAB's own ``getProbationPeriod``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from diffad_lib.data.registry import dataset_path

__all__ = ["NABSeries", "list_nab", "load_nab"]

_PROBATION_PERCENT = 0.15


@dataclass(frozen=True, eq=False)
class NABSeries:
    """One NAB series with its labels."""

    name: str  # "<group>/<file stem>", e.g. "realKnownCause/nyc_taxi"
    timestamps: np.ndarray  # (n,) datetime64[s]
    values: np.ndarray  # (n,) float64
    labels: np.ndarray  # (n,) int8, 1 inside a combined_windows.json window (ends inclusive)
    windows: tuple[tuple[np.datetime64, np.datetime64], ...]  # (start, end) of each window
    label_points: np.ndarray  # (k,) datetime64[s], the labelled anomaly timestamps
    probation: int  # number of leading points NAB does not score

    @property
    def label_indices(self) -> np.ndarray:
        """(k,) int64 positions of ``label_points`` in ``timestamps``."""
        return np.searchsorted(self.timestamps, self.label_points)


def _nab_dir(root: Path | str | None) -> Path:
    return dataset_path("nab", root=root)


def list_nab(*, root: Path | str | None = None) -> list[str]:
    """All series names, ``"<group>/<stem>"``, sorted (58 for the full corpus)."""
    data = _nab_dir(root) / "data"
    return sorted(f"{p.parent.name}/{p.stem}" for p in data.glob("*/*.csv"))


def _resolve_name(name: str, available: list[str]) -> str:
    key = name.removesuffix(".csv")
    if key in available:
        return key
    matches = [a for a in available if a.split("/", 1)[1] == key]
    if len(matches) == 1:
        return matches[0]
    hint = f"it matches several: {matches}" if matches else f"valid names are {available}"
    raise ValueError(f"name must be a NAB series such as 'realKnownCause/nyc_taxi'; got {name!r}; {hint}")


def _parse_times(values: list[str]) -> np.ndarray:
    # the windows file carries ".ffffff" microseconds, the CSVs do not; parse both the same way
    return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").to_numpy().astype("datetime64[s]")


def load_nab(name: str, *, root: Path | str | None = None) -> NABSeries:
    """Load one NAB series by ``"<group>/<stem>"`` (``.csv`` optional) or by unique stem.

    Parameters
    ----------
    name : str
        e.g. ``"realKnownCause/nyc_taxi"`` or ``"nyc_taxi"``.
    root : path, optional
        Data root where ``prepare(["nab"])`` put the data.

    Returns
    -------
    NABSeries
        ``labels`` is 1 for timestamps ``t`` with ``start <= t <= end`` for some window.
    """
    base = _nab_dir(root)
    key = _resolve_name(name, list_nab(root=root))
    frame = pd.read_csv(base / "data" / f"{key}.csv")
    timestamps = _parse_times(frame["timestamp"].tolist())
    values = frame["value"].to_numpy(dtype=np.float64)
    file_key = f"{key}.csv"
    raw_windows = json.loads((base / "labels" / "combined_windows.json").read_text(encoding="utf-8"))[file_key]
    raw_points = json.loads((base / "labels" / "combined_labels.json").read_text(encoding="utf-8"))[file_key]
    labels = np.zeros(len(values), dtype=np.int8)
    windows = []
    for start_s, end_s in raw_windows:
        start, end = _parse_times([start_s, end_s])
        labels[(timestamps >= start) & (timestamps <= end)] = 1
        windows.append((start, end))
    n = len(values)
    probation = int(min(math.floor(_PROBATION_PERCENT * n), _PROBATION_PERCENT * 5000))
    return NABSeries(
        name=key,
        timestamps=timestamps,
        values=values,
        labels=labels,
        windows=tuple(windows),
        label_points=_parse_times(raw_points) if raw_points else np.array([], dtype="datetime64[s]"),
        probation=probation,
    )

"""UCR Time Series Anomaly Archive (KDD Cup 2021, ``UCR_Anomaly_FullData``).

Each file ``NNN_UCR_Anomaly_<series>_<trainEnd>_<begin>_<end>.txt`` holds one univariate
series; its name carries the labels. Convention used here (the archive was built in MATLAB,
so positions in the name are read as **1-based, inclusive**):

* training part: ``values[:train_end]`` (the first ``train_end`` points, anomaly-free);
* anomaly: 1-based points ``begin..end`` inclusive, i.e. ``labels[begin - 1 : end] = 1``.

Other loaders use 0-based or end-exclusive readings; they differ by a point or two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffad_lib.data.registry import dataset_path

__all__ = ["UCRSeries", "list_ucr", "load_ucr"]

_NAME = re.compile(r"^(\d{3})_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)$")


@dataclass(frozen=True, eq=False)
class UCRSeries:
    """One UCR anomaly series."""

    name: str  # file stem, e.g. "001_UCR_Anomaly_DISTORTED1sddb40_35000_52000_52620"
    id: int  # 1..250
    series: str  # e.g. "DISTORTED1sddb40"
    values: np.ndarray  # (n,) float64
    train_end: int  # values[:train_end] is the anomaly-free training part
    anomaly: tuple[int, int]  # 0-based half-open [start, stop) of the anomaly = (begin - 1, end)
    labels: np.ndarray  # (n,) int8, 1 on the anomaly

    @property
    def train(self) -> np.ndarray:
        """(train_end,) float64 training part."""
        return self.values[: self.train_end]

    @property
    def test(self) -> np.ndarray:
        """(n - train_end,) float64 test part; its labels are ``labels[train_end:]``."""
        return self.values[self.train_end :]


def _ucr_dir(root: Path | str | None) -> Path:
    return dataset_path("ucr", root=root) / "UCR_Anomaly_FullData"


def list_ucr(*, root: Path | str | None = None) -> list[str]:
    """File stems of the available series, sorted by id."""
    return sorted(p.stem for p in _ucr_dir(root).glob("*_UCR_Anomaly_*.txt") if _NAME.match(p.stem))


def _resolve(id_or_name: int | str, available: list[str]) -> str:
    for stem in available:
        num, series = _NAME.match(stem).group(1, 2)  # type: ignore[union-attr]
        if isinstance(id_or_name, int) and not isinstance(id_or_name, bool):
            if int(num) == id_or_name:
                return stem
        elif id_or_name in (stem, f"{stem}.txt", num, series):
            return stem
    ids = [int(s[:3]) for s in available]
    raise ValueError(
        f"id_or_name must be a UCR series id (one of {ids}), a series name such as 'DISTORTED1sddb40' "
        f"or a file stem; got {id_or_name!r}"
    )


def load_ucr(id_or_name: int | str, *, root: Path | str | None = None) -> UCRSeries:
    """Load one series by id (``1`` or ``"001"``), series name or file stem.

    Parameters
    ----------
    id_or_name : int or str
    root : path, optional
        Data root where ``prepare(["ucr"])`` put the data.

    Returns
    -------
    UCRSeries
        ``labels`` marks the 1-based inclusive ``begin..end`` from the file name.
    """
    stem = _resolve(id_or_name, list_ucr(root=root))
    num, series, train_end, begin, end = _NAME.match(stem).groups()  # type: ignore[union-attr]
    values = np.loadtxt(_ucr_dir(root) / f"{stem}.txt", dtype=np.float64, ndmin=1)
    train_end_i, start, stop = int(train_end), int(begin) - 1, int(end)
    if not 0 < train_end_i <= start < stop <= len(values):
        raise ValueError(
            f"{stem}: expected train_end <= begin <= end <= length; got train_end={train_end_i}, "
            f"begin={begin}, end={end}, length={len(values)} - the file name or contents are damaged"
        )
    labels = np.zeros(len(values), dtype=np.int8)
    labels[start:stop] = 1
    return UCRSeries(
        name=stem,
        id=int(num),
        series=series,
        values=values,
        train_end=train_end_i,
        anomaly=(start, stop),
        labels=labels,
    )

"""NAB and UCR loaders on the real files (labels parsed as MANIFEST.md describes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from diffad_lib.data import list_nab, list_ucr, load_nab, load_ucr, prepare

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    if not (MIRROR / "SHA256SUMS").is_file():
        pytest.skip(f"local data mirror not found at {MIRROR}")
    return prepare(["nab", "ucr"], root=tmp_path_factory.mktemp("data"), mirror=MIRROR, progress=False)


def test_list_nab(root):
    names = list_nab(root=root)
    assert len(names) == 58 and "realKnownCause/nyc_taxi" in names
    windows = json.loads((root / "nab" / "labels" / "combined_windows.json").read_text())
    assert sorted(k.removesuffix(".csv") for k in windows) == names
    assert sum(len(v) for v in windows.values()) == 116  # MANIFEST fact


def test_nyc_taxi(root):
    s = load_nab("nyc_taxi", root=root)
    assert s.name == "realKnownCause/nyc_taxi"
    assert s.values.dtype == np.float64 and s.labels.dtype == np.int8 and s.timestamps.dtype == "datetime64[s]"
    assert s.values[:2].tolist() == [10844.0, 8127.0]  # first CSV rows
    assert s.timestamps[0] == np.datetime64("2014-07-01T00:00:00")
    assert len(s.windows) == 5 and len(s.label_points) == 5
    # 1 inside [start, end] of each window (both ends inclusive), 0 elsewhere
    runs = np.flatnonzero(np.diff(np.concatenate([[0], s.labels, [0]])))
    starts, stops = runs[::2], runs[1::2]
    assert len(starts) == 5
    for (w0, w1), a, b in zip(s.windows, starts, stops, strict=True):
        assert s.timestamps[a] >= w0 and s.timestamps[a - 1] < w0
        assert s.timestamps[b - 1] <= w1 and s.timestamps[b] > w1
    # each labelled point lies inside a window
    assert (s.labels[s.label_indices] == 1).all()
    assert s.timestamps[s.label_indices[0]] == np.datetime64("2014-11-01T19:00:00")
    assert s.probation == min(int(0.15 * len(s.values)), 750)


def test_nab_series_without_anomalies(root):
    s = load_nab("artificialNoAnomaly/art_flatline.csv", root=root)
    assert s.labels.sum() == 0 and s.windows == () and s.label_points.size == 0


def test_nab_bad_name(root):
    with pytest.raises(ValueError, match="NAB series such as 'realKnownCause/nyc_taxi'; got 'taxi'"):
        load_nab("taxi", root=root)


def test_list_ucr(root):
    names = list_ucr(root=root)
    assert len(names) == 20 and names[0] == "001_UCR_Anomaly_DISTORTED1sddb40_35000_52000_52620"


def test_ucr_001(root):
    s = load_ucr(1, root=root)
    assert load_ucr("001", root=root).name == s.name == load_ucr("DISTORTED1sddb40", root=root).name
    assert (s.id, s.series, s.train_end) == (1, "DISTORTED1sddb40", 35000)
    assert s.values.shape == (79795,)  # INDEX.tsv length
    # 1-based inclusive 52000..52620 -> 0-based [51999, 52620)
    assert s.anomaly == (51999, 52620) and s.labels.sum() == 621
    assert s.labels[51998] == 0 and s.labels[51999] == 1 and s.labels[52619] == 1 and s.labels[52620] == 0
    assert s.train.shape == (35000,) and s.test.shape == (79795 - 35000,)
    first = float((root / "ucr_anomaly" / "UCR_Anomaly_FullData" / f"{s.name}.txt").read_text().split()[0])
    assert s.values[0] == first


def test_ucr_labels_only_in_test_part_and_match_index(root):
    rows = (root / "ucr_anomaly" / "INDEX.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    for line in rows[1:]:
        rec = dict(zip(header, line.split("\t"), strict=True))
        s = load_ucr(int(rec["id"]), root=root)
        assert len(s.values) == int(rec["length"]) and s.train_end == int(rec["train_end"])
        assert s.labels[: s.train_end].sum() == 0
        assert s.labels.sum() == int(rec["anomaly_end"]) - int(rec["anomaly_begin"]) + 1


def test_ucr_unknown(root):
    with pytest.raises(ValueError, match=r"UCR series id \(one of \[1, 12,"):
        load_ucr(2, root=root)

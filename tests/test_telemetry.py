"""SMAP/MSL/SMD loaders against facts in shared/data/MANIFEST.md, and min-max scaling."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from diffad_lib.data import (
    dataset_summary,
    list_entities,
    load_smap_msl,
    load_smd,
    load_telemetry,
    prepare,
)

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "SHA256SUMS").is_file(), reason=f"local data mirror not found at {MIRROR}"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    if not (MIRROR / "SHA256SUMS").is_file():
        pytest.skip(f"local data mirror not found at {MIRROR}")
    return prepare(["smap_msl", "smd"], root=tmp_path_factory.mktemp("data"), mirror=MIRROR, progress=False)


@needs_mirror
def test_csv_quirks_as_documented():
    with open(MIRROR / "smap_msl" / "labeled_anomalies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    smap = [r for r in rows if r["spacecraft"] == "SMAP"]
    msl = [r for r in rows if r["spacecraft"] == "MSL"]
    assert (len(smap), len(msl)) == (55, 27)
    assert len({r["chan_id"] for r in smap}) == 54  # P-2 twice
    assert [json.loads(r["anomaly_sequences"]) for r in smap if r["chan_id"] == "P-2"] == [
        [[5350, 6575]],
        [[5300, 6420]],
    ]
    assert "T-10" not in {r["chan_id"] for r in rows}


def test_smap_msl_entities_and_labels(root):
    assert len(list_entities("SMAP", root=root)) == 54
    msl_names = list_entities("MSL", root=root)
    assert len(msl_names) == 27 and "T-10" not in msl_names
    assert msl_names[:3] == ["C-1", "C-2", "D-14"]  # natural sort
    (p1, p2) = load_smap_msl("SMAP", root=root, channels=["P-1", "P-2"])
    assert p1.dataset == "SMAP" and p1.train.dtype == np.float32 and p1.labels.dtype == np.int8
    assert p1.train.shape[1] == p1.test.shape[1] == 25 and p1.test.shape[0] == 8505
    assert p1.telemetry_channels == (0,) and p1.command_channels == tuple(range(1, 25))
    # P-1: [[2149, 2349], [4536, 4844], [3539, 3779]], 0-based inclusive ends
    assert p1.labels.sum() == 201 + 309 + 241
    assert p1.labels[2148] == 0 and p1.labels[2149] == 1 and p1.labels[2349] == 1 and p1.labels[2350] == 0
    # P-2: union of its two rows [5350, 6575] and [5300, 6420] = [5300, 6575]
    idx = np.flatnonzero(p2.labels)
    assert (idx[0], idx[-1], idx.size) == (5300, 6575, 1276)
    names = list_entities("SMAP", root=root)
    assert (p1.entity_id, p2.entity_id) == (names.index("P-1"), names.index("P-2"))
    (m6,) = load_telemetry("MSL", root=root, entities=["M-6"])
    assert m6.train.shape[1] == 55 and m6.entity_id == msl_names.index("M-6")
    assert m6.test[:, 0].max() > 100  # MANIFEST: M-6 test max ~ 258, outside (-1, 1)


def test_smap_msl_summary_matches_manifest(root):
    smap = dataset_summary("SMAP", root=root).set_index("entity")
    msl = dataset_summary("MSL", root=root).set_index("entity")
    # MANIFEST: 444,035 SMAP test values over 55 rows (P-2's 8,209 counted twice); 69 sequences
    assert smap.loc["total", "test_length"] == 444_035 - 8_209
    assert smap.loc["total", "segments"] == 69 - 1  # P-2's two overlapping ranges merge into one
    assert msl.loc["total", "test_length"] == 73_729 and msl.loc["total", "segments"] == 36
    assert len(smap) == 54 + 1 and len(msl) == 27 + 1
    tot = msl.loc["total"]
    assert tot["anomaly_ratio"] == pytest.approx(tot["anomalous_points"] / tot["test_length"])


def test_unknown_channel_and_spacecraft(root):
    with pytest.raises(ValueError, match=r"unknown or unavailable MSL channels \['T-10'\]"):
        load_smap_msl("MSL", root=root, channels=["T-10"])
    with pytest.raises(ValueError, match="spacecraft must be one of"):
        load_smap_msl("smap", root=root)  # type: ignore[arg-type]


def test_smd_machines_and_labels(root):
    avail = list_entities("SMD", root=root)
    assert len(avail) == 19 and avail[0] == "machine-1-2" and avail[-1] == "machine-3-10"
    (m,) = load_smd(root=root, machines=["machine-1-2"])
    assert m.train.shape[1] == m.test.shape[1] == 38 and m.train.dtype == np.float32
    assert m.labels.shape == (m.test.shape[0],)
    ref = np.loadtxt(root / "smd" / "ServerMachineDataset" / "test_label" / "machine-1-2.txt", dtype=np.int8)
    np.testing.assert_array_equal(m.labels, ref)
    assert m.telemetry_channels == tuple(range(38)) and m.command_channels == ()
    assert m.entity_id == 1  # index among all 28 machines: machine-1-1 is 0 even though unavailable
    with pytest.raises(ValueError, match=r"\['machine-1-1'\].*available are \['machine-1-2'"):
        load_smd(root=root, machines=["machine-1-1"])


def test_smd_summary(root):
    df = dataset_summary("SMD", root=root).set_index("entity")
    assert len(df) == 19 + 1 and (df["channels"] == 38).all()
    assert 23_000 < df.loc["machine-1-2", "test_length"] < 24_500  # MANIFEST: about 23.7 k rows
    labels = np.loadtxt(root / "smd" / "ServerMachineDataset" / "test_label" / "machine-3-10.txt")
    assert df.loc["machine-3-10", "test_length"] == labels.size
    assert df.loc["machine-3-10", "anomalous_points"] == labels.sum()


def test_smd_reads_uncompressed_official_layout(tmp_path):
    """After a download (no mirror) SMD train/test are plain .txt: the loader takes either."""
    base = tmp_path / "smd" / "ServerMachineDataset"
    for sub in ("train", "test", "test_label"):
        (base / sub).mkdir(parents=True)
    (tmp_path / "smd" / ".diffad_prepared.json").write_text('{"files": {}}')
    rows = "\n".join(",".join(f"{0.1 * (i + j):.6f}" for j in range(38)) for i in range(5)) + "\n"
    (base / "train" / "machine-2-6.txt").write_text(rows)
    (base / "test" / "machine-2-6.txt").write_text(rows)
    (base / "test_label" / "machine-2-6.txt").write_text("0\n0\n1\n1\n0\n")
    (base / "test_label" / "machine-1-1.txt").write_text("0\n")
    (m,) = load_smd(root=tmp_path)
    assert m.name == "machine-2-6" and m.entity_id == 1 and m.test.shape == (5, 38)
    np.testing.assert_array_equal(m.labels, [0, 0, 1, 1, 0])
    (base / "test_label" / "machine-2-6.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match="test_label has 2 lines but the test file has 5 rows"):
        load_smd(root=tmp_path)


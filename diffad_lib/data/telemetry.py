"""Multivariate telemetry benchmarks of the DiffADT chapter: SMAP, MSL (telemanom) and SMD.

Each dataset is a list of :class:`Entity` objects (one spacecraft channel or one server
machine), each with its own training split (unlabelled, assumed normal), test split and
point labels for the test split. Arrays are time-first ``(n, C)`` as stored on disk;
:func:`diffad_lib.data.windows.frame` turns them into channel-first windows.

Quirks of the upstream files handled here (see ``shared/data/MANIFEST.md``):

* ``labeled_anomalies.csv`` lists SMAP channel ``P-2`` twice with different sequences
  (``[[5350, 6575]]`` and ``[[5300, 6420]]``). The two rows are merged: P-2's labels are the
  union of both rows' ranges, so SMAP has 54 entities (55 rows).
* MSL channel ``T-10`` has ``.npy`` files but no row in the CSV, hence no labels. It is not
  an entity here (it cannot be evaluated), so MSL has 27 entities, as in most papers.
* SMAP/MSL ranges ``[start, end]`` are 0-based and the end is inclusive.
* SMD: the mirror has train/test for 19 of the 28 machines; labels come from ``test_label``.
"""

from __future__ import annotations

import csv
import json
import lzma
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from diffad_lib._validation import check_choice
from diffad_lib.data.registry import dataset_path

__all__ = [
    "Entity",
    "dataset_summary",
    "list_entities",
    "load_smap_msl",
    "load_smd",
    "load_telemetry",
]

TelemetryDataset = Literal["SMAP", "MSL", "SMD"]
_DATASETS: tuple[str, ...] = ("SMAP", "MSL", "SMD")
_SMD_CHANNELS = 38


@dataclass(frozen=True, eq=False)
class Entity:
    """One channel (SMAP/MSL) or machine (SMD) with its train/test split and test labels."""

    name: str  # "P-1" (SMAP/MSL) or "machine-1-2" (SMD)
    dataset: str  # "SMAP", "MSL" or "SMD"
    train: np.ndarray  # (n_train, C) float32, unlabelled (assumed normal)
    test: np.ndarray  # (n_test, C) float32
    labels: np.ndarray  # (n_test,) int8, 1 = anomalous time step
    telemetry_channels: tuple[int, ...]  # columns holding measured values
    command_channels: tuple[int, ...]  # columns holding one-hot commands (condition inputs)
    entity_id: int  # index in the dataset's full sorted entity list (stable across subsets)

    @property
    def n_channels(self) -> int:
        return int(self.train.shape[1])


def _natural_key(name: str) -> tuple:
    """Sort "A-2" before "A-10" and "machine-3-9" before "machine-3-10"."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


# --------------------------------------------------------------------------- SMAP / MSL


def _smap_msl_dir(root: Path | str | None) -> Path:
    return dataset_path("smap_msl", root=root) / "SMAP_MSL"


def _read_label_csv(base: Path) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """{spacecraft: {chan_id: [(start, end_inclusive), ...]}} with duplicate rows merged."""
    out: dict[str, dict[str, list[tuple[int, int]]]] = {"SMAP": {}, "MSL": {}}
    with open(base / "labeled_anomalies.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            seqs = [(int(a), int(b)) for a, b in json.loads(row["anomaly_sequences"])]
            # P-2 appears twice upstream: keep both rows' ranges (union of labelled points).
            out[row["spacecraft"]].setdefault(row["chan_id"], []).extend(seqs)
    return out


def _ranges_to_labels(ranges: Sequence[tuple[int, int]], n: int, *, where: str) -> np.ndarray:
    labels = np.zeros(n, dtype=np.int8)
    for start, end in ranges:
        if not 0 <= start <= end < n:
            raise ValueError(f"{where}: anomaly range [{start}, {end}] does not fit a test split of length {n}")
        labels[start : end + 1] = 1  # 0-based, end inclusive
    return labels


def _check_subset(requested: Sequence[str] | None, available: list[str], *, name: str, what: str) -> list[str]:
    if requested is None:
        return available
    if isinstance(requested, str):
        requested = [requested]
    missing = [r for r in requested if r not in available]
    if missing:
        raise ValueError(f"{name}: unknown or unavailable {what} {missing}; available are {available}")
    return list(requested)


def load_smap_msl(
    spacecraft: Literal["SMAP", "MSL"],
    *,
    root: Path | str | None = None,
    channels: Sequence[str] | None = None,
) -> list[Entity]:
    """Load the labelled channels of one spacecraft.

    Parameters
    ----------
    spacecraft : {"SMAP", "MSL"}
    root : path, optional
        Data root where ``prepare(["smap_msl"])`` put the data.
    channels : sequence of str, optional
        Channel ids such as ``["P-1", "A-4"]``; default all (SMAP 54, MSL 27, naturally sorted).

    Returns
    -------
    list of Entity
        ``train`` (n_train, C) and ``test`` (n_test, C) float32 with C = 25 (SMAP) or 55 (MSL);
        column 0 is telemetry, columns 1..C-1 one-hot commands. ``labels`` (n_test,) int8 from
        the CSV's 0-based inclusive ranges (P-2: union of its two rows). T-10 (MSL) has no
        labels and is never returned.
    """
    check_choice(spacecraft, name="spacecraft", choices=("SMAP", "MSL"))
    base = _smap_msl_dir(root)
    ranges = _read_label_csv(base)[spacecraft]
    full = sorted(ranges, key=_natural_key)
    chosen = _check_subset(channels, full, name="channels", what=f"{spacecraft} channels")
    entities = []
    for chan in chosen:
        train = np.load(base / "train" / f"{chan}.npy").astype(np.float32)
        test = np.load(base / "test" / f"{chan}.npy").astype(np.float32)
        n_ch = train.shape[1]
        entities.append(
            Entity(
                name=chan,
                dataset=spacecraft,
                train=train,
                test=test,
                labels=_ranges_to_labels(ranges[chan], len(test), where=f"{spacecraft} {chan}"),
                telemetry_channels=(0,),
                command_channels=tuple(range(1, n_ch)),
                entity_id=full.index(chan),
            )
        )
    return entities


# --------------------------------------------------------------------------- SMD


def _smd_dir(root: Path | str | None) -> Path:
    return dataset_path("smd", root=root) / "ServerMachineDataset"


def _smd_file(base: Path, split: str, machine: str) -> Path | None:
    """The train/test file of ``machine``: official ``.txt`` or the mirror's ``.txt.xz``."""
    for suffix in (".txt", ".txt.xz"):
        path = base / split / f"{machine}{suffix}"
        if path.is_file():
            return path
    return None


def _smd_machines(base: Path) -> tuple[list[str], list[str]]:
    """(all 28 machines with labels, the ones whose train and test files exist), sorted."""
    full = sorted((p.stem for p in (base / "test_label").glob("machine-*.txt")), key=_natural_key)
    available = [m for m in full if _smd_file(base, "train", m) and _smd_file(base, "test", m)]
    return full, available


def _read_smd_matrix(path: Path) -> np.ndarray:
    # pandas' C parser is several times faster than np.loadtxt here; xz is inferred from the suffix
    return pd.read_csv(path, header=None, dtype=np.float32).to_numpy()


def list_entities(dataset: TelemetryDataset, *, root: Path | str | None = None) -> list[str]:
    """Names of the loadable entities of ``dataset`` in entity-id order (SMD: available machines)."""
    check_choice(dataset, name="dataset", choices=_DATASETS)
    if dataset == "SMD":
        return _smd_machines(_smd_dir(root))[1]
    return sorted(_read_label_csv(_smap_msl_dir(root))[dataset], key=_natural_key)


def load_smd(*, root: Path | str | None = None, machines: Sequence[str] | None = None) -> list[Entity]:
    """Load SMD machines.

    Parameters
    ----------
    root : path, optional
        Data root where ``prepare(["smd"])`` put the data.
    machines : sequence of str, optional
        e.g. ``["machine-1-2"]``; default every machine whose train and test files exist
        (19 of 28 from the mirror, all 28 after a download).

    Returns
    -------
    list of Entity
        ``train``/``test`` (n, 38) float32 (already min-max normalised upstream), ``labels``
        (n_test,) int8 from ``test_label``; all 38 columns are telemetry, none are commands.
        ``entity_id`` indexes the full list of 28 machines, so it does not depend on which
        machines are available.
    """
    base = _smd_dir(root)
    full, available = _smd_machines(base)
    chosen = _check_subset(machines, available, name="machines", what="SMD machines")
    entities = []
    for machine in chosen:
        train = _read_smd_matrix(_smd_file(base, "train", machine))  # type: ignore[arg-type]
        test = _read_smd_matrix(_smd_file(base, "test", machine))  # type: ignore[arg-type]
        labels = np.loadtxt(base / "test_label" / f"{machine}.txt", dtype=np.int8)
        if labels.shape != (len(test),):
            raise ValueError(
                f"SMD {machine}: test_label has {labels.size} lines but the test file has {len(test)} rows"
            )
        entities.append(
            Entity(
                name=machine,
                dataset="SMD",
                train=train,
                test=test,
                labels=labels,
                telemetry_channels=tuple(range(train.shape[1])),
                command_channels=(),
                entity_id=full.index(machine),
            )
        )
    return entities


def load_telemetry(
    dataset: TelemetryDataset,
    *,
    root: Path | str | None = None,
    entities: Sequence[str] | None = None,
) -> list[Entity]:
    """Load ``"SMAP"``, ``"MSL"`` or ``"SMD"``; ``entities`` picks channels or machines by name."""
    check_choice(dataset, name="dataset", choices=_DATASETS)
    if dataset == "SMD":
        return load_smd(root=root, machines=entities)
    return load_smap_msl(dataset, root=root, channels=entities)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- summary


def _count_lines(path: Path) -> int:
    opener = lzma.open if path.suffix == ".xz" else open
    n = 0
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def dataset_summary(dataset: TelemetryDataset, *, root: Path | str | None = None) -> pd.DataFrame:
    """Per-entity statistics computed from the files, plus a ``"total"`` row (Table 1 style).

    Columns: ``entity``, ``entity_id``, ``channels``, ``train_length``, ``test_length``,
    ``anomalous_points``, ``anomaly_ratio`` (anomalous_points / test_length), ``segments``
    (number of contiguous labelled runs). Arrays are not loaded in full: ``.npy`` headers are
    read by memory-mapping and SMD lengths by counting lines.
    """
    check_choice(dataset, name="dataset", choices=_DATASETS)
    rows = []
    if dataset == "SMD":
        base = _smd_dir(root)
        full, available = _smd_machines(base)
        for m in available:
            labels = np.loadtxt(base / "test_label" / f"{m}.txt", dtype=np.int8)
            n_train = _count_lines(_smd_file(base, "train", m))  # type: ignore[arg-type]
            n_test = _count_lines(_smd_file(base, "test", m))  # type: ignore[arg-type]
            rows.append((m, full.index(m), _SMD_CHANNELS, n_train, n_test, labels))
    else:
        base = _smap_msl_dir(root)
        ranges = _read_label_csv(base)[dataset]
        full = sorted(ranges, key=_natural_key)
        for chan in full:
            train = np.load(base / "train" / f"{chan}.npy", mmap_mode="r")
            test = np.load(base / "test" / f"{chan}.npy", mmap_mode="r")
            labels = _ranges_to_labels(ranges[chan], len(test), where=f"{dataset} {chan}")
            rows.append((chan, full.index(chan), train.shape[1], len(train), len(test), labels))
    records = []
    for name, eid, n_ch, n_train, n_test, labels in rows:
        segments = int(np.count_nonzero(np.diff(np.concatenate([[0], labels, [0]]).astype(np.int8)) == 1))
        records.append(
            {
                "entity": name,
                "entity_id": eid,
                "channels": n_ch,
                "train_length": n_train,
                "test_length": n_test,
                "anomalous_points": int(labels.sum()),
                "segments": segments,
            }
        )
    df = pd.DataFrame.from_records(records)
    total = {
        "entity": "total",
        "entity_id": -1,
        "channels": int(df["channels"].max()),
        "train_length": int(df["train_length"].sum()),
        "test_length": int(df["test_length"].sum()),
        "anomalous_points": int(df["anomalous_points"].sum()),
        "segments": int(df["segments"].sum()),
    }
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    df["anomaly_ratio"] = df["anomalous_points"] / df["test_length"]
    return df


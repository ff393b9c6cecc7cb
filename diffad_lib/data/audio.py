"""Audio data for chapter 3: a WAV-folder loader, the UrbanSound8K clips and their one-class split.

:func:`load_wav_folder` reads a collection the reader provides (ESC-50, UrbanSound8K or one
folder per class); :func:`urbansound8k` reads the registry's UrbanSound8K subset, checked before
use; :func:`one_class_split` keeps each source recording on one side of a train/test split. The
chapter turns the clips into CWT scalograms with :func:`diffad_lib.wavelets.cwt_scalogram`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import signal as sps

__all__ = [
    "WavFolder",
    "load_wav_folder",
    "URBANSOUND_CLASSES",
    "urbansound8k",
    "OneClassSplit",
    "one_class_split",
]


# --------------------------------------------------------------------------------------------
# WAV folders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavFolder:
    """Clips of a WAV collection (see :func:`load_wav_folder`)."""

    signals: tuple[np.ndarray, ...]  # N mono float32 clips (L_i,), lengths may differ
    sr: int  # sampling rate of every clip, Hz
    labels: np.ndarray  # (N,) int64 class id (ESC-50 target, UrbanSound8K classID, or folder index)
    categories: tuple[str, ...]  # (N,) class name of each clip
    folds: np.ndarray  # (N,) int64 cross-validation fold (0 when the layout has none)
    files: tuple[str, ...]  # (N,) paths of the clips
    fs_ids: np.ndarray | None = None  # (N,) int64 source recording (UrbanSound8K fsID); None when unknown
    loop_padded: np.ndarray | None = None  # (N,) bool, clip was filled to 4 s by repetition upstream of us

    def stack(self, length: int) -> np.ndarray:
        """All clips cut or zero-padded at the end to ``length`` samples: (N, length) float32."""
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be an int >= 1; got {length!r}")
        out = np.zeros((len(self.signals), length), dtype=np.float32)
        for i, s in enumerate(self.signals):
            out[i, : min(length, s.size)] = s[:length]
        return out


def _read_wav(path: Path, sr: int | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (L, channels)
    x = data.mean(axis=1)  # (L,) mono
    if sr is not None and rate != sr:
        g = np.gcd(int(rate), int(sr))
        x = sps.resample_poly(x, sr // g, rate // g).astype(np.float32)
        rate = sr
    return x.astype(np.float32), int(rate)


def load_wav_folder(
    root: str | Path,
    *,
    metadata_csv: str | Path | None = None,
    sr: int | None = None,
) -> WavFolder:
    """Read a WAV collection in the ESC-50, UrbanSound8K or one-folder-per-class layout.

    * ESC-50 (Piczak 2015): ``<root>/meta/esc50.csv`` with columns ``filename, fold, target,
      category``; clips in ``<root>/audio/<filename>``.
    * UrbanSound8K (Salamon et al. 2014): ``<root>/metadata/UrbanSound8K.csv`` with columns
      ``slice_file_name, fold, classID, class``; clips in ``<root>/audio/fold<fold>/``.
    * otherwise ``<root>/<class>/*.wav``, class ids in sorted folder order, fold 0.

    ``metadata_csv`` overrides where the CSV is looked for (its columns pick the layout).
    Multi-channel clips are averaged to mono; with ``sr`` every clip is resampled to it
    (polyphase), otherwise all clips must share one rate.
    """
    import pandas as pd

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root must be an existing folder; got {root}")
    csv = Path(metadata_csv) if metadata_csv is not None else None
    if csv is None:
        for candidate in (root / "meta" / "esc50.csv", root / "metadata" / "UrbanSound8K.csv"):
            if candidate.is_file():
                csv = candidate
                break
    if csv is not None:
        if not csv.is_file():
            raise ValueError(f"metadata_csv must be an existing file; got {csv}")
        meta = pd.read_csv(csv)
        if {"filename", "fold", "target", "category"} <= set(meta.columns):  # ESC-50
            files = [root / "audio" / f for f in meta["filename"]]
            labels, names = meta["target"].to_numpy(), meta["category"].astype(str).tolist()
        elif {"slice_file_name", "fold", "classID", "class"} <= set(meta.columns):  # UrbanSound8K
            files = [root / "audio" / f"fold{k}" / f for f, k in zip(meta["slice_file_name"], meta["fold"],
                                                                   strict=True)]
            labels, names = meta["classID"].to_numpy(), meta["class"].astype(str).tolist()
        else:
            raise ValueError(
                "metadata_csv must have the ESC-50 columns (filename, fold, target, category) or the "
                f"UrbanSound8K columns (slice_file_name, fold, classID, class); got {list(meta.columns)}"
            )
        folds = meta["fold"].to_numpy()
    else:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        files, labels, names = [], [], []
        for i, c in enumerate(classes):
            for f in sorted((root / c).glob("*.wav")):
                files.append(f)
                labels.append(i)
                names.append(c)
        folds = np.zeros(len(files), dtype=np.int64)
    if len(files) == 0:
        raise ValueError(f"no WAV files found under {root}")
    signals, rates = [], set()
    for f in files:
        if not f.is_file():
            raise ValueError(f"metadata lists {f}, which does not exist")
        x, rate = _read_wav(f, sr)
        signals.append(x)
        rates.add(rate)
    if len(rates) > 1:
        raise ValueError(f"clips have different sampling rates {sorted(rates)}; pass sr= to resample")
    return WavFolder(
        signals=tuple(signals),
        sr=rates.pop(),
        labels=np.asarray(labels, dtype=np.int64),
        categories=tuple(names),
        folds=np.asarray(folds, dtype=np.int64),
        files=tuple(str(f) for f in files),
    )


# --------------------------------------------------------------------------------------------
# UrbanSound8K (the 300-clip subset in the data registry) and its one-class protocol
# --------------------------------------------------------------------------------------------

URBANSOUND_CLASSES: tuple[str, ...] = (
    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music",
)


def urbansound8k(
    *,
    root: str | Path | None = None,
    sr: int = 22_050,
    loop_padded: Literal["trim", "exclude", "keep"] = "trim",
    classes: tuple[str, ...] = URBANSOUND_CLASSES,
) -> WavFolder:
    """The UrbanSound8K subset (Salamon, Jacoby & Bello 2014): 30 slices per class, 10 classes.

    Only files listed in the data registry are read, each checked (size and sha256, cached by
    size and mtime) before use; prepare them first with ``diffad data prepare urbansound8k``.
    Two sources give the same 300 slices:

    * a mirror: third-party 22,050 Hz mono copies, every clip exactly 4.000 s; 29 clips
      (29 of the 30 gun shots) were shorter and were filled to 4 s by repeating them, with
      the period in ``meta.csv`` (``loop_period_samples``);
    * the official ``UrbanSound8K.tar.gz`` (no mirror): the original files, at their own rate
      and channel count and original length (never loop-padded), read with the official
      ``metadata/UrbanSound8K.csv``. Clips are averaged to mono and resampled to ``sr``
      (polyphase). They are not byte- or sample-identical to the mirror's copies.

    Parameters
    ----------
    root : path, optional
        Data root; default :func:`diffad_lib.data.default_data_root`.
    sr : int, default 22050
        Output sampling rate, Hz (the mirror's rate; other values resample).
    loop_padded : {"trim", "exclude", "keep"}, default "trim"
        What to do with the clips an earlier processing step loop-padded to 4 s: "trim" cuts
        each back to its original length (the first ``loop_period_samples`` samples, scaled
        to ``sr``), "exclude" drops them (this removes 29 of the 30 gun shots), "keep"
        leaves the repetition in. With "trim", clip lengths differ; :meth:`WavFolder.stack`
        zero-pads at the end, and a detector may then key on the silence, so say which was
        used. The official files are never padded, so "trim" and "keep" agree for them
        while "exclude" still drops the same 29 slices.
    classes : tuple of str, default all ten
        Class names to keep (subset of :data:`URBANSOUND_CLASSES`).

    Returns
    -------
    WavFolder
        ``signals`` (N clips (L_i,) float32), ``sr``, ``labels`` (N,) classID, ``categories``
        (N,) class name, ``folds`` (N,) official fold, ``fs_ids`` (N,) source recording,
        ``loop_padded`` (N,) bool, ``files``; sorted by class, fold, file name.

    Raises
    ------
    FileNotFoundError
        Not prepared, or a registry file is missing (named, with the command that restores it).
    ValueError
        Bad arguments, or a file whose size or checksum differs from the registry (named).
    """
    from diffad_lib.data.registry import prepared_files, verified_files

    if loop_padded not in ("trim", "exclude", "keep"):
        raise ValueError(f"loop_padded must be one of ['trim', 'exclude', 'keep']; got {loop_padded!r}")
    if not isinstance(sr, int) or isinstance(sr, bool) or sr < 8:
        raise ValueError(f"sr must be an int >= 8 (Hz); got {sr!r}")
    bad = [c for c in classes if c not in URBANSOUND_CLASSES]
    if not classes or bad or isinstance(classes, str):
        raise ValueError(f"classes must be a non-empty tuple drawn from {list(URBANSOUND_CLASSES)}; got {classes!r}")
    base = "urbansound8k_subset/"
    present = {f.path for f in prepared_files("urbansound8k", root=root)}
    mirror_clips = sorted(p for p in present if p.startswith(base + "audio/"))
    official_clips = sorted(p for p in present if p.startswith(base + "upstream/"))
    if mirror_clips and base + "meta.csv" in present:
        meta_path = verified_files("urbansound8k", [base + "meta.csv"], root=root)[base + "meta.csv"]
        clip_of = {Path(p).name: p for p in mirror_clips}
    elif official_clips and base + "UrbanSound8K.csv" in present:
        meta_path = verified_files("urbansound8k", [base + "UrbanSound8K.csv"], root=root)[base + "UrbanSound8K.csv"]
        clip_of = {Path(p).name: p for p in official_clips}
    else:
        raise FileNotFoundError(
            "no UrbanSound8K clips are prepared under the data root; run `diffad data prepare urbansound8k "
            "--mirror PATH` (or without a mirror, to download the official archive)"
        )
    with open(meta_path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["slice_file_name"] in clip_of and r["class"] in classes]
    rows.sort(key=lambda r: (int(r["classID"]), int(r["fold"]), r["slice_file_name"]))
    # loop padding is a property of the slice (official duration < 4 s), the same in both sources
    padded = [float(r["end"]) - float(r["start"]) < 4.0 - 1e-6 for r in rows]
    if loop_padded == "exclude":
        rows = [r for r, p in zip(rows, padded, strict=True) if not p]
        padded = [False] * len(rows)
    files = verified_files("urbansound8k", [clip_of[r["slice_file_name"]] for r in rows], root=root)
    signals = []
    for r, path in zip(rows, files.values(), strict=True):
        x, _ = _read_wav(path, sr)
        period = r.get("loop_period_samples") or ""
        if loop_padded == "trim" and period:
            stored_rate = int(r["samplerate"])
            x = x[: int(round(int(period) * sr / stored_rate))]
        signals.append(x)
    return WavFolder(
        signals=tuple(signals),
        sr=sr,
        labels=np.array([int(r["classID"]) for r in rows], dtype=np.int64),
        categories=tuple(r["class"] for r in rows),
        folds=np.array([int(r["fold"]) for r in rows], dtype=np.int64),
        files=tuple(str(p) for p in files.values()),
        fs_ids=np.array([int(r["fsID"]) for r in rows], dtype=np.int64),
        loop_padded=np.array(padded, dtype=bool),
    )


@dataclass(frozen=True)
class OneClassSplit:
    """Indices into a :class:`WavFolder` for one normal class (see :func:`one_class_split`)."""

    normal: int  # class id treated as normal
    train: np.ndarray  # (n_train,) int64 indices: normal clips of the training recordings
    test: np.ndarray  # (n_test,) int64 indices: held-out normal clips and other classes' clips
    labels: np.ndarray  # (n_test,) int64, 1 = not the normal class (anomalous)


def one_class_split(
    data: WavFolder,
    *,
    normal: int | str,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> OneClassSplit:
    """One-class protocol: train on some recordings of ``normal``, test on the rest and the others.

    Slices of one recording (same ``fs_ids``) overlap in time and sound alike, so recordings,
    not clips, are split: the normal class's recordings are shuffled (``seed``) and taken
    into the test side until it holds at least ``test_fraction`` of that class's clips
    (and at least one recording; at least one stays in training). The test set is every
    normal clip of those recordings plus every clip of the other classes, except clips whose
    recording also has a clip in training (UrbanSound8K recordings can hold several classes),
    so no recording is on both sides.

    Parameters
    ----------
    data : WavFolder
        Clips with ``fs_ids`` (e.g. from :func:`urbansound8k`).
    normal : int or str
        Normal class, by id or name.
    test_fraction : float, default 0.3
        Target share of the normal class's clips held out, in (0, 1).
    seed : int, default 0
        Seed of the recording shuffle.

    Returns
    -------
    OneClassSplit
        ``train`` (n_train,), ``test`` (n_test,) indices and test ``labels`` (n_test,).

    Raises
    ------
    ValueError
        ``data`` without ``fs_ids``; an unknown class; a class with fewer than two recordings;
        ``test_fraction`` outside (0, 1).
    """
    if data.fs_ids is None:
        raise ValueError("data must carry fs_ids (recording ids) to keep recordings on one side; got None")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1); got {test_fraction!r}")
    if isinstance(normal, str):
        if normal not in data.categories:
            raise ValueError(f"normal must be a class in data; got {normal!r}, have {sorted(set(data.categories))}")
        normal_id = int(data.labels[data.categories.index(normal)])
    else:
        normal_id = int(normal)
        if normal_id not in set(data.labels.tolist()):
            have = sorted(set(data.labels.tolist()))
            raise ValueError(f"normal must be a class id in data; got {normal!r}, have {have}")
    is_normal = data.labels == normal_id
    recordings = np.unique(data.fs_ids[is_normal])
    if recordings.size < 2:
        raise ValueError(
            f"normal class {normal!r} has {recordings.size} recording(s); at least 2 are needed to hold one out"
        )
    order = np.random.default_rng(seed).permutation(recordings)
    n_normal = int(is_normal.sum())
    held: list[int] = []
    count = 0
    for rec in order[:-1]:  # the last one always trains
        if count >= test_fraction * n_normal and held:
            break
        held.append(int(rec))
        count += int((is_normal & (data.fs_ids == rec)).sum())
    train_mask = is_normal & ~np.isin(data.fs_ids, held)
    train_recs = np.unique(data.fs_ids[train_mask])
    test_mask = ~train_mask & ~np.isin(data.fs_ids, train_recs)
    test = np.flatnonzero(test_mask)
    return OneClassSplit(
        normal=normal_id,
        train=np.flatnonzero(train_mask),
        test=test,
        labels=(data.labels[test] != normal_id).astype(np.int64),
    )

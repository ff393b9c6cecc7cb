"""Where the real datasets come from, what their bytes must hash to, and how they get on disk.

Every file the loaders read is listed in ``registry.tsv`` (next to this module) with its
path under the data root, its sha256, a role and, where one is known to serve the same
bytes, an upstream URL. The data root uses the layout of the project's local mirror
(``shared/data``), so a mirror can be copied as is:

==========  =====================================================================
dataset     folder under the root
==========  =====================================================================
``nab``       ``nab/data/<group>/<name>.csv``, ``nab/labels/combined_*.json``
``smap_msl``  ``smap_msl/SMAP_MSL/{train,test}/<chan>.npy``, ``.../labeled_anomalies.csv``
``smd``       ``smd/ServerMachineDataset/{train,test}/machine-G-I.txt[.xz]``, ``test_label/``
``ucr``       ``ucr_anomaly/UCR_Anomaly_FullData/NNN_UCR_Anomaly_<series>_<trainEnd>_<b>_<e>.txt``
==========  =====================================================================

Roles in the registry:

``both``
    in the mirror, and downloadable from ``url`` with identical bytes.
``mirror``
    only in the mirror: our own packing (``smap_msl.tar.xz``, the per-file ``.xz`` of SMD)
    or bookkeeping files. No public URL serves these bytes.
``member``
    a file inside ``smap_msl.tar.xz``; checked after unpacking, and downloaded one by one
    (from the TranAD repository's copy of the telemanom data) when there is no mirror.
``upstream``
    an official uncompressed SMD ``train``/``test`` file, downloaded from OmniAnomaly only
    when there is no mirror (this also brings the 9 machines the mirror lacks).

The URLs are pinned to commits named in ``shared/data/MANIFEST.md``; every download is
checked against the sha256 recorded here, so a URL that stopped serving the same bytes
fails loudly instead of handing over different data. The URLs could not be exercised from
the machine this module was written on (no general network access there).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from tqdm import tqdm  # plain text bars: no ipywidgets needed in notebooks

from diffad_lib._validation import check_choice

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "RegistryFile",
    "dataset_info",
    "dataset_path",
    "default_data_root",
    "prepare",
    "registry_files",
]

Role = Literal["both", "mirror", "member", "upstream"]

_MARKER = ".diffad_prepared.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistryFile:
    """One file of a dataset as recorded in ``registry.tsv``."""

    dataset: str  # registry name: "nab", "smap_msl", "smd" or "ucr"
    path: str  # POSIX path relative to the data root (and to the mirror)
    sha256: str  # hex digest of the file's bytes
    role: Role  # see the module docstring
    url: str | None  # upstream URL serving these exact bytes, or None


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one dataset."""

    name: str  # registry name
    folder: str  # folder under the data root
    source: str  # official home of the data
    license: str  # licence as stated upstream (see MANIFEST.md)
    note: str  # how the files relate to the official release


_INFO: dict[str, DatasetInfo] = {
    "smap_msl": DatasetInfo(
        name="smap_msl",
        folder="smap_msl",
        source="https://github.com/khundman/telemanom (data.zip: https://s3-us-west-2.amazonaws.com/telemanom/data.zip)",
        license="telemanom: Apache-2.0 per its README; LICENSE.txt is a Caltech BSD-style notice",
        note=(
            "smap_msl.tar.xz is this project's deterministic packing of the telemanom .npy files "
            "(no public URL serves these bytes; only a mirror has it). Without a mirror the 165 "
            "unpacked files are downloaded one by one from imperial-qore/TranAD@7ffb98d and checked "
            "against the same sha256 values."
        ),
    ),
    "smd": DatasetInfo(
        name="smd",
        folder="smd",
        source="https://github.com/NetManAIOps/OmniAnomaly (folder ServerMachineDataset)",
        license="MIT (ServerMachineDataset/LICENSE)",
        note=(
            "The mirror holds 19 of 28 machines' train/test as per-file .txt.xz (byte-identical to "
            "the official .txt once decompressed). Without a mirror the official uncompressed .txt "
            "of all 28 machines are downloaded from OmniAnomaly@7fb0e0a."
        ),
    ),
    "nab": DatasetInfo(
        name="nab",
        folder="nab",
        source="https://github.com/numenta/NAB",
        license="MIT (NAB LICENSE.txt at commit ea702d7)",
        note="Byte-identical copies of data/**, labels/** and LICENSE.txt at numenta/NAB@ea702d7.",
    ),
    "ucr": DatasetInfo(
        name="ucr",
        folder="ucr_anomaly",
        source=(
            "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/ "
            "(UCR_TimeSeriesAnomalyDatasets2021.zip, UCR_Anomaly_FullData)"
        ),
        license="none stated upstream; research use, cite Wu & Keogh (TKDE 2021)",
        note=(
            "20 of the 250 series, named as in UCR_Anomaly_FullData. The bytes are the KDD Cup 2021 "
            "release (Karenou/KDDCup2021@2c57047), which is what the download URLs fetch."
        ),
    ),
}

DATASETS: tuple[str, ...] = tuple(_INFO)


# --------------------------------------------------------------------------- registry


@lru_cache(maxsize=1)
def _registry() -> tuple[RegistryFile, ...]:
    text = (Path(__file__).with_name("registry.tsv")).read_text(encoding="utf-8")
    rows: list[RegistryFile] = []
    header_seen = False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not header_seen:  # the column-name line
            header_seen = True
            continue
        dataset, path, sha, role, url = line.split("\t")
        rows.append(RegistryFile(dataset, path, sha, role, url or None))  # type: ignore[arg-type]
    return tuple(rows)


def _check_dataset(name: str) -> str:
    return check_choice(name, name="dataset", choices=DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """Static description (folder, official source, licence, provenance) of dataset ``name``."""
    return _INFO[_check_dataset(name)]


def registry_files(name: str, *, roles: Sequence[Role] | None = None) -> list[RegistryFile]:
    """Files recorded for dataset ``name``, optionally only those with one of ``roles``."""
    _check_dataset(name)
    return [f for f in _registry() if f.dataset == name and (roles is None or f.role in roles)]


# --------------------------------------------------------------------------- paths


def default_data_root() -> Path:
    """The data root: ``$DIFFAD_DATA_ROOT`` if set, else ``~/.cache/diffad/data``."""
    env = os.environ.get("DIFFAD_DATA_ROOT")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "diffad" / "data"


def _resolve_root(root: Path | str | None) -> Path:
    return Path(root).expanduser() if root is not None else default_data_root()


def dataset_path(name: str, *, root: Path | str | None = None) -> Path:
    """Folder of a prepared dataset, e.g. ``<root>/smap_msl``.

    Parameters
    ----------
    name : {"smap_msl", "smd", "nab", "ucr"}
    root : path, optional
        Data root; default :func:`default_data_root`.

    Raises
    ------
    ValueError
        Unknown dataset name.
    FileNotFoundError
        The dataset has not been prepared under ``root`` (no marker written by :func:`prepare`).
    """
    info = dataset_info(name)
    root_path = _resolve_root(root)
    folder = root_path / info.folder
    if not (folder / _MARKER).is_file():
        raise FileNotFoundError(
            f"dataset {name!r} is not prepared under {root_path} (no {info.folder}/{_MARKER}); "
            f"run diffad_lib.data.prepare([{name!r}], root=..., mirror=...) or "
            f"`diffad data prepare --mirror PATH`, or get it from {info.source}"
        )
    return folder


# --------------------------------------------------------------------------- hashing and copying


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _copy_verified(src: Path, dst: Path, expected: str) -> None:
    """Copy ``src`` to ``dst`` hashing on the way; nothing is left at ``dst`` on a mismatch."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            h.update(chunk)
            fout.write(chunk)
    actual = h.hexdigest()
    if actual != expected:
        tmp.unlink()
        raise ValueError(
            f"checksum mismatch for {src}: expected sha256 {expected}, got {actual}; "
            "the mirror copy is corrupt or a different version - re-fetch it from the official "
            "source or point mirror= at an intact copy"
        )
    os.replace(tmp, dst)


def _download(entry: RegistryFile, dst: Path, progress: bool) -> None:
    import pooch  # imported lazily: only needed without a mirror

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=dst.name,
            path=dst.parent,
            progressbar=False,
        )
    except ValueError as exc:  # pooch reports a hash mismatch as ValueError
        raise ValueError(
            f"checksum mismatch downloading {entry.path} from {entry.url}: expected sha256 "
            f"{entry.sha256} ({exc}); the upstream file changed - use a mirror (mirror=PATH)"
        ) from exc
    except OSError as exc:  # requests' ConnectionError and timeouts derive from OSError
        raise FileNotFoundError(
            f"could not download {entry.path} from {entry.url} ({type(exc).__name__}); without network "
            f"access, point at a local mirror: `diffad data prepare --mirror PATH` or $DIFFAD_DATA_MIRROR"
        ) from exc


# --------------------------------------------------------------------------- marker


def _read_marker(folder: Path) -> dict[str, dict]:
    try:
        return json.loads((folder / _MARKER).read_text(encoding="utf-8"))["files"]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return {}


def _write_marker(folder: Path, files: dict[str, dict], mode: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"mode": mode, "files": files}
    (folder / _MARKER).write_text(json.dumps(payload, indent=0, sort_keys=True), encoding="utf-8")


def _is_current(path: Path, entry: RegistryFile, marker: dict[str, dict]) -> bool:
    """True if ``path`` holds ``entry``'s bytes: by marker stat when possible, else by hashing."""
    if not path.is_file():
        return False
    rec = marker.get(entry.path)
    if rec is not None and rec.get("sha256") == entry.sha256 and rec.get("stat") == _stat_key(path):
        return True
    return _sha256(path) == entry.sha256


# --------------------------------------------------------------------------- prepare


def _how_to_get(entry: RegistryFile) -> str:
    info = _INFO[entry.dataset]
    where = entry.url or info.source
    return f"run `diffad data prepare --mirror PATH` with a mirror holding it, or get it from {where}"


def _unpack_smap_msl(root: Path, marker: dict[str, dict], progress: bool) -> None:
    """Unpack ``smap_msl.tar.xz`` into ``<root>/smap_msl/`` unless every member is already there."""
    members = registry_files("smap_msl", roles=("member",))
    if all(_is_current(root / m.path, m, marker) for m in members):
        return
    archive = root / "smap_msl" / "smap_msl.tar.xz"
    dest = root / "smap_msl"
    with tarfile.open(archive, mode="r:xz") as tar:
        names = tar.getmembers()
        for member in tqdm(names, desc="unpack smap_msl", unit="file", disable=not progress):
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: refuse unsafe paths
                tar.extract(member, dest, filter="data")
            else:  # the archive's sha256 was checked above, so its member paths are known
                tar.extract(member, dest)
    for m in members:
        actual = _sha256(root / m.path)
        if actual != m.sha256:
            raise ValueError(
                f"checksum mismatch for {m.path} unpacked from {archive}: expected sha256 "
                f"{m.sha256}, got {actual}; delete {dest} and prepare again from an intact mirror"
            )


def _prepare_one(name: str, root: Path, mirror: Path | None, progress: bool) -> None:
    info = _INFO[name]
    folder = root / info.folder
    marker = _read_marker(folder)
    mode = "mirror" if mirror is not None else "download"
    wanted = ("both", "mirror") if mirror is not None else ("both", "member", "upstream")
    entries = registry_files(name, roles=wanted)
    if mirror is None:
        entries = [e for e in entries if e.url is not None]
    done: dict[str, dict] = {}
    for entry in tqdm(entries, desc=f"prepare {name}", unit="file", disable=not progress):
        dst = root / entry.path
        if not _is_current(dst, entry, marker):
            if mirror is not None:
                src = mirror / entry.path
                if not src.is_file():
                    raise FileNotFoundError(
                        f"{src} not found: the mirror {mirror} lacks {entry.path} of dataset {name!r}; "
                        + _how_to_get(entry)
                    )
                _copy_verified(src, dst, entry.sha256)
            else:
                _download(entry, dst, progress)
        done[entry.path] = {"sha256": entry.sha256, "stat": _stat_key(dst)}
    if name == "smap_msl" and mirror is not None:
        _unpack_smap_msl(root, marker, progress)
        for m in registry_files("smap_msl", roles=("member",)):
            done[m.path] = {"sha256": m.sha256, "stat": _stat_key(root / m.path)}
    if done != marker:
        _write_marker(folder, {**marker, **done}, mode)


def prepare(
    datasets: Sequence[str] | None = None,
    *,
    root: Path | str | None = None,
    mirror: Path | str | None = None,
    progress: bool = True,
) -> Path:
    """Put datasets under the data root, verified by sha256, ready for the loaders.

    With a mirror (``mirror=`` or ``$DIFFAD_DATA_MIRROR``), each file is copied from the
    mirror (same relative path) and hashed while copying; ``smap_msl.tar.xz`` is then unpacked
    to ``<root>/smap_msl/SMAP_MSL/`` and every unpacked file checked. SMD's ``.txt.xz`` files
    stay compressed (the loader reads them directly). Without a mirror, files are downloaded
    with ``pooch.retrieve(url, known_hash=...)`` from the pinned upstream URLs (see
    :data:`registry.tsv <diffad_lib.data.registry>`).

    A second call is cheap: files whose size and mtime match the marker
    ``<root>/<folder>/.diffad_prepared.json`` are not hashed again, and nothing is copied.

    Parameters
    ----------
    datasets : sequence of {"smap_msl", "smd", "nab", "ucr"}, optional
        Default: all four.
    root : path, optional
        Data root; default :func:`default_data_root`.
    mirror : path, optional
        Folder with the mirror layout (``nab/``, ``smap_msl/``, ``smd/``, ``ucr_anomaly/``).
        Default: ``$DIFFAD_DATA_MIRROR`` if set, else download.
    progress : bool, default True
        Show tqdm progress bars.

    Returns
    -------
    Path
        The data root.

    Raises
    ------
    ValueError
        Unknown dataset name, or a file whose sha256 differs from the registry (the message
        names the file and both digests).
    FileNotFoundError
        A file the registry lists is missing from the mirror (the message says how to get it).
    """
    if isinstance(datasets, str):
        datasets = [datasets]
    names = list(DATASETS) if datasets is None else [_check_dataset(d) for d in datasets]
    root_path = _resolve_root(root)
    if mirror is None and os.environ.get("DIFFAD_DATA_MIRROR"):
        mirror = os.environ["DIFFAD_DATA_MIRROR"]
    mirror_path = Path(mirror).expanduser() if mirror is not None else None
    if mirror_path is not None and not mirror_path.is_dir():
        raise FileNotFoundError(
            f"mirror folder {mirror_path} does not exist; pass mirror= the folder that holds "
            "nab/, smap_msl/, smd/ and ucr_anomaly/ (or unset DIFFAD_DATA_MIRROR to download)"
        )
    root_path.mkdir(parents=True, exist_ok=True)
    for name in names:
        _prepare_one(name, root_path, mirror_path, progress)
    return root_path

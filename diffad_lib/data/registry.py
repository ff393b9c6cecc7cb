"""Where the real datasets come from, what their bytes must hash to, and how they get on disk.

Every file the loaders read is listed in ``registry.tsv`` (next to this module) with its
path under the data root, its sha256, its size, a role and, where one is known to serve the
same bytes, an upstream URL. The data root uses the layout of the project's local mirror
(``shared/data``), so a mirror can be copied as is:

==================  ==========================================================================
dataset             folder under the root
==================  ==========================================================================
``nab``             ``nab/data/<group>/<name>.csv``, ``nab/labels/combined_*.json``
``smap_msl``        ``smap_msl/SMAP_MSL/{train,test}/<chan>.npy``, ``.../labeled_anomalies.csv``
``smd``             ``smd/ServerMachineDataset/{train,test}/machine-G-I.txt[.xz]``, ``test_label/``
``ucr``             ``ucr_anomaly/UCR_Anomaly_FullData/NNN_UCR_Anomaly_<series>_<trainEnd>_<b>_<e>.txt``
``magnetic_tiles``  ``magnetic_tile_subset/{train,test}/<kind>/<stem>.jpg``,
                    ``magnetic_tile_subset/ground_truth/<kind>/<stem>_mask.png``
``urbansound8k``    ``urbansound8k_subset/audio/<name>.wav`` + ``meta.csv`` (mirror), or
                    ``urbansound8k_subset/upstream/fold<k>/<name>.wav`` (official archive)
==================  ==========================================================================

Roles in the registry:

``both``
    in the mirror, and downloadable from ``url`` with identical bytes.
``mirror``
    only in the mirror: our own packing (``smap_msl.tar.xz``, the per-file ``.xz`` of SMD,
    UrbanSound8K's third-party 22,050 Hz clips) or bookkeeping files. No public URL serves
    these bytes.
``member``
    a file inside ``smap_msl.tar.xz``; checked after unpacking, and downloaded one by one
    (from the TranAD repository's copy of the telemanom data) when there is no mirror.
``upstream``
    an official file that the mirror holds in another form, downloaded only when there is no
    mirror: the uncompressed SMD ``train``/``test`` files (which also brings the 9 machines
    the mirror lacks) and the original UrbanSound8K clips of the 300 selected slices.

A URL of the form ``ARCHIVE#MEMBER`` names a file inside an archive (the magnetic-tile
repository's zip at a pinned commit, the official ``UrbanSound8K.tar.gz``): the archive is
downloaded once (streamed, with a progress bar) and only the listed members are taken out
of it, each checked against its sha256. A local copy of such an archive, or of its unpacked
folder, can be given instead (``prepare(..., archives={name: path})``).

Integrity
---------
* Loaders read only files listed here, through :func:`verified_files`, which checks size
  and sha256 before use. A file whose (path, size, mtime) match the marker that
  :func:`prepare` wrote, or an earlier check in this process, is not hashed again. (A change
  that keeps size and mtime is therefore not detected until the next ``prepare``.)
* :func:`prepare` removes a dataset's marker before it changes any file and writes it last,
  atomically, after every file was verified; copies, downloads and unpacked archives are
  first written under unique temporary names in the destination folder and renamed into
  place only after their checksum matched. A killed ``prepare`` leaves the dataset
  "not prepared", never a marker over truncated files.
* Concurrent ``prepare`` calls on one data root take a per-dataset lock file
  (``<root>/.<folder>.lock``, ``fcntl.flock`` where available); the second one finds the
  files current and only checks them.

The URLs are pinned to commits named in ``shared/data/MANIFEST.md``; every download is
checked against the sha256 recorded here, so a URL that stopped serving the same bytes
fails loudly instead of handing over different data. The URLs could not be exercised from
the machine this module was written on (no general network access there).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Literal

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
    "prepared_files",
    "registry_files",
    "verified_files",
]

Role = Literal["both", "mirror", "member", "upstream"]

_MARKER = ".diffad_prepared.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistryFile:
    """One file of a dataset as recorded in ``registry.tsv``."""

    dataset: str  # registry name, one of DATASETS
    path: str  # POSIX path relative to the data root (and to the mirror)
    sha256: str  # hex digest of the file's bytes
    role: Role  # see the module docstring
    url: str | None  # upstream URL serving these exact bytes (ARCHIVE#MEMBER inside an archive), or None
    size: int | None = None  # bytes, None where not known

    @property
    def archive(self) -> tuple[str, str] | None:
        """``(archive URL, member path below the archive's top folder)`` or None for a plain URL."""
        if self.url is None or "#" not in self.url:
            return None
        url, member = self.url.split("#", 1)
        return url, member


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one dataset."""

    name: str  # registry name
    folder: str  # folder under the data root
    source: str  # official home of the data
    license: str  # licence as stated upstream (see MANIFEST.md)
    note: str  # how the files relate to the official release
    download_warning: str = ""  # said before a large download starts


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
    "magnetic_tiles": DatasetInfo(
        name="magnetic_tiles",
        folder="magnetic_tile_subset",
        source="https://github.com/abin24/Magnetic-tile-defect-datasets. (commit cc4eb53)",
        license="none stated upstream; the README asks for citation of Huang, Qiu & Yuan (2020)",
        note=(
            "All 392 defective images with their masks and 300 of the 952 defect-free images, "
            "byte-identical to upstream, in the MVTec AD folder layout (masks renamed <stem>_mask.png). "
            "Without a mirror the repository's zip at commit cc4eb53 (about 120 MB) is downloaded "
            "and the listed images are taken out of it."
        ),
    ),
    "urbansound8k": DatasetInfo(
        name="urbansound8k",
        folder="urbansound8k_subset",
        source="https://urbansounddataset.weebly.com/urbansound8k.html (Zenodo record 1203745)",
        license="CC BY-NC 3.0 (UrbanSound8K_README.txt)",
        note=(
            "30 four-second slices per class. The mirror holds third-party 22,050 Hz mono copies "
            "(short slices loop-padded to 4 s; meta.csv gives the period). Without a mirror the "
            "official UrbanSound8K.tar.gz is downloaded and the same 300 slices are taken out of it "
            "in their original form (original rate, channels and length), checked against the "
            "official sha256 values."
        ),
        download_warning=(
            "UrbanSound8K.tar.gz is about 6 GB; the download can take a long time. To use a copy "
            "you already have, pass archives={'urbansound8k': PATH} (the .tar.gz or its unpacked "
            "folder), or prepare from a mirror."
        ),
    ),
}

DATASETS: tuple[str, ...] = tuple(_INFO)
# named explicitly, not prepared by default without a mirror: multi-GB official archives
_LARGE_DOWNLOADS: tuple[str, ...] = ("urbansound8k",)


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
        dataset, path, sha, role, url, size = line.split("\t")
        rows.append(RegistryFile(dataset, path, sha, role, url or None, int(size) if size else None))  # type: ignore[arg-type]
    return tuple(rows)


@lru_cache(maxsize=1)
def _by_path() -> dict[str, RegistryFile]:
    return {f.path: f for f in _registry()}


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
    name : str
        One of :data:`DATASETS`.
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
            f"`diffad data prepare {name} --mirror PATH`, or get it from {info.source}"
        )
    return folder


# --------------------------------------------------------------------------- hashing


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


# (absolute path, size, mtime_ns) -> sha256 of files checked in this process
_VERIFIED: dict[tuple[str, int, int], str] = {}


def _fix_hint(entry: RegistryFile) -> str:
    return (
        f"run `diffad data prepare {entry.dataset} --mirror PATH` (or diffad_lib.data.prepare"
        f"([{entry.dataset!r}], ...)) to restore it from a mirror or the upstream source"
    )


def _verify(path: Path, entry: RegistryFile, marker: Mapping[str, dict]) -> None:
    """Raise unless ``path`` holds ``entry``'s bytes; cached by (path, size, mtime)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (registry file {entry.path}); {_fix_hint(entry)}")
    size, mtime = _stat_key(path)
    if entry.size is not None and size != entry.size:
        raise ValueError(
            f"{path} has {size} bytes, the registry expects {entry.size} (file {entry.path} is corrupt or "
            f"truncated); {_fix_hint(entry)}"
        )
    key = (str(path.resolve()), size, mtime)
    if _VERIFIED.get(key) == entry.sha256:
        return
    rec = marker.get(entry.path)
    if not (rec is not None and rec.get("sha256") == entry.sha256 and rec.get("stat") == [size, mtime]):
        actual = _sha256(path)
        if actual != entry.sha256:
            raise ValueError(
                f"checksum mismatch for {path}: expected sha256 {entry.sha256}, got {actual} (file "
                f"{entry.path} is corrupt or was changed); {_fix_hint(entry)}"
            )
    _VERIFIED[key] = entry.sha256


def prepared_files(name: str, *, root: Path | str | None = None) -> list[RegistryFile]:
    """Registry files of dataset ``name`` that :func:`prepare` put under ``root`` (not yet verified)."""
    folder = dataset_path(name, root=root)
    marker = _read_marker(folder)
    return [f for f in registry_files(name) if f.path in marker]


def verified_files(
    name: str,
    paths: Sequence[str],
    *,
    root: Path | str | None = None,
) -> dict[str, Path]:
    """Absolute paths of registry files of dataset ``name``, each checked before it is returned.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    paths : sequence of str
        Registry paths (relative to the data root, as in ``registry.tsv``).
    root : path, optional
        Data root; default :func:`default_data_root`.

    Returns
    -------
    dict
        ``{registry path: absolute Path}`` in the order of ``paths``.

    Raises
    ------
    ValueError
        A path that is not a registry file of ``name``; a file whose size or sha256 differs
        (the message names the file, both values and how to restore it).
    FileNotFoundError
        The dataset is not prepared, or a listed file is missing (named, with the fix).
    """
    folder = dataset_path(name, root=root)
    root_path = folder.parent
    marker = _read_marker(folder)
    table = _by_path()
    out: dict[str, Path] = {}
    for rel in paths:
        entry = table.get(rel)
        if entry is None or entry.dataset != name:
            raise ValueError(f"paths must be registry files of dataset {name!r}; got {rel!r}")
        target = root_path / rel
        _verify(target, entry, marker)
        out[rel] = target
    return out


# --------------------------------------------------------------------------- atomic writes and locks


def _temp_name(dst: Path) -> Path:
    """A unique, not yet existing temporary name next to ``dst`` (same file system)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def _lock(root: Path, folder: str) -> Iterator[None]:
    """Exclusive per-dataset lock under ``root``; other prepares of the dataset wait for it."""
    lock_path = root / f".{folder}.lock"
    with open(lock_path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): unique temporary names still keep writers apart
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _copy_verified(src: Path, dst: Path, expected: str) -> None:
    """Copy ``src`` to ``dst`` hashing on the way; nothing is left at ``dst`` on a mismatch."""
    tmp = _temp_name(dst)
    h = hashlib.sha256()
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                h.update(chunk)
                fout.write(chunk)
        actual = h.hexdigest()
        if actual != expected:
            raise ValueError(
                f"checksum mismatch for {src}: expected sha256 {expected}, got {actual}; "
                "the mirror copy is corrupt or a different version - re-fetch it from the official "
                "source or point mirror= at an intact copy"
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _download(entry: RegistryFile, dst: Path, progress: bool) -> None:
    import pooch  # imported lazily: only needed without a mirror

    tmp = _temp_name(dst)
    try:
        pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=tmp.name,
            path=dst.parent,
            progressbar=False,
        )
        os.replace(tmp, dst)
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
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- archives


def _open_url(url: str) -> IO[bytes]:
    """Open ``url`` for streaming (http(s) or file://)."""
    return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - pinned URLs from the registry


def _fetch_archive(url: str, dst: Path, progress: bool) -> None:
    """Stream ``url`` to ``dst`` with a progress bar; ``dst`` appears only when complete."""
    tmp = _temp_name(dst)
    try:
        with _open_url(url) as resp, open(tmp, "wb") as out:
            total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                       desc=f"download {dst.name}", disable=not progress)
            with bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        os.replace(tmp, dst)
    except OSError as exc:
        raise FileNotFoundError(
            f"could not download {url} ({type(exc).__name__}: {exc}); download it yourself and pass "
            f"archives={{NAME: PATH}}, or use a mirror (`diffad data prepare --mirror PATH`)"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _strip_top(name: str) -> str:
    """Archive member name without its top-level folder (``repo-<commit>/a/b`` -> ``a/b``)."""
    parts = name.replace("\\", "/").lstrip("./").split("/", 1)
    return parts[1] if len(parts) == 2 else ""


def _iter_archive(source: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield ``(member path below the top folder, readable stream)`` for wanted members."""
    if source.is_dir():  # an unpacked copy: members relative to it, with or without the top folder
        for member in sorted(wanted):
            for cand in (source / member, *(d / member for d in sorted(source.iterdir()) if d.is_dir())):
                if cand.is_file():
                    with open(cand, "rb") as fh:
                        yield member, fh
                    break
        return
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                member = _strip_top(info.filename)
                if member in wanted and not info.is_dir():
                    with zf.open(info) as fh:
                        yield member, fh
        return
    with tarfile.open(source, mode="r|*") as tar:  # streaming: one pass over a multi-GB .tar.gz
        for info in tar:
            member = _strip_top(info.name)
            if member in wanted and info.isfile():
                fh = tar.extractfile(info)
                if fh is not None:
                    yield member, fh


def _extract_verified(source: Path, entries: Sequence[RegistryFile], root: Path, progress: bool) -> None:
    """Take ``entries`` out of an archive (or unpacked folder) atomically.

    Every member is written into a fresh temporary folder next to its destination dataset
    folder and hashed on the way; only when all are present and match are they renamed into
    place, so an interrupted or failed extraction leaves no partial file at a registry path.
    """
    by_member = {e.archive[1]: e for e in entries if e.archive is not None}
    folder = root / entries[0].path.split("/", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    try:
        seen: dict[str, Path] = {}
        bar = tqdm(total=len(by_member), desc=f"unpack {source.name}", unit="file", disable=not progress)
        with bar:
            for member, stream in _iter_archive(source, set(by_member)):
                entry = by_member[member]
                tmp = staging / f"{len(seen):06d}"
                h = hashlib.sha256()
                with open(tmp, "wb") as out:
                    while chunk := stream.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != entry.sha256:
                    raise ValueError(
                        f"checksum mismatch for {member} in {source} (registry file {entry.path}): expected "
                        f"sha256 {entry.sha256}, got {h.hexdigest()}; the archive is a different version or "
                        "corrupt - download it again or use a mirror"
                    )
                seen[member] = tmp
                bar.update(1)
        missing = sorted(set(by_member) - set(seen))
        if missing:
            raise FileNotFoundError(
                f"{source} lacks {len(missing)} listed files, e.g. {missing[0]} (registry file "
                f"{by_member[missing[0]].path}); pass the complete official archive or use a mirror"
            )
        for member, tmp in seen.items():
            dst = root / by_member[member].path
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- marker


def _read_marker(folder: Path) -> dict[str, dict]:
    try:
        return json.loads((folder / _MARKER).read_text(encoding="utf-8"))["files"]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return {}


def _write_marker(folder: Path, files: dict[str, dict], mode: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"mode": mode, "files": files}
    dst = folder / _MARKER
    tmp = _temp_name(dst)
    try:
        tmp.write_text(json.dumps(payload, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _is_current(path: Path, entry: RegistryFile, marker: dict[str, dict]) -> bool:
    """True if ``path`` holds ``entry``'s bytes: by marker stat when possible, else by hashing."""
    try:
        _verify(path, entry, marker)
    except (FileNotFoundError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- prepare


def _how_to_get(entry: RegistryFile) -> str:
    info = _INFO[entry.dataset]
    where = (entry.archive[0] if entry.archive else entry.url) or info.source
    return f"run `diffad data prepare --mirror PATH` with a mirror holding it, or get it from {where}"


def _unpack_smap_msl(root: Path, marker: dict[str, dict], progress: bool) -> None:
    """Unpack ``smap_msl.tar.xz`` atomically unless every member is already there and intact."""
    members = registry_files("smap_msl", roles=("member",))
    if all(_is_current(root / m.path, m, marker) for m in members):
        return
    archive = root / "smap_msl" / "smap_msl.tar.xz"
    dest = root / "smap_msl"
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        with tarfile.open(archive, mode="r:xz") as tar:
            names = tar.getmembers()
            for member in tqdm(names, desc="unpack smap_msl", unit="file", disable=not progress):
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: refuse unsafe paths
                    tar.extract(member, staging, filter="data")
                else:  # the archive's sha256 was checked above, so its member paths are known
                    tar.extract(member, staging)
        for m in members:
            rel = m.path.split("/", 1)[1]
            actual = _sha256(staging / rel)
            if actual != m.sha256:
                raise ValueError(
                    f"checksum mismatch for {m.path} unpacked from {archive}: expected sha256 "
                    f"{m.sha256}, got {actual}; delete {dest} and prepare again from an intact mirror"
                )
        for m in members:
            dst = root / m.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / m.path.split("/", 1)[1], dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prepare_one(
    name: str, root: Path, mirror: Path | None, archive: Path | None, progress: bool
) -> None:
    info = _INFO[name]
    folder = root / info.folder
    marker = _read_marker(folder)
    mode = "mirror" if mirror is not None else "download"
    wanted = ("both", "mirror") if mirror is not None else ("both", "member", "upstream")
    entries = registry_files(name, roles=wanted)
    if mirror is None:
        entries = [e for e in entries if e.url is not None]
    stale = [e for e in tqdm(entries, desc=f"check {name}", unit="file", disable=not progress)
             if not _is_current(root / e.path, e, marker)]
    unpack = name == "smap_msl" and mirror is not None
    if unpack and not stale:
        stale = [m for m in registry_files("smap_msl", roles=("member",)) if not _is_current(root / m.path, m, marker)]
    if stale:
        # a prepare that will change files first voids the marker, so a kill leaves "not prepared"
        (folder / _MARKER).unlink(missing_ok=True)
    if mirror is not None:
        for entry in tqdm(stale, desc=f"copy {name}", unit="file", disable=not progress):
            src = mirror / entry.path
            if not src.is_file():
                raise FileNotFoundError(
                    f"{src} not found: the mirror {mirror} lacks {entry.path} of dataset {name!r}; "
                    + _how_to_get(entry)
                )
            _copy_verified(src, root / entry.path, entry.sha256)
    else:
        plain = [e for e in stale if e.archive is None]
        for entry in tqdm(plain, desc=f"download {name}", unit="file", disable=not progress):
            _download(entry, root / entry.path, progress)
        by_archive: dict[str, list[RegistryFile]] = {}
        for e in stale:
            if e.archive is not None:
                by_archive.setdefault(e.archive[0], []).append(e)
        for url, members in by_archive.items():
            if archive is not None:
                source, temporary = archive, False
            else:
                if info.download_warning:
                    warnings.warn(info.download_warning, UserWarning, stacklevel=3)
                source = root / ".downloads" / url.rsplit("/", 1)[-1]
                source.parent.mkdir(parents=True, exist_ok=True)
                _fetch_archive(url, source, progress)
                temporary = True
            try:
                _extract_verified(source, members, root, progress)
            finally:
                if temporary:  # the members are out; a multi-GB archive is not kept
                    source.unlink(missing_ok=True)
    if unpack:
        _unpack_smap_msl(root, marker, progress)
        entries = entries + registry_files("smap_msl", roles=("member",))
    done = {e.path: {"sha256": e.sha256, "stat": _stat_key(root / e.path)} for e in entries}
    if stale or any(marker.get(k) != v for k, v in done.items()) or not (folder / _MARKER).is_file():
        _write_marker(folder, {**marker, **done}, mode)


def prepare(
    datasets: Sequence[str] | None = None,
    *,
    root: Path | str | None = None,
    mirror: Path | str | None = None,
    archives: Mapping[str, Path | str] | None = None,
    progress: bool = True,
) -> Path:
    """Put datasets under the data root, verified by sha256, ready for the loaders.

    With a mirror (``mirror=`` or ``$DIFFAD_DATA_MIRROR``), each file is copied from the
    mirror (same relative path) and hashed while copying; ``smap_msl.tar.xz`` is then unpacked
    to ``<root>/smap_msl/SMAP_MSL/`` and every unpacked file checked. SMD's ``.txt.xz`` files
    stay compressed (the loader reads them directly). Without a mirror, single files are
    downloaded with ``pooch.retrieve(url, known_hash=...)`` from the pinned upstream URLs,
    and files inside an upstream archive (magnetic tiles: the repository zip; UrbanSound8K:
    the official ``UrbanSound8K.tar.gz``, about 6 GB) are taken out of one streamed download
    of that archive, or of a local copy given in ``archives``.

    Everything lands under a temporary name and is renamed into place after its checksum
    matched; the marker ``<root>/<folder>/.diffad_prepared.json`` is removed before any file
    changes and written last. A per-dataset lock makes concurrent calls safe. A second call
    is cheap: files whose size and mtime match the marker are not hashed again.

    Parameters
    ----------
    datasets : sequence of str, optional
        Names from :data:`DATASETS`. Default: all of them with a mirror or ``archives``;
        without either, all but ``urbansound8k`` (a 6 GB download is only made when named).
    root : path, optional
        Data root; default :func:`default_data_root`.
    mirror : path, optional
        Folder with the mirror layout (``nab/``, ``smap_msl/``, ``smd/``, ``ucr_anomaly/``,
        ``magnetic_tile_subset/``, ``urbansound8k_subset/``). Default: ``$DIFFAD_DATA_MIRROR``
        if set, else download.
    archives : mapping of str to path, optional
        ``{dataset: local copy of its upstream archive}``, a ``.zip``/``.tar.gz`` file or its
        unpacked folder, used instead of downloading it (only without a mirror).
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
        A file the registry lists is missing from the mirror or the archive (the message says
        how to get it), or a download failed.
    """
    if isinstance(datasets, str):
        datasets = [datasets]
    archive_paths = {_check_dataset(k): Path(v).expanduser() for k, v in (archives or {}).items()}
    for key, path in archive_paths.items():
        if not path.exists():
            raise FileNotFoundError(f"archives[{key!r}] must be an existing file or folder; got {path}")
    root_path = _resolve_root(root)
    if mirror is None and os.environ.get("DIFFAD_DATA_MIRROR") and not archive_paths:
        mirror = os.environ["DIFFAD_DATA_MIRROR"]
    mirror_path = Path(mirror).expanduser() if mirror is not None else None
    if datasets is None:
        names = [d for d in DATASETS
                 if mirror_path is not None or d in archive_paths or d not in _LARGE_DOWNLOADS]
    else:
        names = [_check_dataset(d) for d in datasets]
    if mirror_path is not None and not mirror_path.is_dir():
        raise FileNotFoundError(
            f"mirror folder {mirror_path} does not exist; pass mirror= the folder that holds "
            "nab/, smap_msl/, smd/ and ucr_anomaly/ (or unset DIFFAD_DATA_MIRROR to download)"
        )
    if root_path.exists() and not root_path.is_dir():
        raise NotADirectoryError(f"root must be a folder; got {root_path}, which is a file")
    root_path.mkdir(parents=True, exist_ok=True)
    for name in names:
        with _lock(root_path, _INFO[name].folder):
            _prepare_one(name, root_path, mirror_path, archive_paths.get(name), progress)
    return root_path

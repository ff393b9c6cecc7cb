"""Registry and prepare(): checksums against the mirror's SHA256SUMS, copy, unpack, errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from diffad_lib.data import registry as reg

MIRROR = Path(os.environ.get("DIFFAD_DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "SHA256SUMS").is_file(), reason=f"local data mirror not found at {MIRROR}"
)


def _sums(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        sha, name = line.split(None, 1)
        out[name.lstrip("*")] = sha
    return out


def test_registry_rows_are_well_formed():
    files = [f for d in reg.DATASETS for f in reg.registry_files(d)]
    assert len({f.path for f in files}) == len(files)  # no duplicate paths
    for f in files:
        assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0
        assert f.role in ("both", "mirror", "member", "upstream")
        assert (f.url is not None) == (f.role != "mirror")
        if f.url:
            assert f.url.startswith("https://")
    # upstream SMD train/test of all 28 machines; 165 files inside the SMAP/MSL archive
    assert len(reg.registry_files("smd", roles=("upstream",))) == 56
    assert len(reg.registry_files("smap_msl", roles=("member",))) == 165
    # every tile image and mask comes out of the upstream zip; the 300 official clips out of UrbanSound8K.tar.gz
    tiles = reg.registry_files("magnetic_tiles", roles=("both",))
    assert len(tiles) == 692 + 392 and all(f.archive is not None for f in tiles)
    clips = reg.registry_files("urbansound8k", roles=("upstream",))
    assert len(clips) == 300 and {f.archive[0] for f in clips} == {
        "https://zenodo.org/records/1203745/files/UrbanSound8K.tar.gz"
    }


@needs_mirror
def test_registry_matches_mirror_checksum_files():
    mirror_rows = {f.path: f.sha256 for d in reg.DATASETS for f in reg.registry_files(d, roles=("both", "mirror"))}
    assert mirror_rows == _sums(MIRROR / "SHA256SUMS")  # all 1,586 files, same digests
    sizes = {f.path: f.size for d in reg.DATASETS for f in reg.registry_files(d, roles=("both", "mirror"))}
    assert all(sizes[p] == (MIRROR / p).stat().st_size for p in sizes)
    members = {f.path: f.sha256 for f in reg.registry_files("smap_msl", roles=("member",))}
    inner = _sums(MIRROR / "smap_msl" / "smap_msl.tar.xz.contents.sha256")
    assert members == {f"smap_msl/{k}": v for k, v in inner.items()}
    upstream = {f.path: f.sha256 for f in reg.registry_files("smd", roles=("upstream",))}
    official = _sums(MIRROR / "smd" / "UPSTREAM_SHA256SUMS")
    assert upstream == {f"smd/{k}": v for k, v in official.items() if "/train/" in k or "/test/" in k}


def test_default_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFAD_DATA_ROOT", str(tmp_path / "x"))
    assert reg.default_data_root() == tmp_path / "x"
    monkeypatch.delenv("DIFFAD_DATA_ROOT")
    assert reg.default_data_root() == Path.home() / ".cache" / "diffad" / "data"


def test_unknown_dataset_lists_valid_ones(tmp_path):
    names = r"\['smap_msl', 'smd', 'nab', 'ucr', 'magnetic_tiles', 'urbansound8k'\]"
    with pytest.raises(ValueError, match=rf"dataset must be one of {names}; got 'kdd'"):
        reg.prepare(["kdd"], root=tmp_path, mirror=tmp_path, progress=False)
    with pytest.raises(ValueError, match="got 'SMAP'"):
        reg.dataset_path("SMAP", root=tmp_path)


def test_dataset_path_not_prepared(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'nab' is not prepared .*diffad data prepare nab --mirror PATH"):
        reg.dataset_path("nab", root=tmp_path)


def test_missing_mirror_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="mirror folder .*nope does not exist"):
        reg.prepare(["nab"], root=tmp_path / "root", mirror=tmp_path / "nope", progress=False)


@needs_mirror
def test_prepare_smap_msl_unpacks_verifies_and_is_idempotent(tmp_path):
    root = tmp_path / "root"
    t0 = time.perf_counter()
    assert reg.prepare(["smap_msl"], root=root, mirror=MIRROR, progress=False) == root
    first = time.perf_counter() - t0
    base = root / "smap_msl" / "SMAP_MSL"
    assert len(list((base / "train").glob("*.npy"))) == 82
    assert len(list((base / "test").glob("*.npy"))) == 82
    a1 = base / "test" / "A-1.npy"
    assert hashlib.sha256(a1.read_bytes()).hexdigest() == (
        "7509b72cd170003c3135e12d1f4c67b263dc5be58aabedf12ed14e7561fe6dc2"
    )
    assert reg.dataset_path("smap_msl", root=root) == root / "smap_msl"
    marker = root / "smap_msl" / ".diffad_prepared.json"
    stamp = (marker.stat().st_mtime_ns, a1.stat().st_mtime_ns)
    t0 = time.perf_counter()
    reg.prepare(["smap_msl"], root=root, mirror=MIRROR, progress=False)
    second = time.perf_counter() - t0
    assert (marker.stat().st_mtime_ns, a1.stat().st_mtime_ns) == stamp  # nothing rewritten
    assert second < max(0.5, first / 5)  # stat-only check, no re-hashing of 173 MB


def _nab_mirror_copy(tmp_path: Path) -> Path:
    fake = tmp_path / "mirror"
    shutil.copytree(MIRROR / "nab", fake / "nab")
    return fake


@needs_mirror
def test_corrupt_mirror_file_raises_with_name_and_digests(tmp_path):
    fake = _nab_mirror_copy(tmp_path)
    victim = fake / "nab" / "labels" / "combined_windows_tiny.json"
    data = bytearray(victim.read_bytes())
    data[10] ^= 0x01
    victim.write_bytes(bytes(data))
    expected = {f.path: f.sha256 for f in reg.registry_files("nab")}["nab/labels/combined_windows_tiny.json"]
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ValueError) as info:
        reg.prepare(["nab"], root=tmp_path / "root", mirror=fake, progress=False)
    msg = str(info.value)
    assert "combined_windows_tiny.json" in msg and expected in msg and actual in msg
    assert not (tmp_path / "root" / "nab" / "labels" / "combined_windows_tiny.json").exists()
    with pytest.raises(FileNotFoundError):  # a failed prepare leaves the dataset unprepared
        reg.dataset_path("nab", root=tmp_path / "root")


@needs_mirror
def test_missing_mirror_file_raises_with_name_and_hint(tmp_path):
    fake = _nab_mirror_copy(tmp_path)
    (fake / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"nyc_taxi\.csv.*diffad data prepare --mirror PATH.*numenta/NAB"):
        reg.prepare(["nab"], root=tmp_path / "root", mirror=fake, progress=False)


@needs_mirror
def test_damaged_prepared_file_is_restored(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("DIFFAD_DATA_MIRROR", str(MIRROR))  # mirror taken from the environment
    reg.prepare(["ucr"], root=root, progress=False)
    target = root / "ucr_anomaly" / "INDEX.tsv"
    good = target.read_bytes()
    target.write_bytes(good[:-1] + b"x")
    os.utime(target, ns=(1, 1))  # a different mtime voids the marker, so the file is re-hashed
    reg.prepare(["ucr"], root=root, progress=False)
    assert target.read_bytes() == good


@needs_mirror
def test_download_path_uses_pooch_with_known_hash(tmp_path, monkeypatch):
    """Without a mirror, files come from pooch.retrieve(url, known_hash=...); served here from the mirror."""
    import pooch

    by_url = {f.url: f for f in reg.registry_files("ucr") if f.url}
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        entry = by_url[url]
        assert known_hash == f"sha256:{entry.sha256}"
        calls.append(url)
        dst = Path(path) / fname
        shutil.copyfile(MIRROR / entry.path, dst)
        return str(dst)

    monkeypatch.delenv("DIFFAD_DATA_MIRROR", raising=False)
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    root = tmp_path / "root"
    reg.prepare(["ucr"], root=root, progress=False)
    assert len(calls) == 20  # the 20 series; INDEX.tsv is mirror-only
    assert all("Karenou/KDDCup2021" in u for u in calls)
    from diffad_lib.data import load_ucr

    assert load_ucr(1, root=root).train_end == 35000
    reg.prepare(["ucr"], root=root, progress=False)
    assert len(calls) == 20  # second call downloads nothing


def test_download_failure_names_the_file_and_the_mirror_option(tmp_path, monkeypatch):
    import pooch
    import requests

    def offline(url, **kwargs):
        raise requests.exceptions.ConnectionError("name resolution failed")

    monkeypatch.delenv("DIFFAD_DATA_MIRROR", raising=False)
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(FileNotFoundError, match=r"could not download ucr_anomaly/.*--mirror PATH"):
        reg.prepare(["ucr"], root=tmp_path, progress=False)

"""Real-data loaders: MVTec layout, magnetic tiles and UrbanSound8K through the verified registry."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffad_lib.data import registry as reg
from diffad_lib.data.audio import one_class_split, urbansound8k
from diffad_lib.data.images import TILE_KINDS, magnetic_tiles, mvtec_ad

MIRROR = Path(os.environ.get("DIFFAD_DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "magnetic_tile_subset").is_dir(), reason=f"local data mirror not found at {MIRROR}"
)
TILES = "magnetic_tile_subset"
SOUND = "urbansound8k_subset"


# --------------------------------------------------------------------------------------------
# MVTec AD layout on a written tree
# --------------------------------------------------------------------------------------------


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)


def _mvtec_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    base = root / "widget"
    for i in range(3):
        _png(base / "train" / "good" / f"{i:03d}.png", rng.integers(0, 256, (12, 16, 3)))
    _png(base / "test" / "good" / "000.png", rng.integers(0, 256, (12, 16, 3)))
    for kind in ("dent", "scratch"):
        for i in range(2):
            _png(base / "test" / kind / f"{i:03d}.png", rng.integers(0, 256, (12, 16, 3)))
            mask = np.zeros((12, 16))
            mask[2:6, 4:12] = 255
            mask[2, 4] = 100  # a soft edge value: below the > 127 threshold
            _png(base / "ground_truth" / kind / f"{i:03d}_mask.png", mask)


def test_mvtec_ad_reads_layout_resizes_and_counts(tmp_path: Path) -> None:
    _mvtec_tree(tmp_path)
    data = mvtec_ad(tmp_path, "widget", size=(6, 8))
    assert data.train.shape == (3, 3, 6, 8) and data.test.shape == (5, 3, 6, 8)
    assert data.counts() == {"train/good": 3, "test/dent": 2, "test/good": 1, "test/scratch": 2}
    assert data.labels.tolist() == [1, 1, 0, 1, 1] and data.defect_types[2] == "good"
    assert data.masks.dtype == bool and not data.masks[2].any()
    # nearest-neighbour halving of the 4 x 8 block (rows 2-5, cols 4-11) keeps exactly 2 x 4 pixels
    assert data.masks[0].sum() == 8 and data.masks[0][1:3, 2:6].all()
    assert data.mask_known.all() and data.category == "widget"
    full = mvtec_ad(tmp_path, "widget", size=None, color="gray")
    assert full.test.shape == (5, 1, 12, 16) and full.masks[0].sum() == 4 * 8 - 1  # 100 is not > 127
    with pytest.raises(ValueError, match=r"size must be .*got \(6, 0\)"):
        mvtec_ad(tmp_path, "widget", size=(6, 0))
    (tmp_path / "widget" / "ground_truth" / "dent" / "001_mask.png").unlink()
    with pytest.raises(ValueError, match=r"missing ground-truth mask .*001_mask\.png"):
        mvtec_ad(tmp_path, "widget", size=8)


# --------------------------------------------------------------------------------------------
# Mirror-backed loaders
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    if not (MIRROR / TILES).is_dir():
        pytest.skip(f"local data mirror not found at {MIRROR}")
    root = tmp_path_factory.mktemp("root")
    reg.prepare(["magnetic_tiles", "urbansound8k"], root=root, mirror=MIRROR, progress=False)
    return root


def _copy_root(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)  # copy2 keeps mtimes, so the copied marker still matches
    return dst


@needs_mirror
def test_magnetic_tiles_counts_masks_and_empty_uneven_masks(prepared: Path) -> None:
    data = magnetic_tiles(root=prepared, size=32)
    assert data.counts() == {"train/good": 200, "test/good": 100, "test/blowhole": 115, "test/break": 85,
                             "test/crack": 57, "test/fray": 32, "test/uneven": 103}
    assert data.train.shape == (200, 1, 32, 32) and data.test.shape == (492, 1, 32, 32)
    assert data.train.min() >= -1 and data.train.max() <= 1
    assert data.labels.sum() == 392
    empty = sorted(Path(f).stem for f, k in zip(data.test_files, data.mask_known, strict=True) if not k)
    assert empty == ["exp3_num_45042", "exp4_num_124690", "exp4_num_352527", "exp4_num_45057"]
    defective = data.labels == 1
    assert not data.masks[~defective].any()
    marked = data.masks.reshape(len(data.masks), -1).any(axis=1)
    # nearest-neighbour downsampling to 32 x 32 loses a few thin defects entirely (about 9 %)
    assert 0.8 < marked[defective & data.mask_known].mean() < 1.0
    small = magnetic_tiles(root=prepared, size=(24, 16), kinds=("crack",), max_per_kind=4)
    assert small.counts() == {"train/good": 4, "test/good": 4, "test/crack": 4}
    with pytest.raises(ValueError, match=r"kinds must be .*got \('rust',\)"):
        magnetic_tiles(root=prepared, kinds=("rust",))


@needs_mirror
def test_loaders_read_only_registry_files(prepared: Path, tmp_path: Path) -> None:
    root = _copy_root(prepared, tmp_path / "root")
    shutil.copyfile(root / TILES / "test/good" / sorted(os.listdir(root / TILES / "test/good"))[0],
                    root / TILES / "test/blowhole/intruder.jpg")
    shutil.copyfile(root / SOUND / "audio" / sorted(os.listdir(root / SOUND / "audio"))[0],
                    root / SOUND / "audio/999-3-0-0.wav")
    tiles = magnetic_tiles(root=root, size=8, kinds=("blowhole",))
    assert tiles.counts()["test/blowhole"] == 115
    assert not any("intruder" in f for f in tiles.test_files)
    sound = urbansound8k(root=root)
    assert len(sound.signals) == 300 and not any("999-3-0-0" in f for f in sound.files)


@needs_mirror
def test_corrupt_or_missing_file_is_refused_with_its_name(prepared: Path, tmp_path: Path) -> None:
    root = _copy_root(prepared, tmp_path / "root")
    victim = root / TILES / "ground_truth/crack" / sorted(os.listdir(root / TILES / "ground_truth/crack"))[0]
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0xFF  # same size, different bytes
    victim.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"checksum mismatch for .*{victim.name}.*diffad data prepare magnetic_tiles"):
        magnetic_tiles(root=root, size=8)
    victim.write_bytes(bytes(data[:-1]))  # truncated: caught by size before hashing
    with pytest.raises(ValueError, match=rf"{victim.name} has {len(data) - 1} bytes, the registry expects {len(data)}"):
        magnetic_tiles(root=root, size=8)
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{victim.name} is missing .*diffad data prepare magnetic_tiles"):
        magnetic_tiles(root=root, size=8)
    clip = root / SOUND / "audio" / sorted(os.listdir(root / SOUND / "audio"))[3]
    clip.write_bytes(clip.read_bytes()[:-2] + b"\0\1")
    with pytest.raises(ValueError, match=rf"checksum mismatch for .*{clip.name}"):
        urbansound8k(root=root)
    reg.prepare(["magnetic_tiles", "urbansound8k"], root=root, mirror=MIRROR, progress=False)  # the fix works
    assert magnetic_tiles(root=root, size=8, max_per_kind=2).counts()["test/crack"] == 2
    assert len(urbansound8k(root=root).signals) == 300


@needs_mirror
def test_verification_is_cached_by_size_and_mtime(prepared: Path, tmp_path: Path, monkeypatch) -> None:
    root = _copy_root(prepared, tmp_path / "root")
    calls = []
    real = reg._sha256
    monkeypatch.setattr(reg, "_sha256", lambda p: calls.append(p) or real(p))
    magnetic_tiles(root=root, size=8, max_per_kind=2)
    assert calls == []  # the marker written by prepare vouches for unchanged files
    target = root / TILES / "train/good" / sorted(os.listdir(root / TILES / "train/good"))[0]
    os.utime(target, ns=(1, 1))
    magnetic_tiles(root=root, size=8, max_per_kind=2)
    assert calls == [target]  # only the touched file is hashed again ...
    magnetic_tiles(root=root, size=8, max_per_kind=2)
    assert calls == [target]  # ... and once


@needs_mirror
def test_urbansound8k_loop_padding_and_metadata(prepared: Path) -> None:
    with open(MIRROR / SOUND / "meta.csv", newline="") as fh:
        meta = {r["slice_file_name"]: r for r in csv.DictReader(fh)}
    data = urbansound8k(root=prepared)
    assert data.sr == 22_050 and len(data.signals) == 300
    assert np.bincount(data.labels).tolist() == [30] * 10
    assert int(data.loop_padded.sum()) == 29 and set(np.array(data.categories)[data.loop_padded]) == {"gun_shot"}
    for f, x, padded, fs_id, fold in zip(data.files, data.signals, data.loop_padded, data.fs_ids, data.folds,
                                         strict=True):
        row = meta[Path(f).name]
        assert (row["loop_padded"] == "1") == padded and int(row["fsID"]) == fs_id and int(row["fold"]) == fold
        assert x.size == (int(row["loop_period_samples"]) if padded else 88_200)
    kept = urbansound8k(root=prepared, loop_padded="keep", classes=("gun_shot",))
    assert {x.size for x in kept.signals} == {88_200} and len(kept.signals) == 30
    trimmed = data.signals[data.categories.index("gun_shot")]
    np.testing.assert_array_equal(trimmed, kept.signals[0][: trimmed.size])
    excluded = urbansound8k(root=prepared, loop_padded="exclude")
    assert len(excluded.signals) == 271 and excluded.categories.count("gun_shot") == 1
    with pytest.raises(ValueError, match="loop_padded must be one of"):
        urbansound8k(root=prepared, loop_padded="pad")  # type: ignore[arg-type]


@needs_mirror
@pytest.mark.parametrize("normal", ["car_horn", "dog_bark", 7])
def test_one_class_split_keeps_recordings_on_one_side(prepared: Path, normal) -> None:
    data = urbansound8k(root=prepared, classes=("car_horn", "dog_bark", "jackhammer", "siren"))
    split = one_class_split(data, normal=normal, test_fraction=0.3, seed=1)
    train_recs, test_recs = set(data.fs_ids[split.train]), set(data.fs_ids[split.test])
    assert train_recs and not train_recs & test_recs
    assert (data.labels[split.train] == split.normal).all()
    held_normal = (split.labels == 0).sum()
    n_normal = (data.labels == split.normal).sum()
    assert held_normal >= 1 and held_normal + split.train.size == n_normal
    others = np.flatnonzero(data.labels != split.normal)
    assert set(split.test[split.labels == 1]) == {i for i in others if data.fs_ids[i] not in train_recs}
    assert (split.labels == (data.labels[split.test] != split.normal)).all()
    with pytest.raises(ValueError, match="normal must be a class"):
        one_class_split(data, normal="gun_shot")


@needs_mirror
def test_excluding_loop_padded_clips_leaves_gun_shot_unusable_as_normal(prepared: Path) -> None:
    # the chapter's audio protocol: loop-padded clips dropped, each remaining class normal in turn
    data = urbansound8k(root=prepared, sr=2000, loop_padded="exclude")
    assert not data.loop_padded.any() and {x.size for x in data.signals} == {8000}
    with pytest.raises(ValueError, match=r"'gun_shot' has 1 recording"):
        one_class_split(data, normal="gun_shot")
    for name in sorted(set(data.categories) - {"gun_shot"}):
        split = one_class_split(data, normal=name, test_fraction=0.3, seed=0)
        assert not set(data.fs_ids[split.train]) & set(data.fs_ids[split.test])
        assert 0 < (split.labels == 0).sum() < split.train.size


# --------------------------------------------------------------------------------------------
# Without a mirror: upstream archives, atomicity, concurrency
# --------------------------------------------------------------------------------------------


def _tile_zip(path: Path) -> None:
    """The upstream repository zip, as far as the registry needs it (members under a top folder)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for entry in reg.registry_files("magnetic_tiles", roles=("both",)):
            _, member = entry.archive
            zf.write(MIRROR / entry.path, f"Magnetic-tile-defect-datasets.-cc4eb53/{member}")
        zf.writestr("Magnetic-tile-defect-datasets.-cc4eb53/MT_Free/Imgs/unlisted.jpg", b"not listed")


@needs_mirror
def test_tiles_from_the_upstream_zip_via_the_download_code(tmp_path: Path, monkeypatch) -> None:
    archive = tmp_path / "upstream.zip"
    _tile_zip(archive)
    opened = []
    real_open = reg._open_url

    def fake_open(url):  # the real streaming code, reading a local file:// copy
        opened.append(url)
        return real_open(archive.as_uri())

    monkeypatch.delenv("DIFFAD_DATA_MIRROR", raising=False)
    monkeypatch.setattr(reg, "_open_url", fake_open)
    root = tmp_path / "root"
    reg.prepare(["magnetic_tiles"], root=root, progress=False)
    assert len(opened) == 1 and opened[0].startswith("https://github.com/abin24/Magnetic-tile-defect-datasets.")
    assert not (root / ".downloads" / "cc4eb530b57b9cb7225bf76023873043ffd50655.zip").exists()  # not kept
    assert not list((root / TILES).rglob("unlisted.jpg"))
    data = magnetic_tiles(root=root, size=8, max_per_kind=3)
    assert data.counts()["test/fray"] == 3
    reg.prepare(["magnetic_tiles"], root=root, progress=False)
    assert len(opened) == 1  # nothing stale: no second download
    local = tmp_path / "root2"
    reg.prepare(["magnetic_tiles"], root=local, archives={"magnetic_tiles": archive}, progress=False)
    assert len(opened) == 1 and magnetic_tiles(root=local, size=8, max_per_kind=3).counts() == data.counts()


@needs_mirror
def test_urbansound_archive_is_checked_member_by_member_and_unpacked_atomically(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DIFFAD_DATA_MIRROR", raising=False)
    archive = tmp_path / "UrbanSound8K.tar.gz"
    clip = reg.registry_files("urbansound8k", roles=("upstream",))[0]
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(MIRROR / SOUND / "UrbanSound8K.csv", "UrbanSound8K/metadata/UrbanSound8K.csv")
        data = (MIRROR / SOUND / "audio" / Path(clip.path).name).read_bytes()  # resampled: not the official bytes
        info = tarfile.TarInfo(f"UrbanSound8K/{clip.archive[1]}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    root = tmp_path / "root"
    with pytest.raises(ValueError, match=rf"checksum mismatch for {clip.archive[1]} .*{clip.sha256}"):
        reg.prepare(["urbansound8k"], root=root, archives={"urbansound8k": archive}, progress=False)
    folder = root / SOUND
    assert not (folder / ".diffad_prepared.json").exists()
    assert [p.name for p in folder.rglob("*") if p.is_file()] == []  # not even the verified csv was moved in
    with pytest.raises(FileNotFoundError, match="urbansound8k.* is not prepared"):
        urbansound8k(root=root)

    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(reg, "_open_url", offline)
    with pytest.warns(UserWarning, match="about 6 GB"), pytest.raises(FileNotFoundError, match="could not download"):
        reg.prepare(["urbansound8k"], root=root, progress=False)


@needs_mirror
def test_interrupted_prepare_leaves_the_dataset_unprepared(prepared: Path, tmp_path: Path, monkeypatch) -> None:
    root = _copy_root(prepared, tmp_path / "root")
    target = root / TILES / "test/fray" / sorted(os.listdir(root / TILES / "test/fray"))[0]
    target.write_bytes(target.read_bytes()[:100])  # as if a previous copy had been cut short

    def killed(src, dst, expected):
        raise KeyboardInterrupt

    monkeypatch.setattr(reg, "_copy_verified", killed)
    with pytest.raises(KeyboardInterrupt):
        reg.prepare(["magnetic_tiles"], root=root, mirror=MIRROR, progress=False)
    with pytest.raises(FileNotFoundError, match="'magnetic_tiles' is not prepared"):
        magnetic_tiles(root=root, size=8)


@needs_mirror
def test_concurrent_prepares_are_safe(tmp_path: Path) -> None:
    root = tmp_path / "root"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reg.prepare(["magnetic_tiles"], root=root, mirror=MIRROR, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    leftovers = [p for p in (root / TILES).rglob(".*") if p.name != ".diffad_prepared.json"]
    assert leftovers == []  # no temporary files or folders
    data = magnetic_tiles(root=root, size=8, kinds=TILE_KINDS)
    assert data.counts()["train/good"] == 200

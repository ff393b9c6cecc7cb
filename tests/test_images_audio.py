"""Texture patches and synthetic defects, the MVTec loader, machine sounds and faults, the WAV loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image
from scipy import ndimage
from skimage.feature import match_template

from diffad_lib.data.audio import (
    FAULT_KINDS,
    inject_fault,
    load_wav_folder,
    machine_sound,
    make_audio_dataset,
)
from diffad_lib.data.images import (
    DEFECT_KINDS,
    inject_defect,
    load_mvtec,
    make_image_dataset,
    texture_image,
    texture_patches,
)

# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def test_texture_patches_shape_range_and_seed() -> None:
    a = texture_patches(("brick", "grass", "gravel"), patch=32, n=10, seed=3)
    b = texture_patches(("brick", "grass", "gravel"), patch=32, n=10, seed=3)
    assert set(a) == {"brick", "grass", "gravel"}
    for name, x in a.items():
        assert x.shape == (10, 1, 32, 32) and x.dtype == np.float32
        assert -1.0 <= x.min() and x.max() <= 1.0
        np.testing.assert_array_equal(x, b[name])
    assert not np.array_equal(a["brick"], texture_patches(("brick",), patch=32, n=10, seed=4)["brick"])


def test_train_and_test_patches_come_from_disjoint_column_bands() -> None:
    img = texture_image("gravel")  # (512, 512); split column = 384 with test_fraction 0.25
    train = texture_patches(("gravel",), patch=24, n=4, seed=0, region="train")["gravel"]
    test = texture_patches(("gravel",), patch=24, n=4, seed=0, region="test")["gravel"]
    for crops, ok in ((train, lambda c: c + 24 <= 384), (test, lambda c: c >= 384)):
        for crop in crops:
            score = match_template(img, crop[0])
            row, col = np.unravel_index(np.argmax(score), score.shape)
            assert score[row, col] > 0.999
            assert ok(col), col


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_inject_defect_changes_only_the_masked_region(kind: str) -> None:
    patch = texture_patches(("grass",), patch=64, n=1, seed=1)["grass"][0]  # (1, 64, 64)
    before = patch.copy()
    out, mask = inject_defect(patch, kind=kind, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(patch, before)  # input untouched
    assert out.shape == patch.shape and out.dtype == patch.dtype
    assert mask.shape == (64, 64) and mask.dtype == bool
    assert 4 <= mask.sum() <= 0.35 * 64 * 64
    assert out.min() >= -1.0 and out.max() <= 1.0
    diff = np.abs(out[0] - patch[0])
    assert diff[mask].mean() > 0.1
    # outside the mask nothing changes, except the spot's soft edge (at most 2 px wide)
    outside = ~ndimage.binary_dilation(mask, np.ones((3, 3)), iterations=2) if kind == "spot" else ~mask
    assert diff[outside].max() < 1e-6


def test_inject_defect_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind"):
        inject_defect(np.zeros((32, 32)), kind="crack", rng=rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patch"):
        inject_defect(np.zeros((3, 32, 32)), kind="spot", rng=rng)


def test_make_image_dataset_labels_masks_and_kinds() -> None:
    ds = make_image_dataset("brick", n_train=12, n_test=20, anomaly_fraction=0.5, patch=32, seed=0)
    assert ds.train.shape == (12, 1, 32, 32) and ds.test.shape == (20, 1, 32, 32)
    assert ds.labels.sum() == 10 and ds.labels.dtype == np.int64
    assert ds.masks.shape == (20, 32, 32)
    assert not ds.masks[ds.labels == 0].any()
    assert all(m.any() for m in ds.masks[ds.labels == 1])
    assert {k for k, y in zip(ds.kinds, ds.labels, strict=True) if y} == set(DEFECT_KINDS)
    assert all(k == "good" for k, y in zip(ds.kinds, ds.labels, strict=True) if not y)
    again = make_image_dataset("brick", n_train=12, n_test=20, anomaly_fraction=0.5, patch=32, seed=0)
    np.testing.assert_array_equal(again.test, ds.test)


def _write_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_load_mvtec_reads_the_folder_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cat = tmp_path / "toy"
    for i in range(3):
        _write_png(cat / "train" / "good" / f"{i:03d}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    _write_png(cat / "test" / "good" / "000.png", np.full((20, 20, 3), 255, dtype=np.uint8))
    _write_png(cat / "test" / "scratch" / "000.png", np.zeros((20, 20, 3), dtype=np.uint8))
    _write_png(cat / "test" / "scratch" / "001.png", np.zeros((20, 20, 3), dtype=np.uint8))
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[:10] = 255  # top half defective
    _write_png(cat / "ground_truth" / "scratch" / "000_mask.png", mask)
    _write_png(cat / "ground_truth" / "scratch" / "001_mask.png", mask[::-1].copy())

    data = load_mvtec(tmp_path, "toy", size=10)
    assert data.train.shape == (3, 3, 10, 10) and data.train.dtype == np.float32
    assert data.test.shape == (3, 3, 10, 10)
    assert data.defect_types == ("good", "scratch", "scratch")
    np.testing.assert_array_equal(data.labels, [0, 1, 1])
    np.testing.assert_allclose(data.test[0], 1.0)  # white -> +1
    np.testing.assert_allclose(data.test[1], -1.0)  # black -> -1
    assert not data.masks[0].any()
    assert data.masks[1, :5].all() and not data.masks[1, 5:].any()
    assert data.masks[2, 5:].all() and not data.masks[2, :5].any()
    gray = load_mvtec(tmp_path, "toy", size=None, color="gray")
    assert gray.train.shape == (3, 1, 20, 20)

    (cat / "ground_truth" / "scratch" / "001_mask.png").unlink()
    with pytest.raises(ValueError, match="mask"):
        load_mvtec(tmp_path, "toy", size=10)
    with pytest.raises(ValueError, match="layout"):
        load_mvtec(tmp_path, "missing", size=10)


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------

SR = 8000


def _spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.fft.rfftfreq(x.size, 1 / sr), spec


def test_machine_sound_has_harmonics_modulation_and_noise() -> None:
    x = machine_sound(1.0, sr=SR, f0=100.0, n_harmonics=5, am_depth=0.3, noise_level=0.05,
                      rng=np.random.default_rng(0))
    assert x.shape == (SR,) and x.dtype == np.float32
    assert np.abs(x).max() == pytest.approx(0.9, rel=1e-6)
    freqs, spec = _spectrum(x.astype(np.float64), SR)
    peaks = freqs[np.argsort(spec)[-40:]]
    for k in range(1, 6):  # every harmonic is among the strongest bins (AM adds ±4 Hz sidebands)
        assert np.any(np.abs(peaks - 100.0 * k) <= 5.0), k
    assert freqs[np.argmax(spec)] == pytest.approx(100.0, abs=1.0)  # a_k = 1/k: the fundamental dominates
    # broadband noise: energy between harmonics, far above the numerical floor
    between = spec[(freqs > 1200) & (freqs < 1900)]
    assert between.mean() > 1e-3 * spec.max()


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_inject_fault_is_confined_to_its_mask(kind: str) -> None:
    x = machine_sound(1.0, sr=SR, f0=100.0, rng=np.random.default_rng(1))
    before = x.copy()
    y, mask = inject_fault(x, kind=kind, sr=SR, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(x, before)
    assert y.shape == x.shape and y.dtype == np.float32 and mask.shape == x.shape and mask.dtype == bool
    assert mask.any()
    np.testing.assert_array_equal(y[~mask], x[~mask])
    assert np.sqrt(np.mean((y[mask] - x[mask]) ** 2)) > 0.1 * np.sqrt(np.mean(x**2))
    idx = np.flatnonzero(mask)
    seg_x, seg_y = x[idx[0] : idx[-1] + 1], y[idx[0] : idx[-1] + 1]
    if kind == "freq_shift":  # the fundamental moves by 5-15 %
        f, sx = _spectrum(seg_x.astype(np.float64), SR)
        _, sy = _spectrum(seg_y.astype(np.float64), SR)
        ratio = f[np.argmax(sy)] / f[np.argmax(sx)]
        assert 0.03 <= abs(ratio - 1.0) <= 0.2
    if kind == "rubbing":  # energy added in the sr/8 .. sr/4 band
        f, sx = _spectrum(seg_x.astype(np.float64), SR)
        _, sy = _spectrum(seg_y.astype(np.float64), SR)
        band = (f > SR / 8) & (f < SR / 4)
        assert (sy[band] ** 2).sum() > 10 * (sx[band] ** 2).sum()


def test_make_audio_dataset() -> None:
    ds = make_audio_dataset(n_train=4, n_test=6, anomaly_fraction=0.5, duration=0.25, sr=SR, seed=0)
    assert ds.train.shape == (4, SR // 4) and ds.test.shape == (6, SR // 4) and ds.sr == SR
    assert ds.labels.sum() == 3
    assert not ds.masks[ds.labels == 0].any() and all(m.any() for m in ds.masks[ds.labels == 1])
    assert {k for k, y in zip(ds.kinds, ds.labels, strict=True) if y} == set(FAULT_KINDS)
    with pytest.raises(ValueError, match="kinds"):
        make_audio_dataset(n_test=2, kinds=("squeak",), sr=SR)
    with pytest.raises(ValueError, match="f0"):
        machine_sound(0.1, sr=SR, f0=5000.0, rng=np.random.default_rng(0))


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype="FLOAT")


def test_load_wav_folder_esc50_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clips = [rng.uniform(-0.5, 0.5, n).astype(np.float32) for n in (800, 1000, 600)]
    names = ["1-100-A-0.wav", "2-200-A-1.wav", "3-300-B-0.wav"]
    for name, c in zip(names, clips, strict=True):
        _write_wav(tmp_path / "audio" / name, c, SR)
    (tmp_path / "meta").mkdir()
    pd.DataFrame({"filename": names, "fold": [1, 2, 3], "target": [0, 1, 0], "category": ["dog", "rain", "dog"],
                  "esc10": [True, False, True], "src_file": [100, 200, 300], "take": ["A", "A", "B"]}
                 ).to_csv(tmp_path / "meta" / "esc50.csv", index=False)
    data = load_wav_folder(tmp_path)
    assert data.sr == SR and data.categories == ("dog", "rain", "dog")
    np.testing.assert_array_equal(data.labels, [0, 1, 0])
    np.testing.assert_array_equal(data.folds, [1, 2, 3])
    for got, want in zip(data.signals, clips, strict=True):
        np.testing.assert_array_equal(got, want)
    stacked = data.stack(900)
    assert stacked.shape == (3, 900)
    np.testing.assert_array_equal(stacked[0, :800], clips[0])
    assert not stacked[0, 800:].any()
    # resampling to 4 kHz halves the length
    half = load_wav_folder(tmp_path, sr=SR // 2)
    assert half.sr == SR // 2 and [s.size for s in half.signals] == [400, 500, 300]


def test_load_wav_folder_urbansound8k_and_class_folders(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stereo = rng.uniform(-0.5, 0.5, (500, 2)).astype(np.float32)
    _write_wav(tmp_path / "us8k" / "audio" / "fold1" / "a.wav", stereo, SR)
    _write_wav(tmp_path / "us8k" / "audio" / "fold2" / "b.wav", stereo[:, 0].copy(), SR)
    (tmp_path / "us8k" / "metadata").mkdir()
    pd.DataFrame({"slice_file_name": ["a.wav", "b.wav"], "fsID": [1, 2], "start": [0.0, 0.0], "end": [1.0, 1.0],
                  "salience": [1, 2], "fold": [1, 2], "classID": [3, 7], "class": ["dog_bark", "gun_shot"]}
                 ).to_csv(tmp_path / "us8k" / "metadata" / "UrbanSound8K.csv", index=False)
    data = load_wav_folder(tmp_path / "us8k")
    np.testing.assert_array_equal(data.labels, [3, 7])
    np.testing.assert_array_equal(data.folds, [1, 2])
    np.testing.assert_allclose(data.signals[0], stereo.mean(axis=1), atol=1e-7)  # stereo -> mono

    for cls, n in (("fan", 2), ("pump", 1)):
        for i in range(n):
            _write_wav(tmp_path / "plain" / cls / f"{i}.wav", rng.uniform(-0.1, 0.1, 300), SR)
    plain = load_wav_folder(tmp_path / "plain")
    assert plain.categories == ("fan", "fan", "pump")
    np.testing.assert_array_equal(plain.labels, [0, 0, 1])
    np.testing.assert_array_equal(plain.folds, [0, 0, 0])

    _write_wav(tmp_path / "plain" / "pump" / "9.wav", rng.uniform(-0.1, 0.1, 300), 2 * SR)
    with pytest.raises(ValueError, match="sampling rates"):
        load_wav_folder(tmp_path / "plain")
    bad_csv = tmp_path / "bad.csv"
    pd.DataFrame({"name": ["x.wav"]}).to_csv(bad_csv, index=False)
    with pytest.raises(ValueError, match="metadata_csv"):
        load_wav_folder(tmp_path / "plain", metadata_csv=bad_csv)

"""The MVTec-layout image loader and the WAV-folder loader, on small folders written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from diffad_lib.data.audio import load_wav_folder
from diffad_lib.data.images import load_mvtec

# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


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

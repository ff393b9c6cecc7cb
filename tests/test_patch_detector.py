"""PatchDiffusionDetector and its baselines: API contract, detection on seeded data, λ, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from diffad_lib import metrics
from diffad_lib.baselines import ConvAutoencoderDetector, FeatureKNNDetector
from diffad_lib.detectors import PatchDiffusionDetector, feature_loss
from diffad_lib.models.wavelet_unet import WaveletUNet, WaveletUNetConfig
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.scoring import ScoreStats
from diffad_lib.train import TrainConfig, train_diffusion

TINY = {"base_channels": 8, "channel_mults": (1, 2), "n_heads": 2, "adapter_channels": 8, "time_dim": 16,
        "hybrid_kernels": 2}
FAST = {"model_params": TINY, "n_steps": 50, "beta_end": 0.1, "t0": 20, "sample_steps": 3, "epochs": 30,
        "batch_size": 8, "lr": 3e-3, "scaling": "none"}


def stripes(n: int, *, size: int = 16, seed: int = 0) -> np.ndarray:
    """Normal samples: oriented sine stripes with random phase and small noise, (n, 1, size, size) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    img = 0.6 * np.sin(2 * np.pi * xx[None] / 8 + phase) + 0.05 * rng.standard_normal((n, size, size))
    return img[:, None].astype(np.float32)


def with_defects(x: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the samples get a bright 4x4 square: (x', labels (n,), masks (n, H, W))."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    n, size = len(x), x.shape[-1]
    labels = np.zeros(n, dtype=int)
    labels[rng.permutation(n)[: n // 2]] = 1
    masks = np.zeros((n, size, size), dtype=bool)
    for i in np.flatnonzero(labels):
        r, c = rng.integers(2, size - 6, size=2)
        masks[i, r : r + 4, c : c + 4] = True
        x[i, 0][masks[i]] = 1.0
    return x, labels, masks


@pytest.fixture(scope="module")
def problem():
    train = stripes(64, seed=0)
    test, labels, masks = with_defects(stripes(24, seed=5))
    return train, test, labels, masks


@pytest.fixture(scope="module")
def fitted(problem):
    train, *_ = problem
    return PatchDiffusionDetector(**FAST, lam=0.5, gamma=0.1).fit(train)


def test_init_stores_parameters_only_and_clone_roundtrips():
    det = PatchDiffusionDetector(**FAST, lam=0.3)
    assert not any(k.endswith("_") for k in vars(det))
    params = det.get_params()
    assert params["lam"] == 0.3 and params["model"] == "wavelet_unet" and params["model_params"] == TINY
    twin = clone(det)
    assert twin.get_params() == params and twin is not det
    det.set_params(lam=0.9, gamma=0.5)
    assert det.lam == 0.9 and det.gamma == 0.5
    for cls in (ConvAutoencoderDetector, FeatureKNNDetector):
        base = cls(val_fraction=0.3)
        assert clone(base).get_params() == base.get_params()


def test_fit_sets_attributes_and_threshold_from_held_out_normal_data(fitted, problem):
    train, *_ = problem
    det = fitted
    assert det.decision_scores_.shape == (len(train),)
    assert det.labels_.shape == (len(train),) and set(np.unique(det.labels_)) <= {0, 1}
    n_fit = len(train) - int(round(det.val_fraction * len(train)))
    held_out = det.decision_scores_[n_fit:]
    assert det.threshold_ == pytest.approx(held_out.mean() + 3 * held_out.std())
    assert len(det.train_losses_) == det.epochs and np.isfinite(det.train_losses_).all()


def test_defective_patches_score_higher(fitted, problem):
    _, test, labels, masks = problem
    scores = fitted.decision_function(test)
    assert scores.shape == (len(test),)
    assert metrics.roc_auc(labels, scores) >= 0.9
    maps = fitted.anomaly_map(test)
    assert maps.shape == (len(test), 16, 16)
    assert metrics.roc_auc(masks.ravel(), maps.ravel()) >= 0.8
    assert np.array_equal(fitted.predict(test), (scores > fitted.threshold_).astype(int))


def test_scores_are_deterministic(fitted, problem):
    _, test, *_ = problem
    np.testing.assert_array_equal(fitted.decision_function(test), fitted.decision_function(test))


def test_lambda_one_is_the_pure_reconstruction_score(problem):
    train, test, *_ = problem
    det = PatchDiffusionDetector(**{**FAST, "epochs": 2}, lam=1.0, image_score="mean").fit(train)
    x_hat = det.reconstruct(test)
    recon = ((test.astype(np.float64) - x_hat) ** 2).mean(axis=(1, 2, 3))  # ‖x0 − x̃0‖² / (C H W)
    n_fit = len(train) - int(round(det.val_fraction * len(train)))
    train_recon = ((train[:n_fit].astype(np.float64) - det.reconstruct(train[:n_fit])) ** 2).mean(axis=(1, 2, 3))
    stats = ScoreStats.fit(train_recon)
    np.testing.assert_allclose(det.decision_function(test), stats.transform(recon), rtol=1e-4, atol=1e-4)
    # the feature term does not enter: another feature network gives the same scores
    other = clone(det).set_params(feature_params={"levels": 1, "pool": 1}).fit(train)
    np.testing.assert_allclose(other.decision_function(test), det.decision_function(test), rtol=1e-6)


def test_lambda_mixes_standardised_terms(fitted, problem):
    _, test, *_ = problem
    comp = fitted.score_components(test)
    r = fitted.recon_stats_.transform(comp["recon"])
    f = fitted.feature_stats_.transform(comp["feature"])
    np.testing.assert_allclose(fitted.scores_from_components(comp, lam=0.25), 0.25 * r + 0.75 * f)
    np.testing.assert_allclose(fitted.decision_function(test), 0.5 * r + 0.5 * f)


def test_model_instance_is_copied_and_encoder_features(problem):
    train, test, *_ = problem
    torch.manual_seed(0)
    model = WaveletUNet(WaveletUNetConfig(**TINY))
    before = [p.detach().clone() for p in model.parameters()]
    det = PatchDiffusionDetector(model, **{**FAST, "model_params": None, "epochs": 1}, feature="encoder").fit(train)
    assert det.model_ is not model
    for a, b in zip(before, model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert det.anomaly_map(test).shape == (len(test), 16, 16)


def test_one_dimensional_windows():
    rng = np.random.default_rng(0)
    t = np.arange(32)
    x = (0.7 * np.sin(2 * np.pi * t[None] / 8 + rng.uniform(0, 6, (40, 1))))[:, None].astype(np.float32)
    det = PatchDiffusionDetector(**{**FAST, "epochs": 1}).fit(x)
    assert det.decision_function(x[:5]).shape == (5,)
    assert det.anomaly_map(x[:5]).shape == (5, 32)


def test_feature_loss_training_runs_and_changes_the_model():
    x = torch.as_tensor(stripes(16))
    torch.manual_seed(0)
    model = WaveletUNet(WaveletUNetConfig(**TINY))
    start = [p.detach().clone() for p in model.parameters()]
    from diffad_lib.features import WaveletFeatures

    result = train_diffusion(model, NoiseSchedule(20), x, loss_fn=feature_loss(WaveletFeatures(levels=2), 1.0),
                             config=TrainConfig(epochs=2, batch_size=8, progress=False, device="cpu"))
    assert len(result.losses) == 2 and np.isfinite(result.losses).all()
    assert any(not torch.equal(a, b) for a, b in zip(start, model.parameters(), strict=True))


@pytest.mark.parametrize("cls", [ConvAutoencoderDetector, FeatureKNNDetector])
def test_baselines_detect_the_defects(cls, problem):
    train, test, labels, masks = problem
    det = cls(epochs=30, scaling="none") if cls is ConvAutoencoderDetector else cls(scaling="none")
    det.fit(train)
    assert det.decision_scores_.shape == (len(train),) and np.isfinite(det.threshold_)
    assert metrics.roc_auc(labels, det.decision_function(test)) >= 0.8
    assert det.anomaly_map(test).shape == (len(test), 16, 16)
    assert det.predict(test).shape == (len(test),)


def test_bad_inputs_raise_value_errors_naming_the_argument(fitted, problem):
    train, test, *_ = problem
    bad = train.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        PatchDiffusionDetector(**FAST).fit(bad)
    with pytest.raises(ValueError, match=r"X must have ndim in \(3, 4\)"):
        PatchDiffusionDetector(**FAST).fit(train[:, 0, 0])
    with pytest.raises(ValueError, match="X spatial sizes .* divisible by 2"):
        PatchDiffusionDetector(**FAST).fit(train[:, :, :15, :15])
    with pytest.raises(ValueError, match="lam"):
        PatchDiffusionDetector(**FAST, lam=1.5).fit(train)
    with pytest.raises(ValueError, match="gamma > 0 needs"):
        PatchDiffusionDetector(**FAST, gamma=0.1, feature="encoder").fit(train)
    with pytest.raises(ValueError, match="t0"):
        PatchDiffusionDetector(**{**FAST, "t0": 0}).fit(train)
    with pytest.raises(ValueError, match="val_fraction"):
        PatchDiffusionDetector(**FAST, val_fraction=1.0).fit(train)
    with pytest.raises(NotFittedError):
        PatchDiffusionDetector(**FAST).decision_function(test)
    with pytest.raises(ValueError, match="channels"):
        fitted.decision_function(np.repeat(test, 2, axis=1))
    with pytest.raises(ValueError, match="spatial shape"):
        fitted.decision_function(np.zeros((2, 1, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="X contains"):
        fitted.anomaly_map(np.full_like(test, np.inf))
    with pytest.raises(ValueError, match=r"sizes \(14, 14\) must be divisible by 2\*\*len\(channels\) = 4"):
        ConvAutoencoderDetector().fit(train[:, :, :14, :14])


def test_feature_loss_with_gamma_zero_is_the_plain_epsilon_loss():
    from diffad_lib.detectors import feature_loss
    from diffad_lib.features import WaveletFeatures
    from diffad_lib.train import diffusion_loss

    model = torch.nn.Conv2d(1, 1, 3, padding=1)
    wrapped = lambda x_t, t: model(x_t)  # noqa: E731 - a denoiser that ignores t
    x0 = torch.randn(4, 1, 16, 16)
    s = NoiseSchedule(20)
    a = feature_loss(WaveletFeatures(), 0.0)(wrapped, s, x0, generator=torch.Generator().manual_seed(0))
    b = diffusion_loss(wrapped, s, x0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="gamma"):
        feature_loss(WaveletFeatures(), -1.0)

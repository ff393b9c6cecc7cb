"""The exact denoiser of a finite set of windows (diffad_lib.models.empirical)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from diffad_lib.data.windows import window_starts
from diffad_lib.detectors import DiffusionDetector
from diffad_lib.models import EmpiricalDenoiser
from diffad_lib.schedule import NoiseSchedule


def _data(n: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).standard_normal((n, 2, 5)), dtype=torch.float32)


def test_matches_the_posterior_mean_written_out():
    sched = NoiseSchedule(50)
    data = _data()
    den = EmpiricalDenoiser(data, sched)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn((4, 2, 5), generator=g)
    t = torch.tensor([0, 10, 30, 49])
    out = den(x_t, t).double().numpy()
    ab = sched.alphas_cumprod.double().numpy()
    flat = data.reshape(len(data), -1).double().numpy()
    for b in range(4):
        a, s2 = np.sqrt(ab[t[b]]), 1 - ab[t[b]]
        x = x_t[b].reshape(-1).double().numpy()
        logp = np.array([-np.sum((x - a * xi) ** 2) / (2 * s2) for xi in flat])
        p = np.exp(logp - logp.max())
        p /= p.sum()
        want = (x - a * (p @ flat)) / np.sqrt(s2)
        np.testing.assert_allclose(out[b].reshape(-1), want, rtol=1e-4, atol=1e-5)


def test_it_minimises_the_denoising_loss_on_its_windows():
    sched = NoiseSchedule(50)
    data = _data(seed=2)
    den = EmpiricalDenoiser(data, sched)
    g = torch.Generator().manual_seed(3)
    x0 = data.repeat(40, 1, 1)
    t = torch.randint(0, 50, (len(x0),), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    x_t = sched.q_sample(x0, t, eps)
    pred = den(x_t, t)
    loss = ((pred - eps) ** 2).mean()
    # at the smallest noise level a stored window is recognised and its noise recovered
    small = den(sched.q_sample(data, torch.zeros(len(data), dtype=torch.long), eps[: len(data)]),
                torch.zeros(len(data), dtype=torch.long))
    torch.testing.assert_close(small, eps[: len(data)], rtol=0, atol=1e-3)
    # any perturbation of the optimal prediction raises the loss (up to Monte-Carlo error)
    for scale in (0.05, 0.2):
        bent = pred + scale * torch.randn(pred.shape, generator=g)
        assert ((bent - eps) ** 2).mean() > loss
    assert ((pred * 0.9 - eps) ** 2).mean() > loss


def test_bad_windows_and_inputs_are_named():
    sched = NoiseSchedule(10)
    with pytest.raises(ValueError, match="windows must be"):
        EmpiricalDenoiser(torch.zeros(3, 4), sched)
    with pytest.raises(ValueError, match="finite"):
        EmpiricalDenoiser(torch.full((3, 1, 4), float("nan")), sched)
    den = EmpiricalDenoiser(torch.zeros(3, 1, 4), sched)
    with pytest.raises(ValueError, match="x_t must be"):
        den(torch.zeros(2, 1, 5), torch.zeros(2, dtype=torch.long))


def test_a_detector_reads_it_in_place_of_its_model():
    t = np.arange(600)
    x = np.sin(2 * np.pi * t / 40)[:, None] + 0.05 * np.random.default_rng(0).standard_normal((600, 1))
    det = DiffusionDetector(window=8, n_steps=20, t0=4, max_steps=30, model_params={"hidden": 16, "n_layers": 1},
                            smoothing="none", context=0).fit(x)  # the exact denoiser is one of whole windows
    windows = det.fit_windows(x)
    n_fit = det._n_fit(len(x))  # the held-out fifth is not among them
    starts = window_starts(n_fit, 8, det._hop)
    assert windows.shape == (len(starts), 1, 8)
    scaled = det.scalers_[0].transform(x)
    np.testing.assert_allclose(windows[-1, 0], scaled[starts[-1]: starts[-1] + 8, 0])
    with pytest.raises(ValueError, match="leaves 7 to fit"):
        det.fit_windows(x[:9])  # long enough for a window, but its fitting part (7 steps) is not
    exact = EmpiricalDenoiser(torch.as_tensor(windows), det.schedule_)
    test = x[:200].copy()
    test[100:120] = 0.0  # a flat stretch
    learned = det.level_errors(test, levels=[2, 4])
    memorised = det.level_errors(test, levels=[2, 4], model=exact)
    assert memorised.shape == learned.shape == (2, 200, 1)
    assert not np.allclose(memorised, learned)
    # the exact denoiser of the training windows tells the flat stretch from the sine around it
    assert memorised[:, 100:120].mean() > 3 * memorised[:, :80].mean()
    with pytest.raises(ValueError, match="levels"):
        det.level_errors(test, levels=[0], model=exact)


def _levels_series(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Blocks of 100 steps at +1 or -1 with a little noise: two levels, nothing in between."""
    t = np.arange(n)
    return (np.where((t // 100) % 2 == 0, 1.0, -1.0) + 0.05 * np.random.default_rng(seed).standard_normal(n))[:, None]


def test_model_empirical_is_the_exact_denoiser_of_the_fitting_windows():
    x = _levels_series(800)
    det = DiffusionDetector(model="empirical", window=8, n_steps=20, t0=4, smoothing="none").fit(x)
    assert isinstance(det.model_, EmpiricalDenoiser)
    assert det.train_losses_ == [] and det.train_result_ is None  # nothing was trained
    exact = EmpiricalDenoiser(torch.as_tensor(det.fit_windows(x)), det.schedule_)
    test = _levels_series(300, seed=1)
    # the score it gives is the one a detector reads from that denoiser in place of a trained model
    np.testing.assert_allclose(det.level_errors(test), det.level_errors(test, model=exact))
    torch.testing.assert_close(det.model_.data, exact.data)
    # and, with that denoiser, a level between the two training levels stands out (a stretch the trained
    # MLP, which has learnt to denoise a flat stretch at any height, reads as clean)
    test[120:180] = 0.05 * np.random.default_rng(2).standard_normal((60, 1))
    scores = det.decision_function(test)
    labels = np.zeros(300, dtype=int)
    labels[120:180] = 1
    assert roc_auc_score(labels, scores) > 0.95
    flags = det.predict(test)
    assert flags[130:170].all() and flags[:100].mean() < 0.05


def test_model_empirical_refuses_what_it_cannot_use():
    x = _levels_series(400)
    with pytest.raises(ValueError, match="model_params"):
        DiffusionDetector(model="empirical", model_params={"hidden": 8}).fit(x)
    with pytest.raises(ValueError, match="takes no conditions"):
        DiffusionDetector(model="empirical", cond_channels=[1]).fit(np.column_stack([x, x]))

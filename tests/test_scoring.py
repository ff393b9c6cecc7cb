"""Scores: distances by hand, kernel normalisation, edge-unbiased smoothing, λ-mixing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffad_lib import scoring as S

X = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
X_HAT = np.array([[0.0, 4.0], [0.0, 1.0], [1.0, -1.0]])  # |diff| = [[1, 2], [0, 1], [2, 0]]


def test_pointwise_distance_by_hand():
    np.testing.assert_allclose(S.pointwise_distance(X, X_HAT), [1.5, 0.5, 1.0])
    np.testing.assert_allclose(S.pointwise_distance(X, X_HAT, reduce="sum"), [3.0, 1.0, 2.0])
    np.testing.assert_allclose(S.pointwise_distance(X, X_HAT, reduce="max"), [2.0, 1.0, 2.0])
    np.testing.assert_allclose(S.pointwise_distance(X, X_HAT, p=2), [2.5, 0.5, 2.0])
    np.testing.assert_allclose(S.pointwise_distance(X, X_HAT, reduce="none"), np.abs(X - X_HAT))
    np.testing.assert_allclose(S.pointwise_distance(X[:, 0], X_HAT[:, 0]), [1.0, 0.0, 2.0])
    np.testing.assert_allclose(S.pointwise_distance(torch.tensor(X), torch.tensor(X_HAT)), [1.5, 0.5, 1.0])


@pytest.mark.parametrize("kind", ["hann", "hamming", "bartlett"])
@pytest.mark.parametrize("size", [1, 3, 15, 25, 35])
def test_kernel_sums_to_one_and_is_symmetric(kind, size):
    k = S.smoothing_kernel(kind, size)
    assert k.shape == (size,)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k[::-1])
    assert k.argmax() == size // 2


def test_kernel_values_by_hand():
    np.testing.assert_allclose(S.smoothing_kernel("hann", 5), [0, 0.25, 0.5, 0.25, 0])
    np.testing.assert_allclose(S.smoothing_kernel("none", 15), [1.0])


@pytest.mark.parametrize("kind", ["hann", "hamming", "bartlett"])
@pytest.mark.parametrize("n", [3, 10, 200])
def test_constant_stays_constant_including_edges(kind, n):
    np.testing.assert_allclose(S.smooth(np.full(n, 3.7), kind=kind, size=35), 3.7)
    np.testing.assert_allclose(S.smooth(np.full((n, 2), -1.0), kind=kind, size=15), -1.0)


def test_spike_spreads_symmetrically_with_the_kernel():
    x = np.zeros(41)
    x[20] = 1.0
    k = S.smoothing_kernel("hamming", 15)
    out = S.smooth(x, kind="hamming", size=15)
    np.testing.assert_allclose(out, out[::-1])
    np.testing.assert_allclose(out[13:28], k)  # far from the edges: plain convolution
    assert out.sum() == pytest.approx(1.0)


def test_edge_normalisation_by_hand():
    # hann(5) = [0, .25, .5, .25, 0]; at t=0 only taps (.5, .25, 0) fall inside: mass .75
    x = np.array([4.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    out = S.smooth(x, kind="hann", size=5)
    assert out[0] == pytest.approx(0.5 * 4.0 / 0.75)
    assert out[1] == pytest.approx(0.25 * 4.0 / 1.0)


def test_smooth_with_none_is_identity():
    x = np.random.default_rng(0).normal(size=50)
    np.testing.assert_array_equal(S.smooth(x, kind="none"), x)


def test_smoothed_distance_is_smoothed_l1():
    rng = np.random.default_rng(1)
    x, x_hat = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    expected = S.smooth(np.abs(x - x_hat).mean(axis=1), kind="bartlett", size=25)
    np.testing.assert_allclose(S.smoothed_distance(x, x_hat, kind="bartlett", size=25), expected)
    only0 = S.smoothed_distance(x, x_hat, kind="hann", size=15, channels=[0])
    np.testing.assert_allclose(only0, S.smooth(np.abs(x[:, 0] - x_hat[:, 0]), kind="hann", size=15))


def test_mix_scores_standardises_each_term():
    recon = np.array([1.0, 2.0, 3.0])
    feature = np.array([10.0, 30.0, 20.0])
    z_r = (recon - 2.0) / np.std(recon)
    z_f = (feature - 20.0) / np.std(feature)
    np.testing.assert_allclose(S.mix_scores(recon, feature, lam=0.25), 0.25 * z_r + 0.75 * z_f)
    np.testing.assert_allclose(S.mix_scores(recon, feature, lam=1.0), z_r)
    # statistics fit on training scores are reused for test scores
    r_stats, f_stats = S.ScoreStats(mean=0.0, std=2.0), S.ScoreStats.fit([0.0, 10.0])
    out = S.mix_scores(recon, feature, lam=0.5, recon_stats=r_stats, feature_stats=f_stats)
    np.testing.assert_allclose(out, 0.5 * recon / 2.0 + 0.5 * (feature - 5.0) / 5.0)
    assert S.ScoreStats.fit([2.0, 2.0]).std == 1.0  # constant training scores: unit scale


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: S.pointwise_distance(X, X_HAT[:2]), r"same shape; got \(3, 2\) and \(2, 2\)"),
        (lambda: S.pointwise_distance(X, X_HAT, p=3), r"p must be one of \[1, 2\]"),
        (lambda: S.pointwise_distance(X, X_HAT, reduce="median"), "reduce must be one of"),
        (lambda: S.pointwise_distance(X * np.nan, X_HAT), "x contains 6 non-finite"),
        (lambda: S.smoothing_kernel("gauss", 15), "kind must be one of"),
        (lambda: S.smoothing_kernel("hann", 14), "size must be an odd integer"),
        (lambda: S.smooth([1.0, np.nan]), "scores contains 1 non-finite"),
        (lambda: S.smoothed_distance(X, X_HAT, channels=[2]), "channels must index the 2 channels"),
        (lambda: S.mix_scores([1.0, 2.0], [1.0], lam=0.5), "same length; got 2 and 1"),
        (lambda: S.mix_scores([1.0, 2.0], [1.0, 3.0], lam=1.5), r"lam must be a number in \[0, 1\]"),
        (lambda: S.ScoreStats(mean=0.0, std=0.0), "std must be finite and > 0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_error_calibration_puts_channels_on_their_own_normal_scale():
    from diffad_lib.scoring import ErrorCalibration, aggregate_errors, calibrated_distance, smoothed_distance

    rng = np.random.default_rng(0)
    normal = np.abs(rng.standard_normal((2000, 2))) * np.array([1.0, 100.0])  # channel 1 a hundred times noisier
    cal = ErrorCalibration.fit(normal)
    z = cal.transform(normal)
    np.testing.assert_allclose(np.median(z, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(1.4826 * np.median(np.abs(z), axis=0), 1.0, rtol=1e-9)
    # a break of 5 units in the quiet channel outranks 50 units in the noisy one once calibrated
    errors = np.array([[5.0, 0.0], [0.0, 50.0]])
    raw = aggregate_errors(errors)
    calibrated = aggregate_errors(errors, calibration=cal)
    assert raw[0] < raw[1] and calibrated[0] > calibrated[1]
    # without calibration, the mean over channels is the DiffADT distance
    x, x_hat = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    np.testing.assert_allclose(calibrated_distance(x, x_hat, kind="hann", size=5),
                               smoothed_distance(x, x_hat, kind="hann", size=5))


def test_missing_errors_are_left_out_of_calibration_and_aggregation():
    from diffad_lib.scoring import ErrorCalibration, aggregate_errors

    rng = np.random.default_rng(0)
    e = rng.random((200, 2))
    holes = e.copy()
    holes[::5, 0] = np.nan
    cal = ErrorCalibration.fit(holes)
    ref = ErrorCalibration.fit(e[np.arange(200) % 5 != 0])  # channel 0 on its observed rows
    assert cal.center[0] == pytest.approx(ref.center[0]) and cal.scale[0] == pytest.approx(ref.scale[0])
    assert cal.center[1] == pytest.approx(np.median(e[:, 1]))
    holes[7] = np.nan  # a step with no observed channel
    z = cal.transform(holes)
    agg = aggregate_errors(holes, calibration=cal, aggregate="mean")
    assert agg[7] == 0.0
    assert agg[5] == pytest.approx(z[5, 1])  # channel 0 missing: the mean of the observed one
    assert agg[1] == pytest.approx(z[1].mean())
    assert aggregate_errors(holes, calibration=cal, aggregate="max")[5] == pytest.approx(z[5, 1])


def test_level_calibration_scores_a_profile_normal_data_never_shows():
    from diffad_lib.scoring import ErrorCalibration, LevelCalibration

    rng = np.random.default_rng(0)
    e1 = 1.0 + 0.1 * rng.standard_normal(3000)
    normal = np.stack([e1, e1 + 0.01 * rng.standard_normal(3000)])[:, :, None]  # (2 levels, n, 1): they move together
    cal = LevelCalibration.fit(normal)
    along = np.array([1.3, 1.3])  # three sigma up at both levels, as normal profiles go
    against = np.array([1.15, 0.85])  # the normal mean over the levels, but the levels disagree
    z = cal.transform(np.stack([along, against], axis=1)[:, :, None])[:, 0]  # (2,)
    assert z[1] > 3 * z[0] > 0
    # the mean over the levels, calibrated per step, ranks them the other way round
    mean_cal = ErrorCalibration.fit(normal.mean(axis=0))
    zm = mean_cal.transform(np.array([[along.mean()], [against.mean()]]))[:, 0]
    assert zm[0] > 2.0 > abs(zm[1])


def test_level_calibration_matches_scikit_learn_mahalanobis():
    from sklearn.covariance import LedoitWolf

    from diffad_lib.scoring import LevelCalibration

    rng = np.random.default_rng(1)
    normal = np.abs(rng.standard_normal((4, 500, 3)))  # 4 levels, 3 channels
    normal[1] += 0.5 * normal[0]
    test = np.abs(rng.standard_normal((4, 50, 3)))
    cal = LevelCalibration.fit(normal)
    for c in range(3):
        ref = LedoitWolf().fit(normal[:, :, c].T)
        np.testing.assert_allclose(cal._distance(test)[:, c], np.sqrt(ref.mahalanobis(test[:, :, c].T)), rtol=1e-5)
    # the normal distances come out standardised: median 0, normal-consistent MAD 1, per channel
    z = cal.transform(normal)
    np.testing.assert_allclose(np.median(z, axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(1.4826 * np.median(np.abs(z), axis=0), 1.0, rtol=1e-6)


def test_level_calibration_missing_constant_and_bad_shapes():
    from diffad_lib.scoring import LevelCalibration

    rng = np.random.default_rng(2)
    e = rng.random((3, 300, 2))
    holes = e.copy()
    holes[:, ::4, 0] = np.nan  # missing steps of channel 0 (every level)
    cal = LevelCalibration.fit(holes)
    ref = LevelCalibration.fit(e[:, np.arange(300) % 4 != 0])
    np.testing.assert_allclose(cal.mean[0], ref.mean[0])
    z = cal.transform(holes)
    assert np.isnan(z[::4, 0]).all() and np.isfinite(z[:, 1]).all()
    const = np.ones((3, 100, 1))  # a channel whose normal errors never move: raw differences, never inf
    z = LevelCalibration.fit(const).transform(np.full((3, 2, 1), 1.5))
    assert np.isfinite(z).all() and (z > 0).all()
    with pytest.raises(ValueError, match="errors"):
        LevelCalibration.fit(e[0])  # (n, C): the levels axis is missing
    with pytest.raises(ValueError, match=r"shape \(3, n, 2\)"):
        cal.transform(rng.random((2, 10, 2)))
    with pytest.raises(ValueError, match="channel 0 needs at least two"):
        LevelCalibration.fit(np.full((3, 5, 1), np.nan))

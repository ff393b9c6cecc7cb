import numpy as np
import pytest

from diffad_lib.data.sine import inject_point_anomalies, sine_fit_residual, sine_series


def test_sine_series_is_a_sine_with_the_requested_noise():
    rng = np.random.default_rng(0)
    x = sine_series(4000, period=40, noise_std=0.1, rng=rng)
    windows = x[: 4000 // 80 * 80].reshape(-1, 80)
    resid = sine_fit_residual(windows, period=40)
    assert abs(resid.mean() - 0.1 * np.sqrt(77 / 80)) < 0.005  # 3 fitted parameters per 80-point window
    assert np.all(np.abs(resid - 0.1) < 0.04)
    clean = sine_series(200, period=40, phase=0.0)
    np.testing.assert_allclose(clean[:3], np.sin(2 * np.pi * np.arange(3) / 40))


def test_inject_point_anomalies_counts_magnitudes_and_copy():
    x = sine_series(1000, rng=np.random.default_rng(1))
    before = x.copy()
    y_x, labels = inject_point_anomalies(x, 50, magnitude=(0.5, 1.0), margin=10, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(x, before)  # the caller's array is untouched
    assert labels.sum() == 50 and labels.dtype == np.int8
    diff = np.abs(y_x - x)
    assert np.all(diff[labels == 1] >= 0.5 - 1e-12) and np.all(diff[labels == 1] <= 1.0 + 1e-12)
    assert np.all(diff[labels == 0] == 0)
    assert labels[:10].sum() == 0 and labels[-10:].sum() == 0


def test_errors():
    with pytest.raises(ValueError, match="n_anomalies"):
        inject_point_anomalies(np.zeros(10), 11)
    with pytest.raises(ValueError, match="magnitude"):
        inject_point_anomalies(np.zeros(10), 1, magnitude=(2.0, 1.0))
    with pytest.raises(ValueError, match="period"):
        sine_series(10, period=0)
    with pytest.raises(ValueError, match="one channel"):
        sine_fit_residual(np.zeros((2, 3, 8)), period=4)

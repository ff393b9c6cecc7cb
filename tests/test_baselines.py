"""Baselines: minimum ROC-AUC on seeded synthetic data, the detector contract, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from diffad_lib import baselines as B
from diffad_lib.experiments import make_detector
from diffad_lib.metrics import roc_auc


def _synthetic(seed: int = 0, n: int = 1200, n_ch: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sine channels + noise; the test half gets spikes, a level shift and a flat-lined segment."""
    rng = np.random.default_rng(seed)
    t = np.arange(2 * n)
    X = np.stack([np.sin(2 * np.pi * t / 50 + c) for c in range(n_ch)], axis=1)
    X = X + 0.1 * rng.normal(size=X.shape)  # (2n, C)
    train, test = X[:n].copy(), X[n:].copy()
    y = np.zeros(n, dtype=int)
    for s in (150, 400, 650, 1000):  # spikes in one channel
        test[s, s % n_ch] += 3.0
        y[s] = 1
    test[500:550, 1] += 1.5  # level shift
    y[500:550] = 1
    test[800:840] = test[800]  # flat line (a stuck sensor)
    y[800:840] = 1
    return train, test, y


DATA = _synthetic()

# small settings keep the module fast on 2 CPU cores
FAST = {
    "iforest": {"window": 16, "n_estimators": 50},
    "pca": {"window": 16},
    "kmeans": {"window": 16},
    "knn": {"window": 16},
    "ocsvm": {"window": 16, "max_train": 500},
    "kpca": {"window": 16, "max_train": 300},
    "autoencoder": {"window": 16, "hop": 2, "epochs": 60, "batch_size": 32, "lr": 3e-3},
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, B.WindowBaseline]:
    train = DATA[0]
    return {name: make_detector(name, **kw).fit(train) for name, kw in FAST.items()}


@pytest.mark.parametrize("name", list(FAST))
def test_baseline_detects_injected_anomalies(fitted, name):
    _, test, y = DATA
    scores = fitted[name].decision_function(test)
    assert scores.shape == (len(test),)
    assert np.isfinite(scores).all()
    assert roc_auc(y, scores) >= 0.85, name


@pytest.mark.parametrize("name", list(FAST))
def test_training_scores_and_output_length(fitted, name):
    det = fitted[name]
    assert det.decision_scores_.shape == (len(DATA[0]),)
    odd = DATA[1][:37]  # length not a multiple of the hop
    assert det.decision_function(odd).shape == (37,)


def test_random_score_is_chance_level_and_reproducible():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20_000, 2))
    y = (rng.random(20_000) < 0.1).astype(int)
    det = make_detector("random", random_state=3).fit(X)
    s = det.decision_function(X)
    assert roc_auc(y, s) == pytest.approx(0.5, abs=0.05)
    np.testing.assert_array_equal(s, det.decision_function(X))


def test_iforest_pointwise_window_one_scores_spikes():
    train, test, y = DATA
    det = B.IsolationForestDetector(window=1, n_estimators=50).fit(train)
    s = det.decision_function(test)
    spikes = [150, 400, 650, 1000]
    assert s.shape == (len(test),)
    assert np.all(s[spikes] > np.quantile(s, 0.95))


def test_max_stitching_spreads_a_window_score():
    train, test, _ = DATA
    mean = B.PCADetector(window=16, reduce="mean").fit(train).decision_function(test)
    peak = B.PCADetector(window=16, reduce="max").fit(train).decision_function(test)
    assert np.all(peak >= mean - 1e-12)


def test_seeded_detectors_are_reproducible():
    train, test, _ = DATA
    a = B.AutoencoderDetector(window=8, hop=4, epochs=1, random_state=7).fit(train).decision_function(test)
    b = B.AutoencoderDetector(window=8, hop=4, epochs=1, random_state=7).fit(train).decision_function(test)
    np.testing.assert_array_equal(a, b)


def test_autoencoder_trains_through_the_one_loop():
    det = B.AutoencoderDetector(window=8, hop=4, epochs=3, random_state=0).fit(DATA[0])
    assert len(det.train_losses_) == 3 and det.train_losses_[-1] < det.train_losses_[0]


def test_nan_input_raises():
    train, test, _ = DATA
    bad = train.copy()
    bad[5, 1] = np.nan
    for name in FAST:
        with pytest.raises(ValueError, match="X contains 1 non-finite"):
            make_detector(name).fit(bad)
    det = B.PCADetector(window=8).fit(train)
    bad_test = test.copy()
    bad_test[3, 0] = np.inf
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        det.decision_function(bad_test)


def test_contract_errors():
    train, test, _ = DATA
    with pytest.raises(NotFittedError):
        B.PCADetector().decision_function(test)
    det = B.KMeansDetector(window=4, n_clusters=2).fit(train)
    with pytest.raises(ValueError, match="X has 2 features, but KMeansDetector is expecting 3 features"):
        det.decision_function(test[:, :2])
    with pytest.raises(ValueError, match="shorter than the window length 16"):
        B.PCADetector(window=16).fit(train[:10])
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, inf\]; got 0"):
        B.PCADetector(window=0).fit(train)
    with pytest.raises(TypeError, match=r"window must be an integer; got 16.0"):
        B.PCADetector(window=16.0).fit(train)
    with pytest.raises(ValueError, match=r"nu must be a finite number in \(0, 1\]"):
        B.OCSVMDetector(nu=0.0).fit(train)
    with pytest.raises(ValueError, match="reduce must be one of"):
        B.PCADetector(reduce="median").fit(train)
    assert repr(B.PCADetector(window=8)) == "PCADetector(window=8)"


def test_knn_scores_the_distance_to_the_kth_training_window():
    rng = np.random.default_rng(3)
    train = rng.standard_normal((200, 2))
    det = B.KNNDetector(window=4, hop=1, n_neighbors=3).fit(train)
    test = rng.standard_normal((50, 2))
    # by hand: the same standardised windows, distances to every training window, the 3rd smallest
    tr = det._fitting_windows(train).reshape(-1, 8)
    te = det._windows(test).reshape(-1, 8)
    d = np.sort(np.linalg.norm(te[:, None, :] - tr[None, :, :], axis=2), axis=1)
    np.testing.assert_allclose(det._score_windows(te), d[:, 2], rtol=1e-10)
    mean = B.KNNDetector(window=4, hop=1, n_neighbors=3, method="mean").fit(train)
    np.testing.assert_allclose(mean._score_windows(te), d[:, :3].mean(axis=1), rtol=1e-10)
    # a stored window is its own nearest neighbour
    one = B.KNNDetector(window=4, hop=1).fit(train)
    assert np.allclose(one._score_windows(tr), 0.0)
    with pytest.raises(ValueError, match="n_neighbors"):
        B.KNNDetector(n_neighbors=0).fit(train)
    with pytest.raises(ValueError, match="method"):
        B.KNNDetector(method="median").fit(train)


def test_knn_flags_a_level_between_two_training_levels():
    # a square wave between 0 and 2; the test holds one period at 1 (inside the training range)
    period = np.repeat(np.array([0.0, 2.0]), 20)
    train = np.tile(period, 40)[:, None] + 0.01 * np.random.default_rng(0).standard_normal((1600, 1))
    test = np.tile(period, 10)[:, None].copy()
    test[200:240] = 1.0
    y = np.zeros(len(test), dtype=int)
    y[200:240] = 1
    scores = B.KNNDetector(window=16).fit(train).decision_function(test)
    assert roc_auc(y, scores) > 0.95


def test_pca_is_deterministic_on_wide_windows():
    # 40 channels x 16 steps = 640 values per window: scikit-learn's "auto" solver would pick an
    # unseeded randomized SVD here, so two fits could differ
    rng = np.random.default_rng(5)
    train = rng.standard_normal((700, 40)) @ rng.standard_normal((40, 40))
    test = rng.standard_normal((200, 40)) @ rng.standard_normal((40, 40))
    a = B.PCADetector(window=16).fit(train).decision_function(test)
    b = B.PCADetector(window=16).fit(train).decision_function(test)
    np.testing.assert_array_equal(a, b)

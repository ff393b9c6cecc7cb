"""The one detector contract, checked on every method of the registry.

Each detector and baseline: ``clone``, ``fit(X, y)`` returning self, ``decision_scores_``,
``threshold_`` (from the base class's rule on held-out normal scores), ``labels_``, ``predict``,
``NotFittedError`` before fit, the global torch RNG untouched, and bit-identical scores for the
same ``random_state``; plus scikit-learn's own estimator checks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from diffad_lib import DiffusionDetector, PatchDiffusionDetector
from diffad_lib import experiments as ex
from diffad_lib.thresholds import fit_threshold

TINY_UNET = {"base_channels": 8, "channel_mults": (1, 2), "n_heads": 2, "adapter_channels": 8, "time_dim": 16,
             "hybrid_kernels": 2}
# small settings per registry name, so every method fits in well under a second or two
SMALL = {
    "diffusion": dict(window=16, hop=8, n_steps=20, t0=5, epochs=2, model_params={"hidden": 16, "n_layers": 1}),
    "diffadt": dict(window=16, hop=8, n_steps=20, t0=5, epochs=2,
                    model_params={"residual_channels": 8, "n_layers": 2, "layer": "res", "dilation_cycle": 2}),
    "exact_denoiser": dict(window=4, n_steps=20, t0=5),  # a memory of short windows, like the window baselines
    "patch_diffusion": dict(model_params=TINY_UNET, n_steps=20, t0=5, sample_steps=2, epochs=1, batch_size=8),
    "zscore": dict(window=2),
    "iforest": dict(window=4, n_estimators=10),
    "pca": dict(window=4),
    "kmeans": dict(window=4, n_clusters=3),
    "knn": dict(window=4),
    "ocsvm": dict(window=4, max_train=100),
    "kpca": dict(window=4, max_train=50),
    "autoencoder": dict(window=8, hop=4, epochs=2),
    "conv_ae": dict(epochs=2, channels=(4,), bottleneck=2),
    "feature_knn": dict(max_bank=500),
    "random": dict(),
}
assert set(SMALL) == set(ex.METHODS), "every registered method is checked here"


def _data(name: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if ex.METHODS[name].input == "samples":
        return rng.standard_normal((20, 1, 16, 16))  # (N, C, H, W)
    t = np.arange(300)
    return np.column_stack([np.sin(t / 5), np.cos(t / 7)]) + 0.05 * rng.standard_normal((300, 2))  # (n, C)


@pytest.mark.parametrize("name", list(SMALL))
def test_every_method_follows_the_contract(name):
    X = _data(name)
    det = ex.make_detector(name, **SMALL[name], val_fraction=0.25)
    with pytest.raises(NotFittedError):
        det.predict(X)
    copy = clone(det)
    assert copy.get_params() == det.get_params()
    rng_state = torch.random.get_rng_state()
    assert det.fit(X, np.zeros(len(X))) is det  # y is accepted and ignored
    assert torch.equal(torch.random.get_rng_state(), rng_state), "fit must not touch torch's global RNG"
    n = len(X)
    assert det.n_features_in_ == X.shape[1]
    assert det.decision_scores_.shape == (n,) and np.isfinite(det.decision_scores_).all()
    # the threshold is the base class's rule on the held-out (last quarter) normal scores
    held_out = det.decision_scores_[n - int(round(0.25 * n)):]
    assert det.threshold_ == pytest.approx(fit_threshold(held_out, method="three_sigma"))
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    np.testing.assert_array_equal(det.predict(X), det.labels_)
    # same random_state -> bit-identical scores on CPU
    np.testing.assert_array_equal(clone(det).fit(X).decision_function(X), det.decision_function(X))
    with pytest.raises(ValueError, match="features"):
        det.decision_function(np.repeat(X, 2, axis=1))


def test_unknown_and_mistyped_parameters_are_named():
    with pytest.raises(ValueError, match=r"got unknown \['windw'\]"):
        ex.make_detector("diffusion", windw=3)
    with pytest.raises(TypeError, match=r"t0 must be an integer; got 5.0"):
        DiffusionDetector(t0=5.0).fit(_data("diffusion"))
    with pytest.raises(TypeError, match=r"epochs must be an integer; got '3'"):
        PatchDiffusionDetector(epochs="3").fit(_data("patch_diffusion"))
    with pytest.raises(ValueError, match=r"t0 must be an integer in \[1, 100\]; got 0"):
        DiffusionDetector(t0=0).fit(_data("diffusion"))
    with pytest.raises(TypeError, match="random_state must be an integer; got None"):
        DiffusionDetector(random_state=None).fit(_data("diffusion"))


def test_complex_and_sparse_input_is_refused():
    from scipy import sparse

    X = _data("pca")
    with pytest.raises(ValueError, match="complex"):
        ex.make_detector("pca").fit(X + 1j)
    with pytest.raises(TypeError, match="sparse"):
        ex.make_detector("pca").fit(sparse.csr_matrix(X))


# Checks of scikit-learn's suite that cannot apply to a detector of windowed *series*, where the
# rows of X are consecutive time steps rather than independent samples:
SERIES_CANNOT_APPLY = {
    # a 1-D X is a univariate series (one channel), accepted by design
    "check_fit1d": "a 1-D X is a univariate series, not a mistake",
    # reordering or sub-setting time steps changes the windows a step belongs to
    "check_methods_sample_order_invariance": "scores depend on the neighbours of a time step",
    "check_methods_subset_invariance": "scores depend on the neighbours of a time step",
    # one time step is shorter than any window
    "check_fit2d_1sample": "one time step is shorter than a window",
}


@pytest.mark.parametrize("name", ["diffusion", "zscore", "iforest", "pca", "kmeans", "knn", "ocsvm", "kpca",
                                  "autoencoder", "random"])
def test_scikit_learn_estimator_checks(name):
    # tiny windows, so scikit-learn's small test matrices are long enough
    params = {**SMALL[name], "window": 1, "hop": 1} if "window" in SMALL[name] else dict(SMALL[name])
    if name == "diffusion":
        params.update(window=2, context=1)
    if name == "autoencoder":
        params = {"window": 2, "hop": 1, "epochs": 1, "channels": (4,), "bottleneck": 2}
    if name == "kmeans":
        params.update(n_clusters=2)
    det = ex.make_detector(name, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(det, on_fail=None, on_skip=None)
    failed = {r["check_name"]: str(r["exception"])[:200] for r in results if r["status"] == "failed"}
    unexpected = {k: v for k, v in failed.items() if k not in SERIES_CANNOT_APPLY}
    assert not unexpected, unexpected
    assert len(results) >= 30

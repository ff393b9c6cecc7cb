"""Baselines on the detectors' one base class: the methods every table compares against.

Every class here derives from :class:`~diffad_lib.detectors.base.BaseDetector`, so it has the
same contract as the diffusion detectors: ``fit(X, y=None)`` returns ``self`` and sets
``decision_scores_``, ``threshold_`` (fitted on held-out normal scores by the ``threshold``
rule) and ``labels_``; ``decision_function`` (higher = more anomalous); ``predict``;
``sklearn.base.clone`` works.

**Series baselines** (:class:`WindowBaseline` subclasses) standardise each channel on the
fitting data robustly (winsorised mean and std, :class:`~diffad_lib.scaling.ChannelScaler`, so one
extreme training value cannot squash a channel), cut the series into windows of length
``window`` (default :data:`~diffad_lib.data.windows.WINDOW`, the diffusion detector's too) and hop
``hop`` (:func:`diffad_lib.data.windows.frame`), score each window vector of
``C·window`` values, and spread each window's score over the time steps it covers
(:func:`~diffad_lib.data.windows.stitch`): ``reduce="mean"`` averages the windows covering a
step, ``"max"`` keeps the largest. With ``window=1`` each time step is scored on its own.

**Sample baselines** (images, scalograms, fixed windows (N, C, *S)) score per-pixel maps reduced
per sample as :class:`~diffad_lib.detectors.samples.MapScorer` does for the diffusion detector.

:class:`RandomScore` accepts both kinds: the floor every table must beat.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM
from torch import nn

from diffad_lib._validation import check_choice, check_float, check_int
from diffad_lib.data.windows import WINDOW, frame, stitch
from diffad_lib.detectors.base import BaseDetector, as_samples, store_params
from diffad_lib.detectors.samples import MapScorer
from diffad_lib.features import build_feature_net
from diffad_lib.models.autoencoder import ConvAutoencoder, reconstruction_loss
from diffad_lib.scaling import ChannelScaler
from diffad_lib.train import TrainConfig, seeded_init, train_diffusion
from diffad_lib.utils import resolve_device

__all__ = [
    "AutoencoderDetector",
    "ConvAutoencoderDetector",
    "FeatureKNNDetector",
    "IsolationForestDetector",
    "KMeansDetector",
    "KNNDetector",
    "KernelPCADetector",
    "OCSVMDetector",
    "PCADetector",
    "RandomScore",
    "WindowBaseline",
    "ZScoreDetector",
]

Reduce = Literal["mean", "max"]
FIT_CLIP = 10.0  # training values of the window baselines are clipped to this many robust standard deviations


class RandomScore(BaseDetector):
    """Uniform random scores, one per time step (series) or per sample (samples).

    Parameters
    ----------
    threshold, threshold_params, val_fraction : as every detector.
    random_state : int, default 0
        Each ``decision_function`` call restarts from this seed, so results are reproducible.
    """

    def __init__(self, *, threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.0, random_state: int = 0) -> None:
        store_params(self, locals())

    def _check_params(self) -> None:
        check_int(self.random_state, name="random_state", minimum=0)

    def _validate(self, X: Any, *, reset: bool, name: str = "X") -> np.ndarray:
        if np.ndim(X) in (3, 4):  # samples (N, C, *S); anything else is validated as a series
            return self._check_features(as_samples(X, name=name), reset=reset, name=name)
        return super()._validate(X, reset=reset, name=name)

    def _fit(self, X: np.ndarray) -> None:
        pass

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self.random_state).random(X.shape[0])


class WindowBaseline(BaseDetector):
    """Series baseline: standardise → windows → score each window vector → stitch back.

    Subclasses declare ``window``, ``hop``, ``reduce`` and the threshold parameters, and
    implement ``_fit_windows(feats)`` and ``_score_windows(feats) -> (W,)`` on (W, C·window) rows.
    """

    window: int
    hop: int
    reduce: Reduce

    @property
    def _min_length(self) -> int:
        return self.window if isinstance(self.window, (int, np.integer)) and self.window > 0 else 1

    def _check_params(self) -> None:
        check_int(self.window, name="window", minimum=1)
        check_int(self.hop, name="hop", minimum=1)
        check_choice(self.reduce, name="reduce", choices=("mean", "max"))
        self._check_method_params()

    def _check_method_params(self) -> None:
        """Validate the subclass's own parameters."""

    def _windows(self, X: np.ndarray) -> np.ndarray:
        """(n, C) -> (W, C, window) standardised windows."""
        return frame(self.scaler_.transform(X), self.window, self.hop)

    def _fitting_windows(self, X: np.ndarray) -> np.ndarray:
        """Fit ``scaler_`` on X and return the standardised windows (W, C, window) to fit on.

        Windows holding a value beyond ±FIT_CLIP robust standard deviations (a glitch) are left out,
        so one glitch cannot pull a model towards it; should that leave fewer than half the windows
        (a heavy-tailed channel), all are kept, clipped to ±FIT_CLIP. Scoring never clips.
        """
        self.scaler_ = ChannelScaler("robust_standard").fit(X)
        w = self._windows(X)
        calm = np.abs(w).max(axis=(1, 2)) <= FIT_CLIP
        return w[calm] if calm.mean() >= 0.5 else np.clip(w, -FIT_CLIP, FIT_CLIP)

    def _fit(self, X: np.ndarray) -> None:
        w = self._fitting_windows(X)
        self._fit_windows(w.reshape(len(w), -1))

    def _score(self, X: np.ndarray) -> np.ndarray:
        w = self._windows(X)
        window_scores = self._score_windows(w.reshape(len(w), -1))  # (W,)
        tiled = np.broadcast_to(window_scores[:, None, None], (len(window_scores), 1, self.window))
        return stitch(tiled, X.shape[0], self.hop, reduce=self.reduce)[:, 0]

    def _fit_windows(self, feats: np.ndarray) -> None:  # (W, D)
        raise NotImplementedError

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:  # (W, D) -> (W,)
        raise NotImplementedError


def _subsample(feats: np.ndarray, max_train: int, seed: int) -> np.ndarray:
    """At most ``max_train`` rows of ``feats``, drawn without replacement (seeded)."""
    if feats.shape[0] <= max_train:
        return feats
    idx = np.random.default_rng(seed).choice(feats.shape[0], size=max_train, replace=False)
    return feats[np.sort(idx)]


class IsolationForestDetector(WindowBaseline):
    """Isolation Forest (Liu et al. 2008) on windows; score = −``score_samples`` (short paths).

    Parameters
    ----------
    window : int, default 1 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    n_estimators : int, default 100 ; random_state : int, default 0
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = 1, hop: int = 1, reduce: Reduce = "mean", n_estimators: int = 100,
                 random_state: int = 0, threshold: str = "three_sigma",
                 threshold_params: dict[str, Any] | None = None, val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_int(self.n_estimators, name="n_estimators", minimum=1)
        check_int(self.random_state, name="random_state", minimum=0)

    def _fit_windows(self, feats: np.ndarray) -> None:
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state).fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(feats)


class ZScoreDetector(WindowBaseline):
    """Per-point z-score: the largest ``|x − mean| / std`` over channels (and window), with mean and std
    of the winsorised training data (one extreme training value moves neither).

    The simplest detector of value anomalies; it knows nothing of shape, frequency or the relation
    between channels, which is what the other methods must add to be worth their cost.

    Parameters
    ----------
    window : int, default 1 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = 1, hop: int = 1, reduce: Reduce = "mean", threshold: str = "three_sigma",
                 threshold_params: dict[str, Any] | None = None, val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _fit_windows(self, feats: np.ndarray) -> None:
        pass  # the standardisation fitted by WindowBaseline is the whole model

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return np.abs(feats).max(axis=1)


class PCADetector(WindowBaseline):
    """PCA reconstruction error: squared distance of a window vector to the principal subspace.

    Parameters
    ----------
    window : int, default 32 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    n_components : int, default 8
        Clipped to ``min(n_windows, C·window) − 1``.
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean", n_components: int = 8,
                 threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_int(self.n_components, name="n_components", minimum=1)

    def _fit_windows(self, feats: np.ndarray) -> None:
        k = max(1, min(self.n_components, min(feats.shape) - 1))
        # the exact SVD: scikit-learn's "auto" picks an unseeded randomized SVD for inputs wider or longer
        # than 500, and two runs on the same SMD machine then differed (by 0.0005 in its VUS-PR)
        self.model_ = PCA(n_components=k, svd_solver="full").fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        recon = self.model_.inverse_transform(self.model_.transform(feats))  # (W, D)
        return np.sum((feats - recon) ** 2, axis=1)


class KMeansDetector(WindowBaseline):
    """Distance of each window vector to its nearest k-means centroid.

    Parameters
    ----------
    window : int, default 32 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    n_clusters : int, default 8 ; random_state : int, default 0
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean", n_clusters: int = 8,
                 random_state: int = 0, threshold: str = "three_sigma",
                 threshold_params: dict[str, Any] | None = None, val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_int(self.n_clusters, name="n_clusters", minimum=1)
        check_int(self.random_state, name="random_state", minimum=0)

    def _fit_windows(self, feats: np.ndarray) -> None:
        if self.n_clusters > feats.shape[0]:
            raise ValueError(f"n_clusters must not exceed the number of training windows {feats.shape[0]}; "
                             f"got {self.n_clusters}")
        self.model_ = KMeans(n_clusters=self.n_clusters, n_init=3, random_state=self.random_state).fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return self.model_.transform(feats).min(axis=1)  # (W,) distance to the nearest centroid


class KNNDetector(WindowBaseline):
    """Distance of each window vector to its k-th nearest training window (the classic kNN outlier score).

    The training windows are kept as they are (a memory of the normal data), so a window that
    matches no stored window scores high even when it is made of familiar parts, for instance a
    stretch at a level between two levels seen in training. Scoring the fitting windows finds
    each window itself among its neighbours (distance 0 at ``n_neighbors=1``); thresholds come
    from held-out windows (``val_fraction``), as for every method.

    Parameters
    ----------
    window : int, default 32 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    n_neighbors : int, default 1
        k; clipped to the number of training windows. With 1 the score is the distance to the nearest
        normal window (the idea behind the matrix profile's discords, without z-normalising windows).
        On the leaderboard's development series 1 scored a mean VUS-PR of 0.538 against 0.512 for the
        common 5 (``results/baseline_variants/knn_k1.json``, ``knn_k5.json``).
    method : {"largest", "mean"}, default "largest"
        Score by the distance to the k-th neighbour, or the mean distance to the k nearest.
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean", n_neighbors: int = 1,
                 method: Literal["largest", "mean"] = "largest", threshold: str = "three_sigma",
                 threshold_params: dict[str, Any] | None = None, val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_int(self.n_neighbors, name="n_neighbors", minimum=1)
        check_choice(self.method, name="method", choices=("largest", "mean"))

    def _fit_windows(self, feats: np.ndarray) -> None:
        self.k_ = min(self.n_neighbors, feats.shape[0])
        self.model_ = NearestNeighbors(n_neighbors=self.k_).fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        dist, _ = self.model_.kneighbors(feats, n_neighbors=self.k_)  # (W, k), ascending
        return dist[:, -1] if self.method == "largest" else dist.mean(axis=1)


class OCSVMDetector(WindowBaseline):
    """One-class SVM (RBF kernel) on window vectors; score = −``decision_function``.

    Parameters
    ----------
    window : int, default 32 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    nu : float, default 0.05
        Upper bound on the fraction of training windows treated as outliers, in (0, 1].
    max_train : int, default 2000
        The SVM is fit on at most this many training windows, drawn at random (its cost grows
        quadratically or worse with the number of samples).
    random_state : int, default 0
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean", nu: float = 0.05,
                 max_train: int = 2000, random_state: int = 0, threshold: str = "three_sigma",
                 threshold_params: dict[str, Any] | None = None, val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_float(self.nu, name="nu", low=0.0, high=1.0, low_open=True)
        check_int(self.max_train, name="max_train", minimum=2)
        check_int(self.random_state, name="random_state", minimum=0)

    def _fit_windows(self, feats: np.ndarray) -> None:
        sub = _subsample(feats, self.max_train, self.random_state)
        self.model_ = OneClassSVM(kernel="rbf", gamma="scale", nu=self.nu).fit(sub)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return -self.model_.decision_function(feats)


class KernelPCADetector(WindowBaseline):
    """Kernel PCA reconstruction error in feature space (Hoffmann, Pattern Recognition 2007).

    With an RBF kernel ``k(a, b) = exp(−γ‖a − b‖²)`` and training windows ``x_1..x_m``, the score
    of a window ``z`` is the squared distance of ``φ(z)`` to the span of the top
    ``n_components`` centred principal axes:
    ``k̃(z, z) − Σ_j y_j(z)²`` with ``y_j(z) = Σ_i a_ij k̃(z, x_i) / sqrt(λ_j)`` and ``k̃`` the
    kernel centred on the training windows. Computed in closed form, no pre-image needed.

    Parameters
    ----------
    window : int, default 32 ; hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    n_components : int, default 16
    gamma : float or None, default None
        RBF width; ``None`` uses ``1 / D`` for ``D = C·window`` standardised features.
    max_train : int, default 1000
        Kernel PCA is fit on at most this many training windows, drawn at random.
    random_state : int, default 0
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean", n_components: int = 16,
                 gamma: float | None = None, max_train: int = 1000, random_state: int = 0,
                 threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        check_int(self.n_components, name="n_components", minimum=1)
        check_int(self.max_train, name="max_train", minimum=2)
        check_int(self.random_state, name="random_state", minimum=0)
        if self.gamma is not None:
            check_float(self.gamma, name="gamma", low=0.0, low_open=True)

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-self.gamma_ * euclidean_distances(a, b, squared=True))

    def _fit_windows(self, feats: np.ndarray) -> None:
        self.gamma_ = float(self.gamma) if self.gamma is not None else 1.0 / feats.shape[1]
        self.train_ = _subsample(feats, self.max_train, self.random_state)  # (m, D)
        K = self._kernel(self.train_, self.train_)  # (m, m)
        self.col_mean_ = K.mean(axis=0)  # (m,)
        self.all_mean_ = float(K.mean())
        Kc = K - self.col_mean_[None, :] - self.col_mean_[:, None] + self.all_mean_  # centred
        lam, vec = np.linalg.eigh(Kc)  # ascending eigenvalues
        k = min(self.n_components, int(np.sum(lam > 1e-10 * lam[-1])))
        lam, vec = lam[::-1][:k], vec[:, ::-1][:, :k]
        self.proj_ = vec / np.sqrt(lam)[None, :]  # (m, k): y(z) = k̃(z, ·) @ proj_

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        out = np.empty(feats.shape[0])
        for lo in range(0, feats.shape[0], 2048):  # bounded memory: (2048, m) kernel blocks
            Kz = self._kernel(feats[lo : lo + 2048], self.train_)  # (b, m)
            row_mean = Kz.mean(axis=1)  # (b,)
            Kz_c = Kz - self.col_mean_[None, :] - row_mean[:, None] + self.all_mean_
            y = Kz_c @ self.proj_  # (b, k)
            kzz = 1.0 - 2.0 * row_mean + self.all_mean_  # centred k(z, z); k(z, z) = 1 for RBF
            out[lo : lo + 2048] = kzz - np.sum(y**2, axis=1)
        return out



class _AutoencoderMixin:
    """Build and train a :class:`~diffad_lib.models.autoencoder.ConvAutoencoder` with the one loop.

    The host defines ``channels``, ``bottleneck``, ``epochs``, ``batch_size``, ``lr``, ``device``
    and ``random_state``.
    """

    def _check_ae_params(self) -> None:
        channels = self.channels
        if not isinstance(channels, (tuple, list)) or not channels:
            raise TypeError(f"channels must be a non-empty tuple of positive ints; got {channels!r}")
        for c in channels:
            check_int(c, name="channels[i]", minimum=1)
        check_int(self.bottleneck, name="bottleneck", minimum=1)
        check_int(self.epochs, name="epochs", minimum=1)
        check_int(self.batch_size, name="batch_size", minimum=1)
        check_float(self.lr, name="lr", low=0.0, low_open=True)
        check_int(self.random_state, name="random_state", minimum=0)

    def _train_autoencoder(self, x: np.ndarray) -> None:
        """Train ``net_`` on x (N, C, *S) float32 in scaled units (MSE, AdamW without decay, constant LR)."""
        factor = 2 ** len(self.channels)
        if any(s % factor for s in x.shape[2:]):
            raise ValueError(f"sizes {tuple(x.shape[2:])} must be divisible by 2**len(channels) = {factor}; "
                             "change the window / image size or channels")
        net = seeded_init(lambda: ConvAutoencoder(dims=x.ndim - 2, in_channels=x.shape[1],
                                                   channels=tuple(int(c) for c in self.channels),
                                                   bottleneck=int(self.bottleneck)), seed=self.random_state)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=0.0,
                             lr_schedule="constant", grad_clip=None, seed=self.random_state,
                             device=str(resolve_device(self.device)), progress=False)
        result = train_diffusion(net, None, torch.as_tensor(x, dtype=torch.float32), config=config,
                                 loss_fn=reconstruction_loss)
        self.net_ = result.model.eval()
        self.train_losses_ = list(result.losses)

    @torch.no_grad()
    def _errors(self, x: np.ndarray) -> np.ndarray:
        """Squared error per pixel / step, averaged over channels: (N, C, *S) -> (N, *S) float64."""
        device = next(self.net_.parameters()).device
        out = []
        for lo in range(0, len(x), 256):
            batch = torch.as_tensor(x[lo : lo + 256], dtype=torch.float32, device=device)
            # the error in float64 against the exact input: a huge (finite) value gives a huge, finite score
            recon = self.net_(batch).double().cpu().numpy()
            out.append(((recon - x[lo : lo + 256]) ** 2).mean(axis=1))
        return np.concatenate(out)


class AutoencoderDetector(_AutoencoderMixin, WindowBaseline):
    """A convolutional autoencoder on standardised windows (C, window); score = mean squared error.

    Parameters
    ----------
    window : int, default 32 (:data:`~diffad_lib.data.windows.WINDOW`)
        Must be divisible by 2**len(channels).
    hop : int, default 1 ; reduce : {"mean", "max"}, default "mean"
    channels : tuple of int, default (32, 16, 8)
        Widths of the strided encoder convolutions (each halves the window).
    bottleneck : int, default 4
    epochs : int, default 30 ; batch_size : int, default 128 ; lr : float, default 1e-3
    device : str, default "cpu" ; random_state : int, default 0
    threshold, threshold_params, val_fraction : as every detector.
    """

    def __init__(self, *, window: int = WINDOW, hop: int = 1, reduce: Reduce = "mean",
                 channels: tuple[int, ...] = (32, 16, 8), bottleneck: int = 4, epochs: int = 30,
                 batch_size: int = 128, lr: float = 1e-3, device: str = "cpu", random_state: int = 0,
                 threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.0) -> None:
        store_params(self, locals())

    def _check_method_params(self) -> None:
        self._check_ae_params()

    def _fit(self, X: np.ndarray) -> None:
        self._train_autoencoder(self._fitting_windows(X))

    def _score(self, X: np.ndarray) -> np.ndarray:
        w = self._windows(X)
        window_scores = self._errors(w).mean(axis=1)  # (W,)
        tiled = np.broadcast_to(window_scores[:, None, None], (len(window_scores), 1, self.window))
        return stitch(tiled, X.shape[0], self.hop, reduce=self.reduce)[:, 0]


class ConvAutoencoderDetector(_AutoencoderMixin, MapScorer, BaseDetector):
    """A convolutional autoencoder on samples (N, C, *S); map = squared error per pixel.

    Parameters
    ----------
    channels : tuple of int, default (16, 32)
        Widths of the strided encoder convolutions (sizes must be divisible by 2**len(channels)).
    bottleneck : int, default 4
    epochs : int, default 30 ; batch_size : int, default 32 ; lr : float, default 1e-3
    image_score : {"mean", "max"}, default "max" ; map_sigma : float, default 1.0
    scaling : {"minmax", "none"}, default "minmax"
    threshold, threshold_params : as every detector ; val_fraction : float, default 0.2
    device : str, default "cpu" ; random_state : int, default 0
    """

    def __init__(self, *, channels: tuple[int, ...] = (16, 32), bottleneck: int = 4, epochs: int = 30,
                 batch_size: int = 32, lr: float = 1e-3, image_score: Literal["mean", "max"] = "max",
                 map_sigma: float = 1.0, scaling: Literal["minmax", "none"] = "minmax",
                 threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.2, device: str = "cpu", random_state: int = 0) -> None:
        store_params(self, locals())

    def _check_params(self) -> None:
        self._check_map_params()
        self._check_ae_params()

    def _fit(self, X: np.ndarray) -> None:
        self._train_autoencoder(self._fit_scaler(X))

    def _maps(self, scaled: np.ndarray) -> np.ndarray:
        return self._errors(scaled)


class FeatureKNNDetector(MapScorer, BaseDetector):
    """Distance of each location's local features to its nearest training locations.

    Every feature map of the frozen network (default :class:`~diffad_lib.features.WaveletFeatures`)
    is resized to the input grid and stacked, so each pixel has one feature vector, standardised
    with the fitting samples' mean and std. The memory bank holds up to ``max_bank`` fitting
    vectors (a seeded random subset); a pixel's score is the mean distance to its
    ``n_neighbors`` nearest bank vectors. No training, no diffusion: a PatchCore-style baseline.

    Parameters
    ----------
    feature : str or nn.Module, default "wavelet" ; feature_params : dict, optional
    n_neighbors : int, default 1 ; max_bank : int, default 20000
    image_score, map_sigma, scaling, threshold, threshold_params, val_fraction, random_state :
        As :class:`ConvAutoencoderDetector`.
    """

    def __init__(self, *, feature: str | nn.Module = "wavelet", feature_params: dict[str, Any] | None = None,
                 n_neighbors: int = 1, max_bank: int = 20000, image_score: Literal["mean", "max"] = "max",
                 map_sigma: float = 1.0, scaling: Literal["minmax", "none"] = "minmax",
                 threshold: str = "three_sigma", threshold_params: dict[str, Any] | None = None,
                 val_fraction: float = 0.2, random_state: int = 0) -> None:
        store_params(self, locals())

    def _check_params(self) -> None:
        self._check_map_params()
        check_int(self.n_neighbors, name="n_neighbors", minimum=1)
        check_int(self.max_bank, name="max_bank", minimum=1)
        check_int(self.random_state, name="random_state", minimum=0)

    @torch.no_grad()
    def _pixel_features(self, scaled: np.ndarray) -> np.ndarray:
        """(N, C, *S) -> (N, *S, D) stacked, resized feature maps."""
        out = []
        for lo in range(0, len(scaled), 256):
            x = torch.as_tensor(scaled[lo : lo + 256])
            size, mode = tuple(x.shape[2:]), ("bilinear" if x.ndim == 4 else "linear")
            maps = [f if tuple(f.shape[2:]) == size else F.interpolate(f, size=size, mode=mode, align_corners=False)
                    for f in self.feature_net_(x)]
            out.append(torch.cat(maps, dim=1).movedim(1, -1).double().numpy())  # (B, *S, D)
        return np.concatenate(out)

    def _fit(self, X: np.ndarray) -> None:
        scaled = self._fit_scaler(X)
        self.feature_net_ = build_feature_net(self.feature, **(self.feature_params or {}))
        feats = self._pixel_features(scaled)
        bank = feats.reshape(-1, feats.shape[-1])  # (n_fit·|S|, D)
        std = bank.std(axis=0)
        self.feat_mean_, self.feat_std_ = bank.mean(axis=0), np.where(std > 0, std, 1.0)
        bank = _subsample(bank, int(self.max_bank), self.random_state)
        self.knn_ = NearestNeighbors(n_neighbors=int(self.n_neighbors)).fit((bank - self.feat_mean_) / self.feat_std_)

    def _maps(self, scaled: np.ndarray) -> np.ndarray:
        feats = self._pixel_features(scaled)  # (N, *S, D)
        flat = (feats.reshape(-1, feats.shape[-1]) - self.feat_mean_) / self.feat_std_
        dist, _ = self.knn_.kneighbors(flat)  # (N·|S|, k)
        return dist.mean(axis=1).reshape(feats.shape[:-1])  # (N, *S)

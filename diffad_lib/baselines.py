"""Classical baselines with the scikit-learn / pyod detector API, for the book's tables.

Every detector works on a multivariate series ``X`` of shape (n, C) (or (n,) for one channel):

* ``__init__`` stores keyword options only;
* ``fit(X_train)`` learns from normal data and returns ``self``; it sets ``decision_scores_``
  (n_train,), the training scores that a threshold is fitted on;
* ``decision_function(X)`` returns one score per time step, shape (n,), higher = more anomalous.

Window-based detectors standardise each channel with the training mean and std, cut the series
into sliding windows of length ``window`` and hop ``stride`` (:func:`diffad_lib.data.windows.frame`),
flatten each window to a vector of ``C·window`` features, score the windows, and spread each
window's score over the time steps it covers with :func:`~diffad_lib.data.windows.stitch`:
``reduce="mean"`` (default) averages the scores of all windows covering a step, ``"max"`` keeps
the largest (spreads an alarm over a whole window length, better recall, worse localisation).
With ``window=1`` each time step is scored on its own.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.svm import OneClassSVM

from diffad_lib._validation import as_float_array, check_choice
from diffad_lib.data.windows import frame, stitch

__all__ = [
    "RandomScore",
    "IsolationForestDetector",
    "PCADetector",
    "KMeansDetector",
    "OCSVMDetector",
    "KernelPCADetector",
    "AutoencoderDetector",
    "make_baseline",
    "BASELINES",
]


def _check_int(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _as_series(X: Any, *, name: str = "X", min_length: int = 1) -> np.ndarray:
    """Validate ``X`` and return it as (n, C) float64."""
    arr = as_float_array(X, name=name, ndim=(1, 2), min_length=min_length)
    return arr[:, None] if arr.ndim == 1 else arr


class _BaseDetector:
    """Shared plumbing: input checks and the ``fit`` / ``decision_function`` contract."""

    n_channels_: int

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_channels_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit(X_train) first")

    def _check_channels(self, arr: np.ndarray) -> None:
        if arr.shape[1] != self.n_channels_:
            raise ValueError(f"X must have the {self.n_channels_} channels seen in fit; got shape {arr.shape}")

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in params if p != "self")
        return f"{type(self).__name__}({args})"


class RandomScore(_BaseDetector):
    """Uniform random scores: the floor every table must beat.

    Parameters
    ----------
    seed : int, default 0
        Each call to ``decision_function`` restarts from this seed, so results are reproducible.
    """

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X_train: Any) -> RandomScore:
        """Record the number of channels; returns ``self``."""
        arr = _as_series(X_train, name="X_train")
        self.n_channels_ = arr.shape[1]
        self.decision_scores_ = self.decision_function(arr)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Uniform(0, 1) scores, shape (n,)."""
        self._check_fitted()
        arr = _as_series(X)
        self._check_channels(arr)
        return np.random.default_rng(self.seed).random(arr.shape[0])


class _WindowDetector(_BaseDetector):
    """Frame -> standardise -> score each window -> stitch back; subclasses implement two hooks."""

    window: int
    stride: int
    reduce: Literal["mean", "max"]

    def _init_windows(self, window: int, stride: int, reduce: Literal["mean", "max"]) -> None:
        self.window = window
        self.stride = stride
        self.reduce = reduce

    def _features(self, arr: np.ndarray) -> np.ndarray:
        """(n, C) -> (n_windows, C·window) standardised window vectors."""
        z = (arr - self.mean_) / self.scale_  # (n, C)
        w = frame(z, self.window, self.stride)  # (W, C, L)
        return w.reshape(w.shape[0], -1)  # (W, C·L)

    def fit(self, X_train: Any) -> _WindowDetector:
        """Fit on normal data ``X_train`` (n, C) or (n,); returns ``self``."""
        _check_int(self.window, name="window", minimum=1)
        _check_int(self.stride, name="stride", minimum=1)
        check_choice(self.reduce, name="reduce", choices=("mean", "max"))
        arr = _as_series(X_train, name="X_train", min_length=self.window)
        self.n_channels_ = arr.shape[1]
        self.mean_ = arr.mean(axis=0)  # (C,)
        std = arr.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)  # (C,) constant channels are left unscaled
        feats = self._features(arr)
        self._fit_windows(feats)
        self.decision_scores_ = self._stitch(self._score_windows(feats), arr.shape[0])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-time-step anomaly scores for ``X`` (n, C) or (n,): (n,) float64, higher = more anomalous."""
        self._check_fitted()
        arr = _as_series(X, min_length=self.window)
        self._check_channels(arr)
        return self._stitch(self._score_windows(self._features(arr)), arr.shape[0])

    def _stitch(self, window_scores: np.ndarray, n: int) -> np.ndarray:
        """(n_windows,) -> (n,): each window's score spread over the steps it covers."""
        tiled = np.broadcast_to(window_scores[:, None, None], (len(window_scores), 1, self.window))
        return stitch(tiled, n, self.stride, reduce=self.reduce)[:, 0]

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


class IsolationForestDetector(_WindowDetector):
    """Isolation Forest (Liu et al. 2008) on windows; score = −``score_samples`` (short paths).

    Parameters
    ----------
    window : int, default 1
        Window length (1 scores each time step's channel vector).
    stride : int, default 1
    n_estimators : int, default 100
    random_state : int, default 0
    reduce : {"mean", "max"}, default "mean"
        How window scores are spread back onto time steps.
    """

    def __init__(
        self,
        *,
        window: int = 1,
        stride: int = 1,
        n_estimators: int = 100,
        random_state: int = 0,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _fit_windows(self, feats: np.ndarray) -> None:
        _check_int(self.n_estimators, name="n_estimators", minimum=1)
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)
        self.model_.fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(feats)


class PCADetector(_WindowDetector):
    """PCA reconstruction error: squared distance of a window vector to the principal subspace.

    Parameters
    ----------
    window : int, default 16
    stride : int, default 1
    n_components : int, default 8
        Clipped to ``min(n_windows, C·window) − 1``.
    reduce : {"mean", "max"}, default "mean"
    """

    def __init__(
        self,
        *,
        window: int = 16,
        stride: int = 1,
        n_components: int = 8,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.n_components = n_components

    def _fit_windows(self, feats: np.ndarray) -> None:
        _check_int(self.n_components, name="n_components", minimum=1)
        k = max(1, min(self.n_components, min(feats.shape) - 1))
        self.model_ = PCA(n_components=k).fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        recon = self.model_.inverse_transform(self.model_.transform(feats))  # (W, D)
        return np.sum((feats - recon) ** 2, axis=1)


class KMeansDetector(_WindowDetector):
    """Distance of each window vector to its nearest k-means centroid.

    Parameters
    ----------
    window : int, default 16
    stride : int, default 1
    n_clusters : int, default 8
    random_state : int, default 0
    reduce : {"mean", "max"}, default "mean"
    """

    def __init__(
        self,
        *,
        window: int = 16,
        stride: int = 1,
        n_clusters: int = 8,
        random_state: int = 0,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.n_clusters = n_clusters
        self.random_state = random_state

    def _fit_windows(self, feats: np.ndarray) -> None:
        _check_int(self.n_clusters, name="n_clusters", minimum=1)
        if self.n_clusters > feats.shape[0]:
            raise ValueError(
                f"n_clusters must not exceed the number of training windows {feats.shape[0]}; got {self.n_clusters}"
            )
        self.model_ = KMeans(n_clusters=self.n_clusters, n_init=3, random_state=self.random_state)
        self.model_.fit(feats)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return self.model_.transform(feats).min(axis=1)  # (W,) distance to the nearest centroid


class OCSVMDetector(_WindowDetector):
    """One-class SVM (RBF kernel) on window vectors; score = −``decision_function``.

    Parameters
    ----------
    window : int, default 16
    stride : int, default 1
    nu : float, default 0.05
        Upper bound on the fraction of training windows treated as outliers, in (0, 1].
    max_train : int, default 2000
        The SVM is fit on at most this many training windows, drawn at random (its cost grows
        quadratically or worse with the number of samples).
    random_state : int, default 0
        Seed of the subsample.
    reduce : {"mean", "max"}, default "mean"
    """

    def __init__(
        self,
        *,
        window: int = 16,
        stride: int = 1,
        nu: float = 0.05,
        max_train: int = 2000,
        random_state: int = 0,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.nu = nu
        self.max_train = max_train
        self.random_state = random_state

    def _fit_windows(self, feats: np.ndarray) -> None:
        if not 0 < self.nu <= 1:
            raise ValueError(f"nu must lie in (0, 1]; got {self.nu!r}")
        _check_int(self.max_train, name="max_train", minimum=2)
        sub = _subsample(feats, self.max_train, self.random_state)
        self.model_ = OneClassSVM(kernel="rbf", gamma="scale", nu=self.nu).fit(sub)

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        return -self.model_.decision_function(feats)


class KernelPCADetector(_WindowDetector):
    """Kernel PCA reconstruction error in feature space (Hoffmann, Pattern Recognition 2007).

    With an RBF kernel ``k(a, b) = exp(−γ‖a − b‖²)`` and training windows ``x_1..x_m``, the score
    of a window ``z`` is the squared distance of ``φ(z)`` to the span of the top
    ``n_components`` centred principal axes:
    ``k̃(z, z) − Σ_j y_j(z)²`` with ``y_j(z) = Σ_i a_ij k̃(z, x_i) / sqrt(λ_j)`` and ``k̃`` the
    kernel centred on the training windows. Computed in closed form, no pre-image needed.

    Parameters
    ----------
    window : int, default 16
    stride : int, default 1
    n_components : int, default 16
    gamma : float or None, default None
        RBF width; ``None`` uses ``1 / D`` for ``D = C·window`` standardised features
        (scikit-learn's ``"scale"`` for unit-variance data).
    max_train : int, default 1000
        Kernel PCA is fit on at most this many training windows, drawn at random
        (an m×m eigendecomposition).
    random_state : int, default 0
    reduce : {"mean", "max"}, default "mean"
    """

    def __init__(
        self,
        *,
        window: int = 16,
        stride: int = 1,
        n_components: int = 16,
        gamma: float | None = None,
        max_train: int = 1000,
        random_state: int = 0,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.n_components = n_components
        self.gamma = gamma
        self.max_train = max_train
        self.random_state = random_state

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-self.gamma_ * euclidean_distances(a, b, squared=True))

    def _fit_windows(self, feats: np.ndarray) -> None:
        _check_int(self.n_components, name="n_components", minimum=1)
        _check_int(self.max_train, name="max_train", minimum=2)
        if self.gamma is not None and not (np.isfinite(self.gamma) and self.gamma > 0):
            raise ValueError(f"gamma must be None or a finite number > 0; got {self.gamma!r}")
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


class AutoencoderDetector(_WindowDetector):
    """A small 1-D convolutional autoencoder on windows; score = mean squared reconstruction error.

    Windows are (C, window) after per-channel standardisation. The encoder has one stride-2
    Conv1d (kernel 5) per entry of ``hidden`` (channel widths, the last is the bottleneck), the
    decoder mirrors it with stride-2 ConvTranspose1d layers and a linear output; the output is
    cropped to the window length. ReLU activations, Adam, seeded initialisation and shuffling
    (a ``torch.Generator``), so results are reproducible and the global torch RNG is untouched.

    Parameters
    ----------
    window : int, default 16
    stride : int, default 1
    hidden : tuple of int, default (32, 16)
        Encoder channel widths; each halves the time resolution.
    epochs : int, default 30
    batch_size : int, default 128
    lr : float, default 1e-3
    seed : int, default 0
    device : str, default "cpu"
    reduce : {"mean", "max"}, default "mean"
    """

    def __init__(
        self,
        *,
        window: int = 16,
        stride: int = 1,
        hidden: tuple[int, ...] = (32, 16),
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        device: str = "cpu",
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        self._init_windows(window, stride, reduce)
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device

    def _build(self, channels: int, generator: torch.Generator) -> torch.nn.Sequential:
        widths = [channels, *self.hidden]
        layers: list[torch.nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):  # encoder: (B, a, L) -> (B, b, ceil(L/2))
            layers += [torch.nn.Conv1d(a, b, 5, stride=2, padding=2), torch.nn.ReLU()]
        rev = widths[::-1]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:], strict=True)):  # decoder: doubles L, linear output
            layers.append(torch.nn.ConvTranspose1d(a, b, 4, stride=2, padding=1))
            if i < len(rev) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        with torch.no_grad():  # seeded initialisation without touching the global RNG
            for m in net:
                if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                    fan_in = m.weight.shape[1] * m.weight.shape[2]
                    bound = 1.0 / np.sqrt(fan_in)
                    m.weight.uniform_(-bound, bound, generator=generator)
                    m.bias.uniform_(-bound, bound, generator=generator)
        return net

    def _windows(self, feats: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(feats, dtype=torch.float32).reshape(-1, self.n_channels_, self.window)  # (W, C, L)

    def _reconstruct(self, batch: torch.Tensor) -> torch.Tensor:
        return self.net_(batch)[..., : self.window]  # (B, C, L): crop the decoder's padding

    def _fit_windows(self, feats: np.ndarray) -> None:
        hidden = tuple(self.hidden)
        if not hidden or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints; got {self.hidden!r}")
        _check_int(self.epochs, name="epochs", minimum=1)
        _check_int(self.batch_size, name="batch_size", minimum=1)
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be finite and > 0; got {self.lr!r}")
        generator = torch.Generator().manual_seed(self.seed)
        self.device_ = torch.device(self.device)
        self.net_ = self._build(self.n_channels_, generator).to(self.device_)
        data = self._windows(feats)  # (W, C, L)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.net_.train()
        for _ in range(self.epochs):
            perm = torch.randperm(data.shape[0], generator=generator)
            for lo in range(0, data.shape[0], self.batch_size):
                batch = data[perm[lo : lo + self.batch_size]].to(self.device_)  # (B, C, L)
                loss = torch.mean((self._reconstruct(batch) - batch) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net_.eval()

    def _score_windows(self, feats: np.ndarray) -> np.ndarray:
        data = self._windows(feats)
        out = np.empty(data.shape[0])
        with torch.no_grad():
            for lo in range(0, data.shape[0], 4096):
                batch = data[lo : lo + 4096].to(self.device_)
                err = torch.mean((self._reconstruct(batch) - batch) ** 2, dim=(1, 2))  # (b,)
                out[lo : lo + 4096] = err.cpu().numpy()
        return out


_REGISTRY: dict[str, type[_BaseDetector]] = {
    "random": RandomScore,
    "iforest": IsolationForestDetector,
    "pca": PCADetector,
    "kmeans": KMeansDetector,
    "ocsvm": OCSVMDetector,
    "kpca": KernelPCADetector,
    "autoencoder": AutoencoderDetector,
}

#: Names accepted by :func:`make_baseline`, in the order the book's tables list them.
BASELINES: tuple[str, ...] = tuple(_REGISTRY)


def make_baseline(name: str, **kwargs: Any) -> _BaseDetector:
    """Construct a baseline detector by name.

    Parameters
    ----------
    name : {"random", "iforest", "pca", "kmeans", "ocsvm", "kpca", "autoencoder"}
    **kwargs
        Keyword options of that detector's class; unknown names raise ``ValueError`` listing the
        valid ones.

    Returns
    -------
    An unfitted detector.
    """
    check_choice(name, name="name", choices=BASELINES)
    cls = _REGISTRY[name]
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"baseline {name!r} accepts options {valid}; got unknown {unknown}")
    return cls(**kwargs)

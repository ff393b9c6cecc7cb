"""Detectors for images, scalograms and fixed-length windows: (N, C, H, W) or (N, C, L) arrays.

* :class:`PatchDiffusionDetector` — Chen (2025): a denoiser (by default the wavelet U-Net)
  trained on normal samples; each input is noised t0 steps and denoised back to x̃0, and the
  anomaly score mixes the reconstruction error and a feature distance of a frozen network f,

      A = λ·z(‖x0 − x̃0‖²) + (1 − λ)·z(‖f(x0) − f(x̃0)‖²),

  each term standardised, ``z(s) = (s − mean)/std``, with statistics of the *training* scores
  (:class:`~diffad_lib.scoring.ScoreStats`). Training minimises L_MSE + γ·L_feat: the
  ε-prediction loss plus, for γ > 0, the feature distance between x0 and the one-step estimate
  x̂0(x_t, t), weighted by ᾱ_t (so nearly pure-noise steps, whose x̂0 is a blur, count little).
* :class:`ConvAutoencoderDetector` — a small convolutional autoencoder, score = squared error.
* :class:`FeatureKNNDetector` — nearest-neighbour distance of local features of a frozen feature
  network to a memory bank of training locations (a PatchCore-style baseline without training).

All three follow pyod / scikit-learn: ``__init__`` stores parameters; ``fit(X)`` returns ``self``
and sets ``decision_scores_``, ``threshold_`` and ``labels_``; ``decision_function(X)`` gives one
score per sample, higher = more anomalous; ``anomaly_map(X)`` one score per pixel (or time step)
(N, H, W) / (N, L); ``predict(X)`` 0/1. The threshold is fitted on the scores of a held-out
normal split (the last ``val_fraction`` of the training samples), never on test data.

Image-level scores reduce a per-pixel map: ``image_score="mean"`` averages the raw map (for the
reconstruction term, exactly ‖x0 − x̃0‖² / (C·H·W)); ``"max"`` takes the maximum of the map
smoothed by a Gaussian of ``map_sigma`` pixels (small defects are then not averaged away).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from torch import nn

from diffad_lib.features import EncoderFeatures, build_feature_net, feature_distance
from diffad_lib.models import build_model
from diffad_lib.samplers import randn_like, reconstruct
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.scoring import ScoreStats
from diffad_lib.thresholds import fit_threshold
from diffad_lib.train import TrainConfig, TrainResult, train_diffusion
from diffad_lib.utils import resolve_device

__all__ = [
    "ConvAutoencoderDetector",
    "FeatureKNNDetector",
    "PatchDiffusionDetector",
    "feature_loss",
    "train_with_feature_loss",
]

ImageScore = Literal["mean", "max"]


# --------------------------------------------------------------------------------------------
# Shared plumbing
# --------------------------------------------------------------------------------------------


def _validate_samples(X: Any, *, name: str = "X", factor: int = 1, channels: int | None = None) -> np.ndarray:
    """X -> float32 (N, C, H, W) or (N, C, L); ValueError naming ``name`` otherwise."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array (N, C, H, W) or (N, C, L); got {type(X).__name__}") from exc
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, C, H, W) or (N, C, L); got shape {arr.shape} (ndim={arr.ndim})")
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"{name} is empty; got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf values (first at index {idx})")
    if channels is not None and arr.shape[1] != channels:
        raise ValueError(f"{name} has {arr.shape[1]} channels; the detector was fitted on {channels}")
    spatial = arr.shape[2:]
    if any(s % factor for s in spatial):
        raise ValueError(f"{name} spatial sizes {tuple(spatial)} must be divisible by {factor} "
                         "(the model's downsampling factor); pad or crop the samples")
    return arr


class _SampleDetector(BaseEstimator):
    """Split, scaling, map reduction, thresholds and predict for the detectors of this module."""

    # subclasses define: val_fraction, scaling, image_score, map_sigma, threshold, threshold_params

    _factor: int = 1

    def _check_common(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in [0, 1); got {self.val_fraction!r}")
        if self.image_score not in ("mean", "max"):
            raise ValueError(f"image_score must be 'mean' or 'max'; got {self.image_score!r}")
        if self.scaling not in ("minmax", "none"):
            raise ValueError(f"scaling must be 'minmax' or 'none'; got {self.scaling!r}")
        if not self.map_sigma >= 0:
            raise ValueError(f"map_sigma must be >= 0; got {self.map_sigma!r}")

    def _split(self, n: int) -> int:
        """Number of fitting samples (the rest, at the end, is the held-out normal split)."""
        n_val = int(round(self.val_fraction * n))
        if n - n_val < 1 or (self.val_fraction > 0 and n_val < 2):
            raise ValueError(f"X has {n} samples; val_fraction={self.val_fraction} leaves {n - n_val} to fit and "
                             f"{n_val} to fit the threshold (need >= 1 and, when val_fraction > 0, >= 2)")
        return n - n_val

    def _fit_scaler(self, x: np.ndarray) -> None:
        axes = (0, *range(2, x.ndim))
        if self.scaling == "minmax":
            lo, hi = x.min(axis=axes), x.max(axis=axes)  # (C,)
            self.data_min_ = lo.astype(np.float32)
            self.data_range_ = np.where(hi - lo > 0, hi - lo, 1.0).astype(np.float32)
        else:
            self.data_min_ = np.full(x.shape[1], -1.0, dtype=np.float32)
            self.data_range_ = np.full(x.shape[1], 2.0, dtype=np.float32)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return (2.0 * (x - self.data_min_.reshape(shape)) / self.data_range_.reshape(shape) - 1.0).astype(np.float32)

    def _smooth(self, maps: np.ndarray) -> np.ndarray:
        if self.map_sigma == 0:
            return maps
        return ndimage.gaussian_filter(maps, sigma=(0,) + (self.map_sigma,) * (maps.ndim - 1), mode="reflect")

    def _reduce(self, maps: np.ndarray, smoothed: np.ndarray) -> np.ndarray:
        if self.image_score == "mean":
            return maps.reshape(len(maps), -1).mean(axis=1)
        return smoothed.reshape(len(smoothed), -1).max(axis=1)

    def _fit_threshold(self, scores: np.ndarray, n_fit: int) -> None:
        held_out = scores[n_fit:] if n_fit < len(scores) else scores
        self.threshold_ = float(fit_threshold(held_out, method=self.threshold, **(self.threshold_params or {})))
        self.decision_scores_ = scores
        self.labels_ = (scores > self.threshold_).astype(int)

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")

    def _validate(self, X: Any) -> np.ndarray:
        self._check_fitted()
        arr = _validate_samples(X, factor=self._factor, channels=self.n_features_in_)
        if arr.shape[2:] != self.sample_shape_:
            raise ValueError(f"X samples have spatial shape {arr.shape[2:]}; the detector was fitted on "
                             f"{self.sample_shape_}")
        return arr

    def predict(self, X: Any) -> np.ndarray:
        """0/1 label per sample (1 = anomaly): scores above the threshold fitted on normal data."""
        return (self.decision_function(X) > self.threshold_).astype(int)


# --------------------------------------------------------------------------------------------
# Diffusion with the mixed score
# --------------------------------------------------------------------------------------------


def feature_loss(feature_net: nn.Module, gamma: float) -> Callable[..., torch.Tensor]:
    """The loss L = L_MSE + γ·L_feat (Chen 2025) as a ``loss_fn`` for :func:`train_diffusion`.

    Per batch (Ho et al. 2020, Algorithm 1, plus a feature term):

    1. t ~ U{0..T−1}, ε ~ N(0, I), x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε;
    2. L_MSE = mean ‖ε − ε̂(x_t, t)‖²;
    3. x̂0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, and L_feat = mean_b ᾱ_t ‖f(x0) − f(x̂0)‖² with the
       frozen feature network f (:func:`~diffad_lib.features.feature_distance`).

    The ᾱ_t weight keeps L_feat bounded: for a linear f it equals (1 − ᾱ_t)‖f(ε̂ − ε)‖².
    """
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0; got {gamma!r}")

    def loss_fn(model, schedule, x0, *, generator=None, model_kwargs=None):
        # (1) forward process
        t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)  # (B,)
        eps = randn_like(x0, generator)
        x_t = schedule.q_sample(x0, t, eps)
        # (2) ε-prediction loss
        eps_hat = model(x_t, t, **(model_kwargs or {}))
        l_mse = torch.mean((eps_hat.float() - eps.float()) ** 2)
        # (3) feature loss on the one-step estimate of x0, weighted by ᾱ_t
        x0_hat = schedule.predict_start_from_noise(x_t, t, eps_hat)
        d, _ = feature_distance(feature_net, x0, x0_hat)  # (B,)
        return l_mse + gamma * torch.mean(schedule.alphas_cumprod[t] * d)

    return loss_fn


def train_with_feature_loss(
    model: nn.Module,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    *,
    feature_net: nn.Module,
    gamma: float,
    config: TrainConfig,
) -> TrainResult:
    """Train ``model`` on L_MSE + γ·L_feat with the book's one training loop: x (N, C, *S) normal samples."""
    feature_net = feature_net.to(resolve_device(config.device)).eval().requires_grad_(False)
    return train_diffusion(model, schedule, x, config=config, loss_fn=feature_loss(feature_net, gamma))


class PatchDiffusionDetector(_SampleDetector):
    """Diffusion-reconstruction detector for images / scalograms / windows with the mixed score A.

    Parameters
    ----------
    model : str or nn.Module, default "wavelet_unet"
        Denoiser name for :func:`diffad_lib.models.build_model` (``in_channels`` and, for
        ``"wavelet_unet"``, ``dims`` are filled in from X) or an instance (deep-copied at fit).
    model_params : dict, optional
        Config fields of a named model.
    n_steps, schedule, beta_start, beta_end :
        Diffusion steps T and the β schedule.
    t0 : int, default 20
        Reconstruction noise level (inputs are noised t0 steps, then denoised).
    sampler : {"ddpm", "ddim"}, default "ddim"; sample_steps : int, default 5 (DDIM steps)
    n_samples : int, default 1
        Reconstructions averaged per sample.
    epochs, batch_size, lr, weight_decay, warmup_frac, lr_schedule, ema_decay :
        Training options (:class:`diffad_lib.train.TrainConfig`).
    lam : float, default 0.5
        λ ∈ [0, 1], weight of the reconstruction term of A (1: pure reconstruction score).
    gamma : float, default 0.0
        γ ≥ 0, weight of L_feat in training (0: the plain ε-loss of ``train_diffusion``).
    feature : {"wavelet", "encoder", "mobilenet_v3"} or nn.Module, default "wavelet"
        Frozen feature network f (:mod:`diffad_lib.features`); ``"encoder"`` uses the trained
        denoiser's own encoder (so it cannot be used for L_feat, γ must be 0).
    feature_params : dict, optional
        Options of the named feature network (e.g. ``levels``; ``weights_path`` for MobileNetV3).
    image_score : {"mean", "max"}, default "max"
        Reduction of each term's map to an image-level term (see the module docstring).
    map_sigma : float, default 1.0
        Gaussian smoothing (pixels) of the maps for ``anomaly_map`` and ``image_score="max"``.
    scaling : {"minmax", "none"}, default "minmax"
        Per-channel min-max scaling to [−1, 1] fitted on the training samples, or none (data
        already in [−1, 1], e.g. :mod:`diffad_lib.data.images`).
    threshold : {"three_sigma", "percentile", "contamination", "pot"}; threshold_params : dict
    val_fraction : float, default 0.2
        Last fraction of the training samples held out (normal) to fit the threshold.
    device : str, default "auto"; random_state : int, default 0; progress : bool, default False

    Attributes
    ----------
    model_, schedule_, feature_net_ ; recon_stats_, feature_stats_ (image-level term
    standardisation) ; recon_pixel_stats_, feature_pixel_stats_ (map standardisation) ;
    decision_scores_ (N,) ; threshold_ ; labels_ (N,) ; train_losses_ ; n_features_in_ ;
    sample_shape_
    """

    def __init__(
        self,
        model: str | nn.Module = "wavelet_unet",
        *,
        model_params: dict[str, Any] | None = None,
        n_steps: int = 100,
        schedule: Literal["linear", "cosine"] = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        t0: int = 20,
        sampler: Literal["ddpm", "ddim"] = "ddim",
        sample_steps: int | None = 5,
        n_samples: int = 1,
        epochs: int = 20,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_frac: float = 0.1,
        lr_schedule: Literal["warmup_cosine", "warmup_linear", "constant"] = "warmup_cosine",
        ema_decay: float | None = None,
        lam: float = 0.5,
        gamma: float = 0.0,
        feature: str | nn.Module = "wavelet",
        feature_params: dict[str, Any] | None = None,
        image_score: ImageScore = "max",
        map_sigma: float = 1.0,
        scaling: Literal["minmax", "none"] = "minmax",
        threshold: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        val_fraction: float = 0.2,
        device: str = "auto",
        random_state: int = 0,
        progress: bool = False,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.n_steps = n_steps
        self.schedule = schedule
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.t0 = t0
        self.sampler = sampler
        self.sample_steps = sample_steps
        self.n_samples = n_samples
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_frac = warmup_frac
        self.lr_schedule = lr_schedule
        self.ema_decay = ema_decay
        self.lam = lam
        self.gamma = gamma
        self.feature = feature
        self.feature_params = feature_params
        self.image_score = image_score
        self.map_sigma = map_sigma
        self.scaling = scaling
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.val_fraction = val_fraction
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # -- validation -----------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_common()
        if not isinstance(self.model, (str, nn.Module)):
            raise ValueError(f"model must be a model name or an nn.Module; got {type(self.model).__name__}")
        if not 1 <= self.t0 <= self.n_steps:
            raise ValueError(f"t0 must lie in [1, n_steps={self.n_steps}]; got {self.t0!r}")
        if self.sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim'; got {self.sampler!r}")
        if self.sampler == "ddpm" and self.sample_steps is not None:
            raise ValueError("sample_steps applies to sampler='ddim' only; pass sample_steps=None with 'ddpm'")
        if isinstance(self.lam, bool) or not isinstance(self.lam, (int, float)) or not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be a number in [0, 1]; got {self.lam!r}")
        if not self.gamma >= 0:
            raise ValueError(f"gamma must be >= 0; got {self.gamma!r}")
        if self.gamma > 0 and isinstance(self.feature, str) and self.feature == "encoder":
            raise ValueError("gamma > 0 needs a feature network that exists before training ('wavelet', "
                             "'mobilenet_v3' or a module); feature='encoder' is built from the trained denoiser")
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1; got {self.n_samples!r}")

    def _build_model(self, n_channels: int, dims: int) -> nn.Module:
        if isinstance(self.model, nn.Module):
            return copy.deepcopy(self.model)
        params = dict(self.model_params or {})
        params.setdefault("in_channels", n_channels)
        if self.model == "wavelet_unet":
            params.setdefault("dims", dims)
        return build_model(self.model, **params)

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> PatchDiffusionDetector:
        """Train on normal samples X (N, C, H, W) or (N, C, L); ``y`` is ignored. Returns ``self``."""
        self._check_params()
        arr = _validate_samples(X)
        device = resolve_device(self.device)
        torch.manual_seed(self.random_state)  # weight initialisation
        model = self._build_model(arr.shape[1], arr.ndim - 2)
        cfg = getattr(model, "config", None)
        self._factor = 2 ** int(getattr(cfg, "n_down", 0))
        arr = _validate_samples(arr, factor=self._factor)
        n_fit = self._split(len(arr))
        self._fit_scaler(arr[:n_fit])
        self.n_features_in_ = arr.shape[1]
        self.sample_shape_ = arr.shape[2:]
        scaled = self._scale(arr)

        self.schedule_ = NoiseSchedule(self.n_steps, kind=self.schedule, beta_start=self.beta_start,
                                       beta_end=self.beta_end).to(device)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, warmup_frac=self.warmup_frac,
                             lr_schedule=self.lr_schedule, ema_decay=self.ema_decay, seed=self.random_state,
                             device=str(device), progress=self.progress)
        x_fit = torch.as_tensor(scaled[:n_fit])
        if self.feature != "encoder":
            self.feature_net_ = build_feature_net(self.feature, **(self.feature_params or {})).to(device)
        if self.gamma > 0:
            result = train_with_feature_loss(model, self.schedule_, x_fit, feature_net=self.feature_net_,
                                             gamma=float(self.gamma), config=config)
        else:
            result = train_diffusion(model, self.schedule_, x_fit, config=config)
        self.model_ = result.model.eval()
        self.train_losses_ = result.losses
        if self.feature == "encoder":
            self.feature_net_ = EncoderFeatures(self.model_).to(device)

        comp = self._components_scaled(scaled)
        fit = slice(0, n_fit)
        self.recon_stats_ = ScoreStats.fit(comp["recon"][fit])
        self.feature_stats_ = ScoreStats.fit(comp["feature"][fit])
        self.recon_pixel_stats_ = ScoreStats.fit(comp["recon_map"][fit].ravel())
        self.feature_pixel_stats_ = ScoreStats.fit(comp["feature_map"][fit].ravel())
        self._fit_threshold(self.scores_from_components(comp), n_fit)
        return self

    # -- scoring --------------------------------------------------------------------------
    @torch.no_grad()
    def _reconstruct_scaled(self, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        acc = torch.zeros_like(x0)
        for _ in range(self.n_samples):
            acc += reconstruct(self.model_, self.schedule_, x0, t0=self.t0, generator=generator,
                               method=self.sampler, steps=self.sample_steps)
        return acc / self.n_samples

    @torch.no_grad()
    def _components_scaled(self, scaled: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
        device = next(self.model_.parameters()).device
        generator = torch.Generator().manual_seed(self.random_state + 1)
        recon_maps, feat_maps, feat_means, x_hats = [], [], [], []
        for lo in range(0, len(scaled), batch_size):
            x0 = torch.as_tensor(scaled[lo : lo + batch_size], device=device)  # (B, C, *S)
            x_hat = self._reconstruct_scaled(x0, generator)
            recon_maps.append(((x0 - x_hat) ** 2).mean(dim=1).double().cpu().numpy())  # (B, *S)
            f_mean, f_map = feature_distance(self.feature_net_, x0, x_hat)
            feat_means.append(f_mean.double().cpu().numpy())
            feat_maps.append(f_map.double().cpu().numpy())
            x_hats.append(x_hat.cpu().numpy())
        r_map, f_map = np.concatenate(recon_maps), np.concatenate(feat_maps)
        r_smooth, f_smooth = self._smooth(r_map), self._smooth(f_map)
        feature = np.concatenate(feat_means) if self.image_score == "mean" else self._reduce(f_map, f_smooth)
        return {
            "recon": self._reduce(r_map, r_smooth),
            "feature": feature,
            "recon_map": r_smooth,
            "feature_map": f_smooth,
            "x_hat": np.concatenate(x_hats),
        }

    def score_components(self, X: Any) -> dict[str, np.ndarray]:
        """Raw (unstandardised) terms of the score for X (N, C, *S).

        Returns ``recon`` (N,), ``feature`` (N,) image-level terms; ``recon_map`` and
        ``feature_map`` (N, *S), smoothed by ``map_sigma``; ``x_hat`` (N, C, *S), the
        reconstruction in the scaled [−1, 1] units. Combine them with any λ through
        :meth:`scores_from_components` / :meth:`maps_from_components` without reconstructing again.
        """
        return self._components_scaled(self._scale(self._validate(X)))

    def scores_from_components(self, comp: dict[str, np.ndarray], *, lam: float | None = None) -> np.ndarray:
        """A = λ·z(recon) + (1 − λ)·z(feature), z fitted on training scores: (N,) float64."""
        lam = self.lam if lam is None else lam
        if not 0 <= lam <= 1:
            raise ValueError(f"lam must lie in [0, 1]; got {lam!r}")
        r = self.recon_stats_.transform(comp["recon"])
        if lam == 1:
            return r
        return lam * r + (1 - lam) * self.feature_stats_.transform(comp["feature"])

    def maps_from_components(self, comp: dict[str, np.ndarray], *, lam: float | None = None) -> np.ndarray:
        """Pixel map λ·z(recon_map) + (1 − λ)·z(feature_map): (N, *S) float64."""
        lam = self.lam if lam is None else lam
        if not 0 <= lam <= 1:
            raise ValueError(f"lam must lie in [0, 1]; got {lam!r}")
        r, f = comp["recon_map"], comp["feature_map"]
        rs, fs = self.recon_pixel_stats_, self.feature_pixel_stats_
        return lam * (r - rs.mean) / rs.std + (1 - lam) * (f - fs.mean) / fs.std

    def reconstruct(self, X: Any) -> np.ndarray:
        """x̃0 of X in X's units: (N, C, *S) float32 (deterministic for a given X)."""
        x_hat = self.score_components(X)["x_hat"]
        shape = (1, -1) + (1,) * (x_hat.ndim - 2)
        return ((x_hat + 1.0) / 2.0 * self.data_range_.reshape(shape) + self.data_min_.reshape(shape)).astype(
            np.float32)

    def decision_function(self, X: Any) -> np.ndarray:
        """Image-level score A per sample, higher = more anomalous: (N,) float64."""
        return self.scores_from_components(self.score_components(X))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel (per-step) score map: (N, H, W) or (N, L) float64."""
        return self.maps_from_components(self.score_components(X))


# --------------------------------------------------------------------------------------------
# Baselines with the same interface
# --------------------------------------------------------------------------------------------


class _ConvAE(nn.Module):
    """Strided-conv encoder to ``bottleneck`` channels at 1/2**len(channels) size, mirrored decoder."""

    def __init__(self, dims: int, in_channels: int, channels: tuple[int, ...], bottleneck: int) -> None:
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        enc: list[nn.Module] = []
        c = in_channels
        for w in channels:
            enc += [conv(c, w, 3, stride=2, padding=1), nn.SiLU()]
            c = w
        enc.append(conv(c, bottleneck, 1))
        dec: list[nn.Module] = [conv(bottleneck, c, 1), nn.SiLU()]
        for w in (*reversed(channels[:-1]), channels[0]):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), conv(c, w, 3, padding=1), nn.SiLU()]
            c = w
        dec.append(conv(c, in_channels, 3, padding=1))
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # (B, C, *S)


class ConvAutoencoderDetector(_SampleDetector):
    """A small convolutional autoencoder; map = squared error per pixel, averaged over channels.

    Parameters
    ----------
    channels : tuple of int, default (16, 32)
        Widths of the strided encoder convolutions (each halves the size, so sizes must be
        divisible by 2**len(channels)).
    bottleneck : int, default 4
        Channels of the code at 1/2**len(channels) resolution.
    epochs, batch_size, lr : training options (Adam, MSE).
    image_score, map_sigma, scaling, threshold, threshold_params, val_fraction, device, random_state :
        As :class:`PatchDiffusionDetector`.
    """

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32),
        bottleneck: int = 4,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-3,
        image_score: ImageScore = "max",
        map_sigma: float = 1.0,
        scaling: Literal["minmax", "none"] = "minmax",
        threshold: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        val_fraction: float = 0.2,
        device: str = "cpu",
        random_state: int = 0,
    ) -> None:
        self.channels = channels
        self.bottleneck = bottleneck
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.image_score = image_score
        self.map_sigma = map_sigma
        self.scaling = scaling
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.val_fraction = val_fraction
        self.device = device
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> ConvAutoencoderDetector:
        """Train the autoencoder on normal samples X (N, C, *S); ``y`` is ignored. Returns ``self``."""
        self._check_common()
        if not self.channels or any(int(c) < 1 for c in self.channels) or int(self.bottleneck) < 1:
            raise ValueError(f"channels and bottleneck must be positive ints; got {self.channels!r}, "
                             f"{self.bottleneck!r}")
        self._factor = 2 ** len(self.channels)
        arr = _validate_samples(X, factor=self._factor)
        n_fit = self._split(len(arr))
        self._fit_scaler(arr[:n_fit])
        self.n_features_in_, self.sample_shape_ = arr.shape[1], arr.shape[2:]
        scaled = self._scale(arr)
        device = resolve_device(self.device)
        torch.manual_seed(self.random_state)
        self.net_ = _ConvAE(arr.ndim - 2, arr.shape[1], tuple(int(c) for c in self.channels),
                            int(self.bottleneck)).to(device)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        generator = torch.Generator().manual_seed(self.random_state)
        data = torch.as_tensor(scaled[:n_fit])
        self.train_losses_ = []
        self.net_.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(data), generator=generator)
            total = 0.0
            for lo in range(0, len(data), self.batch_size):
                batch = data[perm[lo : lo + self.batch_size]].to(device)
                loss = F.mse_loss(self.net_(batch), batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(batch)
            self.train_losses_.append(total / len(data))
        self.net_.eval()
        maps = self._maps_scaled(scaled)
        self._fit_threshold(self._reduce(maps, self._smooth(maps)), n_fit)
        return self

    @torch.no_grad()
    def _maps_scaled(self, scaled: np.ndarray) -> np.ndarray:
        device = next(self.net_.parameters()).device
        out = []
        for lo in range(0, len(scaled), 256):
            x = torch.as_tensor(scaled[lo : lo + 256], device=device)
            out.append(((self.net_(x) - x) ** 2).mean(dim=1).double().cpu().numpy())  # (B, *S)
        return np.concatenate(out)

    def decision_function(self, X: Any) -> np.ndarray:
        """Image-level reconstruction error (mean or max of the smoothed map): (N,) float64."""
        maps = self._maps_scaled(self._scale(self._validate(X)))
        return self._reduce(maps, self._smooth(maps))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Smoothed squared reconstruction error per pixel: (N, *S) float64."""
        return self._smooth(self._maps_scaled(self._scale(self._validate(X))))


class FeatureKNNDetector(_SampleDetector):
    """Distance of each location's local features to its nearest training locations.

    Every feature map of the frozen network (default :class:`~diffad_lib.features.WaveletFeatures`)
    is resized to the input grid and stacked, so each pixel has one feature vector; the vectors
    are standardised with the training mean and std. The memory bank holds up to ``max_bank``
    training vectors (a seeded random subset); a pixel's score is the mean distance to its
    ``n_neighbors`` nearest bank vectors. No training, no diffusion: a PatchCore-style baseline.

    Parameters
    ----------
    feature : str or nn.Module, default "wavelet"; feature_params : dict, optional
    n_neighbors : int, default 1
    max_bank : int, default 20000
    image_score, map_sigma, scaling, threshold, threshold_params, val_fraction, random_state :
        As :class:`PatchDiffusionDetector`.
    """

    def __init__(
        self,
        *,
        feature: str | nn.Module = "wavelet",
        feature_params: dict[str, Any] | None = None,
        n_neighbors: int = 1,
        max_bank: int = 20000,
        image_score: ImageScore = "max",
        map_sigma: float = 1.0,
        scaling: Literal["minmax", "none"] = "minmax",
        threshold: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        val_fraction: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.feature = feature
        self.feature_params = feature_params
        self.n_neighbors = n_neighbors
        self.max_bank = max_bank
        self.image_score = image_score
        self.map_sigma = map_sigma
        self.scaling = scaling
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.val_fraction = val_fraction
        self.random_state = random_state

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

    def fit(self, X: Any, y: Any = None) -> FeatureKNNDetector:
        """Build the memory bank from normal samples X (N, C, *S); ``y`` is ignored. Returns ``self``."""
        self._check_common()
        if int(self.n_neighbors) < 1 or int(self.max_bank) < 1:
            raise ValueError(f"n_neighbors and max_bank must be >= 1; got {self.n_neighbors!r}, {self.max_bank!r}")
        arr = _validate_samples(X)
        n_fit = self._split(len(arr))
        self._fit_scaler(arr[:n_fit])
        self.n_features_in_, self.sample_shape_ = arr.shape[1], arr.shape[2:]
        self.feature_net_ = build_feature_net(self.feature, **(self.feature_params or {}))
        scaled = self._scale(arr)
        feats = self._pixel_features(scaled[:n_fit])
        bank = feats.reshape(-1, feats.shape[-1])  # (n_fit * |S|, D)
        self.feat_mean_, self.feat_std_ = bank.mean(axis=0), np.where(bank.std(axis=0) > 0, bank.std(axis=0), 1.0)
        rng = np.random.default_rng(self.random_state)
        if len(bank) > self.max_bank:
            bank = bank[rng.choice(len(bank), size=int(self.max_bank), replace=False)]
        self.knn_ = NearestNeighbors(n_neighbors=int(self.n_neighbors)).fit((bank - self.feat_mean_) / self.feat_std_)
        maps = self._maps_scaled(scaled)
        self._fit_threshold(self._reduce(maps, self._smooth(maps)), n_fit)
        return self

    def _maps_scaled(self, scaled: np.ndarray) -> np.ndarray:
        feats = self._pixel_features(scaled)  # (N, *S, D)
        flat = (feats.reshape(-1, feats.shape[-1]) - self.feat_mean_) / self.feat_std_
        dist, _ = self.knn_.kneighbors(flat)  # (N |S|, k)
        return dist.mean(axis=1).reshape(feats.shape[:-1])  # (N, *S)

    def decision_function(self, X: Any) -> np.ndarray:
        """Image-level nearest-neighbour distance (mean or max of the smoothed map): (N,) float64."""
        maps = self._maps_scaled(self._scale(self._validate(X)))
        return self._reduce(maps, self._smooth(maps))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Smoothed nearest-neighbour distance per pixel: (N, *S) float64."""
        return self._smooth(self._maps_scaled(self._scale(self._validate(X))))

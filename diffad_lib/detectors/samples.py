"""Sample adapter: :class:`PatchDiffusionDetector`, the reconstruction core on images, scalograms
and fixed-length windows, (N, C, H, W) or (N, C, L), scored per sample and per pixel.

Yi Chen (2025): a denoiser (by default the wavelet U-Net) trained on normal samples; each input
is noised t0 steps and denoised back to x̃0, and the anomaly score mixes the reconstruction error
and a feature distance of a frozen network f,

    A = λ·z(‖x0 − x̃0‖²) + (1 − λ)·z(‖f(x0) − f(x̃0)‖²),

each term standardised, ``z(s) = (s − mean)/std``, with statistics of the *fitting* samples'
scores (:class:`~diffad_lib.scoring.ScoreStats`). Training minimises L_MSE + γ·L_feat
(:func:`feature_loss`) through the one training loop.

Per-pixel maps are reduced to one score per sample by :class:`MapScorer` (shared with the sample
baselines): ``image_score="mean"`` averages the raw map; ``"max"`` takes the maximum of the map
smoothed by a Gaussian of ``map_sigma`` pixels (small defects are then not averaged away).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from scipy import ndimage
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diffad_lib._validation import check_choice, check_float
from diffad_lib.detectors.base import BaseDetector, as_samples
from diffad_lib.detectors.core import FIT_CLIP, DiffusionCore, detector_init
from diffad_lib.features import EncoderFeatures, build_feature_net, feature_distance
from diffad_lib.samplers import randn_like
from diffad_lib.scaling import ChannelScaler
from diffad_lib.scoring import ScoreStats, mix_scores
from diffad_lib.utils import resolve_device

__all__ = ["MapScorer", "PatchDiffusionDetector", "feature_loss"]

ImageScore = Literal["mean", "max"]


def feature_loss(feature_net: nn.Module, gamma: float) -> Callable[..., torch.Tensor]:
    """The loss L = L_MSE + γ·L_feat (Chen 2025) as a ``loss_fn`` for :func:`~diffad_lib.train.train_diffusion`.

    Per batch (Ho et al. 2020, Algorithm 1, plus a feature term):

    1. t ~ U{0..T−1}, ε ~ N(0, I), x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε;
    2. L_MSE = mean ‖ε − ε̂(x_t, t)‖²;
    3. x̂0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, and L_feat = mean_b ᾱ_t ‖f(x0) − f(x̂0)‖² with the
       frozen feature network f (:func:`~diffad_lib.features.feature_distance`).

    The ᾱ_t weight keeps L_feat bounded: for a linear f it equals (1 − ᾱ_t)‖f(ε̂ − ε)‖².
    """
    check_float(gamma, name="gamma", low=0.0)

    def loss_fn(model, schedule, x0, *, generator=None, model_kwargs=None, t=None, noise=None):
        # (1) forward process; the loop passes its own draws (t, ε) so a batch split across processes
        # sees the draws of one process
        t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator) if t is None else t  # (B,)
        eps = randn_like(x0, generator) if noise is None else noise
        x_t = schedule.q_sample(x0, t, eps)
        # (2) ε-prediction loss
        eps_hat = model(x_t, t, **(model_kwargs or {}))
        l_mse = torch.mean((eps_hat.float() - eps.float()) ** 2)
        # (3) feature loss on the one-step estimate of x0, weighted by ᾱ_t
        x0_hat = schedule.predict_start_from_noise(x_t, t, eps_hat)
        d, _ = feature_distance(feature_net, x0, x0_hat)  # (B,)
        return l_mse + gamma * torch.mean(schedule.alphas_cumprod[t] * d)

    return loss_fn


class MapScorer:
    """Mixin for sample detectors: scaling, map smoothing and the map → per-sample reduction.

    The host defines the parameters ``scaling``, ``image_score`` and ``map_sigma`` and the hook
    ``_maps(scaled) -> (N, *S)`` (raw per-pixel scores of scaled samples).
    """

    _input = "samples"

    def _check_map_params(self) -> None:
        check_choice(self.scaling, name="scaling", choices=("minmax", "none"))
        check_choice(self.image_score, name="image_score", choices=("mean", "max"))
        check_float(self.map_sigma, name="map_sigma", low=0.0)

    def _fit_scaler(self, X: np.ndarray) -> np.ndarray:
        """Fit ``scaler_`` on the fitting samples; returns them scaled (float32)."""
        self.scaler_ = ChannelScaler(self.scaling).fit(X)
        self.sample_shape_ = X.shape[2:]
        return self._scale(X)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if X.shape[2:] != self.sample_shape_:
            raise ValueError(f"X samples have spatial shape {X.shape[2:]}; the detector was fitted on "
                             f"{self.sample_shape_}")
        return self.scaler_.transform(X).astype(np.float32)

    def _smooth(self, maps: np.ndarray) -> np.ndarray:
        if self.map_sigma == 0:
            return maps
        return ndimage.gaussian_filter(maps, sigma=(0,) + (self.map_sigma,) * (maps.ndim - 1), mode="reflect")

    def _reduce(self, maps: np.ndarray) -> np.ndarray:
        """(N, *S) raw map -> (N,): mean of the raw map, or max of the smoothed one."""
        if self.image_score == "mean":
            return maps.reshape(len(maps), -1).mean(axis=1)
        return self._smooth(maps).reshape(len(maps), -1).max(axis=1)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._reduce(self._maps(self._scale(X)))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel (per-step) score map, smoothed by ``map_sigma``: (N, H, W) or (N, L) float64."""
        check_is_fitted(self, "threshold_")
        return self._smooth(self._maps(self._scale(self._validate(X, reset=False))))


class PatchDiffusionDetector(MapScorer, DiffusionCore, BaseDetector):
    """Diffusion-reconstruction detector for images / scalograms / windows with the mixed score A.

    Parameters
    ----------
    model : str or nn.Module, default "wavelet_unet"
        Denoiser name (``in_channels`` and, for ``"wavelet_unet"``, ``dims`` are filled in from X)
        or an instance (deep-copied at fit).
    model_params : dict, optional
    n_steps, schedule, beta_start, beta_end, t0, sampler, sample_steps, n_samples :
        As :class:`~diffad_lib.detectors.series.DiffusionDetector` (``sample_steps`` default 5).
    epochs, batch_size, lr, weight_decay, warmup_frac, lr_schedule, ema_decay : training options.
    lam : float, default 0.5
        λ ∈ [0, 1], weight of the reconstruction term of A (1: pure reconstruction score).
    gamma : float, default 0.0
        γ ≥ 0, weight of L_feat in training (0: the plain ε-loss).
    feature : {"wavelet", "encoder", "mobilenet_v3"} or nn.Module, default "wavelet"
        Frozen feature network f (:mod:`diffad_lib.features`); ``"encoder"`` uses the trained
        denoiser's own encoder (so γ must be 0).
    feature_params : dict, optional
    image_score : {"mean", "max"}, default "max"; map_sigma : float, default 1.0
    scaling : {"minmax", "none"}, default "minmax"
        Per-channel min-max to [−1, 1] fitted on the fitting samples, or none (data already there).
    threshold, threshold_params : threshold rule ; val_fraction : float, default 0.2
    device : str, default "auto"; random_state : int, default 0; progress : bool, default False

    Attributes
    ----------
    model_, schedule_, feature_net_ ; recon_stats_, feature_stats_ (per-sample term
    standardisation) ; recon_pixel_stats_, feature_pixel_stats_ (map standardisation) ;
    decision_scores_ (N,) ; threshold_ ; labels_ (N,) ; train_losses_ ; n_features_in_ ; sample_shape_
    """

    __init__ = detector_init(
        "wavelet_unet",
        front={},
        back={
            "lam": (0.5, "float"),
            "gamma": (0.0, "float"),
            "feature": ("wavelet", "str | nn.Module"),
            "feature_params": (None, "dict[str, Any] | None"),
            "image_score": ("max", 'Literal["mean", "max"]'),
            "map_sigma": (1.0, "float"),
            "scaling": ("minmax", 'Literal["minmax", "none"]'),
        },
        overrides={"sample_steps": 5, "epochs": 20, "batch_size": 32},
    )

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_diffusion_params()
        self._check_map_params()
        check_float(self.lam, name="lam", low=0.0, high=1.0)
        check_float(self.gamma, name="gamma", low=0.0)
        if self.gamma > 0 and isinstance(self.feature, str) and self.feature == "encoder":
            raise ValueError("gamma > 0 needs a feature network that exists before training ('wavelet', "
                             "'mobilenet_v3' or a module); feature='encoder' is built from the trained denoiser")

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> PatchDiffusionDetector:
        """Train on normal samples X (N, C, H, W) or (N, C, L); ``y`` is ignored. Returns ``self``.

        The model's downsampling factor is checked against the sample sizes before training.
        """
        self._check_common()
        self._check_params()
        arr = as_samples(X)
        dims = {"dims": arr.ndim - 2} if self.model == "wavelet_unet" else {}
        model = self._build_denoiser({"in_channels": arr.shape[1], **dims})
        as_samples(arr, factor=2 ** int(getattr(getattr(model, "config", None), "n_down", 0)))
        self._model_template = model
        try:
            return super().fit(arr, y)
        finally:
            del self._model_template

    def _fit_score(self, X: np.ndarray, n_fit: int) -> np.ndarray:
        """Train on the fitting samples, then reconstruct every sample once: the standardisation
        statistics come from the fitting part, the returned scores (for the threshold) from all."""
        self._fit_scaler(X[:n_fit])
        scaled = self._scale(X)
        device = resolve_device(self.device)
        if self.feature != "encoder":
            self.feature_net_ = build_feature_net(self.feature, **(self.feature_params or {}))
            self.feature_net_.to(device).eval().requires_grad_(False)
        loss_fn = feature_loss(self.feature_net_, float(self.gamma)) if self.gamma > 0 else None
        held_out = torch.as_tensor(scaled[n_fit:]) if n_fit < len(scaled) else None
        self._train(self._model_template, torch.as_tensor(scaled[:n_fit]), loss_fn=loss_fn, val_data=held_out)
        if self.feature == "encoder":
            self.feature_net_ = EncoderFeatures(self.model_).to(device)
        comp = self._components_scaled(scaled)
        fit = slice(0, n_fit)
        self.recon_stats_ = ScoreStats.fit(comp["recon"][fit])
        self.feature_stats_ = ScoreStats.fit(comp["feature"][fit])
        self.recon_pixel_stats_ = ScoreStats.fit(comp["recon_map"][fit].ravel())
        self.feature_pixel_stats_ = ScoreStats.fit(comp["feature_map"][fit].ravel())
        return self.scores_from_components(comp)

    # -- scoring ------------------------------------------------------------------------------
    @torch.no_grad()
    def _components_scaled(self, scaled: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
        recon_maps, feat_maps, feat_means, x_hats = [], [], [], []
        # the model sees inputs clipped to ±FIT_CLIP; the distances use the values as they are, so a
        # value far outside the training range cannot pass through the denoiser into x̂ unchanged
        clipped = np.clip(scaled, -FIT_CLIP, FIT_CLIP)
        for rows, _, x_hat in self._reconstruct_batches(clipped, batch_size=batch_size):
            x0 = torch.as_tensor(scaled[rows], dtype=x_hat.dtype, device=x_hat.device)
            recon_maps.append(((x0 - x_hat) ** 2).mean(dim=1).double().cpu().numpy())  # (B, *S)
            f_mean, f_map = feature_distance(self.feature_net_, x0, x_hat)
            feat_means.append(f_mean.double().cpu().numpy())
            feat_maps.append(f_map.double().cpu().numpy())
            x_hats.append(x_hat.cpu().numpy())
        r_map, f_map = np.concatenate(recon_maps), np.concatenate(feat_maps)
        feature = np.concatenate(feat_means) if self.image_score == "mean" else self._reduce(f_map)
        return {"recon": self._reduce(r_map), "feature": feature, "recon_map": self._smooth(r_map),
                "feature_map": self._smooth(f_map), "x_hat": np.concatenate(x_hats)}

    def score_components(self, X: Any) -> dict[str, np.ndarray]:
        """Raw (unstandardised) terms of the score for X (N, C, *S).

        Returns ``recon`` (N,), ``feature`` (N,) per-sample terms; ``recon_map`` and
        ``feature_map`` (N, *S), smoothed by ``map_sigma``; ``x_hat`` (N, C, *S), the
        reconstruction in scaled units. Combine them with any λ through
        :meth:`scores_from_components` / :meth:`maps_from_components` without reconstructing again.
        """
        check_is_fitted(self, "model_")
        return self._components_scaled(self._scale(self._validate(X, reset=False)))

    def scores_from_components(self, comp: dict[str, np.ndarray], *, lam: float | None = None) -> np.ndarray:
        """A = λ·z(recon) + (1 − λ)·z(feature), z fitted on the fitting samples: (N,) float64."""
        return mix_scores(comp["recon"], comp["feature"], lam=self.lam if lam is None else lam,
                          recon_stats=self.recon_stats_, feature_stats=self.feature_stats_)

    def maps_from_components(self, comp: dict[str, np.ndarray], *, lam: float | None = None) -> np.ndarray:
        """Pixel map λ·z(recon_map) + (1 − λ)·z(feature_map): (N, *S) float64."""
        shape = comp["recon_map"].shape
        return mix_scores(comp["recon_map"].ravel(), comp["feature_map"].ravel(), lam=self.lam if lam is None else lam,
                          recon_stats=self.recon_pixel_stats_, feature_stats=self.feature_pixel_stats_).reshape(shape)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.scores_from_components(self._components_scaled(self._scale(X)))

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel (per-step) λ-mixed score map: (N, H, W) or (N, L) float64."""
        return self.maps_from_components(self.score_components(X))

    def reconstruct(self, X: Any) -> np.ndarray:
        """x̃0 of X in X's units: (N, C, *S) float64 (deterministic for a given X)."""
        return self.scaler_.inverse_transform(self.score_components(X)["x_hat"])

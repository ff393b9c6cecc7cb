"""Series adapter: :class:`DiffusionDetector`, the reconstruction core on time series.

Data path (the book's): scale each channel on training data → windows of length L with hop
(α·L in DiffADT) → train the denoiser → reconstruct each window from its copy noised t0 steps →
stitch the windows back onto the time axis → point distance |x − x̂| on the target channels →
optional smoothing (DiffADT's kernels) → threshold fitted on normal scores only.

Command channels (``cond_channels``) condition the denoiser and are never scored. Several
entities share one model through :class:`~diffad_lib.detectors.entities.EntityDetector`, which
calls :meth:`DiffusionDetector.fit_entities`; each entity keeps its own scaler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diffad_lib._validation import check_choice, check_int
from diffad_lib.data.windows import frame, stitch
from diffad_lib.detectors.base import BaseDetector, store_params
from diffad_lib.detectors.core import DiffusionCore
from diffad_lib.scaling import SCALINGS, ChannelScaler
from diffad_lib.scoring import KERNELS, smoothed_distance

__all__ = ["DiffusionDetector"]


class DiffusionDetector(DiffusionCore, BaseDetector):
    """Diffusion-reconstruction anomaly detector for series, with the pyod / scikit-learn API.

    Parameters
    ----------
    model : str or nn.Module, default "mlp"
        Denoiser name for :func:`diffad_lib.models.build_model` or a module instance (copied at
        ``fit``; the caller's module is never trained in place).
    model_params : dict, optional
        Config fields of a named model (``in_channels`` and, for ``"mlp"``, ``window`` are
        filled in; for ``"diffwave"`` also ``cond_channels`` and ``n_entities``).
    window : int, default 64
        Window length L.
    hop : int, optional
        Step between window starts (α·L in DiffADT); ``None``: ``window // 4``.
    n_steps : int, default 100
        Diffusion steps T; ``schedule``, ``beta_start``, ``beta_end`` define β_t.
    t0 : int, default 20
        Reconstruction noise level in [1, T]: inputs are noised t0 steps, then denoised.
    sampler : {"ddpm", "ddim"}, default "ddim"; sample_steps : int, optional (DDIM steps; None: all)
    n_samples : int, default 1
        Reconstructions averaged per window (less sampling noise in the score).
    epochs, batch_size, lr, weight_decay, warmup_frac, lr_schedule, ema_decay :
        Training options (:class:`diffad_lib.train.TrainConfig`).
    scaling : {"minmax", "robust", "standard", "none"}, default "minmax"
        Per-channel scaling fitted on the training part (:class:`~diffad_lib.scaling.ChannelScaler`);
        ``"robust"`` uses quantiles so one extreme training value cannot squash a channel.
    distance : {1, 2}, default 1
        L1 or squared-L2 point distance, averaged over the target channels.
    smoothing : {"none", "hann", "hamming", "bartlett"}, default "none"; smoothing_size : int, default 15
        Kernel of the DiffADT smoothed distance and its (odd) length.
    threshold : {"three_sigma", "percentile", "contamination", "pot"}; threshold_params : dict, optional
        Rule fitted on normal scores (:func:`diffad_lib.thresholds.fit_threshold`).
    val_fraction : float, default 0.0
        Last fraction of the training series held out (still normal) to fit the threshold.
    cond_channels : sequence of int, optional
        Columns of X that condition the denoiser instead of being reconstructed and scored.
    n_entities : int, default 0
        Size of the entity-ID embedding of ``"diffwave"`` (used through ``EntityDetector``).
    ssm_lr : float, optional
        Learning rate of S4 state-space parameters.
    device : str, default "auto"; random_state : int, default 0; progress : bool, default False
    train_callback : callable(epoch, model), optional
        Called after every training epoch; ``schedule_`` is set by then.

    Attributes
    ----------
    model_, schedule_ : the trained denoiser and its noise schedule
    scalers_ : dict entity -> ChannelScaler (entity 0 for a single series)
    decision_scores_ : (n,) scores of the training series ; threshold_ : float ; labels_ : (n,)
    train_losses_, train_lrs_ : per-epoch loss and learning rate ; n_features_in_ : int
    """

    _input = "series"

    def __init__(
        self,
        model: str | nn.Module = "mlp",
        *,
        model_params: dict[str, Any] | None = None,
        window: int = 64,
        hop: int | None = None,
        n_steps: int = 100,
        schedule: Literal["linear", "cosine"] = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        t0: int = 20,
        sampler: Literal["ddpm", "ddim"] = "ddim",
        sample_steps: int | None = None,
        n_samples: int = 1,
        epochs: int = 200,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_frac: float = 0.1,
        lr_schedule: Literal["warmup_cosine", "warmup_linear", "constant"] = "warmup_cosine",
        ema_decay: float | None = None,
        scaling: Literal["minmax", "robust", "standard", "none"] = "minmax",
        distance: Literal[1, 2] = 1,
        smoothing: Literal["none", "hann", "hamming", "bartlett"] = "none",
        smoothing_size: int = 15,
        threshold: str = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        val_fraction: float = 0.0,
        cond_channels: Sequence[int] | None = None,
        n_entities: int = 0,
        ssm_lr: float | None = None,
        device: str = "auto",
        random_state: int = 0,
        progress: bool = False,
        train_callback: Callable[[int, nn.Module], None] | None = None,
    ) -> None:
        store_params(self, locals())

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_diffusion_params()
        check_int(self.window, name="window", minimum=2)
        if self.hop is not None:
            check_int(self.hop, name="hop", minimum=1, maximum=self.window)
        check_choice(self.scaling, name="scaling", choices=SCALINGS)
        check_choice(self.distance, name="distance", choices=(1, 2))
        check_choice(self.smoothing, name="smoothing", choices=KERNELS)
        check_int(self.smoothing_size, name="smoothing_size", minimum=1)
        check_int(self.n_entities, name="n_entities", minimum=0)
        if self.model == "mlp" and (self.cond_channels or self.n_entities):
            raise ValueError("model 'mlp' takes no conditions; use cond_channels=None and n_entities=0")

    @property
    def _min_length(self) -> int:
        return self.window if isinstance(self.window, (int, np.integer)) else 1

    @property
    def _hop(self) -> int:
        return self.hop if self.hop is not None else max(1, self.window // 4)

    def _channels(self, n_channels: int) -> tuple[list[int], list[int]]:
        """(target channels, condition channels) of an input with ``n_channels`` columns."""
        cond = sorted({check_int(c, name="cond_channels[i]") for c in (self.cond_channels or ())})
        if cond and (cond[0] < 0 or cond[-1] >= n_channels):
            raise ValueError(f"cond_channels must index the {n_channels} columns of X; got {list(self.cond_channels)}")
        target = [c for c in range(n_channels) if c not in cond]
        if not target:
            raise ValueError("cond_channels leaves no channel to reconstruct")
        return target, cond

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        self.fit_entities([X], keys=[0])

    def fit_entities(self, series: Sequence[np.ndarray], *, keys: Sequence[int]) -> None:
        """Train one model on the (validated, (n_i, C)) training series of several entities.

        Entity ``keys[i]`` gets its own scaler; with ``n_entities > 0`` the key is the ID the
        denoiser embeds. Used by ``fit`` (one series, key 0) and by ``EntityDetector``.
        """
        target, cond = self._channels(series[0].shape[1])
        if self.n_entities and any(not 0 <= k < self.n_entities for k in keys):
            raise ValueError(f"entity IDs must lie in [0, n_entities={self.n_entities}); got {list(keys)}")
        self.scalers_: dict[int, ChannelScaler] = {}
        windows, conds, ents = [], [], []
        for key, arr in zip(keys, series, strict=True):
            self.scalers_[key] = ChannelScaler(self.scaling).fit(arr)
            w = frame(self.scalers_[key].transform(arr), self.window, self._hop)  # (W, C, L)
            windows.append(w[:, target])
            conds.append(w[:, cond])
            ents.append(np.full(len(w), key))
        defaults: dict[str, Any] = {"in_channels": len(target)}
        if self.model == "mlp":
            defaults["window"] = self.window
        if self.model == "diffwave":
            defaults.update(cond_channels=len(cond), n_entities=self.n_entities)
        model = self._build_denoiser(defaults)
        conditions: dict[str, torch.Tensor] = {}
        if cond:
            conditions["cond"] = torch.as_tensor(np.concatenate(conds), dtype=torch.float32)
        if self.n_entities:
            conditions["entity"] = torch.as_tensor(np.concatenate(ents), dtype=torch.long)
        x = torch.as_tensor(np.concatenate(windows), dtype=torch.float32)  # (W, C_target, L)
        self._train(model, x, conditions=conditions, callback=self.train_callback)

    # -- scoring ------------------------------------------------------------------------------
    def _scaler(self, entity: int) -> ChannelScaler:
        check_is_fitted(self, "scalers_")
        if entity not in self.scalers_:
            raise ValueError(f"entity must be one of the fitted entities {sorted(self.scalers_)}; got {entity!r}")
        return self.scalers_[entity]

    def _reconstruct_scaled(self, scaled: np.ndarray, entity: int) -> np.ndarray:
        """Reconstruction of the target channels of a scaled series (n, C): (n, n_target)."""
        target, cond = self._channels(scaled.shape[1])
        windows = frame(scaled, self.window, self._hop)  # (W, C, L)
        device = next(self.model_.parameters()).device

        def kwargs(rows: slice) -> dict[str, torch.Tensor]:
            out = {}
            if cond:
                out["cond"] = torch.as_tensor(windows[rows][:, cond], dtype=torch.float32, device=device)
            if self.n_entities:
                out["entity"] = torch.full((len(windows[rows]),), entity, dtype=torch.long, device=device)
            return out

        out = np.empty((len(windows), len(target), self.window))
        for rows, _, x_hat in self._reconstruct_batches(windows[:, target], model_kwargs=kwargs):
            out[rows] = x_hat.double().cpu().numpy()
        return stitch(out, len(scaled), self._hop)  # (n, n_target)

    def _score_scaled(self, x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
        """Point distance over the target channels (n, n_target) -> (n,), then optional smoothing."""
        return smoothed_distance(x, x_hat, p=self.distance, kind=self.smoothing, size=self.smoothing_size)

    def score_entity(self, X: np.ndarray, entity: int) -> np.ndarray:
        """Scores of a validated series (n, C) of a fitted entity: (n,) float64."""
        scaled = self._scaler(entity).transform(X)
        target, _ = self._channels(X.shape[1])
        return self._score_scaled(scaled[:, target], self._reconstruct_scaled(scaled, entity))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.score_entity(X, 0)

    def reconstruct(self, X: Any, *, entity: int = 0) -> np.ndarray:
        """Reconstruction x̂ of X in the input's units: (n_samples, n_channels) float64.

        Condition channels are copied from X unchanged (they are inputs, not reconstructed).
        """
        check_is_fitted(self, "model_")
        arr = self._validate(X, reset=False)
        scaler = self._scaler(entity)
        scaled = scaler.transform(arr)
        target, cond = self._channels(arr.shape[1])
        scaled[:, target] = self._reconstruct_scaled(scaled, entity)
        out = scaler.inverse_transform(scaled)
        out[:, cond] = arr[:, cond]  # exact inputs, free of scaling round-off
        return out

    def score_reconstruction(self, X: Any, x_hat: Any, *, entity: int = 0) -> np.ndarray:
        """The score of :meth:`decision_function` for a reconstruction already computed
        (e.g. by :meth:`reconstruct`, kept for figures): (n_samples,) float64."""
        check_is_fitted(self, "model_")
        arr = self._validate(X, reset=False)
        rec = self._validate(x_hat, reset=False, name="x_hat")
        if rec.shape != arr.shape:
            raise ValueError(f"x_hat must have the shape of X {arr.shape}; got {rec.shape}")
        target, _ = self._channels(arr.shape[1])
        scaler = self._scaler(entity)
        return self._score_scaled(scaler.transform(arr)[:, target], scaler.transform(rec)[:, target])

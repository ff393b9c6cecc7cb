"""``DiffusionDetector``: reconstruction-based anomaly detection with any denoiser of ``models/``.

The data path is the book's: min-max scale to (−1, 1) on training data → windows of length L
with hop → train the denoiser → reconstruct each window from its noised copy (t0 steps) →
stitch → point-wise distance |x − x̂| → optional smoothing → threshold fitted on training
(normal) scores only. The API follows pyod / scikit-learn.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from diffad_lib._validation import as_float_array
from diffad_lib.data.windows import frame, stitch
from diffad_lib.models import build_model
from diffad_lib.samplers import reconstruct
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.scoring import pointwise_distance, smooth
from diffad_lib.thresholds import fit_threshold
from diffad_lib.train import TrainConfig, train_diffusion
from diffad_lib.utils import resolve_device


class DiffusionDetector(BaseEstimator):
    """Diffusion-reconstruction anomaly detector with the pyod / scikit-learn interface.

    Parameters
    ----------
    model : str or nn.Module, default "mlp"
        Denoiser name for :func:`diffad_lib.models.build_model` or a module instance
        (copied at ``fit``; the caller's module is never trained in place).
    model_params : dict, optional
        Config fields for a named model (``in_channels`` and, for ``"mlp"``, ``window`` are filled in).
    window : int, default 64
        Window length L.
    hop : int, optional
        Step between window starts (α·L in DiffADT); defaults to ``window // 4``.
    n_steps : int, default 100
        Diffusion steps T. ``beta_start``/``beta_end``/``schedule`` define β_t.
    t0 : int, default 20
        Noise level of the reconstruction: inputs are noised t0 steps, then denoised.
    sampler : {"ddpm", "ddim"}, default "ddim"
        Reverse process. ``sample_steps`` sets the DDIM step count (None: every step).
    n_samples : int, default 1
        Reconstructions averaged per window (reduces sampling noise in the score).
    epochs, batch_size, lr, weight_decay, warmup_frac, ema_decay :
        Training options (see :class:`diffad_lib.train.TrainConfig`).
    distance : {1, 2}, default 1
        L1 or squared-L2 point distance, averaged over channels.
    smoothing : {"none", "hann", "hamming", "bartlett"}, default "none"
        Kernel of the DiffADT smoothed distance; ``smoothing_size`` its length.
    threshold : {"three_sigma", "percentile", "contamination", "pot"}, default "three_sigma"
        Rule fitted on training scores; ``threshold_params`` its options.
    val_fraction : float, default 0.0
        If > 0, the last fraction of the training series is held out from training and the
        threshold is fitted on its scores (still normal data, never test labels).
    device : str, default "auto"
    random_state : int, default 0
    progress : bool, default False
        Show tqdm progress bars.
    train_callback : callable(epoch, model), optional
        Called after every training epoch (e.g. to snapshot samples); ``schedule_`` is set by then.

    Attributes
    ----------
    model_ : nn.Module            trained denoiser
    decision_scores_ : (n,)       scores of the training series
    threshold_ : float
    labels_ : (n,) int            0/1 labels of the training series
    train_losses_ : list of float mean loss per epoch
    n_features_in_ : int
    """

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
        ema_decay: float | None = None,
        distance: Literal[1, 2] = 1,
        smoothing: Literal["none", "hann", "hamming", "bartlett"] = "none",
        smoothing_size: int = 15,
        threshold: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        val_fraction: float = 0.0,
        device: str = "auto",
        random_state: int = 0,
        progress: bool = False,
        train_callback: Callable[[int, nn.Module], None] | None = None,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.window = window
        self.hop = hop
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
        self.ema_decay = ema_decay
        self.distance = distance
        self.smoothing = smoothing
        self.smoothing_size = smoothing_size
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.val_fraction = val_fraction
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.train_callback = train_callback

    # -- validation ---------------------------------------------------------------------
    def _check_params(self) -> None:
        if not isinstance(self.window, (int, np.integer)) or self.window < 2:
            raise ValueError(f"window must be an int >= 2; got {self.window!r}")
        if self.hop is not None and not 1 <= self.hop <= self.window:
            raise ValueError(f"hop must lie in [1, window={self.window}]; got {self.hop!r}")
        if not 0 <= self.t0 <= self.n_steps:
            raise ValueError(f"t0 must lie in [0, n_steps={self.n_steps}]; got {self.t0!r}")
        if self.sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim'; got {self.sampler!r}")
        if self.sampler == "ddpm" and self.sample_steps is not None:
            raise ValueError("sample_steps applies to sampler='ddim' only; got sampler='ddpm'")
        if self.distance not in (1, 2):
            raise ValueError(f"distance must be 1 or 2; got {self.distance!r}")
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1; got {self.n_samples!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in [0, 1); got {self.val_fraction!r}")
        if not isinstance(self.model, (str, nn.Module)):
            raise ValueError(f"model must be a model name or an nn.Module; got {type(self.model).__name__}")

    @property
    def _hop(self) -> int:
        return self.hop if self.hop is not None else max(1, self.window // 4)

    def _validate_X(self, X: Any, *, name: str = "X") -> np.ndarray:
        arr = as_float_array(X, name=name, ndim=(1, 2), min_length=self.window)
        if arr.ndim == 1:
            arr = arr[:, None]
        if hasattr(self, "n_features_in_") and arr.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {arr.shape[1]} channels; the detector was fitted on {self.n_features_in_}")
        return arr

    # -- fitting --------------------------------------------------------------------------
    def _build_model(self, n_channels: int) -> nn.Module:
        if isinstance(self.model, nn.Module):
            return copy.deepcopy(self.model)
        params = dict(self.model_params or {})
        params.setdefault("in_channels", n_channels)
        if self.model == "mlp":
            params.setdefault("window", self.window)
        return build_model(self.model, **params)

    def fit(self, X: Any, y: Any = None) -> DiffusionDetector:
        """Train on a normal series X (n_samples, n_channels) or (n_samples,); ``y`` is ignored.

        Returns ``self`` with ``model_``, ``threshold_``, ``decision_scores_`` and ``labels_`` set.
        """
        self._check_params()
        for attr in ("n_features_in_",):
            if hasattr(self, attr):
                delattr(self, attr)
        arr = self._validate_X(X)
        n_val = int(round(self.val_fraction * len(arr)))
        train_part = arr[: len(arr) - n_val] if n_val else arr
        if len(train_part) < self.window or (n_val and n_val < self.window):
            raise ValueError(
                f"X with val_fraction={self.val_fraction} leaves {len(train_part)} training and {n_val} "
                f"validation steps; each must be at least window={self.window}"
            )
        self.n_features_in_ = arr.shape[1]
        self.scaler_ = MinMaxScaler(feature_range=(-1, 1)).fit(train_part)
        windows = frame(self.scaler_.transform(train_part), self.window, self._hop)  # (W, C, L)

        device = resolve_device(self.device)
        self.schedule_ = NoiseSchedule(
            self.n_steps, kind=self.schedule, beta_start=self.beta_start, beta_end=self.beta_end
        ).to(device)
        torch.manual_seed(self.random_state)  # weight initialisation
        model = self._build_model(arr.shape[1])
        config = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            warmup_frac=self.warmup_frac, ema_decay=self.ema_decay, seed=self.random_state,
            device=str(device), progress=self.progress,
        )
        result = train_diffusion(model, self.schedule_, torch.as_tensor(windows, dtype=torch.float32), config=config,
                                 callback=self.train_callback)
        self.model_ = result.model
        self.train_losses_ = result.losses

        threshold_series = arr[len(arr) - n_val :] if n_val else train_part
        threshold_scores = self.decision_function(threshold_series)
        self.threshold_ = float(fit_threshold(threshold_scores, method=self.threshold, **(self.threshold_params or {})))
        self.decision_scores_ = self.decision_function(arr)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    # -- scoring --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("this DiffusionDetector is not fitted yet; call fit(X) first")

    @torch.no_grad()
    def reconstruct(self, X: Any, *, batch_size: int = 256) -> np.ndarray:
        """Reconstruction x̂ of X in the input's units: (n_samples, n_channels) float64."""
        self._check_fitted()
        arr = self._validate_X(X)
        scaled = self.scaler_.transform(arr)
        windows = frame(scaled, self.window, self._hop)  # (W, C, L)
        device = next(self.model_.parameters()).device
        generator = torch.Generator().manual_seed(self.random_state + 1)
        self.model_.eval()
        out = np.empty_like(windows)
        for start in range(0, len(windows), batch_size):
            x0 = torch.as_tensor(windows[start : start + batch_size], dtype=torch.float32, device=device)
            acc = torch.zeros_like(x0)
            for _ in range(self.n_samples):
                acc += reconstruct(
                    self.model_, self.schedule_, x0, t0=self.t0, generator=generator,
                    method=self.sampler, steps=self.sample_steps, clip=None,
                )
            out[start : start + batch_size] = (acc / self.n_samples).double().cpu().numpy()
        recon_scaled = stitch(out, len(arr), self._hop)  # (n, C)
        return self.scaler_.inverse_transform(recon_scaled)

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per time step, higher = more anomalous: (n_samples,) float64.

        The distance is measured in the scaled (−1, 1) units fitted on training data.
        """
        self._check_fitted()
        arr = self._validate_X(X)
        x_hat = self.reconstruct(arr)
        scores = pointwise_distance(
            self.scaler_.transform(arr), self.scaler_.transform(x_hat), p=self.distance, reduce="mean"
        )
        if self.smoothing != "none":
            scores = smooth(scores, kind=self.smoothing, size=self.smoothing_size)
        return scores

    def predict(self, X: Any) -> np.ndarray:
        """0/1 label per time step (1 = anomaly): scores above ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(int)

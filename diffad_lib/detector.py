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
from diffad_lib.models.s4d import S4DKernel, param_groups
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
    epochs, batch_size, lr, weight_decay, warmup_frac, lr_schedule, ema_decay :
        Training options (see :class:`diffad_lib.train.TrainConfig`).
    distance : {1, 2}, default 1
        L1 or squared-L2 point distance, averaged over channels.
    smoothing : {"none", "hann", "hamming", "bartlett"}, default "none"
        Kernel of the DiffADT smoothed distance; ``smoothing_size`` its length.
    threshold : {"three_sigma", "percentile", "contamination", "pot"}, default "three_sigma"
        Rule fitted on training scores; ``threshold_params`` its options.
    cond_channels : sequence of int, optional
        Columns of X that condition the denoiser instead of being reconstructed (DiffADT's
        command channels). They are passed to the model as ``cond`` and never scored.
    n_entities : int, default 0
        Size of the entity-ID embedding (DiffADT). When > 0, ``fit`` accepts a list of series
        (one per entity) and ``decision_function``/``predict`` take ``entity=``.
    ssm_lr : float, optional
        Learning rate of S4 state-space parameters (which also get no weight decay).
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
    decision_scores_ : (n,)       scores of the training series (a list, one per entity, for a list X)
    threshold_ : float            (a dict entity -> float when fitted on several entities)
    labels_ : (n,) int            0/1 labels of the training series (a list for a list X)
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
        lr_schedule: Literal["warmup_cosine", "warmup_linear", "constant"] = "warmup_cosine",
        ema_decay: float | None = None,
        distance: Literal[1, 2] = 1,
        smoothing: Literal["none", "hann", "hamming", "bartlett"] = "none",
        smoothing_size: int = 15,
        threshold: Literal["three_sigma", "percentile", "contamination", "pot"] = "three_sigma",
        threshold_params: dict[str, Any] | None = None,
        cond_channels: list[int] | tuple[int, ...] | None = None,
        n_entities: int = 0,
        ssm_lr: float | None = None,
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
        self.lr_schedule = lr_schedule
        self.ema_decay = ema_decay
        self.distance = distance
        self.smoothing = smoothing
        self.smoothing_size = smoothing_size
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.cond_channels = cond_channels
        self.n_entities = n_entities
        self.ssm_lr = ssm_lr
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

    def _channels(self, n_channels: int) -> tuple[list[int], list[int]]:
        """(target channels, condition channels) of an input with ``n_channels`` columns."""
        cond = sorted({int(c) for c in (self.cond_channels or ())})
        if cond and (cond[0] < 0 or cond[-1] >= n_channels):
            raise ValueError(f"cond_channels must index the {n_channels} columns of X; got {list(self.cond_channels)}")
        target = [c for c in range(n_channels) if c not in cond]
        if not target:
            raise ValueError("cond_channels leaves no channel to reconstruct")
        return target, cond

    def _check_entity_ids(self, ids: list[int | None]) -> list[int | None]:
        """Entity keys of the fitted series: ints (several series, or one with ``entity=``) or [None]."""
        if self.n_entities > 0:
            for e in ids:
                if e is None or not 0 <= int(e) < self.n_entities:
                    raise ValueError(f"entity IDs must be ints in [0, n_entities={self.n_entities}); got {e!r}")
        if len(set(ids)) != len(ids):
            raise ValueError(f"entity IDs must be distinct; got {ids}")
        return [None if e is None else int(e) for e in ids]

    def _entity_key(self, entity: int | None) -> int | None:
        """The fitted entity that ``entity`` names; ``None`` is allowed when only one series was fitted."""
        if entity is None and len(self.scalers_) == 1:
            return next(iter(self.scalers_))
        key = None if entity is None else int(entity)
        if key not in self.scalers_:
            raise ValueError(f"entity must be one of the fitted entities {sorted(self.scalers_, key=str)}; "
                             f"got {entity!r}")
        return key

    # -- fitting --------------------------------------------------------------------------
    def _build_model(self, n_target: int, n_cond: int) -> nn.Module:
        if isinstance(self.model, nn.Module):
            return copy.deepcopy(self.model)
        params = dict(self.model_params or {})
        params.setdefault("in_channels", n_target)
        if self.model == "mlp":
            if n_cond or self.n_entities:
                raise ValueError("model 'mlp' takes no conditions; use cond_channels=None and n_entities=0")
            params.setdefault("window", self.window)
        if self.model == "diffwave":
            params.setdefault("cond_channels", n_cond)
            params.setdefault("n_entities", self.n_entities)
        return build_model(self.model, **params)

    def _model_kwargs(self, cond: np.ndarray | None, entity: np.ndarray | None, device: torch.device) -> dict:
        kwargs: dict[str, torch.Tensor] = {}
        if cond is not None:
            kwargs["cond"] = torch.as_tensor(cond, dtype=torch.float32, device=device)
        if entity is not None:
            kwargs["entity"] = torch.as_tensor(entity, dtype=torch.long, device=device)
        return kwargs

    def fit(self, X: Any, y: Any = None, *, entity: int | list[int] | None = None) -> DiffusionDetector:
        """Train on normal data and fit the threshold on normal scores; ``y`` is ignored.

        Parameters
        ----------
        X : array-like (n_samples, n_channels) or (n_samples,), or a list of them
            One normal series, or (with ``n_entities > 0``) one series per entity.
        entity : int or list of int, optional
            Entity IDs of the series (default ``0 .. len(X)-1`` for a list).

        Returns ``self`` with ``model_``, ``threshold_``, ``decision_scores_`` and ``labels_`` set.
        """
        self._check_params()
        for attr in ("n_features_in_", "model_"):
            if hasattr(self, attr):
                delattr(self, attr)
        # a list of arrays/DataFrames is one series per entity; nested Python lists are one series
        many = isinstance(X, (list, tuple)) and len(X) > 0 and all(hasattr(x, "shape") for x in X)
        series = [self._validate_X(x, name=f"X[{i}]") for i, x in enumerate(X)] if many else [self._validate_X(X)]
        if many:
            ids = list(range(len(series))) if entity is None else list(entity)
            if len(ids) != len(series):
                raise ValueError(f"entity lists {len(ids)} IDs for {len(series)} series")
        else:
            ids = [entity if entity is not None else (0 if self.n_entities else None)]
        keys = self._check_entity_ids(ids)
        n_ch = series[0].shape[1]
        if any(x.shape[1] != n_ch for x in series):
            raise ValueError(f"every series must have the same channels; got {[x.shape[1] for x in series]}")
        target, cond = self._channels(n_ch)

        self.scalers_: dict[int | None, MinMaxScaler] = {}
        val_parts, windows, conds, ents = [], [], [], []
        for key, arr in zip(keys, series, strict=True):
            n_val = int(round(self.val_fraction * len(arr)))
            train_part = arr[: len(arr) - n_val]
            if len(train_part) < self.window or (n_val and n_val < self.window):
                raise ValueError(
                    f"X with val_fraction={self.val_fraction} leaves {len(train_part)} training and {n_val} "
                    f"validation steps; each must be at least window={self.window}"
                )
            self.scalers_[key] = MinMaxScaler(feature_range=(-1, 1)).fit(train_part)
            w = frame(self.scalers_[key].transform(train_part), self.window, self._hop)  # (W, C, L)
            windows.append(w[:, target])
            conds.append(w[:, cond] if cond else None)
            ents.append(np.full(len(w), key if key is not None else 0))
            val_parts.append(arr[len(arr) - n_val :] if n_val else arr)
        self.n_features_in_ = n_ch

        device = resolve_device(self.device)
        self.schedule_ = NoiseSchedule(
            self.n_steps, kind=self.schedule, beta_start=self.beta_start, beta_end=self.beta_end
        ).to(device)
        torch.manual_seed(self.random_state)  # weight initialisation
        model = self._build_model(len(target), len(cond))
        conditions: dict[str, torch.Tensor] = {}
        if cond:
            conditions["cond"] = torch.as_tensor(np.concatenate(conds), dtype=torch.float32)
        if self.n_entities:
            conditions["entity"] = torch.as_tensor(np.concatenate(ents), dtype=torch.long)
        groups = None
        if any(isinstance(m, S4DKernel) for m in model.modules()):
            groups = param_groups(model, weight_decay=self.weight_decay, lr_ssm=self.ssm_lr)
        config = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            warmup_frac=self.warmup_frac, lr_schedule=self.lr_schedule, ema_decay=self.ema_decay,
            seed=self.random_state, device=str(device), progress=self.progress,
        )
        result = train_diffusion(
            model, self.schedule_, torch.as_tensor(np.concatenate(windows), dtype=torch.float32), config=config,
            conditions=conditions, param_groups=groups, callback=self.train_callback,
        )
        self.model_ = result.model
        self.train_losses_ = result.losses

        self.thresholds_: dict[int | None, float] = {}
        scores, labels = [], []
        for key, arr, val in zip(keys, series, val_parts, strict=True):
            s = self.decision_function(arr, entity=key)
            # without a held-out part the threshold is fitted on the training scores themselves
            val_scores = s if val is arr else self.decision_function(val, entity=key)
            thr = fit_threshold(val_scores, method=self.threshold, **(self.threshold_params or {}))
            self.thresholds_[key] = float(thr)
            scores.append(s)
            labels.append((s > thr).astype(int))
        if many:
            self.threshold_ = dict(self.thresholds_)
            self.decision_scores_, self.labels_ = scores, labels
        else:
            self.threshold_ = self.thresholds_[keys[0]]
            self.decision_scores_, self.labels_ = scores[0], labels[0]
        return self

    # -- scoring --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("this DiffusionDetector is not fitted yet; call fit(X) first")

    @torch.no_grad()
    def _reconstruct_scaled(self, scaled: np.ndarray, key: int | None, batch_size: int) -> np.ndarray:
        """Reconstruction of the target channels of a scaled series (n, C): (n, n_target)."""
        target, cond = self._channels(scaled.shape[1])
        windows = frame(scaled, self.window, self._hop)  # (W, C, L)
        device = next(self.model_.parameters()).device
        generator = torch.Generator().manual_seed(self.random_state + 1)
        self.model_.eval()
        out = np.empty((len(windows), len(target), self.window))
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            x0 = torch.as_tensor(chunk[:, target], dtype=torch.float32, device=device)
            kwargs = self._model_kwargs(chunk[:, cond] if cond else None,
                                        np.full(len(chunk), key) if self.n_entities else None, device)
            acc = torch.zeros_like(x0)
            for _ in range(self.n_samples):
                acc += reconstruct(
                    self.model_, self.schedule_, x0, t0=self.t0, generator=generator,
                    method=self.sampler, steps=self.sample_steps, model_kwargs=kwargs,
                )
            out[start : start + batch_size] = (acc / self.n_samples).double().cpu().numpy()
        return stitch(out, len(scaled), self._hop)  # (n, n_target)

    def reconstruct(self, X: Any, *, entity: int | None = None, batch_size: int = 256) -> np.ndarray:
        """Reconstruction x̂ of X in the input's units: (n_samples, n_channels) float64.

        Condition channels are copied from X unchanged (they are inputs, not reconstructed).
        """
        self._check_fitted()
        key = self._entity_key(entity)
        arr = self._validate_X(X)
        scaler = self.scalers_[key]
        scaled = scaler.transform(arr)
        target, cond = self._channels(arr.shape[1])
        scaled[:, target] = self._reconstruct_scaled(scaled, key, batch_size)
        out = scaler.inverse_transform(scaled)
        out[:, cond] = arr[:, cond]  # exact inputs, free of scaling round-off
        return out

    def decision_function(self, X: Any, *, entity: int | None = None) -> np.ndarray:
        """Anomaly score per time step, higher = more anomalous: (n_samples,) float64.

        The distance is measured on the target channels in the scaled (−1, 1) units fitted on
        the training data of that entity, then optionally smoothed.
        """
        self._check_fitted()
        key = self._entity_key(entity)
        arr = self._validate_X(X)
        scaled = self.scalers_[key].transform(arr)
        target, _ = self._channels(arr.shape[1])
        return self._score_scaled(scaled[:, target], self._reconstruct_scaled(scaled, key, 256))

    def score_reconstruction(self, X: Any, x_hat: Any, *, entity: int | None = None) -> np.ndarray:
        """The score of :meth:`decision_function` for a reconstruction ``x_hat`` already computed
        (e.g. by :meth:`reconstruct`, kept for figures): (n_samples,) float64."""
        self._check_fitted()
        key = self._entity_key(entity)
        arr = self._validate_X(X)
        rec = self._validate_X(x_hat, name="x_hat")
        if rec.shape != arr.shape:
            raise ValueError(f"x_hat must have the shape of X {arr.shape}; got {rec.shape}")
        target, _ = self._channels(arr.shape[1])
        scaler = self.scalers_[key]
        return self._score_scaled(scaler.transform(arr)[:, target], scaler.transform(rec)[:, target])

    def _score_scaled(self, x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
        """Point distance over the target channels (n, n_target) -> (n,), then optional smoothing."""
        scores = pointwise_distance(x, x_hat, p=self.distance, reduce="mean")
        if self.smoothing != "none":
            scores = smooth(scores, kind=self.smoothing, size=self.smoothing_size)
        return scores

    def predict(self, X: Any, *, entity: int | None = None) -> np.ndarray:
        """0/1 label per time step (1 = anomaly): scores above the entity's training-fitted threshold."""
        self._check_fitted()
        key = self._entity_key(entity)
        return (self.decision_function(X, entity=key) > self.thresholds_[key]).astype(int)

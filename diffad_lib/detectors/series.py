"""Series adapter: :class:`DiffusionDetector`, the reconstruction core on time series.

Data path (the book's): scale each channel on training data → windows of length L with hop
(α·L in DiffADT) → train the denoiser (validation loss on the held-out normal tail) → reconstruct
each window from its copy noised t0 steps → stitch the windows back onto the time axis → point
distance |x − x̂| per target channel → each channel standardised by its held-out normal errors →
mean over channels → smoothing (DiffADT's kernels) → threshold fitted on normal scores only.

Command channels (``cond_channels``) condition the denoiser and are never scored. Several
entities share one model through :class:`~diffad_lib.detectors.entities.EntityDetector`, which
calls :meth:`DiffusionDetector.fit_entities`; each entity keeps its own scaler.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from diffad_lib._validation import check_choice, check_int
from diffad_lib.data.windows import WINDOW, frame, stitch
from diffad_lib.detectors.base import BaseDetector
from diffad_lib.detectors.core import FIT_CLIP, DiffusionCore, detector_init
from diffad_lib.models.empirical import EmpiricalDenoiser
from diffad_lib.samplers import randn_like
from diffad_lib.scaling import SCALINGS, ChannelScaler
from diffad_lib.scoring import AGGREGATES, CALIBRATIONS, KERNELS, ErrorCalibration, LevelCalibration, aggregate_errors
from diffad_lib.train import diffusion_loss
from diffad_lib.utils import module_device

__all__ = ["ContextDenoiser", "DiffusionDetector"]

RANGE_Q = 0.001  # fit_ranges_: the 1 − RANGE_Q quantile of |scaled training values|
CONTEXT = 16  # context=None: clean past steps of the denoising score's windows (named trained denoisers)


class ContextDenoiser(nn.Module):
    """A denoiser trained with a clean past (``DiffusionDetector(context=c)``), called on the noisy steps alone.

    ``forward(x_t (B, C, L), t) = model(concat(context, x_t), t)[..., c:]`` with the clean ``context``
    (B, C, c) of the same windows: the samplers and the denoising score see an ordinary ε-predictor of
    the L steps to denoise. Condition keyword arguments (``cond``, ``entity``) pass through unchanged and
    must cover the whole window of c + L steps.
    """

    def __init__(self, model: nn.Module, context: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.context = context

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        c = self.context.shape[-1]
        return self.model(torch.cat([self.context, x_t], dim=-1), t, **kwargs)[..., c:]


class DiffusionDetector(DiffusionCore, BaseDetector):
    """Diffusion-reconstruction anomaly detector for series, with the pyod / scikit-learn API.

    Parameters
    ----------
    model : str or nn.Module, default "mlp"
        Denoiser name for :func:`diffad_lib.models.build_model` or a module instance (copied at
        ``fit``; the caller's module is never trained in place). ``"empirical"``: no network and
        no training; the denoiser is the exact minimiser of the DDPM loss on the fitting windows
        (:class:`~diffad_lib.models.empirical.EmpiricalDenoiser`), what a network trained on them
        without limit would become: a reference for how much memorising the training windows
        changes the score (it takes no conditions and no ``model_params``; every training
        parameter is ignored).
    model_params : dict, optional
        Config fields of a named model (``in_channels`` and, for ``"mlp"``, ``window`` are
        filled in; for ``"diffwave"`` also ``cond_channels`` and ``n_entities``).
    window : int, default 32
        Window length L (:data:`~diffad_lib.data.windows.WINDOW`, shared with the window
        baselines). On the leaderboard's development series the denoising score's mean VUS-PR was
        0.530 at 32 steps, 0.520 at 24 and 0.502 at 16 (`results/dev_variants/window_*.json`); the
        window baselines gained as much at 32, so they use the same default. A series must be at
        least one window long.
    hop : int, optional
        Step between window starts, for training and scoring (α·L in DiffADT). ``None`` (default): 1
        for the denoising score (the model trains on the window at every offset and every step is
        scored by the same number of windows, as the window baselines do) and ``window // 4`` for the
        reconstruction score (DiffADT's α = 1/4: one reverse pass per window). On the leaderboard's
        development series the denoising score's mean VUS-PR was 0.502 at hop 1 against 0.491 at
        ``window // 4`` (`results/dev_variants/hop_quarter.json`), for about 1.2 times the fitting
        time; with ``epochs`` set, an epoch at hop 1 holds about four times as many windows.
    context : int, optional
        Steps before each window that the denoiser is given clean, as the past it is conditioned on: the
        denoiser sees ``context + window`` steps, the first ``context`` of them never noised, and predicts
        the noise of the last ``window`` (a forecast-style conditional DDPM; the training loss counts those
        steps only, :func:`~diffad_lib.train.diffusion_loss` with ``context``). Only the ``window`` steps
        are scored, so an input that the past makes unlikely scores high even when it is an ordinary
        window on its own. The first ``context`` steps of a series have no past: they carry the score of
        step ``context``. The fitting part must hold ``context + window`` steps and every scored series
        too; the held-out windows take their past from the end of the fitting part. Denoising score only
        (``score_method="reconstruction"`` and :meth:`reconstruct` need ``context=0``), trained
        denoisers only (not ``model="empirical"``). ``None`` (default): 16 (:data:`CONTEXT`) for the
        denoising score of a denoiser named here (``"mlp"``, ``"diffwave"``, ``"wavelet_unet"``), 0 for the
        reconstruction score, the exact denoiser and a module instance (built for windows of its own
        length). On the leaderboard's development series the denoising score's mean VUS-PR was 0.553 with
        16 steps of context against 0.530 without (SMAP +0.040, NAB +0.029, UCR +0.053, MSL and SMD within
        0.005 of before; `results/dev_variants/context_16.json`), for about the same fitting time.
    n_steps : int, default 100
        Diffusion steps T; ``schedule``, ``beta_start``, ``beta_end`` define β_t.
    t0 : int, default 20
        Reconstruction noise level in [1, T]: inputs are noised t0 steps, then denoised.
    sampler : {"ddpm", "ddim"}, default "ddim"; sample_steps : int, optional (DDIM steps; None: all)
    n_samples : int, default 8
        Noise draws per window and noise level. The denoising score averages the *signed* errors
        ``ε̂ − ε`` of the draws before taking their size, so the part of the error that no model
        could predict (the noise itself) shrinks like ``1/√n_samples`` while the part caused by
        the input stays (on the leaderboard's development series a mean VUS-PR of 0.447 with 8
        draws against 0.440 with one, the old score); with ``score_method="reconstruction"``,
        reconstructions averaged per window (each one a full reverse pass: DiffADT keeps 1).
    epochs : int, optional; min_steps : int, default 4000; max_steps : int, optional
        Training budget. ``epochs=None`` (default): ``max(min_steps, 20 epochs)`` optimizer
        steps, so a short series still trains to convergence (4000 steps of batch 64 take well
        under a minute for the MLP on a CPU) and a long one sees its windows 20 times; an int:
        that many passes over the windows; ``max_steps``: exactly that many steps.
    patience : int, optional, default 8
        With a held-out part (``val_fraction > 0``) the validation loss on its windows is measured
        20 times; training ends with the best weights, and stops after ``patience`` evaluations
        without improvement (``None``: never early).
    batch_size, lr, weight_decay, warmup_frac, lr_schedule, ema_decay :
        Training options (:class:`diffad_lib.train.TrainConfig`).
    scaling : {"robust", "minmax", "standard", "none"}, default "robust"
        Per-channel scaling fitted on the fitting part (:class:`~diffad_lib.scaling.ChannelScaler`):
        ``"robust"`` maps the 0.1 % and 99.9 % quantiles to ±1, so one extreme training value cannot
        squash a channel; ``"minmax"`` is the papers' min-max to [−1, 1].
    distance : {1, 2}, default 1
        L1 or squared-L2 point distance per target channel.
    pooling : {"window", "step"}, optional
        How the denoising errors of a window reach its steps. ``"window"``: every step of a window
        carries the window's mean error per channel (over its observed steps), the window's share of
        the denoising loss, and a step scores the mean over the windows that hold it, as the window
        baselines map their window scores back; ``"step"``: each step keeps its own error. ``None``
        (default): ``"window"`` for the denoising score, ``"step"`` for the reconstruction score
        (which compares each step with the stitched reconstruction). On the leaderboard's
        development series the denoising score's mean VUS-PR was 0.491 with ``"window"`` against
        0.447 with ``"step"`` (`results/dev_variants/pooling_step.json`).
    calibration : {"robust", "mahalanobis", "none"}, optional
        ``"robust"``: each channel's error is standardised by the median and MAD of its errors on
        held-out normal data (the fitting part without one) before channels are aggregated
        (:class:`~diffad_lib.scoring.ErrorCalibration`); ``"mahalanobis"`` (denoising score only): each
        channel's errors at the :attr:`score_levels` are kept apart, and a step scores the Mahalanobis
        distance of its profile over the levels from the normal profiles (standardised the same robust
        way; :class:`~diffad_lib.scoring.LevelCalibration`) instead of their mean, so levels whose errors
        move together count once and a profile normal data never shows (too large *or* too small at some
        levels) scores high. Being two-sided, it takes its normal profiles from *all* the training data,
        the fitting part with the held-out part: the windows the network was trained on are denoised best,
        and with the held-out part alone as reference they scored as unusual (on the leaderboard's
        development series that reference flagged 19.5 % of the fitting part with the three-sigma
        threshold of the held-out scores, against 3.9 % for ``"robust"``). The steps whose windows hold a
        training value beyond ±10 scaled units (a glitch; the network trains on it clipped) are left out of
        that reference, since a mean and a covariance, unlike a median and a MAD, follow one extreme value.
        ``"none"``: raw errors (the paper's score). ``None`` (default): ``"mahalanobis"`` for the denoising
        score of a denoiser named here (``"mlp"``, ``"diffwave"``, ``"wavelet_unet"``), ``"robust"`` for the
        reconstruction score, the exact
        denoiser and a module instance. On the leaderboard's development series, with the default context, the
        denoising score's mean VUS-PR was 0.578 with ``"mahalanobis"`` against 0.553 with ``"robust"`` (SMAP
        +0.057, MSL −0.020, SMD −0.017, NAB +0.025, UCR +0.082; `results/dev_variants/context_16_mahalanobis.json`
        against `context_16.json`): a gain in the mean carried by a few series that the one-sided score ranks
        low (a stretch denoised unusually *well*), with 18 of 44 series up and 20 down by more than 0.001.
    aggregate : {"mean", "max"}, default "mean"
        Reduction over channels.
    smoothing : {"hann", "hamming", "bartlett", "none"}, default "hann"; smoothing_size : int, default 15
        Kernel of the DiffADT smoothed distance and its (odd) length.
    threshold : {"three_sigma", "percentile", "contamination", "pot"}; threshold_params : dict, optional
        Rule fitted on normal scores (:func:`diffad_lib.thresholds.fit_threshold`).
    val_fraction : float, default 0.2
        Last fraction of the training series held out (still normal): validation loss, error
        calibration and the threshold come from it.
    nan_policy : {"raise", "mask"}, default "raise"
        ``"raise"``: NaN in X is refused. ``"mask"``: NaN marks a missing value (±inf is still
        refused): scaling and the training range use the observed values; the model sees missing
        values as 0 (the centre of the scaled range) and they are left out of the training and
        validation loss (:func:`~diffad_lib.train.diffusion_loss` with a mask), of the error calibration
        and of the score (a step with every channel missing scores like a typical normal step);
        :meth:`reconstruct` returns the model's values there. Condition channels must be complete.
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
    calibrations_ : dict entity -> ErrorCalibration, LevelCalibration or None
    calibration_levels_ : the :attr:`score_levels` the calibrations were fitted at (a Mahalanobis calibration
        refuses to score other levels: after changing ``t0`` or ``n_steps``, :meth:`recalibrate`)
    fit_ranges_ : dict entity -> (n_target,) the 99.9 % quantile (a stored value) of the absolute scaled
        values of the fitting part (the score adds ``max(|x| − range, 0)^p`` per channel: values beyond
        the training range always count, and one training glitch does not widen the range)
    decision_scores_ : (n,) scores of the training series ; threshold_ : float ; labels_ : (n,)
    train_losses_, train_lrs_ : per-epoch loss and learning rate ; n_features_in_ : int
    train_result_ : :class:`~diffad_lib.train.TrainResult` (per-step and validation curves)
    """

    _input = "series"

    __init__ = detector_init(
        "mlp",
        front={"window": (WINDOW, "int"), "hop": (None, "int | None"), "context": (None, "int | None")},
        back={
            "scaling": ("robust", 'Literal["minmax", "robust", "standard", "none"]'),
            "distance": (1, "Literal[1, 2]"),
            "calibration": (None, 'Literal["robust", "mahalanobis", "none"] | None'),
            "aggregate": ("mean", 'Literal["mean", "max"]'),
            "smoothing": ("hann", 'Literal["none", "hann", "hamming", "bartlett"]'),
            "smoothing_size": (15, "int"),
            "score_method": ("denoising", 'Literal["denoising", "reconstruction"]'),
            "pooling": (None, 'Literal["window", "step"] | None'),
            "nan_policy": ("raise", 'Literal["raise", "mask"]'),
            "cond_channels": (None, "Sequence[int] | None"),
            "n_entities": (0, "int"),
            "ssm_lr": (None, "float | None"),
            "train_callback": (None, "Callable[[int, nn.Module], None] | None"),
        },
        overrides={"patience": 8, "n_samples": 8},
    )

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_diffusion_params()
        check_int(self.window, name="window", minimum=2)
        if self.hop is not None:
            check_int(self.hop, name="hop", minimum=1, maximum=self.window)
        if self.context is not None:
            check_int(self.context, name="context", minimum=0)
        if self.context and self.score_method == "reconstruction":
            raise ValueError("context > 0 needs score_method='denoising' (a reconstruction would leave the first "
                             "context steps of a series without x̂); use context=0 with 'reconstruction'")
        if self.context and self.model == "empirical":
            raise ValueError("model 'empirical' (the exact denoiser of whole windows) takes no context; use context=0")
        check_choice(self.scaling, name="scaling", choices=SCALINGS)
        check_choice(self.distance, name="distance", choices=(1, 2))
        if self.calibration is not None:
            check_choice(self.calibration, name="calibration", choices=CALIBRATIONS)
        check_choice(self.aggregate, name="aggregate", choices=AGGREGATES)
        check_choice(self.score_method, name="score_method", choices=("denoising", "reconstruction"))
        if self.calibration == "mahalanobis" and self.score_method == "reconstruction":
            raise ValueError("calibration='mahalanobis' needs score_method='denoising' (it calibrates the errors of "
                             "the score's noise levels jointly; a reconstruction has one); use 'robust' or 'none'")
        if self.pooling is not None:
            check_choice(self.pooling, name="pooling", choices=("window", "step"))
            if self.pooling == "window" and self.score_method == "reconstruction":
                raise ValueError("pooling='window' needs score_method='denoising' (the reconstruction score compares "
                                 "each step with the stitched reconstruction); use pooling='step' or None")
        check_choice(self.smoothing, name="smoothing", choices=KERNELS)
        check_choice(self.nan_policy, name="nan_policy", choices=("raise", "mask"))
        check_int(self.smoothing_size, name="smoothing_size", minimum=1)
        check_int(self.n_entities, name="n_entities", minimum=0)
        if self.model in ("mlp", "empirical") and (self.cond_channels or self.n_entities):
            raise ValueError(f"model {self.model!r} takes no conditions; use cond_channels=None and n_entities=0")
        if self.model == "empirical" and self.model_params:
            raise ValueError(f"model 'empirical' has no config fields; use model_params=None, "
                             f"got {self.model_params!r}")

    @property
    def _min_length(self) -> int:
        if not isinstance(self.window, (int, np.integer)):
            return 1
        return self.window + (self._context if isinstance(self.context, (int, np.integer, type(None))) else 0)

    @property
    def _length_note(self) -> str:
        if not isinstance(self.window, (int, np.integer)) or not self._context:
            return ""
        return f" (a window of {self.window} steps after a context of {self._context}; see the context parameter)"

    @property
    def _min_held_out(self) -> int:  # held-out windows take their past from the fitting part
        return self.window if isinstance(self.window, (int, np.integer)) else 1

    @property
    def _context(self) -> int:
        """Clean past steps of every model window: ``context``, or with None :data:`CONTEXT` for the denoising
        score of a denoiser named and trained here, 0 otherwise."""
        if self.context is not None:
            return int(self.context)
        named = isinstance(self.model, str) and self.model != "empirical"
        return CONTEXT if named and self.score_method == "denoising" else 0

    @property
    def _calibration(self) -> str:
        """``calibration``, or with None ``"mahalanobis"`` for the denoising score of a denoiser named and trained
        here and ``"robust"`` otherwise (the reconstruction score, the exact denoiser, a module instance)."""
        if self.calibration is not None:
            return self.calibration
        named = isinstance(self.model, str) and self.model != "empirical"
        return "mahalanobis" if named and self.score_method == "denoising" else "robust"

    @property
    def _span(self) -> int:
        """Steps of a model window: the clean past and the window to denoise."""
        return self.window + self._context

    @property
    def _pooling(self) -> str:
        if self.pooling is not None:
            return self.pooling
        return "window" if self.score_method == "denoising" else "step"

    @property
    def _hop(self) -> int:
        if self.hop is not None:
            return self.hop
        return 1 if self.score_method == "denoising" else max(1, self.window // 4)

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
    def _fit_score(self, X: np.ndarray, n_fit: int) -> np.ndarray:
        return self.fit_entities([X], keys=[0], n_fit=[n_fit])[0]

    def fit_entities(
        self, series: Sequence[np.ndarray], *, keys: Sequence[int], n_fit: Sequence[int] | None = None
    ) -> list[np.ndarray]:
        """Train one model on the (validated, (n_i, C)) normal series of several entities.

        Entity ``keys[i]`` gets its own scaler and error calibration; with ``n_entities > 0`` the
        key is the ID the denoiser embeds. The first ``n_fit[i]`` steps of series i are fitted
        on (all of it when ``n_fit`` is None); the rest, held-out normal data, gives the
        validation loss (best weights, early stopping) and the per-channel error calibration.
        Every series is reconstructed once, and its scores (n_i,) are returned for the threshold.
        Used by ``fit`` (one series, key 0) and by ``EntityDetector``.
        """
        n_fit = [len(s) for s in series] if n_fit is None else list(n_fit)
        target, cond = self._channels(series[0].shape[1])
        if self.n_entities and any(not 0 <= k < self.n_entities for k in keys):
            raise ValueError(f"entity IDs must lie in [0, n_entities={self.n_entities}); got {list(keys)}")
        self.scalers_: dict[int, ChannelScaler] = {}
        self.fit_ranges_: dict[int, np.ndarray] = {}
        scaled = {}
        parts: dict[str, list[tuple[np.ndarray, int]]] = {"fit": [], "val": []}
        masks: dict[str, list[np.ndarray]] = {"fit": [], "val": []}  # observed (1) / missing (0) per entry
        missing = any(np.isnan(arr).any() for arr in series)  # only with nan_policy="mask"
        for key, arr, k in zip(keys, series, n_fit, strict=True):
            self._check_complete_conditions(arr, cond, name=f"entity {key}")
            self.scalers_[key] = ChannelScaler(self.scaling).fit(arr[:k])
            scaled[key] = self.scalers_[key].transform(arr)
            # the model trains on values clipped to ±FIT_CLIP scaled units: one glitch in the training
            # data cannot dominate the loss (scoring sees the values as they are); missing values are 0
            clipped = np.clip(scaled[key], -FIT_CLIP, FIT_CLIP)
            fit_part = np.nan_to_num(clipped, nan=0.0)
            # the 99.9 % quantile of |x| as a stored value (the next one inwards), so one glitch in the
            # training data does not widen the range that test values are measured against
            self.fit_ranges_[key] = np.nanquantile(np.abs(clipped[:k][:, target]), 1.0 - RANGE_Q, axis=0,
                                                   method="lower")  # (n_target,)
            observed = (~np.isnan(scaled[key])).astype(np.float64) if missing else None
            # the held-out windows (targets in the held-out part) take their clean past from the fitting part
            spans = {"fit": slice(0, k)} | ({"val": slice(k - self._context, None)} if len(arr) - k >= self.window
                                            else {})
            for part, rows in spans.items():
                parts[part].append((frame(fit_part[rows], self._span, self._hop), key))
                if missing:
                    masks[part].append(frame(observed[rows], self._span, self._hop)[:, target])
        defaults: dict[str, Any] = {"in_channels": len(target)}
        if self.model == "mlp":
            defaults["window"] = self._span
        if self.model == "diffwave":
            defaults.update(cond_channels=len(cond), n_entities=self.n_entities)
        x, conditions = self._batch(parts["fit"], target, cond, masks["fit"] if missing else None)
        val_x, val_conditions = (self._batch(parts["val"], target, cond, masks["val"] if missing else None)
                                 if parts["val"] else (None, None))
        if self.model == "empirical":
            self._fit_empirical(x)
        else:
            loss_fn = functools.partial(diffusion_loss, context=self._context) if self._context else None
            self._train(self._build_denoiser(defaults), x, conditions=conditions, callback=self.train_callback,
                        val_data=val_x, val_conditions=val_conditions, loss_fn=loss_fn)
        self.calibrations_: dict[int, ErrorCalibration | LevelCalibration | None] = {}
        self.calibration_levels_ = self.score_levels
        scores = []
        for key, k in zip(keys, n_fit, strict=True):
            errors = self._errors_scaled(scaled[key], key)
            self.calibrations_[key] = self._fit_calibration(errors, k, scaled[key])
            scores.append(self._score_errors(errors, key))
        return scores

    def _fit_calibration(self, errors: np.ndarray, k: int,
                         scaled: np.ndarray) -> ErrorCalibration | LevelCalibration | None:
        """The calibration of one entity's training errors, whose first ``k`` steps are the fitting part, from its
        scaled training series (n, C)."""
        if self._calibration == "robust":  # the held-out part (the fitting part if none is held out)
            normal = slice(k, None) if len(errors) - k >= self.window else slice(0, k)
            return ErrorCalibration.fit(errors[normal])
        if self._calibration == "mahalanobis":  # two-sided: every training step gives a normal profile ...
            return LevelCalibration.fit(self._glitch_free(errors, scaled))  # ... but a glitch's windows do not
        return None

    def _glitch_free(self, errors: np.ndarray, scaled: np.ndarray) -> np.ndarray:
        """Level errors (k, n, C) of a training series, NaN (left out of the Mahalanobis fit) at every step whose
        score reads a window holding a value beyond ±FIT_CLIP scaled units in any channel (a glitch the network
        was trained clipped), so one extreme training value cannot widen the normal profiles (a mean and a
        covariance are not robust, unlike the robust calibration's median and MAD). Unchanged when there is no
        such value, or when leaving them out would keep fewer than half the steps."""
        beyond = (np.abs(np.nan_to_num(scaled, nan=0.0)) > FIT_CLIP).any(axis=1)  # (n,)
        if not beyond.any():
            return errors
        # a scored step t reads the windows starting in (t − span, t − context]: they hold g when |t − g| < span
        at, n, span = np.flatnonzero(beyond), len(beyond), self._span
        edges = np.zeros(n + 1)
        np.add.at(edges, np.maximum(at - span + 1, 0), 1.0)
        np.add.at(edges, np.minimum(at + span, n), -1.0)
        reach = np.cumsum(edges)[:n] > 0.5
        if (~reach).sum() < max(2, len(reach) / 2):
            return errors
        out = errors.copy()
        out[:, reach, :] = np.nan
        return out

    def recalibrate(self, X: Any) -> DiffusionDetector:
        """Fit the error calibration and the threshold again on the training series X, keeping the trained network.

        For a detector fitted on one series (:meth:`fit`) whose scoring options (``t0``, ``n_samples``,
        ``calibration``, ``aggregate``, smoothing, threshold) were changed with ``set_params`` afterwards: X must be
        the series given to :meth:`fit`, split the same way (``val_fraction``). The network, its scaler and training
        range stay as fitted; ``calibrations_``, ``threshold_``, ``decision_scores_`` and ``labels_`` are replaced.
        With unchanged options the result equals the fit's (the noise draws are seeded). Returns self.
        """
        check_is_fitted(self, "model_")
        if list(self.scalers_) != [0]:
            raise ValueError("recalibrate needs a detector fitted on one series with fit; this one holds entities "
                             f"{sorted(self.scalers_)} (fit it again through EntityDetector)")
        self._check_common()
        self._check_params()
        arr = self._validate(X, reset=False)
        self._check_complete_conditions(arr, self._channels(arr.shape[1])[1], name="X")
        n_fit = self._n_fit(len(arr))
        scaled = self._scaler(0).transform(arr)
        errors = self._errors_scaled(scaled, 0)
        self.calibrations_ = {0: self._fit_calibration(errors, n_fit, scaled)}
        self.calibration_levels_ = self.score_levels
        self._set_threshold(self._score_errors(errors, 0), n_fit)
        return self

    def _fit_empirical(self, x: torch.Tensor) -> None:
        """``model="empirical"``: the exact denoiser of the fitting windows x (W, C_target, L), no training
        (``train_losses_`` and ``train_lrs_`` stay empty, ``train_result_`` is None)."""
        device = self._make_schedule()
        self.model_ = EmpiricalDenoiser(x.to(device), self.schedule_).eval()
        self.train_losses_, self.train_lrs_, self.train_result_ = [], [], None

    def _batch(
        self, framed: list[tuple[np.ndarray, int]], target: list[int], cond: list[int],
        masks: list[np.ndarray] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Windows (W, C, L) of several entities -> target windows and their conditions as tensors
        (with ``masks``, the observed-entry masks of the target windows as condition ``"mask"``, read
        by :func:`~diffad_lib.train.diffusion_loss` and never passed to the model)."""
        windows = np.concatenate([w[:, target] for w, _ in framed])
        conditions: dict[str, torch.Tensor] = {}
        if masks is not None:
            conditions["mask"] = torch.as_tensor(np.concatenate(masks), dtype=torch.float32)
        if cond:
            conditions["cond"] = torch.as_tensor(np.concatenate([w[:, cond] for w, _ in framed]), dtype=torch.float32)
        if self.n_entities:
            ents = np.concatenate([np.full(len(w), key) for w, key in framed])
            conditions["entity"] = torch.as_tensor(ents, dtype=torch.long)
        return torch.as_tensor(windows, dtype=torch.float32), conditions

    @staticmethod
    def _check_complete_conditions(X: np.ndarray, cond: list[int], *, name: str) -> None:
        """Condition channels are model inputs and cannot be masked: refuse NaN in them."""
        if cond and np.isnan(X[:, cond]).any():
            raise ValueError(f"condition channels {cond} must be complete; {name} holds NaN in them")

    # -- scoring ------------------------------------------------------------------------------
    def _scaler(self, entity: int) -> ChannelScaler:
        check_is_fitted(self, "scalers_")
        if entity not in self.scalers_:
            raise ValueError(f"entity must be one of the fitted entities {sorted(self.scalers_)}; got {entity!r}")
        return self.scalers_[entity]

    def _window_pass(self, scaled: np.ndarray, entity: int, fn: Callable[..., torch.Tensor], *,
                     n_out: int | None = None, pool: bool = False) -> np.ndarray:
        """Frame a scaled series (n, C) (missing values as 0), apply ``fn(x0, model_kwargs)`` to batches
        of target windows (B, C_target, L) with their conditions, stitch the results back: (n, n_out)
        (``fn`` returns (B, n_out, L) with n_out a multiple of C_target, channel blocks in target order;
        ``n_out`` defaults to C_target). ``pool``: every step of a window carries the window's mean over its
        observed steps, per output row, before stitching (a window score mapped back to its steps).
        With ``context``, the windows hold ``context + window`` steps: ``x0`` is their last ``window`` steps,
        ``model_kwargs["context"]`` their clean past (B, C_target, context), and the first ``context`` steps of
        the series, which no window scores, repeat the row of step ``context``."""
        target, cond = self._channels(scaled.shape[1])
        c = self._context
        windows = frame(np.nan_to_num(scaled, nan=0.0), self._span, self._hop)  # (W, C, c + L); missing: 0
        device = module_device(self.model_)
        out = np.empty((len(windows), len(target) if n_out is None else n_out, self.window))
        with torch.no_grad():
            for lo in range(0, len(windows), 256):
                rows = slice(lo, min(lo + 256, len(windows)))
                kwargs = {}
                if cond:
                    kwargs["cond"] = torch.as_tensor(windows[rows][:, cond], dtype=torch.float32, device=device)
                if self.n_entities:
                    kwargs["entity"] = torch.full((rows.stop - lo,), entity, dtype=torch.long, device=device)
                x0 = torch.as_tensor(windows[rows][:, target], dtype=torch.float32, device=device)
                if c:
                    kwargs["context"], x0 = x0[..., :c], x0[..., c:]
                out[rows] = fn(x0, kwargs).double().cpu().numpy()
        if pool:
            observed = frame((~np.isnan(scaled[:, target])).astype(np.float64), self._span, self._hop)[..., c:]
            blocks = out.reshape(len(out), -1, len(target), self.window)  # (W, n_out / C_target, C_target, L)
            observed = observed[:, None]  # (W, 1, C_target, L): the same steps for every block
            counts = observed.sum(axis=3, keepdims=True)
            pooled = (blocks * observed).sum(axis=3, keepdims=True) / np.maximum(counts, 1.0)
            # a window with no observed step of a channel keeps that channel's errors
            out = np.where(counts > 0, pooled, blocks).reshape(out.shape)
        stitched = stitch(out, len(scaled) - c, self._hop)  # (n - c, n_out): the same window starts
        return np.concatenate([np.repeat(stitched[:1], c, axis=0), stitched]) if c else stitched  # (n, n_out)

    def _reconstruct_scaled(self, scaled: np.ndarray, entity: int) -> np.ndarray:
        """Reconstruction of the target channels of a scaled series (n, C): (n, n_target)."""
        generator = self._generator()

        def fn(x0: torch.Tensor, kwargs: dict) -> torch.Tensor:
            return sum(self._reconstruct_one(x0, generator, kwargs) for _ in range(self.n_samples)) / self.n_samples

        return self._window_pass(scaled, entity, fn)

    def _errors_scaled(self, scaled: np.ndarray, entity: int) -> np.ndarray:
        """Per-step, per-target-channel errors of a scaled series: (n, n_target), before calibration.

        ``"reconstruction"``: ``|x − x̂|^p``. ``"denoising"``: ``|mean_k(ε̂(x_t^k, t) − ε^k)|^p``
        over ``n_samples`` draws ε^k per level, averaged over the noise levels :attr:`score_levels`.
        The mean of the signed errors keeps what the input explains (a window off the normal data
        pulls ε̂ the same way in every draw) and averages away the noise that no denoiser can
        predict, which a mean of ``|ε̂ − ε|`` would keep at full size. With window pooling (the
        default of this score) each window's errors are replaced by their mean over the window before
        the windows are stitched back (:meth:`_window_pass`). With ``calibration="mahalanobis"`` the levels
        are not averaged: (n_levels, n, n_target), the out-of-range term added at every level.
        """
        target, _ = self._channels(scaled.shape[1])
        if self.score_method == "reconstruction":
            errors = np.abs(scaled[:, target] - self._reconstruct_scaled(scaled, entity)) ** self.distance
            return errors + self._excess(scaled[:, target], entity)
        # + the excess, NaN where a value is missing: those errors are left out of the score
        excess = self._excess(scaled[:, target], entity)
        if self._calibration == "mahalanobis":  # every level kept, for the joint calibration: (n_levels, n, n_target)
            return self._level_errors(scaled, entity, self.score_levels) + excess
        mean = self._level_errors(scaled, entity, self.score_levels, average=True)[0]  # (n, n_target)
        return mean + excess

    def _level_errors(self, scaled: np.ndarray, entity: int, levels: Sequence[int], *,
                      average: bool = False, model: nn.Module | None = None) -> np.ndarray:
        """``|mean_k(ε̂(x_t^k, t) − ε^k)|^p`` over ``n_samples`` draws at each noise level t (1-based) of a
        scaled series (n, C): (n_levels, n, n_target), or with ``average`` their mean over the levels,
        (1, n, n_target), taken per batch so a long series never holds every level at once. Draws are
        taken level by level within each batch, the same either way."""
        n_target = len(self._channels(scaled.shape[1])[0])
        generator = self._generator()
        denoiser = self.model_ if model is None else model

        def fn(x0: torch.Tensor, kwargs: dict) -> torch.Tensor:
            context = kwargs.pop("context", None)
            net = denoiser if context is None else ContextDenoiser(denoiser, context)
            per_level = []
            for t in levels:
                tt = torch.full((x0.shape[0],), t - 1, dtype=torch.long, device=x0.device)
                signed = torch.zeros_like(x0)
                for _ in range(self.n_samples):
                    eps = randn_like(x0, generator)
                    signed += net(self.schedule_.q_sample(x0, tt, eps), tt, **kwargs) - eps
                per_level.append((signed / self.n_samples).abs() ** self.distance)
            if average:
                return sum(per_level) / len(levels)  # (B, n_target, L)
            return torch.cat(per_level, dim=1)  # (B, n_levels * n_target, L)

        n_rows = 1 if average else len(levels)
        stitched = self._window_pass(scaled, entity, fn, n_out=n_rows * n_target,
                                     pool=self._pooling == "window")  # (n, n_rows * n_target)
        return stitched.reshape(len(scaled), n_rows, n_target).transpose(1, 0, 2)

    def level_errors(self, X: Any, *, levels: Sequence[int] | None = None, entity: int = 0,
                     model: nn.Module | None = None) -> np.ndarray:
        """The denoising errors of X at each noise level separately: (n_levels, n, n_target) float64 for n steps.

        Row i is ``|mean_k(ε̂(x_t^k, t) − ε^k)|^distance`` at ``t = levels[i]`` (1-based steps in
        [1, n_steps]; default :attr:`score_levels`), per step and target channel, in scaled units,
        before calibration and without the out-of-range term; with window ``pooling``, each window's
        mean of it, stitched back onto the steps. The denoising score averages these
        rows over :attr:`score_levels`; one row at a time shows which noise levels separate an
        anomaly (the leaderboard page uses it to show what the denoiser misses). ``model``: another
        denoiser to read instead of ``model_`` (same windows, same draws), e.g. the exact denoiser of the
        training windows, :class:`~diffad_lib.models.empirical.EmpiricalDenoiser` with
        :meth:`fit_windows`.
        """
        check_is_fitted(self, "model_")
        arr = self._validate(X, reset=False)
        levels = self.score_levels if levels is None else list(levels)
        if not levels:
            raise ValueError("levels must hold at least one noise level")
        for t in levels:
            check_int(t, name="levels[i]", minimum=1, maximum=self.n_steps)
        self._check_complete_conditions(arr, self._channels(arr.shape[1])[1], name="X")
        return self._level_errors(self._scaler(entity).transform(arr), entity, levels, model=model)

    def fit_windows(self, X: Any, *, entity: int = 0) -> np.ndarray:
        """The target windows (W, n_target, context + window) the denoiser was trained on, for the training
        series X that was given to :meth:`fit`: its fitting part (without the held-out ``val_fraction``), scaled by
        the entity's fitted scaler, clipped, framed with the detector's hop (missing values as 0). For a
        denoiser built from the training data, such as :class:`~diffad_lib.models.empirical.EmpiricalDenoiser`."""
        check_is_fitted(self, "model_")
        arr = self._validate(X, reset=False)
        target, _ = self._channels(arr.shape[1])
        arr = arr[: self._n_fit(len(arr))]  # refuses a series too short to split as fit did
        clipped = np.clip(self._scaler(entity).transform(arr), -FIT_CLIP, FIT_CLIP)  # as fit_entities clips
        return frame(np.nan_to_num(clipped, nan=0.0), self._span, self._hop)[:, target]

    def _excess(self, x: np.ndarray, entity: int) -> np.ndarray:
        """How far each scaled target value (n, n_target) lies beyond the range the model was fitted
        on (``fit_ranges_``), to the power ``distance``: 0 inside it. A denoiser's output is bounded,
        so without this term a value far outside its training range would not score higher than a
        value just outside it."""
        return np.maximum(np.abs(x) - self.fit_ranges_[entity], 0.0) ** self.distance

    @property
    def score_levels(self) -> list[int]:
        """Noise levels (1-based steps) of the denoising score: t0/4, t0/2, t0 and 2·t0 within [1, T]."""
        return sorted({int(min(max(round(self.t0 * f), 1), self.n_steps)) for f in (0.25, 0.5, 1.0, 2.0)})

    def _score_errors(self, errors: np.ndarray, entity: int) -> np.ndarray:
        """Errors (n, n_target), or (n_levels, n, n_target) with the Mahalanobis calibration, calibrated
        with the entity's normal errors, aggregated over channels, optionally smoothed -> (n,)."""
        calibration = self.calibrations_[entity]
        if isinstance(calibration, LevelCalibration):
            errors, calibration = calibration.transform(errors), None  # (n, n_target) standardised distances
        return aggregate_errors(errors, calibration=calibration, aggregate=self.aggregate,
                                kind=self.smoothing, size=self.smoothing_size)

    def score_entity(self, X: np.ndarray, entity: int) -> np.ndarray:
        """Scores of a validated series (n, C) of a fitted entity: (n,) float64."""
        self._check_complete_conditions(X, self._channels(X.shape[1])[1], name="X")
        scaler = self._scaler(entity)  # refuses an entity that was not fitted
        stored = self.calibrations_[entity]
        kinds = {"robust": ErrorCalibration, "mahalanobis": LevelCalibration, "none": type(None)}
        if not isinstance(stored, kinds[self._calibration]):
            fitted = next(k for k, cls in kinds.items() if isinstance(stored, cls))
            raise ValueError(f"calibration is now {self._calibration!r} but the detector was calibrated with "
                             f"{fitted!r}: call recalibrate(X_train) with the training series (no retraining), "
                             "or fit again")
        fitted_at = getattr(self, "calibration_levels_", None)
        if isinstance(stored, LevelCalibration) and fitted_at != self.score_levels:
            raise ValueError(f"the Mahalanobis calibration was fitted at the noise levels {fitted_at}, but t0 and "
                             f"n_steps now give {self.score_levels}: call recalibrate(X_train) with the training "
                             "series (no retraining), or fit again")
        return self._score_errors(self._errors_scaled(scaler.transform(X), entity), entity)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.score_entity(X, 0)

    def reconstruct(self, X: Any, *, entity: int = 0) -> np.ndarray:
        """Reconstruction x̂ of X in the input's units: (n_samples, n_channels) float64.

        Condition channels are copied from X unchanged (they are inputs, not reconstructed). A detector
        with ``context`` > 0 has no reconstruction (its first ``context`` steps have no past): a ValueError.
        """
        check_is_fitted(self, "model_")
        if self._context:
            raise ValueError(f"reconstruct needs context=0; this detector conditions on {self._context} clean steps "
                             "and scores by denoising (use decision_function or level_errors)")
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
        if self.score_method != "reconstruction":
            raise ValueError(f"score_reconstruction needs score_method='reconstruction'; this detector scores "
                             f"by {self.score_method!r} (use decision_function)")
        target, _ = self._channels(arr.shape[1])
        scaler = self._scaler(entity)
        x_t = scaler.transform(arr)[:, target]
        errors = np.abs(x_t - scaler.transform(rec)[:, target]) ** self.distance + self._excess(x_t, entity)
        return self._score_errors(errors, entity)

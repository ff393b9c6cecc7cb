"""The reconstruction core shared by every diffusion detector: schedule, denoiser, training, x̂.

:class:`DiffusionCore` is a mixin for :class:`~diffad_lib.detectors.base.BaseDetector`
subclasses. It owns, once for every modality:

* validation of the diffusion and training parameters (one rule per parameter);
* the noise schedule (``schedule_``) and building the denoiser by name or from an instance,
  with its weights initialised from ``random_state`` without touching torch's global RNG;
* training through :func:`diffad_lib.train.train_diffusion` (the one loop), recording
  ``train_losses_``, ``train_lrs_`` and ``train_result_``;
* reconstruction x̂ = ``samplers.reconstruct(x0, t0)`` averaged over ``n_samples`` noise draws,
  in batches, with a ``torch.Generator`` seeded from ``random_state`` (same seed, same scores).

What differs between modalities (how inputs become model batches, how distances become scores)
lives in the *adapters* (:mod:`~diffad_lib.detectors.series`, :mod:`~diffad_lib.detectors.samples`).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from diffad_lib._validation import check_choice, check_float, check_int
from diffad_lib.models import build_model
from diffad_lib.models.s4d import S4DKernel, param_groups
from diffad_lib.samplers import reconstruct
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.train import TrainConfig, TrainResult, seeded_init, train_diffusion
from diffad_lib.utils import module_device, resolve_device

__all__ = ["CORE_PARAMS", "FIT_CLIP", "DiffusionCore", "RUN_PARAMS", "detector_init"]

#: Model inputs are clipped to this many scaled units (normal data lies within ±1): the series
#: adapter clips its training windows, the sample adapter the inputs it reconstructs (the distance
#: uses the unclipped values, so a value far outside the training range is never copied into x̂).
FIT_CLIP = 10.0

#: Parameters every diffusion detector shares (name -> (default, annotation)), in signature order:
#: the forward process, reconstruction, and the training budget and optimiser.
CORE_PARAMS: dict[str, tuple[Any, str]] = {
    "n_steps": (100, "int"),
    "schedule": ("linear", 'Literal["linear", "cosine"]'),
    "beta_start": (1e-4, "float"),
    "beta_end": (0.02, "float"),
    "t0": (20, "int"),
    "sampler": ("ddim", 'Literal["ddpm", "ddim"]'),
    "sample_steps": (None, "int | None"),
    "n_samples": (1, "int"),
    "epochs": (None, "int | None"),
    "min_steps": (4000, "int"),
    "max_steps": (None, "int | None"),
    "patience": (None, "int | None"),
    "batch_size": (64, "int"),
    "lr": (1e-3, "float"),
    "weight_decay": (1e-4, "float"),
    "warmup_frac": (0.1, "float"),
    "lr_schedule": ("warmup_cosine", 'Literal["warmup_cosine", "warmup_linear", "constant"]'),
    "ema_decay": (None, "float | None"),
}

#: Parameters of every detector's run: threshold rule, held-out fraction, device, seed, progress.
RUN_PARAMS: dict[str, tuple[Any, str]] = {
    "threshold": ("three_sigma", "str"),
    "threshold_params": (None, "dict[str, Any] | None"),
    "val_fraction": (0.2, "float"),
    "device": ("auto", "str"),
    "random_state": (0, "int"),
    "progress": (False, "bool"),
}


def detector_init(
    model: str,
    *,
    front: Mapping[str, tuple[Any, str]],
    back: Mapping[str, tuple[Any, str]],
    overrides: Mapping[str, Any] | None = None,
) -> Callable[..., None]:
    """The ``__init__`` of a diffusion detector, built from the shared parameter tables.

    Its signature is ``(model=<model>, *, model_params=None, **front, **CORE_PARAMS, **back,
    **RUN_PARAMS)`` with the defaults of ``overrides`` replacing the shared ones; it is set as
    ``__signature__``, which :func:`inspect.signature`, ``help``, IDEs and scikit-learn's
    ``get_params`` read. Like every scikit-learn ``__init__`` it only stores the arguments;
    an unknown name raises ``TypeError`` as a written-out signature would.
    """
    table: dict[str, tuple[Any, str]] = {"model_params": (None, "dict[str, Any] | None"), **front, **CORE_PARAMS,
                                         **back, **RUN_PARAMS}
    for name, default in (overrides or {}).items():
        if name not in table:
            raise ValueError(f"overrides names an unknown parameter {name!r}")
        table[name] = (default, table[name][1])
    P = inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD),
              P("model", P.POSITIONAL_OR_KEYWORD, default=model, annotation="str | nn.Module")]
    params += [P(name, P.KEYWORD_ONLY, default=d, annotation=a) for name, (d, a) in table.items()]
    signature = inspect.Signature(params, return_annotation="None")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return __init__


class DiffusionCore:
    """Mixin: diffusion parameters, schedule, denoiser, training and reconstruction.

    The host class gets the parameters ``model``, ``model_params``, :data:`CORE_PARAMS` and
    :data:`RUN_PARAMS` from an ``__init__`` made by :func:`detector_init`.
    """

    # -- parameters ---------------------------------------------------------------------------
    def _check_diffusion_params(self) -> None:
        if not isinstance(self.model, (str, nn.Module)):
            raise TypeError(f"model must be a model name or an nn.Module; got {type(self.model).__name__}")
        if self.model_params is not None and not isinstance(self.model_params, dict):
            raise TypeError(f"model_params must be a dict or None; got {type(self.model_params).__name__}")
        check_int(self.n_steps, name="n_steps", minimum=1)
        check_choice(self.schedule, name="schedule", choices=("linear", "cosine"))
        check_float(self.beta_start, name="beta_start", low=0.0, high=1.0, low_open=True, high_open=True)
        check_float(self.beta_end, name="beta_end", low=0.0, high=1.0, low_open=True, high_open=True)
        # t0 = 0 would return x unchanged: every score ~0, nothing detected
        check_int(self.t0, name="t0", minimum=1, maximum=self.n_steps)
        check_choice(self.sampler, name="sampler", choices=("ddpm", "ddim"))
        if self.sample_steps is not None:
            if self.sampler == "ddpm":
                raise ValueError("sample_steps applies to sampler='ddim' only; pass sample_steps=None with 'ddpm'")
            check_int(self.sample_steps, name="sample_steps", minimum=1)
        check_int(self.n_samples, name="n_samples", minimum=1)
        if self.epochs is not None:
            check_int(self.epochs, name="epochs", minimum=1)
        check_int(self.min_steps, name="min_steps", minimum=0)
        if self.max_steps is not None:
            check_int(self.max_steps, name="max_steps", minimum=1)
        if self.patience is not None:
            check_int(self.patience, name="patience", minimum=1)
        check_int(self.batch_size, name="batch_size", minimum=1)
        check_float(self.lr, name="lr", low=0.0, low_open=True)
        check_float(self.weight_decay, name="weight_decay", low=0.0)
        check_float(self.warmup_frac, name="warmup_frac", low=0.0, high=1.0, high_open=True)
        check_choice(self.lr_schedule, name="lr_schedule", choices=("warmup_cosine", "warmup_linear", "constant"))
        if self.ema_decay is not None:
            check_float(self.ema_decay, name="ema_decay", low=0.0, high=1.0, low_open=True, high_open=True)
        check_int(self.random_state, name="random_state", minimum=0)

    # -- building -----------------------------------------------------------------------------
    def _build_denoiser(self, defaults: Mapping[str, Any]) -> nn.Module:
        """The denoiser: a deep copy of an instance, or ``build_model(name, **model_params)``.

        ``defaults`` fill config fields the user did not set (``in_channels``, ``window``, ...).
        """
        if isinstance(self.model, nn.Module):
            return copy.deepcopy(self.model)
        params = {**defaults, **(self.model_params or {})}
        return seeded_init(lambda: build_model(self.model, **params), seed=self.random_state)

    def _make_schedule(self) -> torch.device:
        """Set ``schedule_`` from the schedule parameters, on the resolved ``device``; return that device."""
        device = resolve_device(self.device)
        self.schedule_ = NoiseSchedule(self.n_steps, kind=self.schedule, beta_start=self.beta_start,
                                       beta_end=self.beta_end).to(device)
        return device

    def _train(
        self,
        model: nn.Module,
        x: torch.Tensor,
        *,
        conditions: Mapping[str, torch.Tensor] | None = None,
        loss_fn: Callable[..., torch.Tensor] | None = None,
        callback: Callable[[int, nn.Module], None] | None = None,
        val_data: torch.Tensor | None = None,
        val_conditions: Mapping[str, torch.Tensor] | None = None,
    ) -> TrainResult:
        """Train ``model`` on windows / samples x (N, C, *S) with the one training loop.

        The budget is ``epochs`` passes over x; with ``epochs=None`` (the default) it is
        ``max(min_steps, 20 epochs)`` optimizer steps, so small data still trains to convergence
        and large data gets 20 passes; ``max_steps`` overrides both.
        With held-out ``val_data`` (normal windows) the loop measures a validation
        loss 20 times, ends with the weights of the best one and stops after ``patience``
        evaluations without improvement. Sets ``schedule_``, ``model_`` (eval mode),
        ``train_losses_``, ``train_lrs_`` and ``train_result_``. S4 state-space parameters get
        their own group (no weight decay).
        """
        device = self._make_schedule()
        groups = None
        if any(isinstance(m, S4DKernel) for m in model.modules()):
            groups = param_groups(model, weight_decay=self.weight_decay, lr_ssm=getattr(self, "ssm_lr", None))
        budget = {"epochs": 20, "min_steps": self.min_steps} if self.epochs is None else {"epochs": self.epochs}
        config = TrainConfig(**budget, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, warmup_frac=self.warmup_frac,
                             lr_schedule=self.lr_schedule, ema_decay=self.ema_decay, seed=self.random_state,
                             device=str(device), progress=self.progress, max_steps=self.max_steps,
                             patience=self.patience if val_data is not None else None)
        result = train_diffusion(model, self.schedule_, x, config=config, conditions=conditions,
                                 param_groups=groups, callback=callback, loss_fn=loss_fn,
                                 val_data=val_data, val_conditions=val_conditions)
        self.model_ = result.model.eval()
        self.train_losses_ = list(result.losses)
        self.train_lrs_ = list(result.lrs)
        self.train_result_ = result
        return result

    # -- reconstruction -----------------------------------------------------------------------
    def _generator(self) -> torch.Generator:
        """The reconstruction noise stream: a fresh CPU generator per scoring call."""
        return torch.Generator().manual_seed(int(self.random_state) + 1)

    @torch.no_grad()
    def _reconstruct_batches(
        self, x: np.ndarray, *, batch_size: int = 256, model_kwargs: Callable[[slice], dict] | None = None
    ) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
        """Yield ``(rows, x0, x̂)`` for consecutive batches of x (N, C, *S) in scaled units.

        x̂ is the mean of ``n_samples`` reconstructions from t0 (noise draws from one generator,
        so the result depends on the inputs and ``random_state`` only). ``model_kwargs(rows)``
        gives the conditions of those rows.
        """
        device = module_device(self.model_)
        generator = self._generator()
        self.model_.eval()
        for lo in range(0, len(x), batch_size):
            rows = slice(lo, min(lo + batch_size, len(x)))
            x0 = torch.as_tensor(x[rows], dtype=torch.float32, device=device)
            kwargs = model_kwargs(rows) if model_kwargs is not None else {}
            acc = torch.zeros_like(x0)
            for _ in range(self.n_samples):
                acc += self._reconstruct_one(x0, generator, kwargs)
            yield rows, x0, acc / self.n_samples

    def _reconstruct_one(self, x0: torch.Tensor, generator: torch.Generator, kwargs: dict) -> torch.Tensor:
        """One x̂ of a batch: noised to t0 and denoised back."""
        return reconstruct(self.model_, self.schedule_, x0, t0=self.t0, generator=generator,
                           method=self.sampler, steps=self.sample_steps, model_kwargs=kwargs)

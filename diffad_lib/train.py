"""One training loop for every denoiser: ε-prediction loss, AdamW, warm-up schedule, EMA, checkpoints.

The loop is deliberately plain: draw a batch, draw t ~ U{0..T-1} and ε ~ N(0, I), regress
ε̂ = model(q_sample(x0, t, ε), t, **conditions) onto ε (Ho et al. 2020, Algorithm 1).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from tqdm import tqdm  # plain text bars: no ipywidgets needed in notebooks

from diffad_lib.samplers import randn_like
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.utils import resolve_device

LRSchedule = Literal["warmup_cosine", "warmup_linear", "constant"]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100  # passes over the training windows
    batch_size: int = 64  # windows per optimisation step
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 1e-4  # AdamW weight decay (parameter groups may override)
    lr_schedule: LRSchedule = "warmup_cosine"  # shape of the learning-rate curve
    warmup_frac: float = 0.25  # where the warm-up peaks, as a fraction of all steps (DiffADT: 1/4)
    min_lr_frac: float = 0.0  # final learning rate as a fraction of ``lr``
    grad_clip: float | None = 1.0  # max gradient norm (None: no clipping)
    ema_decay: float | None = None  # keep an exponential moving average of the weights
    seed: int = 0  # seeds batches, timesteps and noise
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    bf16: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    checkpoint: str | None = None  # path of the checkpoint file (None: no checkpoints)
    checkpoint_every: int = 0  # save every N epochs (0: only at the end)
    resume: bool = False  # continue from ``checkpoint`` if it exists
    progress: bool = True  # tqdm progress bar with the running loss

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac must lie in [0, 1); got {self.warmup_frac!r}")
        if self.lr_schedule not in ("warmup_cosine", "warmup_linear", "constant"):
            raise ValueError(f"lr_schedule must be warmup_cosine, warmup_linear or constant; got {self.lr_schedule!r}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1) or be None; got {self.ema_decay!r}")


@dataclass
class TrainResult:
    model: nn.Module  # the trained model (EMA weights when ema_decay is set)
    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    lrs: list[float] = field(default_factory=list)  # learning rate at the end of each epoch
    raw_model: nn.Module | None = None  # the non-averaged model when EMA is used
    epochs_run: int = 0  # epochs trained in this call (0 when resumed at the end)


def lr_factor(step: int, total: int, *, schedule: LRSchedule, warmup_frac: float, min_frac: float = 0.0) -> float:
    """Multiplier of the peak LR at optimisation ``step`` of ``total``.

    Linear warm-up from 0 to 1 over the first ``warmup_frac`` of the steps, then cosine or
    linear decay to ``min_frac``; ``"constant"`` returns 1.
    """
    if schedule == "constant":
        return 1.0
    peak = max(1, int(round(warmup_frac * total)))
    if step < peak:
        return (step + 1) / peak
    progress = (step - peak) / max(1, total - peak)
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "warmup_cosine" else 1 - progress
    return min_frac + (1 - min_frac) * decay


def diffusion_loss(
    model: Callable[..., torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> torch.Tensor:
    """Simple ε-prediction loss E‖ε − ε̂(x_t, t)‖² (Ho et al. eq. 14): x0 (B, ...) -> scalar."""
    t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)  # (B,)
    noise = randn_like(x0, generator)
    x_t = schedule.q_sample(x0, t, noise)
    eps = model(x_t, t, **(model_kwargs or {}))
    return torch.mean((eps.float() - noise.float()) ** 2)


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def train_diffusion(
    model: nn.Module,
    schedule: NoiseSchedule | None,
    x: torch.Tensor,
    *,
    config: TrainConfig,
    conditions: Mapping[str, torch.Tensor] | None = None,
    param_groups: list[dict[str, Any]] | None = None,
    callback: Callable[[int, nn.Module], None] | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``model`` in place to predict the noise added to the windows ``x``.

    Parameters
    ----------
    model : nn.Module
        Denoiser with ``forward(x_t, t, **conditions)``.
    schedule : NoiseSchedule
    x : Tensor (N, C, L) or (N, C, H, W)
        Training windows.
    config : TrainConfig
    conditions : mapping of name -> Tensor with leading dimension N, optional
        Per-window conditions passed to the model (e.g. ``cond`` command channels, ``entity`` ids).
    param_groups : list of dict, optional
        Optimiser parameter groups (e.g. S4 parameters with their own LR and no weight decay);
        defaults to all parameters with ``config.weight_decay``.
    callback : callable(epoch, model), optional
        Called after each epoch (1-based) with the current (EMA if enabled) model.
    loss_fn : callable, optional
        ``loss_fn(model, schedule, x0, *, generator, model_kwargs) -> scalar``; defaults to
        :func:`diffusion_loss`. Lets a chapter add terms (e.g. a feature loss) without a second loop.

    Returns
    -------
    TrainResult with the per-epoch mean loss history.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        shape = tuple(getattr(x, "shape", ()))
        raise ValueError(f"x must be a tensor (N, C, L) or (N, C, H, W); got {type(x).__name__} of shape {shape}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf")
    n = x.shape[0]
    conditions = dict(conditions or {})
    for name, value in conditions.items():
        if value.shape[0] != n:
            raise ValueError(f"condition {name!r} has {value.shape[0]} rows; expected {n} (one per window)")
    device = resolve_device(config.device)
    model.to(device)
    if schedule is not None:  # None: a non-diffusion loss_fn (e.g. an autoencoder's)
        schedule.to(device)
    x = x.to(device)
    conditions = {k: v.to(device) for k, v in conditions.items()}
    generator = torch.Generator().manual_seed(config.seed)  # CPU: same stream on every device

    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    for g in optimizer.param_groups:
        g.setdefault("peak_lr", g["lr"])
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema_decay else None

    losses: list[float] = []
    lrs: list[float] = []
    start_epoch = 0
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if config.resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        generator.set_state(state["generator"])
        losses, lrs = list(state["losses"]), list(state["lrs"])
        start_epoch = int(state["epoch"])

    use_bf16 = config.bf16 and device.type == "cuda"
    bar = tqdm(range(start_epoch, config.epochs), desc="train", disable=not config.progress, leave=False)
    step = start_epoch * steps_per_epoch
    model.train()
    for epoch in bar:
        perm = torch.randperm(n, generator=generator).to(device)
        total, count = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * config.batch_size : (i + 1) * config.batch_size]
            factor = lr_factor(
                step, total_steps, schedule=config.lr_schedule, warmup_frac=config.warmup_frac,
                min_frac=config.min_lr_frac,
            )
            for g in optimizer.param_groups:
                g["lr"] = g["peak_lr"] * factor
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = (loss_fn or diffusion_loss)(
                    model, schedule, x[idx], generator=generator,
                    model_kwargs={k: v[idx] for k, v in conditions.items()},
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            if ema is not None:
                _ema_update(ema, model, config.ema_decay)
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            step += 1
        losses.append(total / count)
        lrs.append(optimizer.param_groups[0]["lr"])
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if callback is not None:
            callback(epoch + 1, ema if ema is not None else model)
        last = epoch + 1 == config.epochs
        if ckpt is not None and (last or (config.checkpoint_every and (epoch + 1) % config.checkpoint_every == 0)):
            save_checkpoint(ckpt, model=model, optimizer=optimizer, ema=ema, generator=generator,
                            epoch=epoch + 1, losses=losses, lrs=lrs, config=config)
    model.eval()
    final = ema if ema is not None else model
    return TrainResult(model=final, losses=losses, lrs=lrs, raw_model=model if ema is not None else None,
                       epochs_run=config.epochs - start_epoch)


def save_checkpoint(
    path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, ema: nn.Module | None,
    generator: torch.Generator, epoch: int, losses: list[float], lrs: list[float], config: TrainConfig,
) -> None:
    """Write a checkpoint loadable with ``torch.load(..., weights_only=True)`` (atomic rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "epoch": epoch,
        "losses": losses,
        "lrs": lrs,
        "config": {k: v for k, v in asdict(config).items() if v is None or isinstance(v, (int, float, str, bool))},
    }
    if ema is not None:
        state["ema"] = ema.state_dict()
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)

"""One training loop for every denoiser: ε-prediction loss, AdamW, warm-up schedule, EMA, validation, checkpoints.

The loop is deliberately plain: draw a batch, draw t ~ U{0..T-1} and ε ~ N(0, I), regress
ε̂ = model(q_sample(x0, t, ε), t, **conditions) onto ε (Ho et al. 2020, Algorithm 1).

Budget
    Training is counted in optimizer steps. ``TrainConfig.max_steps`` fixes the budget; without
    it the budget is ``max(epochs * ceil(N / batch_size), min_steps)``, so a small data set still
    gets ``min_steps`` updates. The learning-rate schedule is a function of that total.

Validation
    With ``val_data`` (held-out normal windows) the ε-loss on those windows is measured every
    ``eval_every`` steps with the same seeded (t, ε) draws each time, so the values are
    comparable. The weights (the EMA weights when ``ema_decay`` is set) with the lowest
    validation loss are kept, and training stops after ``patience`` evaluations without an
    improvement larger than ``min_delta``.

Reproducibility
    Every random draw (batch order, timesteps, noise, dropout) comes from generators seeded by
    ``TrainConfig.seed``; the caller's global RNG state is left as it was. Weight initialisation
    is the caller's: :func:`seeded_init` builds a model from a seed without touching global state.

Checkpoints
    A checkpoint holds the state, the settings a resumed run must share (learning rate, batch
    size, seed, schedule, total steps, …) and a fingerprint (shape, dtype and sha256) of the
    training and validation tensors; resuming with anything different is refused with a
    ``ValueError`` naming the field. The file embeds a sha256 of its payload that is checked on
    load, is written to a temporary file and renamed, and the directory is checked for writing
    before the first step.

Several processes (DistributedDataParallel)
    Under ``torchrun`` (or whenever ``torch.distributed`` is initialised) the same call trains
    with DistributedDataParallel: each global batch of ``batch_size`` windows (the one a single
    process would draw) is split across the ranks, each rank draws the full batch's (t, ε) and
    keeps its share, and only rank 0 shows progress and writes checkpoints. For example::

        torchrun --nproc_per_node 2 -m diffad_lib.distributed --data windows.npy --model mlp \\
            --model-param window=64 --epochs 50 --batch-size 64 --output model.pt

    ``python -m diffad_lib.distributed --nproc 2 ...`` starts the processes itself on one machine.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import io
import math
import numbers
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from tqdm import tqdm  # plain text bars: no ipywidgets needed in notebooks

from diffad_lib.samplers import randn_like
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.utils import resolve_device

LRSchedule = Literal["warmup_cosine", "warmup_linear", "constant"]

CHECKPOINT_FORMAT = "diffad-train-checkpoint"
CHECKPOINT_VERSION = 2

# settings a resumed run must share with the run that wrote the checkpoint (compared field by field)
_RESUME_FIELDS = (
    "lr", "batch_size", "weight_decay", "lr_schedule", "warmup_frac", "min_lr_frac", "grad_clip",
    "ema_decay", "seed", "bf16", "patience", "min_delta", "val_draws", "restore_best",
)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100  # passes over the training windows (a convenience when max_steps is None)
    batch_size: int = 64  # windows per optimisation step (the global batch across processes)
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 1e-4  # AdamW weight decay (parameter groups may override)
    lr_schedule: LRSchedule = "warmup_cosine"  # shape of the learning-rate curve
    warmup_frac: float = 0.25  # where the warm-up peaks, as a fraction of all steps (DiffADT: 1/4)
    min_lr_frac: float = 0.0  # final learning rate as a fraction of ``lr``
    grad_clip: float | None = 1.0  # max gradient norm (None: no clipping)
    ema_decay: float | None = None  # keep an exponential moving average of the weights
    seed: int = 0  # seeds batches, timesteps, noise, dropout and the validation draws
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    bf16: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    checkpoint: str | None = None  # path of the checkpoint file (None: no checkpoints)
    checkpoint_every: int = 0  # save every N epochs (0: only at the end)
    resume: bool = False  # continue from ``checkpoint`` if it exists
    progress: bool = True  # tqdm progress bar with the running loss
    max_steps: int | None = None  # optimizer steps in all; overrides epochs and min_steps
    min_steps: int = 0  # at least this many steps when the budget comes from epochs
    eval_every: int | None = None  # validation every N steps (None: 20 evaluations over the run)
    val_draws: int = 4  # seeded (t, ε) draws per validation window and evaluation
    patience: int | None = None  # stop after N evaluations without improvement (None: never)
    min_delta: float = 0.0  # a validation loss must fall by more than this to count as better
    restore_best: bool = True  # end with the weights of the best validation loss
    distributed: bool | None = None  # None: DDP when torch.distributed is initialised; True: require it

    def __post_init__(self) -> None:
        ints = {"epochs": 1, "batch_size": 1, "checkpoint_every": 0, "min_steps": 0, "val_draws": 1}
        optional_ints = {"max_steps": 1, "eval_every": 1, "patience": 1}
        for name, low in {**ints, **optional_ints}.items():
            value = getattr(self, name)
            if value is None and name in optional_ints:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                kind = "an int or None" if name in optional_ints else "an int"
                raise TypeError(f"{name} must be {kind}; got {type(value).__name__} {value!r}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}; got {value!r}")
            object.__setattr__(self, name, int(value))
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"seed must be an int; got {type(self.seed).__name__} {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac must lie in [0, 1); got {self.warmup_frac!r}")
        if not 0 <= self.min_lr_frac <= 1:
            raise ValueError(f"min_lr_frac must lie in [0, 1]; got {self.min_lr_frac!r}")
        if self.lr_schedule not in ("warmup_cosine", "warmup_linear", "constant"):
            raise ValueError(f"lr_schedule must be warmup_cosine, warmup_linear or constant; got {self.lr_schedule!r}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1) or be None; got {self.ema_decay!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None; got {self.grad_clip!r}")
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; got {self.min_delta!r}")
        if self.distributed not in (None, True, False):
            raise TypeError(f"distributed must be None, True or False; got {self.distributed!r}")

    def total_steps(self, n_windows: int) -> int:
        """Optimizer steps of a run over ``n_windows`` training windows (the LR schedule's total)."""
        if self.max_steps is not None:
            return self.max_steps
        return max(self.epochs * math.ceil(n_windows / self.batch_size), self.min_steps)

    def resolved_eval_every(self, total: int) -> int:
        """Steps between validations for a run of ``total`` steps."""
        return self.eval_every if self.eval_every is not None else max(1, math.ceil(total / 20))


@dataclass
class TrainResult:
    model: nn.Module  # the trained model (EMA weights when ema_decay is set; best by validation when restored)
    losses: list[float] = field(default_factory=list)  # mean training loss per epoch (last one may be partial)
    lrs: list[float] = field(default_factory=list)  # learning rate at the end of each epoch
    raw_model: nn.Module | None = None  # the non-averaged model (last step) when EMA is used
    epochs_run: int = 0  # epochs trained in this call (0 when resumed at the end)
    step_losses: list[float] = field(default_factory=list)  # training loss of every optimizer step
    step_lrs: list[float] = field(default_factory=list)  # learning rate (first group) used at every step
    val_losses: list[float] = field(default_factory=list)  # validation loss at each evaluation
    val_steps: list[int] = field(default_factory=list)  # optimizer step (1-based count) of each evaluation
    best_step: int | None = None  # step of the lowest validation loss, whose weights ``model`` holds when
    # restore_best is set (None without validation)
    best_val_loss: float | None = None  # validation loss at ``best_step``
    steps_run: int = 0  # optimizer steps taken in this call
    steps_done: int = 0  # optimizer steps taken in all, resumed part included
    total_steps: int = 0  # the step budget (the LR schedule's total)
    stopped_early: bool = False  # early stopping ended the run before ``total_steps``


class CheckpointError(ValueError):
    """A checkpoint file that is empty, truncated, corrupt or not a training checkpoint."""


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
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    context: int = 0,
) -> torch.Tensor:
    """Simple ε-prediction loss E‖ε − ε̂(x_t, t)‖² (Ho et al. eq. 14): x0 (B, ...) -> scalar.

    ``t`` (B,) and ``noise`` (shaped like x0) may be given; otherwise they are drawn from
    ``generator`` (t first, then ε). The training loop passes them so that a batch split across
    processes sees the same draws as in one process; a custom ``loss_fn`` may accept them too.

    Data with missing values: ``model_kwargs["mask"]`` (shaped like x0; 1 observed, 0 missing, the
    missing entries of x0 holding a fill value) makes the loss the mean over the observed entries
    only; the mask is not passed to the model.

    ``context`` > 0 (windows (B, C, L), a conditional denoiser): the first ``context`` steps of every
    window are given to the model clean, as the past it is conditioned on, and only the noise of the
    remaining steps is predicted and counted (the model's output at the context steps is ignored).
    """
    kwargs = dict(model_kwargs or {})
    mask = kwargs.pop("mask", None)
    if context and (x0.ndim != 3 or not 0 < context < x0.shape[-1]):
        raise ValueError(f"context must leave at least one step of windows (B, C, L) to denoise; got context={context} "
                         f"for x0 of shape {tuple(x0.shape)}")
    if t is None:
        t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)  # (B,)
    if noise is None:
        noise = randn_like(x0, generator)
    x_t = schedule.q_sample(x0, t, noise)
    if context:  # the past stays clean
        x_t = torch.cat([x0[..., :context], x_t[..., context:]], dim=-1)
    eps = model(x_t, t, **kwargs)
    if context:
        eps, noise = eps[..., context:], noise[..., context:]
        mask = None if mask is None else mask[..., context:]
    if mask is None:
        return torch.mean((eps.float() - noise.float()) ** 2)
    mask = mask.to(torch.float32)
    return torch.sum((eps.float() - noise.float()) ** 2 * mask) / mask.sum().clamp_min(1.0)


def seeded_init(factory: Callable[[], nn.Module], *, seed: int) -> nn.Module:
    """Build a model with ``factory()`` under a fixed seed, leaving the global RNG state as it was.

    The same ``seed`` gives the same initial weights in any process (CPU initialisation).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int; got {type(seed).__name__} {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        model = factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"factory must return an nn.Module; got {type(model).__name__}")
    return model


def data_fingerprint(tensors: Mapping[str, torch.Tensor | None]) -> dict[str, str]:
    """Shape, dtype and sha256 of each tensor's bytes: name -> description (None entries skipped)."""
    out: dict[str, str] = {}
    for name in sorted(tensors):
        value = tensors[name]
        if value is None:
            continue
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        digest = hashlib.sha256(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"").hexdigest()
        out[name] = f"shape={tuple(value.shape)} dtype={str(value.dtype).removeprefix('torch.')} sha256={digest}"
    return out


# --------------------------------------------------------------------------------------------
# Checkpoint files
# --------------------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically, with a sha256 of the serialised state embedded.

    The file is ``torch.save`` of ``{"format", "version", "sha256", "payload"}`` where
    ``payload`` is the serialised ``state`` as a uint8 tensor, so it loads with
    ``torch.load(..., weights_only=True)``; :func:`load_checkpoint` verifies and unpacks it.
    A failure raises ``OSError`` naming ``path``; a previous file at ``path`` stays intact.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    raw = buffer.getvalue()
    outer = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "payload": torch.frombuffer(bytearray(raw), dtype=torch.uint8),
    }
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a unique name (concurrent writers never share a temporary file), created with the umask's
        # permissions like any other file the user writes
        tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"))
        with open(tmp, "xb") as f:
            torch.save(outer, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OSError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verify its checksum, return the state.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (a ``ValueError``)
    for an empty, truncated or corrupt one, always naming ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): it was not written completely")
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged zip archives
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); the file is truncated or corrupt"
        ) from exc
    if not isinstance(outer, dict) or outer.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} file (written by another program?)")
    if outer.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {outer.get('version')!r}; this library reads {CHECKPOINT_VERSION}"
        )
    payload = outer.get("payload")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8:
        raise CheckpointError(f"checkpoint {path} has no payload tensor")
    raw = payload.numpy().tobytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != outer.get("sha256"):
        raise CheckpointError(
            f"checkpoint {path} fails its checksum (stored sha256 {outer.get('sha256')!r}, content {digest!r}): "
            "the file is corrupt"
        )
    try:
        state = torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path}: payload cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: payload is {type(state).__name__}, not a dict")
    return state


def _check_writable(path: Path) -> None:
    """Fail before training, not after it, when ``path`` cannot be written."""
    if path.is_dir():
        raise OSError(f"checkpoint {path} is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OSError(f"cannot write checkpoint {path}: directory {path.parent} is not writable "
                      f"({exc.strerror or exc})") from exc


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def _derived_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed for ``purpose`` (validation, dropout, ...) from the run's seed."""
    return int(hashlib.sha256(f"{seed}:{purpose}".encode()).hexdigest()[:15], 16)


def _draw_noise(shape: tuple[int, ...], generator: torch.Generator, *, like: torch.Tensor) -> torch.Tensor:
    """ε ~ N(0, I) of ``shape``, drawn as :func:`randn_like` draws it, on like's device and dtype."""
    z = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float32)
    return z.to(device=like.device, dtype=like.dtype)


def _accepts_draws(loss_fn: Callable[..., torch.Tensor]) -> bool:
    try:
        params = inspect.signature(loss_fn).parameters
    except (TypeError, ValueError):
        return False
    return "t" in params and "noise" in params


def _check_windows(x: Any, *, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        shape = tuple(getattr(x, "shape", ()))
        raise ValueError(f"{name} must be a tensor (N, C, L) or (N, C, H, W); got {type(x).__name__} of shape {shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one window; got shape {tuple(x.shape)}")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")


def _check_conditions(conditions: Mapping[str, Any], n: int, *, name: str) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in conditions.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} {key!r} must be a tensor; got {type(value).__name__}")
        if value.ndim < 1 or value.shape[0] != n:
            rows = value.shape[0] if value.ndim else 0
            raise ValueError(f"{name[:-1] if name.endswith('s') else name} {key!r} has {rows} rows; "
                             f"expected {n} (one per window)")
        out[key] = value
    return out


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1


def _dist_context(option: bool | None) -> _Dist:
    ready = torch.distributed.is_available() and torch.distributed.is_initialized()
    if option is True and not ready:
        raise ValueError(
            "distributed=True needs an initialised torch.distributed process group; run under torchrun "
            "(see diffad_lib.distributed) or call torch.distributed.init_process_group first"
        )
    if option is False or not ready:
        return _Dist()
    return _Dist(rank=torch.distributed.get_rank(), world=torch.distributed.get_world_size())


def _all_ranks_agree(ctx: _Dist, value: Any, *, what: str) -> None:
    """Raise on every rank (never hang one) when ranks were given different ``value``s."""
    if not ctx.active:
        return
    values: list[Any] = [None] * ctx.world
    torch.distributed.all_gather_object(values, value)
    for rank, other in enumerate(values):
        if other != values[0]:
            raise ValueError(f"{what} differs between ranks: rank 0 has {values[0]!r}, rank {rank} has {other!r}")


def _resume_settings(config: TrainConfig, *, total: int, eval_every: int, optimizer: torch.optim.Optimizer) -> dict:
    settings = {name: getattr(config, name) for name in _RESUME_FIELDS}
    settings["total_steps"] = total
    settings["eval_every"] = eval_every
    settings["peak_lrs"] = [float(g["peak_lr"]) for g in optimizer.param_groups]
    return settings


def _compare_resume(path: Path, saved: Mapping[str, Any], current: Mapping[str, Any], *, what: str) -> None:
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            hint = ""
            if key == "total_steps":
                hint = " (it sets the learning-rate schedule: resume with the same epochs, min_steps and max_steps)"
            raise ValueError(
                f"cannot resume from checkpoint {path}: {what} {key!r} was {saved.get(key)!r} there and is "
                f"{current.get(key)!r} now{hint}; use the same settings and data, or a new checkpoint path"
            )


def shard_batch(batch: int, *, rank: int, world_size: int) -> tuple[torch.Tensor, float]:
    """Positions in a global batch of ``batch`` windows that ``rank`` of ``world_size`` trains on, and its loss weight.

    Contiguous, near-equal shares (the first ``batch % world_size`` ranks get one more). DDP
    averages gradients over ranks, so rank r scales its mean loss by ``n_r * world_size / batch``
    to give the global batch mean. A rank left without a window (batch < world_size) still runs
    one window, weighted 0, so that every rank takes part in the gradient exchange.
    """
    pos = torch.tensor_split(torch.arange(batch), world_size)[rank]
    weight = len(pos) * world_size / batch
    if len(pos) == 0:
        pos = torch.arange(1)
    return pos, weight


def _batches(n: int, batch: int, count: int) -> Iterator[slice]:
    for i in range(count):
        yield slice(i * batch, min((i + 1) * batch, n))


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
    val_data: torch.Tensor | None = None,
    val_conditions: Mapping[str, torch.Tensor] | None = None,
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
        When it also accepts keyword arguments ``t`` (B,) and ``noise`` (like x0) the loop draws
        them, which keeps a run split across processes equal to a single-process one.
    val_data : Tensor (M, C, L) or (M, C, H, W), optional
        Held-out normal windows for the validation loss, best-weight selection and early stopping.
    val_conditions : mapping of name -> Tensor with leading dimension M, optional
        The conditions of ``val_data``; required (same names) when ``conditions`` are given.

    Returns
    -------
    TrainResult
        The model and its curves: per-epoch and per-step training loss, per-step learning rate,
        validation losses with their steps, the best step and whether training stopped early.

    Raises
    ------
    ValueError
        Bad windows or conditions, ``patience`` without ``val_data``, ``distributed=True`` without
        a process group, or a checkpoint written with other settings or data (the field is named);
        :class:`CheckpointError` (a ValueError) for an unreadable checkpoint.
    OSError
        The checkpoint cannot be written (checked before the first step).

    Notes
    -----
    The run takes ``config.total_steps(N)`` optimizer steps; the validation loss is measured every
    ``config.resolved_eval_every(total)`` steps and at the last one. Under DistributedDataParallel
    each rank trains on its share of every global batch (:func:`shard_batch`) and evaluates the
    whole validation set itself, so every rank takes the same early-stopping decision.
    """
    _check_windows(x, name="x")
    n = x.shape[0]
    conditions = _check_conditions(dict(conditions or {}), n, name="conditions")
    if val_data is not None:
        _check_windows(val_data, name="val_data")
        if tuple(val_data.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"val_data windows must have the shape of x's, {tuple(x.shape[1:])}; "
                             f"got {tuple(val_data.shape[1:])}")
        val_conditions = _check_conditions(dict(val_conditions or {}), val_data.shape[0], name="val_conditions")
        if set(val_conditions) != set(conditions):
            raise ValueError(f"val_conditions must name the same conditions as conditions, {sorted(conditions)}; "
                             f"got {sorted(val_conditions)}")
    elif val_conditions:
        raise ValueError("val_conditions were given without val_data")
    if config.patience is not None and val_data is None:
        raise ValueError(f"patience={config.patience} needs val_data (held-out normal windows) to stop on")
    ctx = _dist_context(config.distributed)
    loss_fn = loss_fn or diffusion_loss
    pass_draws = _accepts_draws(loss_fn)

    device = resolve_device(config.device)
    if ctx.active and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    total = config.total_steps(n)
    eval_every = config.resolved_eval_every(total)
    batch = config.batch_size
    steps_per_epoch = math.ceil(n / batch)

    ckpt = Path(config.checkpoint) if config.checkpoint else None
    fingerprint: dict[str, str] = {}
    if ckpt is not None:
        problem = None
        if ctx.rank == 0:
            try:
                _check_writable(ckpt)
            except OSError as exc:
                problem = str(exc)
        if ctx.active:
            shared = [problem]
            torch.distributed.broadcast_object_list(shared, src=0)
            problem = shared[0]
        if problem is not None:
            raise OSError(problem)
        fingerprint = data_fingerprint({"x": x, **{f"conditions[{k}]": v for k, v in conditions.items()},
                                        "val_data": val_data,
                                        **{f"val_conditions[{k}]": v for k, v in (val_conditions or {}).items()}})

    model.to(device)
    if schedule is not None:  # None: a non-diffusion loss_fn (e.g. an autoencoder's)
        schedule.to(device)
    x = x.to(device)
    conditions = {k: v.to(device) for k, v in conditions.items()}
    if val_data is not None:
        val_data = val_data.to(device)
        val_conditions = {k: v.to(device) for k, v in (val_conditions or {}).items()}
    generator = torch.Generator().manual_seed(config.seed)  # CPU: same stream on every device

    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    for g in optimizer.param_groups:
        g.setdefault("peak_lr", g["lr"])
    ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema_decay else None
    tracked = ema if ema is not None else model
    settings = _resume_settings(config, total=total, eval_every=eval_every, optimizer=optimizer)
    _all_ranks_agree(ctx, {**settings, "n": n, "shape": tuple(x.shape[1:])}, what="the training setup")

    hist: dict[str, list] = {k: [] for k in ("losses", "lrs", "step_losses", "step_lrs", "val_losses", "val_steps")}
    step = epoch = bad_evals = 0
    best_val: float | None = None
    best_step: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stopped = False
    rng_cuda = device.type == "cuda"
    cuda_index = (device.index if device.index is not None else torch.cuda.current_device()) if rng_cuda else None
    with torch.random.fork_rng(devices=[cuda_index] if rng_cuda else []):
        # dropout and other in-model randomness draw from the global generators: seed them from
        # the run's seed inside a fork, so the caller's RNG state is untouched
        torch.random.default_generator.manual_seed(_derived_seed(config.seed, "global"))
        if rng_cuda:
            with torch.cuda.device(cuda_index):
                torch.cuda.manual_seed(_derived_seed(config.seed, "global"))
        if config.resume and ckpt is not None and ckpt.exists():
            state = load_checkpoint(ckpt, map_location=device)
            _compare_resume(ckpt, state.get("settings", {}), settings, what="setting")
            _compare_resume(ckpt, state.get("data", {}), fingerprint, what="data")
            try:
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                if ema is not None:
                    ema.load_state_dict(state["ema"])
                generator.set_state(state["generator"])
                torch.random.set_rng_state(state["rng_cpu"])
                if rng_cuda and "rng_cuda" in state:
                    torch.cuda.set_rng_state(state["rng_cuda"], device)
                hist = {k: list(state["history"][k]) for k in hist}
                step, epoch, bad_evals = int(state["step"]), int(state["epoch"]), int(state["bad_evals"])
                stopped = bool(state["stopped"])
                best_val, best_step = state["best_val"], state["best_step"]
                best_state = state.get("best_state")
            except (KeyError, RuntimeError, ValueError, TypeError) as exc:
                raise CheckpointError(f"checkpoint {ckpt} does not fit this model or run: {exc}") from exc
        start_step, start_epoch = step, epoch

        net: nn.Module = model
        if ctx.active:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        use_bf16 = config.bf16 and device.type == "cuda"
        val_seed = _derived_seed(config.seed, "validation")

        def evaluate() -> float:
            """Mean ε-loss of ``tracked`` on val_data with the same seeded draws at every call."""
            gen = torch.Generator().manual_seed(val_seed)
            was_training = tracked.training
            tracked.eval()
            total_loss, count = 0.0, 0
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                for _ in range(config.val_draws):
                    for sl in _batches(val_data.shape[0], batch, math.ceil(val_data.shape[0] / batch)):
                        xb = val_data[sl]
                        kwargs: dict[str, Any] = {"model_kwargs": {k: v[sl] for k, v in val_conditions.items()}}
                        if pass_draws:
                            kwargs["t"] = schedule.sample_timesteps(len(xb), device=device, generator=gen)
                            kwargs["noise"] = randn_like(xb, gen)
                        loss = loss_fn(tracked, schedule, xb, generator=gen, **kwargs)
                        total_loss += float(loss) * len(xb)
                        count += len(xb)
            tracked.train(was_training)
            return total_loss / count

        def checkpoint_state() -> dict[str, Any]:
            state: dict[str, Any] = {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "rng_cpu": torch.random.get_rng_state(),
                "step": step, "epoch": epoch, "bad_evals": bad_evals, "stopped": stopped,
                "best_val": best_val, "best_step": best_step, "history": hist,
                "settings": settings, "data": fingerprint,
            }
            if rng_cuda:
                state["rng_cuda"] = torch.cuda.get_rng_state(device)
            if ema is not None:
                state["ema"] = ema.state_dict()
            if best_state is not None:
                state["best_state"] = best_state
            return state

        bar = tqdm(total=total, initial=step, desc="train", disable=not config.progress or ctx.rank != 0, leave=False)
        model.train()
        while step < total and not stopped:
            perm = torch.randperm(n, generator=generator).to(device)
            epoch_loss, epoch_count = 0.0, 0
            for sl in _batches(n, batch, min(steps_per_epoch, total - step)):
                idx = perm[sl]  # the global batch, the same on every rank
                factor = lr_factor(step, total, schedule=config.lr_schedule, warmup_frac=config.warmup_frac,
                                   min_frac=config.min_lr_frac)
                for g in optimizer.param_groups:
                    g["lr"] = g["peak_lr"] * factor
                kwargs = {}
                if pass_draws:
                    kwargs["t"] = schedule.sample_timesteps(len(idx), device=device, generator=generator)
                    kwargs["noise"] = _draw_noise((len(idx), *x.shape[1:]), generator, like=x)
                step_gen = generator
                weight = 1.0
                if ctx.active:
                    pos, weight = shard_batch(len(idx), rank=ctx.rank, world_size=ctx.world)
                    pos = pos.to(device)
                    idx = idx[pos]
                    kwargs = {k: v[pos] for k, v in kwargs.items()}
                    if not pass_draws:
                        # a loss that draws for itself cannot see the global batch's draws; it gets
                        # its own seeded stream so the shared generator stays in step across ranks
                        step_gen = torch.Generator().manual_seed(_derived_seed(config.seed, f"{step}:{ctx.rank}"))
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    loss = loss_fn(net, schedule, x[idx], generator=step_gen,
                                   model_kwargs={k: v[idx] for k, v in conditions.items()}, **kwargs)
                optimizer.zero_grad(set_to_none=True)
                (loss * weight if ctx.active else loss).backward()
                if config.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                if ema is not None:
                    _ema_update(ema, model, config.ema_decay)
                loss_value = float(loss.detach())
                if ctx.active:
                    share = torch.tensor([loss_value * weight / ctx.world], dtype=torch.float64)
                    torch.distributed.all_reduce(share)
                    loss_value = float(share)
                step += 1
                epoch_loss += loss_value * (sl.stop - sl.start)
                epoch_count += sl.stop - sl.start
                hist["step_losses"].append(loss_value)
                hist["step_lrs"].append(float(optimizer.param_groups[0]["lr"]))
                bar.update(1)
                if val_data is not None and (step % eval_every == 0 or step == total):
                    value = evaluate()
                    hist["val_losses"].append(value)
                    hist["val_steps"].append(step)
                    if best_val is None or value < best_val - config.min_delta:
                        best_val, best_step, bad_evals = value, step, 0
                        best_state = {k: v.detach().clone() for k, v in tracked.state_dict().items()}
                    else:
                        bad_evals += 1
                        stopped = config.patience is not None and bad_evals >= config.patience
                    bar.set_postfix(loss=f"{loss_value:.4f}", val=f"{value:.4f}")
                    if stopped:
                        break
            epoch += 1
            hist["losses"].append(epoch_loss / epoch_count)
            hist["lrs"].append(float(optimizer.param_groups[0]["lr"]))
            if val_data is None:
                bar.set_postfix(loss=f"{hist['losses'][-1]:.4f}")
            if callback is not None:
                callback(epoch, tracked)
            finished = stopped or step >= total
            due = config.checkpoint_every and epoch % config.checkpoint_every == 0
            if ckpt is not None and ctx.rank == 0 and (finished or due):
                save_checkpoint(ckpt, checkpoint_state())
        bar.close()
    model.eval()
    if config.restore_best and best_state is not None:
        tracked.load_state_dict(best_state)
    return TrainResult(
        model=tracked, losses=hist["losses"], lrs=hist["lrs"], raw_model=model if ema is not None else None,
        epochs_run=epoch - start_epoch, step_losses=hist["step_losses"], step_lrs=hist["step_lrs"],
        val_losses=hist["val_losses"], val_steps=hist["val_steps"],
        best_step=best_step,
        best_val_loss=best_val, steps_run=step - start_step, steps_done=step, total_steps=total,
        stopped_early=stopped,
    )

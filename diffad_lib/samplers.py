"""Reverse-process samplers: DDPM ancestral steps, DDIM steps, sampling and reconstruction.

Samplers never see a model class: they take ``eps_fn(x_t, t, **model_kwargs) -> ε̂`` (any
callable, usually a denoiser module) and a :class:`~diffad_lib.schedule.NoiseSchedule`.
Every random draw takes a ``torch.Generator``; the device and dtype come from the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from tqdm import tqdm  # plain text bars: no ipywidgets needed in notebooks

from diffad_lib.schedule import NoiseSchedule, _gather

EpsFn = Callable[..., torch.Tensor]
Method = Literal["ddpm", "ddim"]


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise shaped like ``x`` on x's device, drawn from ``generator`` if given.

    A CPU generator may be used with CUDA inputs: the draw happens on the CPU and is moved,
    so results are identical across devices for the same seed.
    """
    if generator is None:
        return torch.randn_like(x)
    z = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32)
    return z.to(device=x.device, dtype=x.dtype)


def _timestep(t: int, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)  # (B,)


def ddpm_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    eps: torch.Tensor,
    t: int,
    *,
    variance: Literal["beta", "posterior"] = "beta",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One ancestral step x_t -> x_{t-1} (Ho et al. 2020, Algorithm 2; DiffADT Algorithm 2).

    x_{t-1} = 1/√α_t · (x_t − β_t/√(1 − ᾱ_t) · ε̂) + σ_t z,  z ~ N(0, I) for t > 0, z = 0 at t = 0.
    σ_t² = β_t (``variance="beta"``, as in Algorithm 2) or β̃_t (``"posterior"``).
    """
    beta = _gather(schedule.betas, _timestep(t, x_t), x_t)
    alpha = _gather(schedule.alphas, _timestep(t, x_t), x_t)
    sqrt_1m_ab = _gather(schedule.sqrt_one_minus_alphas_cumprod, _timestep(t, x_t), x_t)
    # (1) posterior mean from the predicted noise
    mean = (x_t - beta / sqrt_1m_ab * eps) / alpha.sqrt()
    if t == 0:
        return mean
    # (2) add fresh noise with the chosen variance
    var = beta if variance == "beta" else _gather(schedule.posterior_variance, _timestep(t, x_t), x_t)
    return mean + var.sqrt() * randn_like(x_t, generator)


def ddim_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    eps: torch.Tensor,
    t: int,
    t_prev: int,
    *,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One DDIM step x_t -> x_{t_prev} (Song et al. 2021, eq. 12); ``t_prev = -1`` means x_0.

    x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t;  σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev);
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z.  η = 0 is deterministic.
    """
    ab_t = _gather(schedule.alphas_cumprod, _timestep(t, x_t), x_t)
    if t_prev >= 0:
        ab_prev = _gather(schedule.alphas_cumprod, _timestep(t_prev, x_t), x_t)
    else:
        ab_prev = torch.ones_like(ab_t)
    # (1) predicted x_0
    x0_hat = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
    # (2) noise scale and direction pointing to x_t
    sigma = eta * ((1 - ab_prev) / (1 - ab_t)).sqrt() * (1 - ab_t / ab_prev).sqrt()
    direction = (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps
    x_prev = ab_prev.sqrt() * x0_hat + direction
    if eta > 0 and t_prev >= 0:
        x_prev = x_prev + sigma * randn_like(x_t, generator)
    return x_prev


def _clip_prediction(schedule: NoiseSchedule, x_t: torch.Tensor, eps: torch.Tensor, t: int, clip: float):
    """ε̂ re-derived from the clipped x̂_0, so any step below uses x̂_0 ∈ [−clip, clip].

    Every step's mean can be written through x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t; replacing ε̂ by
    (x_t − √ᾱ_t · clip(x̂_0))/√(1 − ᾱ_t) gives the same step with the clipped x̂_0.
    """
    tt = _timestep(t, x_t)
    sqrt_ab = _gather(schedule.sqrt_alphas_cumprod, tt, x_t)
    sqrt_1m_ab = _gather(schedule.sqrt_one_minus_alphas_cumprod, tt, x_t)
    x0 = ((x_t - sqrt_1m_ab * eps) / sqrt_ab).clamp(-clip, clip)
    return (x_t - sqrt_ab * x0) / sqrt_1m_ab


def timestep_sequence(t_start: int, steps: int) -> list[int]:
    """Descending, evenly spaced timesteps from ``t_start`` to 0 with ``steps`` entries."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    steps = min(steps, t_start + 1)
    seq = torch.linspace(t_start, 0, steps).round().long().tolist()
    return sorted(set(seq), reverse=True)


def denoise(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t_start: int,
    *,
    method: Method = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    variance: Literal["beta", "posterior"] = "beta",
    generator: torch.Generator | None = None,
    model_kwargs: dict[str, Any] | None = None,
    clip: float | None = None,
    progress: bool = False,
    trajectory: Sequence[int] | None = None,
) -> torch.Tensor | tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Run the reverse process from ``x_t`` at step ``t_start`` down to x_0.

    ``method="ddpm"`` takes every step (Algorithm 2); ``"ddim"`` takes ``steps`` evenly spaced
    steps (all when ``None``). ``clip`` bounds the predicted x̂_0 to [−clip, clip] at every step
    (Ho et al. clip to [−1, 1] for data scaled there); the noisy state itself is never clipped.
    If ``trajectory`` lists timestep indices, also returns ``{t: x_t}`` snapshots (on the CPU),
    where the key ``-1`` denotes the final x_0.
    """
    if method not in ("ddpm", "ddim"):
        raise ValueError(f"method must be 'ddpm' or 'ddim'; got {method!r}")
    if not 0 <= t_start < schedule.n_steps:
        raise ValueError(f"t_start must lie in [0, {schedule.n_steps - 1}]; got {t_start}")
    if method == "ddpm" and steps not in (None, t_start + 1):
        raise ValueError(f"method='ddpm' takes every step; got steps={steps}. Use method='ddim' to skip steps")
    kwargs = model_kwargs or {}
    seq = list(range(t_start, -1, -1)) if steps is None else timestep_sequence(t_start, steps)
    keep = set(trajectory or ())
    snaps: dict[int, torch.Tensor] = {}
    x = x_t
    if t_start in keep:
        snaps[t_start] = x.detach().cpu()
    for i, t in enumerate(tqdm(seq, desc="denoise", disable=not progress, leave=False)):
        eps = eps_fn(x, _timestep(t, x), **kwargs)  # (B, ...)
        if clip is not None:
            eps = _clip_prediction(schedule, x, eps, t, clip)
        if method == "ddpm":
            t_prev = t - 1
            x = ddpm_step(schedule, x, eps, t, variance=variance, generator=generator)
        else:
            t_prev = seq[i + 1] if i + 1 < len(seq) else -1
            x = ddim_step(schedule, x, eps, t, t_prev, eta=eta, generator=generator)
        if t_prev in keep:
            snaps[t_prev] = x.detach().cpu()
    return (x, snaps) if trajectory is not None else x


@torch.no_grad()
def sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    shape: Sequence[int],
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """Generate from pure noise x_T ~ N(0, I) of ``shape``; keyword options as :func:`denoise`."""
    x_T = randn_like(torch.empty(tuple(shape), device=device), generator)
    return denoise(eps_fn, schedule, x_T, schedule.n_steps - 1, generator=generator, **kwargs)


@torch.no_grad()
def reconstruct(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    t0: int,
    generator: torch.Generator | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """Noise ``x0`` forward by ``t0`` steps, then denoise back: the detector's x̂.

    ``t0 = 0`` returns ``x0`` unchanged; ``t0 = k`` draws x_k ~ q(x_k | x_0) (index k−1) and
    runs the reverse process from there. Detection never starts from pure noise.
    Keyword options as :func:`denoise` (``method``, ``steps``, ``eta``, ``clip``, ...).
    """
    if not 0 <= t0 <= schedule.n_steps:
        raise ValueError(f"t0 must lie in [0, {schedule.n_steps}] (the schedule's T); got {t0}")
    if t0 == 0:
        return x0.clone()
    t_idx = t0 - 1
    x_t = schedule.q_sample(x0, _timestep(t_idx, x0), randn_like(x0, generator))
    return denoise(eps_fn, schedule, x_t, t_idx, generator=generator, **kwargs)


"""Noise schedules of the forward process q(x_t | x_0) (Ho et al. 2020; Nichol & Dhariwal 2021).

Timesteps are 0-based indices ``t = 0 .. T-1``; index ``t`` is the paper's step ``t + 1``.
Every quantity is computed in float64 and stored as a float32 buffer, so ``.to(device)``
moves the schedule with the model and ᾱ_t keeps its precision near t = T.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

ScheduleKind = Literal["linear", "cosine"]


def linear_betas(n_steps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """β_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. 2020): (T,) float64."""
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"need 0 < beta_start <= beta_end < 1; got beta_start={beta_start}, beta_end={beta_end}")
    return torch.linspace(beta_start, beta_end, n_steps, dtype=torch.float64)


def cosine_betas(n_steps: int, *, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """β_t from ᾱ(t) = cos²(((t/T) + s) / (1 + s) · π/2) (Nichol & Dhariwal 2021, eq. 17): (T,) float64."""
    steps = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2  # (T+1,)
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    return betas.clamp(max=max_beta)


class NoiseSchedule(nn.Module):
    """Buffers of the forward process and the posterior q(x_{t-1} | x_t, x_0).

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps T.
    kind : {"linear", "cosine"}
        β schedule.
    beta_start, beta_end : float
        Range of the linear schedule (ignored for cosine). DiffADT uses T = 200, 1e-4 → 0.02.
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_mean_coef1: torch.Tensor
    posterior_mean_coef2: torch.Tensor

    def __init__(
        self,
        n_steps: int = 1000,
        *,
        kind: ScheduleKind = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
    ) -> None:
        super().__init__()
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int; got {n_steps!r}")
        if kind == "linear":
            betas = linear_betas(n_steps, beta_start=beta_start, beta_end=beta_end)
        elif kind == "cosine":
            betas = cosine_betas(n_steps)
        else:
            raise ValueError(f"kind must be 'linear' or 'cosine'; got {kind!r}")
        self.n_steps = n_steps
        self.kind = kind
        alphas = 1.0 - betas  # (T,)
        alphas_cumprod = torch.cumprod(alphas, dim=0)  # ᾱ_t
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        # Posterior q(x_{t-1} | x_t, x_0) = N(coef1·x_0 + coef2·x_t, β̃_t) (Ho et al. eqs. 6-7).
        posterior_variance = betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod)
        coef1 = betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod)
        coef2 = (1 - alphas_cumprod_prev) * alphas.sqrt() / (1 - alphas_cumprod)
        for name, value in {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            "posterior_variance": posterior_variance,
            "posterior_mean_coef1": coef1,
            "posterior_mean_coef2": coef2,
        }.items():
            self.register_buffer(name, value.to(torch.float32), persistent=False)

    def extra_repr(self) -> str:
        return f"n_steps={self.n_steps}, kind={self.kind!r}"

    def _check_t(self, t: torch.Tensor) -> None:
        if t.dtype.is_floating_point:
            raise ValueError(f"t must be an integer tensor; got dtype {t.dtype}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.n_steps):
            raise ValueError(f"t must lie in [0, {self.n_steps - 1}]; got range [{int(t.min())}, {int(t.max())}]")

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε (Ho et al. eq. 4): x0, noise (B, ...), t (B,) -> (B, ...)."""
        self._check_t(t)
        return _gather(self.sqrt_alphas_cumprod, t, x0) * x0 + _gather(
            self.sqrt_one_minus_alphas_cumprod, t, x0
        ) * noise

    def predict_start_from_noise(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, the inverse of :meth:`q_sample`."""
        return (x_t - _gather(self.sqrt_one_minus_alphas_cumprod, t, x_t) * eps) / _gather(
            self.sqrt_alphas_cumprod, t, x_t
        )

    def sample_timesteps(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None):
        """Uniform t ~ U{0, …, T−1}: (batch,) int64 on ``device``."""
        gen_device = generator.device if generator is not None else device
        return torch.randint(0, self.n_steps, (batch,), generator=generator, device=gen_device).to(device)


def _gather(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] reshaped to broadcast against ``like``: (B,) -> (B, 1, ..., 1) in like's dtype."""
    out = values.to(like.device)[t.to(like.device)]
    return out.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)

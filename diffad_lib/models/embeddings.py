"""Timestep embeddings shared by every denoiser."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of integer timesteps.

    t: (B,) integer or float timesteps -> (B, dim) float32; the first half are sines,
    the second half cosines, with frequencies ``max_period ** (-k / (dim/2))``.
    """
    if dim % 2 != 0:
        raise ValueError(f"dim must be even; got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)  # (B, dim)


class TimestepEmbedding(nn.Module):
    """Sinusoidal(t) followed by a two-layer MLP with SiLU: (B,) -> (B, out_dim)."""

    def __init__(self, dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        out_dim = out_dim or dim
        self.mlp = nn.Sequential(nn.Linear(dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim))  # (B, out_dim)

"""MLP denoiser for short windows (the sine-wave chapter).

Contract: ``forward(x_t: (B, C, L), t: (B,)) -> ε̂ (B, C, L)``. The window is flattened to
C·L inputs; the timestep enters as a sinusoidal embedding passed through an MLP and added
to every hidden layer (a small, fully connected stand-in for the sine-wave paper's denoiser).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from diffad_lib.models.embeddings import TimestepEmbedding


@dataclass(frozen=True)
class MLPConfig:
    in_channels: int = 1  # C, channels of the window
    window: int = 64  # L, window length
    hidden: int = 256  # width of every hidden layer
    n_layers: int = 3  # number of hidden layers
    time_dim: int = 64  # size of the sinusoidal timestep embedding
    dropout: float = 0.0  # dropout after each hidden activation


class MLPDenoiser(nn.Module):
    """ε-prediction MLP: (B, C, L), (B,) -> (B, C, L)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        if config.n_layers < 1 or config.hidden < 1:
            raise ValueError(f"n_layers and hidden must be >= 1; got {config.n_layers}, {config.hidden}")
        self.config = config
        d_in = config.in_channels * config.window
        self.time_embed = TimestepEmbedding(config.time_dim, config.hidden)
        self.inp = nn.Linear(d_in, config.hidden)
        self.hidden = nn.ModuleList(nn.Linear(config.hidden, config.hidden) for _ in range(config.n_layers))
        self.act = nn.SiLU()
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden, d_in)
        nn.init.zeros_(self.out.weight)  # start as the zero predictor: stable early training
        nn.init.zeros_(self.out.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        B, C, L = x_t.shape
        if (C, L) != (self.config.in_channels, self.config.window):
            raise ValueError(
                f"x_t must be (B, {self.config.in_channels}, {self.config.window}); got {tuple(x_t.shape)}"
            )
        emb = self.time_embed(t)  # (B, hidden)
        h = self.inp(x_t.reshape(B, C * L))  # (B, hidden)
        for layer in self.hidden:
            h = self.drop(self.act(layer(h + emb)))  # (B, hidden)
        return self.out(h).reshape(B, C, L)  # (B, C, L)

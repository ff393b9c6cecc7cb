"""The exact denoiser of a finite set of windows: what a DDPM trained on them without limit would learn.

If the data are N windows x_1..x_N, each equally likely, the noised input
x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε has the posterior p(i | x_t) ∝ exp(−‖x_t − √ᾱ_t·x_i‖² / (2(1 − ᾱ_t))),
and the prediction that minimises the DDPM loss E‖ε − ε̂(x_t, t)‖² is
ε̂ = (x_t − √ᾱ_t·E[x_0 | x_t]) / √(1 − ᾱ_t) with E[x_0 | x_t] = Σ_i p(i | x_t)·x_i. A trained network
approaches this only as it memorises its training windows; the book uses it to show what
memorising would change for a detector, against the network that generalises.
"""

from __future__ import annotations

import torch
from torch import nn

from diffad_lib.schedule import NoiseSchedule

__all__ = ["EmpiricalDenoiser"]


class EmpiricalDenoiser(nn.Module):
    """ε-prediction of the optimal denoiser for the empirical distribution of ``windows``.

    Parameters
    ----------
    windows : Tensor (N, C, L)
        The data, e.g. the scaled training windows a detector was fitted on.
    schedule : NoiseSchedule
        The forward process whose levels ``t`` (0-based, as every denoiser receives them) are meant.

    ``forward(x_t: (B, C, L), t: (B,)) -> ε̂ (B, C, L)``, the contract of every denoiser, so it can
    replace a trained model where one is read (e.g. ``DiffusionDetector.level_errors(model=...)``).
    It has no parameters to train; it costs O(B·N·C·L) per call.
    """

    def __init__(self, windows: torch.Tensor, schedule: NoiseSchedule) -> None:
        super().__init__()
        windows = torch.as_tensor(windows, dtype=torch.float32)
        if windows.ndim != 3 or windows.shape[0] < 1:
            raise ValueError(f"windows must be (N, C, L) with N >= 1; got shape {tuple(windows.shape)}")
        if not torch.isfinite(windows).all():
            raise ValueError("windows must be finite")
        self.shape = tuple(windows.shape[1:])
        data = windows.reshape(len(windows), -1).double()  # (N, D), float64 once, not per call
        self.register_buffer("data", data, persistent=False)
        self.register_buffer("sq_norms", (data ** 2).sum(1), persistent=False)  # (N,) ‖x_i‖²
        self.register_buffer("sqrt_ab", schedule.sqrt_alphas_cumprod.clone(), persistent=False)
        self.register_buffer("sqrt_1m_ab", schedule.sqrt_one_minus_alphas_cumprod.clone(), persistent=False)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if tuple(x_t.shape[1:]) != self.shape:
            raise ValueError(f"x_t must be (B, {self.shape[0]}, {self.shape[1]}); got {tuple(x_t.shape)}")
        B = x_t.shape[0]
        flat = x_t.reshape(B, -1).double()
        a = self.sqrt_ab[t].double()[:, None]  # (B, 1)
        s = self.sqrt_1m_ab[t].double()[:, None]
        # ‖x_t − a·x_i‖² without ‖x_t‖², a per-row constant the softmax over i does not see: (B, N)
        sq = a ** 2 * self.sq_norms[None, :] - 2 * a * flat @ self.data.T
        weights = torch.softmax(-sq / (2 * s ** 2), dim=1)  # p(i | x_t)
        x0_hat = weights @ self.data  # (B, D)
        return ((flat - a * x0_hat) / s).to(x_t.dtype).reshape(x_t.shape)

"""A small convolutional autoencoder, 1-D (windows) or 2-D (images): the reconstruction baseline.

(B, C, *S) -> (B, C, *S). The encoder has one stride-2 convolution (kernel 3) per entry of
``channels``, then a 1×1 convolution to ``bottleneck`` channels at 1/2**len(channels) of the
size; the decoder mirrors it with nearest-neighbour upsampling. Sizes must be divisible by
2**len(channels).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvAutoencoder"]


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder to ``bottleneck`` channels, mirrored upsampling decoder."""

    def __init__(self, *, dims: int, in_channels: int, channels: tuple[int, ...], bottleneck: int) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2; got {dims!r}")
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        enc: list[nn.Module] = []
        c = in_channels
        for w in channels:
            enc += [conv(c, w, 3, stride=2, padding=1), nn.SiLU()]  # halves every spatial size
            c = w
        enc.append(conv(c, bottleneck, 1))
        dec: list[nn.Module] = [conv(bottleneck, c, 1), nn.SiLU()]
        for w in (*reversed(channels[:-1]), channels[0]):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), conv(c, w, 3, padding=1), nn.SiLU()]
            c = w
        dec.append(conv(c, in_channels, 3, padding=1))
        self.factor = 2 ** len(channels)
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # (B, C, *S)


def reconstruction_loss(model: nn.Module, schedule: object, x0: torch.Tensor, **_: object) -> torch.Tensor:
    """Mean squared reconstruction error, as a ``loss_fn`` of :func:`diffad_lib.train.train_diffusion`
    (the schedule is unused: an autoencoder is trained by the same loop as every denoiser)."""
    return torch.mean((model(x0) - x0) ** 2)

"""Frozen feature networks f for the feature distance ‖f(x0) − f(x̃0)‖² of Chen (2025).

The paper scores an input by a weighted sum of its reconstruction error and the distance
between features of the input and of its reconstruction, computed by a frozen network. Three
feature networks are provided; each maps ``x`` (B, C, H, W) or (B, C, L) to a list of feature
maps ``[(B, c_k, *S_k), ...]`` and has no trainable parameters:

* :class:`WaveletFeatures` (the default): a fixed wavelet filter bank. For each DWT level j
  (:func:`diffad_lib.wavelets.dwt_pyramid`) the *local energy* of the detail bands, ``|d_j|``
  averaged over a 3-tap (3 x 3) neighbourhood, plus the coarsest approximation. Local energy
  is insensitive to the exact phase of a texture, so a reconstruction that reproduces a texture
  slightly shifted costs little while a missing or added structure costs a lot. No training,
  no download.
* :class:`EncoderFeatures`: the frozen encoder of a trained denoiser (its
  ``encoder_features(x, t=None)``, e.g. :class:`~diffad_lib.models.wavelet_unet.WaveletUNet`).
* :class:`MobileNetV3Features`: torchvision's MobileNetV3-Small loaded from a local weights file
  (the paper's choice of a pretrained network). Needs torchvision; see
  :func:`mobilenet_v3_features`.

:func:`feature_distance` turns a feature network and a pair ``(x0, x̃0)`` into a per-sample
distance and a per-pixel map.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from diffad_lib.wavelets import dwt_pyramid, max_dwt_level

__all__ = [
    "FEATURE_NETWORKS",
    "WaveletFeatures",
    "EncoderFeatures",
    "MobileNetV3Features",
    "mobilenet_v3_features",
    "build_feature_net",
    "feature_distance",
]

FEATURE_NETWORKS: tuple[str, ...] = ("wavelet", "encoder", "mobilenet_v3")


def _check_input(x: Any, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (B, C, H, W) or (B, C, L); got {got}")


class WaveletFeatures(nn.Module):
    """Fixed wavelet filter bank: local band energies of a J-level DWT. No parameters.

    ``forward(x)``: x (B, C, H, W) or (B, C, L) -> J + 1 maps. Entry j - 1 (j = 1 finest .. J)
    is ``avg_pool(|d_j|)`` of shape (B, 3C, h_j, w_j) in 2-D or (B, C, l_j) in 1-D; the last
    entry is the coarsest approximation a_J scaled by ``2^{-J d / 2}`` (d = 1 or 2 spatial
    dimensions), which keeps it on the input's scale. ``levels`` is reduced to what the input
    size allows (:func:`~diffad_lib.wavelets.max_dwt_level`, at least 1).

    Parameters
    ----------
    wavelet : str, default "db2"
        Discrete PyWavelets wavelet.
    levels : int, default 3
        DWT levels J.
    pool : int, default 3
        Width of the averaging window of the local energy (1: no pooling); odd.
    """

    def __init__(self, *, wavelet: str = "db2", levels: int = 3, pool: int = 3) -> None:
        super().__init__()
        if not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be an int >= 1; got {levels!r}")
        if not isinstance(pool, int) or pool < 1 or pool % 2 == 0:
            raise ValueError(f"pool must be an odd int >= 1; got {pool!r}")
        self.wavelet = wavelet
        self.levels = levels
        self.pool = pool

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x, "x")
        dims = x.ndim - 2
        spatial = x.shape[2:]
        levels = max(1, min(self.levels, *(max_dwt_level(int(s), self.wavelet) for s in spatial)))
        pyr = dwt_pyramid(x, wavelet=self.wavelet, levels=levels)
        pool = F.avg_pool2d if dims == 2 else F.avg_pool1d
        feats = []
        for level in range(1, levels + 1):
            _, d = pyr.band(level)  # (B, C, 3, h, w) or (B, C, l)
            e = d.abs().flatten(1, 2) if dims == 2 else d.abs()  # (B, 3C, h, w) or (B, C, l)
            if self.pool > 1:
                e = pool(e, self.pool, stride=1, padding=self.pool // 2, count_include_pad=False)
            feats.append(e)
        feats.append(pyr.approx * 2.0 ** (-levels * dims / 2))  # (B, C, h_J, w_J)
        return feats


class EncoderFeatures(nn.Module):
    """The frozen encoder of a trained denoiser as a feature network.

    Wraps ``model.encoder_features(x, t=None)`` (multi-scale encoder outputs at t = 0, a clean
    input). The model is deep-copied, put in ``eval()`` mode and frozen, so later training of
    the original does not change the features.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(model, "encoder_features", None)):
            raise ValueError(
                f"model must have an encoder_features(x, t=None) method (e.g. WaveletUNet); got {type(model).__name__}"
            )
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def train(self, mode: bool = True) -> EncoderFeatures:
        super().train(mode)
        self.model.eval()  # frozen: GroupNorm has no running statistics, but keep the promise explicit
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x, "x")
        return list(self.model.encoder_features(x))


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class MobileNetV3Features(nn.Module):
    """Frozen MobileNetV3 feature blocks: (B, C, H, W) in [-1, 1] -> maps after ``layers``.

    Grey (C = 1) inputs are repeated to three channels; [-1, 1] is mapped to [0, 1] and
    normalised with the ImageNet mean and std the weights were trained with. Build it with
    :func:`mobilenet_v3_features`.
    """

    def __init__(self, backbone: nn.Module, layers: tuple[int, ...]) -> None:
        super().__init__()
        blocks = getattr(backbone, "features", None)
        if blocks is None:
            raise ValueError(f"backbone must have a .features sequence (torchvision MobileNetV3); got "
                             f"{type(backbone).__name__}")
        if not layers or any(not 0 <= i < len(blocks) for i in layers):
            raise ValueError(f"layers must index the {len(blocks)} feature blocks; got {layers!r}")
        self.blocks = blocks[: max(layers) + 1].eval().requires_grad_(False)
        self.layers = tuple(sorted(layers))
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> MobileNetV3Features:
        super().train(mode)
        self.blocks.eval()  # keep BatchNorm on its ImageNet statistics
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be an image batch (B, 1 or 3, H, W); got {got}")
        h = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        h = ((h + 1) / 2 - self.mean) / self.std
        out = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.layers:
                out.append(h)
        return out


def mobilenet_v3_features(
    weights_path: str | Path,
    *,
    variant: Literal["small", "large"] = "small",
    layers: tuple[int, ...] = (1, 3, 8),
) -> MobileNetV3Features:
    """MobileNetV3 from a local ImageNet weights file, frozen, as a feature network.

    Builds ``torchvision.models.mobilenet_v3_small()`` (or ``_large``) without downloading and
    loads ``torch.load(weights_path, weights_only=True)`` into it, e.g. the file torchvision
    caches as ``mobilenet_v3_small-047dcff4.pth``.

    Raises
    ------
    FileNotFoundError
        ``weights_path`` does not exist (nothing is downloaded).
    ImportError
        torchvision is not installed (it must match the installed torch build).
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights_path must be an existing MobileNetV3 state-dict file (e.g. torchvision's "
            f"mobilenet_v3_{variant}-*.pth); got {path}. Nothing is downloaded."
        )
    if variant not in ("small", "large"):
        raise ValueError(f"variant must be 'small' or 'large'; got {variant!r}")
    try:
        import torchvision
    except ImportError as exc:
        raise ImportError(
            "mobilenet_v3_features needs torchvision (a build matching your torch); install it, or use "
            "the default feature network 'wavelet' (WaveletFeatures) or 'encoder' (EncoderFeatures)"
        ) from exc
    build = torchvision.models.mobilenet_v3_small if variant == "small" else torchvision.models.mobilenet_v3_large
    backbone = build(weights=None)
    backbone.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return MobileNetV3Features(backbone, tuple(layers))


def build_feature_net(name: str | nn.Module, *, model: nn.Module | None = None, **params: Any) -> nn.Module:
    """A frozen feature network by name: ``"wavelet"``, ``"encoder"`` (needs ``model``) or
    ``"mobilenet_v3"`` (needs ``weights_path``); an ``nn.Module`` is returned frozen as is."""
    if isinstance(name, nn.Module):
        return copy.deepcopy(name).eval().requires_grad_(False)
    if name == "wavelet":
        return WaveletFeatures(**params)
    if name == "encoder":
        if model is None:
            raise ValueError("feature network 'encoder' needs model= (a trained denoiser with encoder_features)")
        return EncoderFeatures(model)
    if name == "mobilenet_v3":
        return mobilenet_v3_features(**params)
    raise ValueError(f"feature network must be one of {list(FEATURE_NETWORKS)} or an nn.Module; got {name!r}")


def feature_distance(
    f: nn.Module,
    x0: torch.Tensor,
    x_hat: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``‖f(x0) − f(x̃0)‖²`` per sample and as a map on the input grid.

    For every feature map k, ``D_k = mean_c (f_k(x0) − f_k(x̃0))²`` (B, *S_k) is resized to the
    input's spatial size (bilinear / linear) and the maps are averaged over k:

    * per-pixel: ``(1/K) Σ_k up(D_k)``, shape (B, H, W) or (B, L);
    * per-sample: ``(1/K) Σ_k mean(D_k)``, shape (B,) — each level's mean squared feature
      difference, so every scale counts equally whatever its resolution.

    Gradients flow to ``x_hat`` (and ``x0``), so the function also serves as L_feat in training.
    """
    _check_input(x0, "x0")
    _check_input(x_hat, "x_hat")
    if x0.shape != x_hat.shape:
        raise ValueError(f"x0 and x_hat must have the same shape; got {tuple(x0.shape)} and {tuple(x_hat.shape)}")
    size = tuple(x0.shape[2:])
    mode = "bilinear" if x0.ndim == 4 else "linear"
    fa, fb = f(x0), f(x_hat)
    per_pixel = torch.zeros(x0.shape[0], *size, device=x0.device, dtype=x0.dtype)
    per_sample = torch.zeros(x0.shape[0], device=x0.device, dtype=x0.dtype)
    for a, b in zip(fa, fb, strict=True):
        d = ((a - b) ** 2).mean(dim=1)  # (B, *S_k)
        per_sample = per_sample + d.flatten(1).mean(dim=1)
        if tuple(d.shape[1:]) != size:
            d = F.interpolate(d[:, None], size=size, mode=mode, align_corners=False)[:, 0]
        per_pixel = per_pixel + d
    return per_sample / len(fa), per_pixel / len(fa)

"""Wavelet U-Net noise predictor of chapter 3 (Yi Chen 2025, arXiv 2505.05137).

Contract: ``WaveletUNet(config)(x_t, t) -> eps_hat``, (B, C, H, W) and (B,) -> (B, C, H, W)
(``dims=2``), or (B, C, L) -> (B, C, L) (``dims=1``). Four modules of the paper can each be
switched off for the ablation (Table III):

* wavelet pyramid module (``use_wavelet``): a J-level DWT of the input (J = number of
  downsamplings); the approximation a_j and the detail bands d_j of level j are projected by
  a 1x1 conv and added to the features entering encoder stage j (same resolution H / 2^j);
  off: no DWT bands.
* multi-head self-attention (``use_attention``): after the residual block of every stage
  below full resolution, in the bottleneck and in the decoder; off: identity.
* hybrid time embedding (``use_hybrid_embedding``): Conv1D over Sinusoidal(t), then an MLP;
  off: Sinusoidal(t) + MLP.
* modality-shared input adapter (``use_adapter``): two learnable 3x3 convs map the input
  modality (image or scalogram, ``in_channels``) into the shared core, mirrored at the
  output; off: a single 1x1 conv stem and a 1x1 conv head.

Spatial sizes must be divisible by 2^J; the DWT bands (size ``floor((n + F - 1) / 2)`` per
level for a length-F filter) are resized to the stage resolution by (bi)linear
interpolation, which is the identity for Haar on even sizes. Time series can be used either
directly (``dims=1``) or as CWT scalograms (``dims=2``, see :mod:`diffad_lib.wavelets`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pywt
import torch
import torch.nn.functional as F
from torch import nn

from diffad_lib.models.embeddings import TimestepEmbedding, sinusoidal_embedding
from diffad_lib.wavelets import BoundaryMode, dwt_pyramid, max_dwt_level

__all__ = ["WaveletUNetConfig", "WaveletUNet", "HybridTimeEmbedding"]


@dataclass(frozen=True)
class WaveletUNetConfig:
    """Hyper-parameters of :class:`WaveletUNet`; defaults give ~2.1 M parameters (2-D)."""

    in_channels: int = 1  # channels C of x_t (1 for grey images and scalograms)
    base_channels: int = 32  # width of the first encoder stage
    channel_mults: tuple[int, ...] = (1, 2, 4)  # stage i has base * mults[i] channels at size / 2**i
    n_heads: int = 4  # heads of every self-attention block; must divide the attended widths
    use_wavelet: bool = True  # wavelet pyramid module (DWT bands into the encoder stages)
    use_attention: bool = True  # multi-head self-attention between stages (else identity)
    use_adapter: bool = True  # modality-shared conv adapters (else one 1x1 conv stem and head)
    use_hybrid_embedding: bool = True  # Conv1D(Sinusoidal(t)) time embedding (else sinusoidal + MLP)
    wavelet: str = "db2"  # discrete PyWavelets wavelet of the pyramid ("haar", "db2", "db4", ...)
    wavelet_mode: BoundaryMode = "reflect"  # DWT boundary mode (see diffad_lib.wavelets)
    adapter_channels: int = 16  # hidden width of the input and output adapters
    time_dim: int = 128  # width of the sinusoidal and of the final time embedding (even)
    hybrid_kernels: int = 4  # Conv1D filters applied to the sinusoidal embedding
    norm_groups: int = 8  # GroupNorm groups (reduced to gcd(norm_groups, width) per layer)
    dims: Literal[1, 2] = 2  # 2: images / scalograms (B, C, H, W); 1: series (B, C, L)

    def __post_init__(self) -> None:
        for name in ("in_channels", "base_channels", "n_heads", "adapter_channels", "hybrid_kernels",
                     "norm_groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1; got {value!r}")
        if not isinstance(self.time_dim, int) or self.time_dim < 2 or self.time_dim % 2:
            raise ValueError(f"time_dim must be an even int >= 2; got {self.time_dim!r}")
        mults = tuple(self.channel_mults)
        if len(mults) < 2 or any(not isinstance(m, int) or m < 1 for m in mults):
            raise ValueError(f"channel_mults must hold >= 2 ints >= 1; got {self.channel_mults!r}")
        if self.dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2; got {self.dims!r}")
        if self.wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(f"wavelet must be a discrete PyWavelets wavelet such as 'db2'; got {self.wavelet!r}")
        if self.wavelet_mode not in ("reflect", "zero", "symmetric", "periodic"):
            raise ValueError(
                f"wavelet_mode must be one of ['reflect', 'zero', 'symmetric', 'periodic']; got {self.wavelet_mode!r}"
            )
        if self.use_attention:
            bad = [self.base_channels * m for m in mults[1:] if (self.base_channels * m) % self.n_heads]
            if bad:
                raise ValueError(f"n_heads={self.n_heads} must divide every attended width; got widths {bad}")

    @property
    def n_down(self) -> int:
        """Number of downsamplings J (= DWT levels); inputs must be divisible by 2**J."""
        return len(self.channel_mults) - 1


def _conv(dims: int, c_in: int, c_out: int, kernel: int, *, stride: int = 1) -> nn.Module:
    cls = nn.Conv2d if dims == 2 else nn.Conv1d
    return cls(c_in, c_out, kernel, stride=stride, padding=kernel // 2)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class HybridTimeEmbedding(nn.Module):
    """Hybrid time embedding Conv1D(Sinusoidal(t)) followed by an MLP: (B,) -> (B, dim).

    The sinusoidal vector is read as a 1-channel sequence over its frequency axis; ``kernels``
    width-3 filters mix neighbouring frequencies before the MLP (Chen 2025, Sec. III).
    """

    def __init__(self, dim: int, *, kernels: int = 4) -> None:
        super().__init__()
        self.dim = dim
        self.conv = nn.Conv1d(1, kernels, kernel_size=3, padding=1)
        self.mlp = nn.Sequential(nn.Linear(kernels * dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        e = sinusoidal_embedding(t, self.dim)[:, None, :]  # (B, 1, D)
        h = F.silu(self.conv(e)).flatten(1)  # (B, K * D)
        return self.mlp(h)  # (B, D)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv twice with an additive time projection: (B, c_in, *S) -> (B, c_out, *S)."""

    def __init__(self, dims: int, c_in: int, c_out: int, time_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(c_in, groups)
        self.conv1 = _conv(dims, c_in, c_out, 3)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = _norm(c_out, groups)
        self.conv2 = _conv(dims, c_out, c_out, 3)
        self.skip = _conv(dims, c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.silu(self.norm1(h)))  # (B, c_out, *S)
        y = y + self.time(F.silu(temb)).view(*y.shape[:2], *([1] * (y.ndim - 2)))
        y = self.conv2(F.silu(self.norm2(y)))  # (B, c_out, *S)
        return self.skip(h) + y


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over all positions, residual: (B, C, *S) -> (B, C, *S)."""

    def __init__(self, channels: int, n_heads: int, groups: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm = _norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = h.shape
        x = self.norm(h).flatten(2).transpose(1, 2)  # (B, N, C)
        n = x.shape[1]
        q, k, v = self.qkv(x).view(b, n, 3, self.n_heads, c // self.n_heads).permute(2, 0, 3, 1, 4)  # (B, nh, N, hs)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, nh, N, hs)
        y = self.proj(y.transpose(1, 2).reshape(b, n, c))  # (B, N, C)
        return h + y.transpose(1, 2).reshape(b, c, *spatial)


class WaveletPyramidModule(nn.Module):
    """DWT bands of the input, projected to each downsampled encoder stage.

    ``forward(x)`` returns J tensors, entry j - 1 of shape (B, width_j, *S / 2**j): the
    level-j approximation (scaled by 2^{-j d/2} to stay on the input's scale) and details,
    concatenated over channels (4C in 2-D, 2C in 1-D), resized to the stage size and passed
    through a 1x1 conv.
    """

    def __init__(self, config: WaveletUNetConfig, widths: list[int]) -> None:
        super().__init__()
        self.config = config
        bands = config.in_channels * (4 if config.dims == 2 else 2)
        self.proj = nn.ModuleList(_conv(config.dims, bands, w, 1) for w in widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        cfg = self.config
        pyr = dwt_pyramid(x, wavelet=cfg.wavelet, levels=cfg.n_down, mode=cfg.wavelet_mode)
        spatial = x.shape[2:]
        out = []
        for level, proj in enumerate(self.proj, start=1):
            a, d = pyr.band(level)  # (B, C, *s), (B, C, 3, *s) in 2-D / (B, C, *s) in 1-D
            a = a * 2.0 ** (-level * cfg.dims / 2)  # orthonormal DWT: a_j grows by 2^{dims/2} per level
            bands = torch.cat([a, d.flatten(1, 2) if cfg.dims == 2 else d], dim=1)  # (B, 4C or 2C, *s)
            size = tuple(s // 2**level for s in spatial)
            if tuple(bands.shape[2:]) != size:
                mode = "bilinear" if cfg.dims == 2 else "linear"
                bands = F.interpolate(bands, size=size, mode=mode, align_corners=False)
            out.append(proj(bands))  # (B, width, *S / 2**level)
        return out


class WaveletUNet(nn.Module):
    """ε-prediction U-Net with the four switchable modules of Chen (2025); see the module docstring."""

    def __init__(self, config: WaveletUNetConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else WaveletUNetConfig()
        if not isinstance(cfg, WaveletUNetConfig):
            raise ValueError(f"config must be a WaveletUNetConfig; got {type(cfg).__name__}")
        self.config = cfg
        d, g, td = cfg.dims, cfg.norm_groups, cfg.time_dim
        widths = [cfg.base_channels * m for m in cfg.channel_mults]  # c_0 .. c_{S-1}
        n_stages = len(widths)

        if cfg.use_hybrid_embedding:
            self.time_embed: nn.Module = HybridTimeEmbedding(td, kernels=cfg.hybrid_kernels)
        else:
            self.time_embed = TimestepEmbedding(td)

        c0, a = widths[0], cfg.adapter_channels
        if cfg.use_adapter:
            self.stem: nn.Module = nn.Sequential(
                _conv(d, cfg.in_channels, a, 3), _norm(a, g), nn.SiLU(), _conv(d, a, c0, 3)
            )
            self.head: nn.Module = nn.Sequential(
                _norm(c0, g), nn.SiLU(), _conv(d, c0, a, 3), nn.SiLU(), _conv(d, a, cfg.in_channels, 3)
            )
        else:
            self.stem = _conv(d, cfg.in_channels, c0, 1)
            self.head = nn.Sequential(_norm(c0, g), nn.SiLU(), _conv(d, c0, cfg.in_channels, 1))
        out_conv = self.head[-1]
        nn.init.zeros_(out_conv.weight)  # ε̂ = 0 at initialisation (DiffWave's output projection)
        nn.init.zeros_(out_conv.bias)

        def attention(c: int) -> nn.Module:
            return SelfAttention(c, cfg.n_heads, g) if cfg.use_attention else nn.Identity()

        # Encoder: stage i (size / 2**i) = [downsample c_{i-1} -> c_{i-1}] + res block -> c_i [+ attention].
        self.down = nn.ModuleList(_conv(d, widths[i - 1], widths[i - 1], 3, stride=2) for i in range(1, n_stages))
        self.enc = nn.ModuleList(
            ResBlock(d, widths[i - 1] if i else c0, widths[i], td, g) for i in range(n_stages)
        )
        self.enc_attn = nn.ModuleList(attention(widths[i]) if i else nn.Identity() for i in range(n_stages))
        self.wpm = WaveletPyramidModule(cfg, widths[:-1]) if cfg.use_wavelet else None
        c_mid = widths[-1]
        self.mid1 = ResBlock(d, c_mid, c_mid, td, g)
        self.mid_attn = attention(c_mid)
        self.mid2 = ResBlock(d, c_mid, c_mid, td, g)
        # Decoder: stage i = res block on [h, skip_i] (2 c_i -> c_i) [+ attention] + upsample c_i -> c_{i-1}.
        self.dec = nn.ModuleList(ResBlock(d, 2 * widths[i], widths[i], td, g) for i in range(n_stages))
        self.dec_attn = nn.ModuleList(attention(widths[i]) if i else nn.Identity() for i in range(n_stages))
        self.up = nn.ModuleList(_conv(d, widths[i], widths[i - 1], 3) for i in range(1, n_stages))

    # ------------------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, name: str) -> None:
        cfg = self.config
        expected = "(B, C, H, W)" if cfg.dims == 2 else "(B, C, L)"
        if not isinstance(x, torch.Tensor) or x.ndim != cfg.dims + 2 or x.shape[1] != cfg.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must have shape {expected} with C={cfg.in_channels}; got {got}")
        factor = 2**cfg.n_down
        spatial = tuple(int(s) for s in x.shape[2:])
        if any(s % factor for s in spatial):
            raise ValueError(
                f"{name} spatial sizes must be divisible by 2**{cfg.n_down} = {factor} "
                f"(len(channel_mults) - 1 downsamplings); got {spatial}; pad or crop the input"
            )
        if cfg.use_wavelet and min(max_dwt_level(s, cfg.wavelet) for s in spatial) < cfg.n_down:
            raise ValueError(
                f"{name} spatial sizes {spatial} are too small for a {cfg.n_down}-level {cfg.wavelet!r} DWT"
            )

    def _time(self, t: torch.Tensor, batch: int) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or t.shape != (batch,):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"t must be a tensor of shape (B,) = ({batch},); got {got}")
        return self.time_embed(t)  # (B, time_dim)

    def _encode(self, x: torch.Tensor, temb: torch.Tensor) -> list[torch.Tensor]:
        """Encoder stage outputs [(B, c_0, *S), ..., (B, c_{S-1}, *S / 2**J)]."""
        bands = self.wpm(x) if self.wpm is not None else None
        h = self.stem(x)  # (B, c_0, *S)
        feats = []
        for i, (block, attn) in enumerate(zip(self.enc, self.enc_attn, strict=True)):
            if i:
                h = self.down[i - 1](h)  # (B, c_{i-1}, *S / 2**i)
                if bands is not None:
                    h = h + bands[i - 1]
            h = attn(block(h, temb))  # (B, c_i, *S / 2**i)
            feats.append(h)
        return feats

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predict ε from x_t (B, C, *S) at timesteps t (B,): returns (B, C, *S)."""
        self._check_input(x_t, "x_t")
        temb = self._time(t, x_t.shape[0])  # (B, D)
        skips = self._encode(x_t, temb)
        h = self.mid2(self.mid_attn(self.mid1(skips[-1], temb)), temb)  # (B, c_{S-1}, *S / 2**J)
        for i in reversed(range(len(skips))):
            h = self.dec_attn[i](self.dec[i](torch.cat([h, skips[i]], dim=1), temb))  # (B, c_i, *S / 2**i)
            if i:
                h = self.up[i - 1](F.interpolate(h, scale_factor=2, mode="nearest"))  # (B, c_{i-1}, *S / 2**(i-1))
        return self.head(h)  # (B, C, *S)

    def encoder_features(self, x: torch.Tensor, t: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Multi-scale features of x (B, C, *S) for the feature-distance score.

        Returns the S encoder stage outputs ``(B, c_i, *S / 2**i)`` followed by the bottleneck
        ``(B, c_{S-1}, *S / 2**J)``. ``t`` defaults to zeros (a clean input). Gradients are
        not disabled: freeze the network (``eval()``, ``requires_grad_(False)``) to use it
        as a fixed feature extractor f, and keep gradients w.r.t. x for L_feat.
        """
        self._check_input(x, "x")
        if t is None:
            t = torch.zeros(x.shape[0], device=x.device)
        temb = self._time(t, x.shape[0])
        feats = self._encode(x, temb)
        feats.append(self.mid2(self.mid_attn(self.mid1(feats[-1], temb)), temb))
        return feats

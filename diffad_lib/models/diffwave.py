"""The DiffADT denoiser: a DiffWave-style cascade of residual layers with dilated Conv1D + S4.

Zuo et al., *Unsupervised diffusion based anomaly detection for time series* (Applied
Intelligence 2024), building on DiffWave (Kong et al. 2021) and SSSD (Alcaraz & Strodthoff
2023). The network predicts the noise ``ε`` in ``x_t``:
``forward(x_t (B, C, L), t (B,), *, cond, entity) -> ε̂ (B, C, L)``.

::

    x_t ─ 1x1 conv ─ ReLU ─► layer 1 ─► layer 2 ─► … ─► layer n        (residual path)
                              │ skip     │ skip           │ skip
                              └──────────┴──── Σ / √n ────┴─► 1x1 ─ ReLU ─ 1x1 (zero init) ─► ε̂

Each :class:`ResidualLayer` (DiffWave's block with SSSD's S4 inserted):

1. add the projected diffusion-step embedding to ``x``;
2. bidirectional dilated Conv1D (``R -> 2R``, kernel 3, dilation ``2^(i mod cycle)``);
3. ``layer="s4"``: ``h = h + S4D(h)``; ``layer="res"`` (the paper's dilated-conv-only
   ablation): nothing more;
4. add the 1x1 projection of the conditioner (command channels ⊕ entity embedding);
5. gated activation ``tanh(filter) · σ(gate)`` (``2R -> R``);
6. 1x1 conv to ``2R``, split into residual (returned as ``(x + residual)/√2``) and skip.

"Bidirectional" for the dilated convolution means non-causal and centred: the output at ``t``
reads ``t - d``, ``t`` and ``t + d``. Summing a causal kernel-k convolution with another one run on
the time-reversed input is again a single (centred) convolution, so one centred convolution is
the same function class at half the cost. With ``bidirectional=False`` the convolution is
causal (left padding ``(k-1)·d``) and S4 runs forward only, which makes the whole denoiser causal.

The final 1x1 convolution starts at zero, so an untrained denoiser outputs exactly zero and
training begins from "predict no noise" rather than from a random function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from diffad_lib._validation import check_choice, check_int
from diffad_lib.models.embeddings import TimestepEmbedding, sinusoidal_embedding
from diffad_lib.models.s4d import S4D

LayerType = Literal["s4", "res"]


@dataclass(frozen=True)
class DiffWaveConfig:
    """Hyper-parameters of :class:`DiffWaveDenoiser` (validated on construction)."""

    in_channels: int  # C: channels of x_t and of the predicted noise
    residual_channels: int = 64  # R: width of the residual path (the paper's "channels")
    n_layers: int = 12  # residual layers in the cascade (paper: 6 / 12 / 18 / 24)
    dilation_cycle: int = 10  # layer i uses dilation 2 ** (i % dilation_cycle), as DiffWave
    kernel_size: int = 3  # dilated Conv1D width; odd, so the bidirectional conv is centred
    layer: LayerType = "s4"  # "s4": dilated conv + S4; "res": dilated conv only (ablation)
    cond_channels: int = 0  # command channels given as `cond` (B, cond_channels, L); 0 disables
    n_entities: int = 0  # number of entity ids (machines / channels) to embed; 0 disables
    entity_dim: int = 16  # size of the entity-ID embedding, broadcast along time
    diffusion_embed_dim: int = 128  # sinusoidal embedding size of the diffusion step t
    diffusion_hidden_dim: int = 512  # width of the MLP on the step embedding (DiffWave: 512)
    s4_state: int = 64  # N: real state size of each S4D kernel (N/2 complex modes)
    bidirectional: bool = True  # non-causal conv + two-way S4; False makes the network causal
    dropout: float = 0.0  # dropout inside the S4 layers

    def __post_init__(self) -> None:
        for name, minimum in [
            ("in_channels", 1),
            ("residual_channels", 1),
            ("n_layers", 1),
            ("dilation_cycle", 1),
            ("kernel_size", 1),
            ("cond_channels", 0),
            ("n_entities", 0),
            ("entity_dim", 1),
            ("diffusion_embed_dim", 2),
            ("diffusion_hidden_dim", 1),
            ("s4_state", 2),
        ]:
            check_int(getattr(self, name), name=name, minimum=minimum)
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (a centred convolution); got {self.kernel_size}")
        if self.diffusion_embed_dim % 2 != 0:
            raise ValueError(f"diffusion_embed_dim must be even; got {self.diffusion_embed_dim}")
        if self.s4_state % 2 != 0:
            raise ValueError(f"s4_state must be even (conjugate pairs); got {self.s4_state}")
        check_choice(self.layer, name="layer", choices=("s4", "res"))
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"bidirectional must be a bool; got {self.bidirectional!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1); got {self.dropout!r}")

    @property
    def condition_dim(self) -> int:
        """Channels of the per-layer conditioner: command channels + entity embedding."""
        return self.cond_channels + (self.entity_dim if self.n_entities > 0 else 0)

    @property
    def dilations(self) -> tuple[int, ...]:
        """Dilation of each residual layer's convolution."""
        return tuple(2 ** (i % self.dilation_cycle) for i in range(self.n_layers))

    @property
    def receptive_field(self) -> int:
        """Receptive field of the dilated-convolution stack in samples, ``1 + Σ (k-1)·d_i``.

        This is the whole story for ``layer="res"``; with ``layer="s4"`` every layer already
        sees the entire window. Bidirectional: centred, ``(rf-1)/2`` on each side of ``t``;
        causal: ``rf - 1`` steps into the past.
        """
        return 1 + sum((self.kernel_size - 1) * d for d in self.dilations)


class ResidualLayer(nn.Module):
    """One DiffWave residual layer with an optional S4 stage.

    ``forward(x (B, R, L), diff_emb (B, E), cond (B, K, L) | None)
    -> ((x + residual) / √2 (B, R, L), skip (B, R, L))``.
    """

    def __init__(
        self,
        *,
        residual_channels: int,
        dilation: int,
        diffusion_hidden_dim: int,
        condition_dim: int = 0,
        kernel_size: int = 3,
        layer: LayerType = "s4",
        s4_state: int = 64,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice(layer, name="layer", choices=("s4", "res"))
        R = residual_channels
        self.residual_channels = R
        self.condition_dim = condition_dim
        reach = (kernel_size - 1) * dilation
        # centred: reach/2 each side; causal: all of it on the left
        self.padding = (reach // 2, reach // 2) if bidirectional else (reach, 0)
        self.diffusion_projection = nn.Linear(diffusion_hidden_dim, R)
        self.dilated_conv = nn.Conv1d(R, 2 * R, kernel_size, dilation=dilation)
        self.s4 = S4D(2 * R, d_state=s4_state, bidirectional=bidirectional, dropout=dropout) if layer == "s4" else None
        self.cond_projection = nn.Conv1d(condition_dim, 2 * R, 1) if condition_dim > 0 else None
        self.output_projection = nn.Conv1d(R, 2 * R, 1)
        nn.init.kaiming_normal_(self.dilated_conv.weight)
        nn.init.kaiming_normal_(self.output_projection.weight)

    def forward(
        self, x: torch.Tensor, diff_emb: torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = x + self.diffusion_projection(diff_emb)[:, :, None]  # (B, R, L)
        h = self.dilated_conv(F.pad(h, self.padding))  # (B, 2R, L)
        if self.s4 is not None:
            h = h + self.s4(h)  # (B, 2R, L)   residual around S4, as SSSD's S4 layer
        if self.cond_projection is not None:
            if cond is None:
                raise ValueError(f"cond must be (B, {self.condition_dim}, L) for this layer; got None")
            h = h + self.cond_projection(cond)  # (B, 2R, L)
        filt, gate = h.chunk(2, dim=1)  # (B, R, L) each
        h = torch.tanh(filt) * torch.sigmoid(gate)  # (B, R, L)
        residual, skip = self.output_projection(h).chunk(2, dim=1)  # (B, R, L) each
        return (x + residual) / math.sqrt(2.0), skip  # (B, R, L), (B, R, L)


class DiffWaveDenoiser(nn.Module):
    """ε-prediction network of DiffADT: (B, C, L), t (B,) -> (B, C, L).

    ``forward(x_t, t, *, cond=None, entity=None)``:

    * ``x_t`` (B, C, L) float, ``C = config.in_channels``; any ``L`` works.
    * ``t`` (B,) diffusion steps (integer or float; a scalar is broadcast to the batch).
    * ``cond`` (B, cond_channels, L): command channels; required iff ``cond_channels > 0``.
    * ``entity`` (B,) integer ids in ``[0, n_entities)``; required iff ``n_entities > 0``.

    Returns the predicted noise (B, C, L) in the dtype of the layers' computation.
    """

    def __init__(self, config: DiffWaveConfig) -> None:
        super().__init__()
        if not isinstance(config, DiffWaveConfig):
            raise ValueError(f"config must be a DiffWaveConfig; got {type(config).__name__}")
        self.config = config
        R = config.residual_channels
        self.input_projection = nn.Conv1d(config.in_channels, R, 1)
        self.diffusion_embedding = TimestepEmbedding(config.diffusion_embed_dim, config.diffusion_hidden_dim)
        self.entity_embedding = nn.Embedding(config.n_entities, config.entity_dim) if config.n_entities > 0 else None
        self.layers = nn.ModuleList(
            ResidualLayer(
                residual_channels=R,
                dilation=d,
                diffusion_hidden_dim=config.diffusion_hidden_dim,
                condition_dim=config.condition_dim,
                kernel_size=config.kernel_size,
                layer=config.layer,
                s4_state=config.s4_state,
                bidirectional=config.bidirectional,
                dropout=config.dropout,
            )
            for d in config.dilations
        )
        self.skip_projection = nn.Conv1d(R, R, 1)
        self.output_projection = nn.Conv1d(R, config.in_channels, 1)
        nn.init.kaiming_normal_(self.input_projection.weight)
        nn.init.kaiming_normal_(self.skip_projection.weight)
        nn.init.zeros_(self.output_projection.weight)  # initial ε̂ ≡ 0
        nn.init.zeros_(self.output_projection.bias)

    def _condition(
        self, cond: torch.Tensor | None, entity: torch.Tensor | None, batch: int, length: int, ref: torch.Tensor
    ) -> torch.Tensor | None:
        """Command channels ⊕ entity embedding broadcast along time: (B, K, L) or None."""
        cfg = self.config
        parts = []
        if cfg.cond_channels == 0:
            if cond is not None:
                raise ValueError(
                    f"cond was given (shape {tuple(cond.shape)}) but config.cond_channels = 0; "
                    "build the model with cond_channels > 0 or pass cond=None"
                )
        else:
            expected = (batch, cfg.cond_channels, length)
            if cond is None or tuple(cond.shape) != expected:
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(f"cond must have shape (B, cond_channels, L) = {expected}; got {got}")
            parts.append(cond.to(ref.dtype))  # (B, cond_channels, L)
        if self.entity_embedding is None:
            if entity is not None:
                raise ValueError("entity was given but config.n_entities = 0; pass entity=None")
        else:
            if entity is None or tuple(entity.shape) != (batch,):
                got = None if entity is None else tuple(entity.shape)
                raise ValueError(f"entity must be a (B,) = ({batch},) tensor of integer ids; got {got}")
            if entity.dtype.is_floating_point or entity.dtype.is_complex or entity.dtype == torch.bool:
                raise ValueError(f"entity must hold integer ids; got dtype {entity.dtype}")
            lo, hi = int(entity.min()), int(entity.max())
            if lo < 0 or hi >= cfg.n_entities:
                raise ValueError(f"entity ids must lie in [0, {cfg.n_entities}); got values in [{lo}, {hi}]")
            emb = self.entity_embedding(entity.long())  # (B, entity_dim)
            parts.append(emb.to(ref.dtype)[:, :, None].expand(-1, -1, length))  # (B, entity_dim, L)
        return torch.cat(parts, dim=1) if parts else None  # (B, K, L)

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor | int,
        *,
        cond: torch.Tensor | None = None,
        entity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cfg = self.config
        if x_t.ndim != 3 or x_t.shape[1] != cfg.in_channels:
            raise ValueError(f"x_t must be (B, C={cfg.in_channels}, L); got shape {tuple(x_t.shape)}")
        batch, _, length = x_t.shape
        t = torch.as_tensor(t, device=x_t.device)
        if t.ndim == 0:
            t = t.expand(batch)  # (B,)
        if tuple(t.shape) != (batch,):
            raise ValueError(f"t must be a scalar or shape (B,) = ({batch},); got shape {tuple(t.shape)}")
        if t.dtype == torch.bool or t.dtype.is_complex:
            raise ValueError(f"t must be integer or float diffusion steps; got dtype {t.dtype}")
        c = self._condition(cond, entity, batch, length, x_t)  # (B, K, L) or None

        x = F.relu(self.input_projection(x_t))  # (B, R, L)
        # the MLP of TimestepEmbedding applied to the sinusoid cast to the layers' dtype, so
        # the model also runs in float64 (sinusoidal_embedding always returns float32)
        sinusoid = sinusoidal_embedding(t, cfg.diffusion_embed_dim).to(x.dtype)  # (B, 128)
        diff_emb = F.silu(self.diffusion_embedding.mlp(sinusoid))  # (B, E)
        skips = torch.zeros_like(x)  # (B, R, L)
        for layer in self.layers:
            x, skip = layer(x, diff_emb, c)  # (B, R, L), (B, R, L)
            skips = skips + skip  # (B, R, L)
        h = skips / math.sqrt(len(self.layers))  # (B, R, L)
        h = F.relu(self.skip_projection(h))  # (B, R, L)
        return self.output_projection(h)  # (B, C, L)

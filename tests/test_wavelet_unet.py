"""WaveletUNet: every ablation switch, shapes, zero-initialised output, overfitting, input checks."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from diffad_lib.models.wavelet_unet import HybridTimeEmbedding, WaveletUNet, WaveletUNetConfig

SWITCHES = ("use_wavelet", "use_attention", "use_adapter", "use_hybrid_embedding")
TINY = WaveletUNetConfig(base_channels=8, channel_mults=(1, 2), n_heads=2, adapter_channels=8, time_dim=16,
                         hybrid_kernels=2)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _randomise_output(model: WaveletUNet, seed: int = 0) -> None:
    """Replace the zero-initialised output conv by seeded random weights so outputs are informative."""
    g = torch.Generator().manual_seed(seed)
    out = model.head[-1]
    with torch.no_grad():
        out.weight.copy_(0.1 * torch.randn(out.weight.shape, generator=g))


@pytest.mark.parametrize("dims", [2, 1])
def test_every_switch_combination_builds_and_keeps_shape(dims: int) -> None:
    shape = (2, 1, 16, 16) if dims == 2 else (2, 1, 32)
    x = torch.randn(*shape)
    t = torch.tensor([3, 150])
    counts = {}
    for flags in itertools.product([True, False], repeat=4):
        cfg = dataclasses.replace(TINY, dims=dims, **dict(zip(SWITCHES, flags, strict=True)))
        model = WaveletUNet(cfg)
        y = model(x, t)
        assert y.shape == x.shape and torch.isfinite(y).all()
        counts[flags] = _n_params(model)
    full = counts[(True,) * 4]
    for i in range(4):  # switching any one module off changes the parameter count
        off = tuple(j != i for j in range(4))
        assert counts[off] < full, SWITCHES[i]
    assert len(set(counts.values())) == 16  # every combination is a different network


def test_switching_a_module_off_changes_the_output() -> None:
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([10, 90])
    torch.manual_seed(0)
    full = WaveletUNet(TINY)
    _randomise_output(full)
    y_full = full(x, t)
    for name in SWITCHES:
        torch.manual_seed(0)
        ablated = WaveletUNet(dataclasses.replace(TINY, **{name: False}))
        _randomise_output(ablated)
        assert not torch.allclose(ablated(x, t), y_full, atol=1e-4), name
    # the ablated modules are really gone
    plain = WaveletUNet(dataclasses.replace(TINY, use_wavelet=False, use_attention=False, use_adapter=False,
                                            use_hybrid_embedding=False))
    assert plain.wpm is None
    assert not any(isinstance(m, HybridTimeEmbedding) for m in plain.modules())
    assert not any("SelfAttention" in type(m).__name__ for m in plain.modules())
    assert isinstance(plain.stem, nn.Conv2d) and plain.stem.kernel_size == (1, 1)


def test_output_is_zero_at_initialisation() -> None:
    model = WaveletUNet(TINY)
    y = model(torch.randn(3, 1, 16, 16), torch.tensor([0, 5, 999]))
    assert torch.count_nonzero(y) == 0


def test_wavelet_bands_reach_the_encoder_at_stage_resolution() -> None:
    for wavelet in ("haar", "db2"):
        model = WaveletUNet(dataclasses.replace(TINY, channel_mults=(1, 2, 2), wavelet=wavelet))
        bands = model.wpm(torch.randn(2, 1, 32, 32))
        assert [b.shape for b in bands] == [(2, 8, 16, 16), (2, 16, 8, 8)]


def test_hybrid_embedding_separates_timesteps() -> None:
    emb = HybridTimeEmbedding(32, kernels=4)
    e = emb(torch.arange(0, 200, 20))
    assert e.shape == (10, 32)
    assert torch.cdist(e, e).fill_diagonal_(1.0).min() > 1e-4


def test_encoder_features_are_multiscale_and_differentiable() -> None:
    model = WaveletUNet(dataclasses.replace(TINY, channel_mults=(1, 2, 4))).eval().requires_grad_(False)
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    feats = model.encoder_features(x)
    assert [f.shape for f in feats] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 32, 4, 4)]
    sum(f.square().mean() for f in feats).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def _smooth_patches(n: int, size: int, seed: int) -> np.ndarray:
    """(n, 1, size, size) float32 in [-1, 1]: white noise shaped to a 1/f amplitude spectrum, the
    spectrum of natural images (structure at every scale, no pixel-level noise dominating)."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    radius = np.hypot(f[:, None], f[None, :])  # (size, size) cycles per pixel
    radius[0, 0] = 1.0
    spec = np.fft.fft2(rng.standard_normal((n, size, size))) / radius
    spec[:, 0, 0] = 0.0  # zero mean
    x = np.fft.ifft2(spec).real
    x /= np.abs(x).max(axis=(1, 2), keepdims=True)
    return x[:, None].astype(np.float32)


def test_smooth_patches_are_spatially_correlated() -> None:
    x = _smooth_patches(6, 32, seed=0)
    assert x.shape == (6, 1, 32, 32) and x.dtype == np.float32
    assert np.abs(x).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(x, _smooth_patches(6, 32, seed=0))
    a, b = x[..., :, :-1].ravel(), x[..., :, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.5  # neighbouring pixels alike (white noise: about 0)


def test_full_model_overfits_a_handful_of_patches() -> None:
    torch.manual_seed(0)
    cfg = WaveletUNetConfig(base_channels=16, time_dim=64)  # every module on
    model = WaveletUNet(cfg)
    x0 = torch.from_numpy(_smooth_patches(6, 32, seed=0))  # (6, 1, 32, 32) image-like patches
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 100, (6,), generator=g)
    abar = torch.cos(t.float() / 100 * torch.pi / 2)[:, None, None, None] ** 2
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps  # fixed noisy inputs: pure memorisation
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = (model(x_t, t) - eps).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(eps.square().mean().item(), rel=1e-5)  # zero output at step 0
    assert min(losses[-5:]) < 0.5 * losses[0]


@pytest.mark.parametrize(
    ("x_shape", "t_shape", "match"),
    [
        ((2, 16, 16), (2,), "x_t must have shape"),
        ((2, 3, 16, 16), (2,), "C=1"),
        ((2, 1, 17, 16), (2,), "divisible"),
        ((2, 1, 16, 16), (3,), "t must"),
        ((2, 1, 16, 16), (2, 1), "t must"),
    ],
)
def test_bad_input_shapes_raise(x_shape: tuple[int, ...], t_shape: tuple[int, ...], match: str) -> None:
    model = WaveletUNet(TINY)
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(x_shape), torch.zeros(t_shape))


def test_too_small_input_for_the_dwt_raises() -> None:
    model = WaveletUNet(dataclasses.replace(TINY, wavelet="db4", channel_mults=(1, 1, 1)))
    with pytest.raises(ValueError, match="too small"):
        model(torch.zeros(1, 1, 8, 8), torch.zeros(1))


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel_mults", (1,)), ("time_dim", 15), ("wavelet", "morl"), ("dims", 3), ("n_heads", 3),
     ("wavelet_mode", "periodization"), ("base_channels", 0)],
)
def test_bad_config_raises(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TINY, **{field: value})


def test_unknown_keyword_arguments_are_rejected() -> None:
    model = WaveletUNet(TINY)
    with pytest.raises(TypeError):
        model(torch.zeros(1, 1, 16, 16), torch.zeros(1), cond=torch.zeros(1))

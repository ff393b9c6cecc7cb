"""Tests for diffad_lib.models.diffwave: the DiffADT denoiser (DiffWave cascade + S4)."""

from __future__ import annotations

import math

import pytest
import torch

from diffad_lib.models import build_model
from diffad_lib.models.diffwave import DiffWaveConfig, DiffWaveDenoiser, ResidualLayer
from diffad_lib.models.s4d import S4D, S4DKernel, param_groups

SMALL = {"residual_channels": 8, "n_layers": 3, "s4_state": 8, "diffusion_embed_dim": 16, "diffusion_hidden_dim": 32}



def _model(seed: int = 0, **kwargs) -> DiffWaveDenoiser:
    torch.manual_seed(seed)
    return build_model("diffwave", **{"in_channels": 2, **SMALL, **kwargs})


def _inputs(batch: int = 3, channels: int = 2, length: int = 32, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, length, generator=g), torch.randint(0, 200, (batch,), generator=g)


def _unzero_head(model: DiffWaveDenoiser, seed: int = 5) -> None:
    """Move the zero-initialised head away from zero so that the output depends on the input."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = model.output_projection.weight
        w.copy_(torch.randn(w.shape, generator=g) * 0.3)


@pytest.mark.parametrize("layer", ["s4", "res"])
def test_output_shape_and_exact_zero_at_init(layer: str) -> None:
    model = _model(layer=layer, cond_channels=3, n_entities=4)
    x, t = _inputs()
    cond = torch.randn(3, 3, 32)
    y = model(x, t, cond=cond, entity=torch.tensor([0, 3, 1]))
    assert y.shape == x.shape
    assert torch.equal(y, torch.zeros_like(y))  # zero-initialised output convolution


@pytest.mark.parametrize("layer", ["s4", "res"])
def test_one_optimisation_step_makes_output_nonzero(layer: str) -> None:
    model = _model(layer=layer)
    x, t = _inputs()
    target = torch.randn_like(x)
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.01, lr_ssm=1e-3), lr=1e-3)
    ((model(x, t) - target) ** 2).mean().backward()
    optimizer.step()
    with torch.no_grad():
        assert model(x, t).abs().max() > 1e-4


def test_residual_layer_contract() -> None:
    torch.manual_seed(0)
    layer = ResidualLayer(residual_channels=4, dilation=2, diffusion_hidden_dim=6, condition_dim=3, s4_state=4)
    x, emb, cond = torch.randn(2, 4, 20), torch.randn(2, 6), torch.randn(2, 3, 20)
    out, skip = layer(x, emb, cond)
    assert out.shape == skip.shape == x.shape
    # with a zero output projection the residual is zero: out = x / √2 exactly, skip = 0
    with torch.no_grad():
        layer.output_projection.weight.zero_()
        layer.output_projection.bias.zero_()
    out, skip = layer(x, emb, cond)
    torch.testing.assert_close(out, x / math.sqrt(2.0), rtol=0, atol=0)
    assert torch.equal(skip, torch.zeros_like(skip))


def test_layer_count_dilations_and_s4_presence() -> None:
    config = DiffWaveConfig(in_channels=1, n_layers=7, dilation_cycle=3, kernel_size=3)
    assert config.dilations == (1, 2, 4, 1, 2, 4, 1)
    assert config.receptive_field == 1 + 2 * (1 + 2 + 4 + 1 + 2 + 4 + 1)
    s4 = _model(n_layers=5, layer="s4")
    res = _model(n_layers=5, layer="res")
    assert len(s4.layers) == len(res.layers) == 5
    assert sum(isinstance(m, S4D) for m in s4.modules()) == 5
    assert not any(isinstance(m, S4D) for m in res.modules())


@pytest.mark.parametrize("bidirectional", [True, False])
def test_receptive_field_of_the_dilated_stack(bidirectional: bool) -> None:
    # "res" layers only: the output at t0 depends on exactly the receptive field's inputs
    model = _model(layer="res", n_layers=3, bidirectional=bidirectional)  # dilations 1, 2, 4
    _unzero_head(model)
    rf = model.config.receptive_field
    assert rf == 15
    x, t = _inputs(batch=1, length=48)
    x.requires_grad_()
    t0 = 24
    model(x, t)[0, :, t0].sum().backward()
    support = torch.nonzero(x.grad[0].abs().sum(0) > 0).flatten().tolist()
    half = (rf - 1) // 2
    expected = list(range(t0 - half, t0 + half + 1)) if bidirectional else list(range(t0 - (rf - 1), t0 + 1))
    assert support == expected


def test_s4_layers_see_the_whole_window_and_unidirectional_is_causal() -> None:
    x, t = _inputs(batch=1, length=48)
    k = 30
    x2 = x.clone()
    x2[..., k] += 2.0
    bidir = _model(layer="s4", n_layers=2)
    _unzero_head(bidir)
    with torch.no_grad():
        assert (bidir(x2, t)[..., 0] - bidir(x, t)[..., 0]).abs().max() > 1e-6  # 30 steps ahead
    causal = _model(layer="s4", n_layers=2, bidirectional=False)
    _unzero_head(causal)
    with torch.no_grad():
        y, y2 = causal(x, t), causal(x2, t)
    torch.testing.assert_close(y2[..., :k], y[..., :k], rtol=0, atol=1e-5)  # FFT round-off only
    assert (y2[..., k:] - y[..., k:]).abs().max() > 1e-3


@pytest.mark.parametrize("layer", ["s4", "res"])
def test_conditioning_and_entity_change_the_output(layer: str) -> None:
    model = _model(layer=layer, cond_channels=2, n_entities=3)
    _unzero_head(model)
    x, t = _inputs()
    cond = torch.randn(3, 2, 32)
    entity = torch.tensor([0, 1, 2])
    with torch.no_grad():
        y = model(x, t, cond=cond, entity=entity)
        assert (model(x, t, cond=cond + 1.0, entity=entity) - y).abs().max() > 1e-4
        assert (model(x, t, cond=cond, entity=torch.tensor([1, 2, 0])) - y).abs().max() > 1e-4
        # same id, same output: the embedding is a lookup, not noise
        torch.testing.assert_close(model(x, t, cond=cond, entity=entity), y, rtol=0, atol=0)


def test_entity_embedding_alone_conditions() -> None:
    model = _model(n_entities=5)
    _unzero_head(model)
    x, t = _inputs(batch=2)
    with torch.no_grad():
        y0 = model(x, t, entity=torch.tensor([0, 0]))
        y4 = model(x, t, entity=torch.tensor([4, 4]))
    assert (y0 - y4).abs().max() > 1e-4
    assert model.config.condition_dim == model.config.entity_dim


def test_diffusion_step_changes_the_output() -> None:
    model = _model()
    _unzero_head(model)
    x, _ = _inputs()
    with torch.no_grad():
        assert (model(x, torch.tensor([1, 1, 1])) - model(x, 150)).abs().max() > 1e-4


@pytest.mark.parametrize("layer", ["res", "s4"])
def test_overfits_one_batch(layer: str) -> None:
    # one batch of noised sines, x_t = √ᾱ_t x0 + √(1-ᾱ_t) ε (DDPM eq. 4); the loss on it must
    # collapse (over 8 init seeds the drop was >= 600x for "s4" and >= 110x for "res")
    g = torch.Generator().manual_seed(3)
    freq = torch.rand(4, 1, 1, generator=g) * 0.1 + 0.02  # (B, 1, 1)
    phase = torch.rand(4, 1, 1, generator=g) * 2 * math.pi  # (B, 1, 1)
    x0 = torch.sin(2 * math.pi * freq * torch.arange(64) + phase)  # (B, 1, L)
    eps = torch.randn(x0.shape, generator=g)  # (B, 1, L)
    t = torch.tensor([20, 60, 100, 150])  # (B,)
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 200), 0)[t].view(4, 1, 1)  # (B, 1, 1)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps  # (B, 1, L)
    torch.manual_seed(0)
    model = build_model("diffwave", in_channels=1, layer=layer, **{**SMALL, "residual_channels": 16})
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = ((model(x_t, t) - eps) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 50


def test_param_groups_separate_ssm_parameters_of_the_denoiser() -> None:
    model = _model(layer="s4", n_layers=2)
    other, ssm = param_groups(model, weight_decay=0.05, lr_ssm=1e-3)
    n_kernels = sum(isinstance(m, S4DKernel) for m in model.modules())
    assert n_kernels == 4  # 2 layers × 2 directions
    assert len(ssm["params"]) == 3 * n_kernels and ssm["weight_decay"] == 0.0 and ssm["lr"] == 1e-3
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].rsplit(".", 1)[-1] in {"log_dt", "log_A_real", "A_imag"} for p in ssm["params"])
    assert len(other["params"]) + len(ssm["params"]) == len(list(model.parameters()))
    assert len(param_groups(_model(layer="res"), weight_decay=0.05)) == 1


def test_float64_model() -> None:
    model = _model().double()
    _unzero_head(model)
    x, t = _inputs()
    y = model(x.double(), t)
    assert y.dtype == torch.float64 and torch.isfinite(y).all()


def test_build_diffwave_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['n_layer'\] for model 'diffwave'.*n_layers"):
        build_model("diffwave", in_channels=1, n_layer=4)
    with pytest.raises(ValueError, match=r"model 'diffwave' requires parameter\(s\) \['in_channels'\]"):
        build_model("diffwave", n_layers=4)
    assert isinstance(build_model("diffwave", in_channels=1, n_layers=2), DiffWaveDenoiser)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": "lstm"}, "layer must be one of"),
        ({"kernel_size": 4}, "kernel_size must be odd"),
        ({"n_layers": 0}, r"n_layers must be an integer in \[1, inf\]"),
        ({"residual_channels": 2.5}, "residual_channels"),
        ({"s4_state": 7}, "s4_state must be even"),
        ({"cond_channels": -1}, "cond_channels"),
        ({"dropout": 1.5}, "dropout"),
        ({"bidirectional": "yes"}, "bidirectional"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):  # TypeError for a non-integer count
        DiffWaveConfig(in_channels=1, **kwargs)


def test_forward_argument_errors() -> None:
    x, t = _inputs()
    plain = _model()
    with pytest.raises(ValueError, match="cond_channels = 0"):
        plain(x, t, cond=torch.randn(3, 1, 32))
    with pytest.raises(ValueError, match="n_entities = 0"):
        plain(x, t, entity=torch.tensor([0, 0, 0]))
    with pytest.raises(ValueError, match=r"x_t must be \(B, C=2, L\)"):
        plain(torch.randn(3, 1, 32), t)
    with pytest.raises(ValueError, match="t must be"):
        plain(x, torch.tensor([1, 2]))
    conditioned = _model(cond_channels=2, n_entities=3)
    entity = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"cond must have shape .* \(3, 2, 32\); got None"):
        conditioned(x, t, entity=entity)
    with pytest.raises(ValueError, match=r"got \(3, 2, 31\)"):
        conditioned(x, t, cond=torch.randn(3, 2, 31), entity=entity)
    cond = torch.randn(3, 2, 32)
    with pytest.raises(ValueError, match=r"entity ids must lie in \[0, 3\); got values in \[0, 3\]"):
        conditioned(x, t, cond=cond, entity=torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="integer ids"):
        conditioned(x, t, cond=cond, entity=torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="entity must be"):
        conditioned(x, t, cond=cond)

"""Feature networks and the feature distance: shapes, identities, freezing, gradients, clear errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from diffad_lib.features import (
    EncoderFeatures,
    WaveletFeatures,
    build_feature_net,
    feature_distance,
    mobilenet_v3_features,
)
from diffad_lib.models.wavelet_unet import WaveletUNet, WaveletUNetConfig
from diffad_lib.wavelets import dwt_pyramid

TINY = WaveletUNetConfig(base_channels=8, channel_mults=(1, 2), n_heads=2, adapter_channels=8, time_dim=16,
                         hybrid_kernels=2)
HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


def _x(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (2, 3, 32, 32), (2, 1, 64)])
def test_wavelet_features_shapes_and_no_parameters(shape):
    f = WaveletFeatures(levels=2)
    feats = f(_x(shape))
    assert len(feats) == 3  # two detail levels + the coarsest approximation
    assert sum(p.numel() for p in f.parameters()) == 0
    bands = 3 * shape[1] if len(shape) == 4 else shape[1]
    assert feats[0].shape[:2] == (shape[0], bands)
    assert all(torch.isfinite(t).all() for t in feats)


def test_wavelet_features_are_the_pooled_band_magnitudes():
    x = _x((1, 1, 16, 16))
    f = WaveletFeatures(levels=1, pool=1)
    pyr = dwt_pyramid(x, wavelet="db2", levels=1)
    feats = f(x)
    torch.testing.assert_close(feats[0], pyr.details[0].abs().flatten(1, 2))
    torch.testing.assert_close(feats[1], pyr.approx / 2.0)


def test_wavelet_features_reduce_levels_for_small_inputs():
    feats = WaveletFeatures(levels=5)(_x((1, 1, 8, 8)))
    assert len(feats) >= 2


def test_feature_distance_identities():
    f = WaveletFeatures(levels=2)
    x = _x((3, 1, 16, 16))
    per_sample, per_pixel = feature_distance(f, x, x)
    assert per_sample.shape == (3,) and per_pixel.shape == (3, 16, 16)
    assert torch.all(per_sample == 0) and torch.all(per_pixel == 0)
    y = x.clone()
    y[1, :, 4:8, 4:8] += 2.0  # a local defect in sample 1 only
    per_sample, per_pixel = feature_distance(f, x, y)
    assert per_sample[0] == 0 and per_sample[2] == 0 and per_sample[1] > 0
    inside, outside = per_pixel[1, 4:8, 4:8].mean(), per_pixel[1, 12:, 12:].mean()
    assert inside > 10 * outside  # the map localises the change


def test_feature_distance_is_differentiable_and_1d():
    f = WaveletFeatures(levels=2)
    x = _x((2, 1, 32))
    x_hat = (x + 0.1 * _x((2, 1, 32), seed=1)).requires_grad_(True)
    per_sample, per_pixel = feature_distance(f, x, x_hat)
    assert per_pixel.shape == (2, 32)
    per_sample.sum().backward()
    assert x_hat.grad is not None and torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


def test_feature_distance_bad_inputs():
    f = WaveletFeatures()
    with pytest.raises(ValueError, match="x0 and x_hat"):
        feature_distance(f, _x((1, 1, 16, 16)), _x((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="x0"):
        feature_distance(f, _x((16, 16)), _x((16, 16)))
    with pytest.raises(ValueError, match="levels"):
        WaveletFeatures(levels=0)
    with pytest.raises(ValueError, match="pool"):
        WaveletFeatures(pool=2)


def test_encoder_features_are_frozen_copies():
    torch.manual_seed(0)
    model = WaveletUNet(TINY)
    f = EncoderFeatures(model)
    x = _x((2, 1, 16, 16))
    before = [t.clone() for t in f(x)]
    assert len(before) == len(TINY.channel_mults) + 1  # stages + bottleneck
    assert not any(p.requires_grad for p in f.parameters())
    with torch.no_grad():  # changing the original must not change the features
        for p in model.parameters():
            p.add_(1.0)
    f.train()
    assert not f.model.training
    for a, b in zip(before, f(x), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="encoder_features"):
        EncoderFeatures(torch.nn.Linear(2, 2))


def test_build_feature_net_by_name():
    assert isinstance(build_feature_net("wavelet", levels=2), WaveletFeatures)
    assert isinstance(build_feature_net("encoder", model=WaveletUNet(TINY)), EncoderFeatures)
    with pytest.raises(ValueError, match="needs model"):
        build_feature_net("encoder")
    with pytest.raises(ValueError, match="feature network must be one of"):
        build_feature_net("resnet")
    custom = torch.nn.Conv2d(1, 2, 3)
    frozen = build_feature_net(custom)
    assert frozen is not custom and not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in custom.parameters())  # the caller's module is untouched


def test_mobilenet_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        mobilenet_v3_features(tmp_path / "missing.pth")


@pytest.mark.skipif(HAS_TORCHVISION, reason="torchvision is installed: the real loader is tested instead")
def test_mobilenet_without_torchvision_is_a_clear_import_error(tmp_path):
    weights = tmp_path / "mobilenet_v3_small.pth"
    torch.save({}, weights)
    with pytest.raises(ImportError, match="needs torchvision"):
        mobilenet_v3_features(weights)


@pytest.mark.skipif(not HAS_TORCHVISION, reason="torchvision is not installed here")
def test_mobilenet_loads_local_weights_and_is_frozen(tmp_path):
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v3_small(weights=None).eval()
    weights = tmp_path / "mobilenet_v3_small.pth"
    torch.save(reference.state_dict(), weights)
    f = mobilenet_v3_features(weights, layers=(1, 3))
    x = _x((2, 1, 32, 32)).clamp(-1, 1)
    feats = f(x)
    assert len(feats) == 2 and not any(p.requires_grad for p in f.parameters())
    # same as running the reference network on the normalised 3-channel input
    h = ((x.expand(-1, 3, -1, -1) + 1) / 2 - f.mean) / f.std
    with torch.no_grad():
        ref = reference.features[:2](h)
    torch.testing.assert_close(feats[0], ref)


def test_mobilenet_loading_code_with_a_stand_in_torchvision(tmp_path, monkeypatch):
    """Exercises our loader end to end where torchvision cannot be installed (it must match the
    torch build): a stand-in ``torchvision.models.mobilenet_v3_small`` with a ``.features``
    sequence, weights written by the test, loaded with weights_only=True and frozen."""
    import sys
    import types

    def mobilenet_v3_small(weights=None):
        assert weights is None  # the loader must never ask torchvision to download
        net = torch.nn.Module()
        net.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
        )
        return net

    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(mobilenet_v3_small=mobilenet_v3_small, mobilenet_v3_large=mobilenet_v3_small)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    torch.manual_seed(1)
    reference = mobilenet_v3_small().eval()
    reference.features[1].running_mean.uniform_(-0.5, 0.5)  # non-default buffers must load too
    weights = tmp_path / "mobilenet_v3_small.pth"
    torch.save(reference.state_dict(), weights)
    f = mobilenet_v3_features(weights, layers=(0, 2))
    assert not any(p.requires_grad for p in f.parameters())
    f.train()  # BatchNorm stays on the loaded statistics
    x = _x((2, 1, 16, 16)).clamp(-1, 1)
    feats = f(x)
    h = ((x.expand(-1, 3, -1, -1) + 1) / 2 - f.mean) / f.std
    with torch.no_grad():
        torch.testing.assert_close(feats[0], reference.features[:1](h))
        torch.testing.assert_close(feats[1], reference.features(h))

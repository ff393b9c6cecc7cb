"""DWT pyramid against PyWavelets, perfect reconstruction, gradients; CWT backends and inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pywt
import torch

from diffad_lib.wavelets import (
    _reconstruction_constant,
    cwt,
    cwt_scalogram,
    dwt_pyramid,
    icwt_approx,
    inverse_dwt_pyramid,
    scalogram_image,
    scalogram_scales,
)


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4"])
@pytest.mark.parametrize("mode", ["reflect", "zero", "symmetric", "periodic"])
def test_dwt2_matches_pywavelets(wavelet: str, mode: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 37, 44)).astype(np.float32)
    levels = 2
    pyr = dwt_pyramid(torch.from_numpy(x), wavelet=wavelet, levels=levels, mode=mode)
    ref = pywt.wavedec2(x.astype(np.float64), wavelet, mode=mode, level=levels, axes=(-2, -1))
    np.testing.assert_allclose(pyr.approx.numpy(), ref[0], atol=1e-5)
    assert len(pyr.details) == levels
    for ours, (ch, cv, cd) in zip(pyr.details, ref[1:], strict=True):  # coarsest first, like pywt
        np.testing.assert_allclose(ours.numpy(), np.stack([ch, cv, cd], axis=2), atol=1e-5)
    # intermediate approximations a_j equal pywt's level-j approximation
    for level in range(1, levels + 1):
        a_j, d_j = pyr.band(level)
        ref_j = pywt.wavedec2(x.astype(np.float64), wavelet, mode=mode, level=level, axes=(-2, -1))
        np.testing.assert_allclose(a_j.numpy(), ref_j[0], atol=1e-5)
        np.testing.assert_allclose(d_j.numpy(), np.stack(ref_j[1], axis=2), atol=1e-5)


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4"])
def test_dwt1_matches_pywavelets(wavelet: str) -> None:
    x = np.random.default_rng(1).standard_normal((2, 2, 101)).astype(np.float32)
    pyr = dwt_pyramid(torch.from_numpy(x), wavelet=wavelet, levels=3)
    ref = pywt.wavedec(x.astype(np.float64), wavelet, mode="reflect", level=3, axis=-1)
    for ours, theirs in zip([pyr.approx, *pyr.details], ref, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4"])
@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (1, 2, 29, 50), (3, 2, 77)])
def test_perfect_reconstruction(wavelet: str, shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pyr = dwt_pyramid(x, wavelet=wavelet, levels=2)
    x_rec = inverse_dwt_pyramid(pyr)
    assert x_rec.shape == x.shape
    torch.testing.assert_close(x_rec, x, atol=1e-10, rtol=0)


def test_gradients_flow_through_forward_and_inverse() -> None:
    # inverse(dwt(x)) = x, so d/dx sum(w * inverse(dwt(x))) = w exactly
    x = torch.randn(2, 1, 24, 24, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, 24, 24, dtype=torch.float64)
    (inverse_dwt_pyramid(dwt_pyramid(x, wavelet="db2", levels=2)) * w).sum().backward()
    torch.testing.assert_close(x.grad, w)
    # and through the coefficients alone: linear map, gradient of sum(a_J) is its adjoint applied to 1
    y = torch.randn(1, 1, 16, 16, requires_grad=True)
    dwt_pyramid(y, wavelet="haar", levels=2).approx.sum().backward()
    torch.testing.assert_close(y.grad, torch.full_like(y, 0.25))  # haar a_2 = sum of 4x4 block / 4


def test_dwt_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="levels"):
        dwt_pyramid(torch.zeros(1, 1, 16, 16), wavelet="db4", levels=3)
    with pytest.raises(ValueError, match="shape"):
        dwt_pyramid(torch.zeros(16, 16), levels=1)
    with pytest.raises(ValueError, match="wavelet"):
        dwt_pyramid(torch.zeros(1, 1, 16, 16), wavelet="morl", levels=1)
    with pytest.raises(ValueError, match="mode"):
        dwt_pyramid(torch.zeros(1, 1, 16, 16), levels=1, mode="periodization")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# CWT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wavelet", ["morl", "cmor1.5-1.0", "mexh"])
def test_cwt_torch_matches_pywavelets(wavelet: str) -> None:
    x = np.random.default_rng(2).standard_normal((3, 300))
    scales = np.geomspace(1.5, 40, 12)
    ref, _ = pywt.cwt(x, scales, wavelet, axis=-1)  # (S, B, L), direct convolution method
    ours_np = cwt(x, scales, wavelet=wavelet)
    ours_t = cwt(torch.from_numpy(x), scales, wavelet=wavelet)
    assert ours_np.shape == ours_t.shape == (3, 12, 300)
    np.testing.assert_allclose(ours_np, np.moveaxis(ref, 0, 1), atol=1e-8)
    np.testing.assert_allclose(ours_t.numpy(), ours_np, atol=1e-8)


def test_scalogram_localises_frequency_and_is_differentiable() -> None:
    sr = 1000.0
    n = np.arange(2000)
    sig = np.sin(2 * np.pi * 60.0 * n / sr)
    scales, freqs = scalogram_scales(48, wavelet="cmor1.5-1.0", sampling_rate=sr, f_min=10.0, f_max=250.0)
    np.testing.assert_allclose(freqs, pywt.scale2frequency("cmor1.5-1.0", scales) * sr, rtol=1e-6)
    assert np.all(np.diff(scales) > 0) and np.all(np.diff(freqs) < 0)
    s = cwt_scalogram(sig, n_scales=48, wavelet="cmor1.5-1.0", sampling_rate=sr, f_min=10.0, f_max=250.0)
    assert s.shape == (1, 48, 2000) and s.dtype == np.float64
    peak = freqs[np.argmax(s[0, :, 500:1500].mean(axis=1))]
    ratio = freqs[0] / freqs[1]
    assert 60.0 / ratio <= peak <= 60.0 * ratio  # within one scale step of the true frequency
    # torch path: float32 in, float32 out, gradients reach the signal
    x = torch.tensor(sig[None], dtype=torch.float32, requires_grad=True)
    st = cwt_scalogram(x, scales=scales, wavelet="cmor1.5-1.0")
    assert st.dtype == torch.float32
    np.testing.assert_allclose(st.detach().numpy(), s, atol=1e-4)
    st.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_reconstruction_constant_matches_closed_form() -> None:
    # Mexican hat ψ = c (1 - t²) e^{-t²/2}, ψ̂(ξ) = c √(2π) ξ² e^{-ξ²/2}  =>  K = c √(2π)
    c = 2 / (math.sqrt(3) * math.pi**0.25)
    assert _reconstruction_constant("mexh") == pytest.approx(c * math.sqrt(2 * math.pi), rel=1e-4)


def test_icwt_reconstructs_band_limited_signal() -> None:
    # Three tones at 0.02, 0.05 and 0.1 cycles/sample; scales 1..128 cover them
    # (2π f s_min <= 0.63, 2π f s_max >= 16). Stated accuracy: < 1 % relative error away from the edges.
    n = np.arange(1024)
    x = np.sin(2 * np.pi * 0.02 * n) + 0.5 * np.cos(2 * np.pi * 0.05 * n + 0.3) + 0.3 * np.sin(2 * np.pi * 0.1 * n + 1)
    scales = np.geomspace(1, 128, 64)
    coefs = cwt(x, scales, wavelet="morl")  # (1, S, L)
    x_rec = icwt_approx(coefs, scales, wavelet="morl")  # (1, L)
    inner = slice(200, 824)
    rel = np.linalg.norm(x_rec[0, inner] - x[inner]) / np.linalg.norm(x[inner])
    assert rel < 0.01
    # the torch path gives the same reconstruction
    x_rec_t = icwt_approx(torch.from_numpy(coefs[0]), scales, wavelet="morl")  # (L,)
    np.testing.assert_allclose(x_rec_t.numpy(), x_rec[0], atol=1e-10)


def test_cwt_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="signal"):
        cwt(np.zeros((2, 3, 4)), np.array([1.0]))
    with pytest.raises(ValueError, match="scales"):
        cwt(np.zeros(16), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="wavelet"):
        cwt(np.zeros(16), np.array([1.0]), wavelet="db2")
    with pytest.raises(ValueError, match="coefs"):
        icwt_approx(np.zeros((3, 10)), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="f_min"):
        scalogram_scales(8, sampling_rate=100.0, f_min=40.0, f_max=30.0)


def test_scalogram_image_pools_time_blocks_and_finds_the_tone():
    sr, f0 = 1024, 128.0
    t = np.arange(300) / sr
    clips = np.stack([np.sin(2 * np.pi * f0 * t), np.zeros_like(t)])  # (2, 300): a tone and silence
    img = scalogram_image(clips, width=7, n_scales=16, sampling_rate=sr)
    assert img.shape == (2, 1, 16, 7) and img.dtype == np.float32
    mag = cwt_scalogram(clips, n_scales=16, wavelet="cmor1.5-1.0", sampling_rate=sr)
    np.testing.assert_allclose(img[0, 0, :, 3], np.log(mag[0, :, 126:168].mean(axis=1) + 1e-3), rtol=1e-5)
    _, freqs = scalogram_scales(16, wavelet="cmor1.5-1.0", sampling_rate=sr)
    assert abs(freqs[img[0, 0, :, 3].argmax()] / f0 - 1) < 0.25  # the loudest row is the tone's
    np.testing.assert_allclose(img[1], np.log(1e-3), rtol=1e-5)  # silence sits at the floor


def test_scalogram_image_rejects_bad_width():
    with pytest.raises(ValueError, match="width"):
        scalogram_image(np.zeros(32), width=33, n_scales=4)
    with pytest.raises(TypeError, match="width"):
        scalogram_image(np.zeros(32), width=4.0, n_scales=4)

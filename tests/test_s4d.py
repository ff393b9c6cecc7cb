"""Tests for diffad_lib.models.s4d: the FFT path against the recurrence, causality, caching."""

from __future__ import annotations

import math

import pytest
import torch

from diffad_lib.models.s4d import S4D, S4DKernel, configure_kernels, param_groups, s4d_recurrence


def _layer(*, bidirectional: bool, dtype: torch.dtype = torch.float64, seed: int = 0, **kwargs) -> S4D:
    torch.manual_seed(seed)
    return S4D(4, d_state=8, bidirectional=bidirectional, **kwargs).to(dtype)


def _u(shape=(2, 4, 40), *, dtype: torch.dtype = torch.float64, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_s4d_lin_initialisation() -> None:
    torch.manual_seed(0)
    kernel = S4DKernel(3, d_state=10, dt_min=1e-3, dt_max=1e-1)
    _, A, _ = kernel._continuous()  # (H, N/2)
    expected = torch.complex(torch.full((3, 5), -0.5), math.pi * torch.arange(5.0).repeat(3, 1))
    torch.testing.assert_close(A, expected)
    dt = kernel.log_dt.exp()
    assert torch.all(dt >= 1e-3 - 1e-9) and torch.all(dt <= 1e-1 + 1e-9)
    dA, _, _ = kernel.discretize()
    assert torch.all(dA.abs() < 1.0)  # ZOH of a stable A is stable


def test_kernel_is_the_impulse_response_of_the_recurrence() -> None:
    torch.manual_seed(0)
    kernel = S4DKernel(3, d_state=6).double()
    length = 30
    impulse = torch.zeros(1, 3, length, dtype=torch.float64)
    impulse[..., 0] = 1.0
    dA, dB, C = kernel.discretize()
    expected = s4d_recurrence(impulse, dA=dA, dB=dB, C=C)[0]  # (H, L)
    torch.testing.assert_close(kernel(length), expected, rtol=0, atol=1e-12)
    # lag 0 in closed form: K_0 = 2 Re(C B̄)
    torch.testing.assert_close(kernel(length)[:, 0], 2 * (C * dB).sum(-1).real, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fft_convolution_equals_recurrence(bidirectional: bool) -> None:
    layer = _layer(bidirectional=bidirectional)
    u = _u()
    torch.testing.assert_close(layer.ssm(u), layer.ssm_recurrent(u), rtol=0, atol=1e-10)
    # the full layer too (same position-wise output map)
    torch.testing.assert_close(layer(u), layer.output(layer.ssm_recurrent(u)), rtol=0, atol=1e-10)


def test_no_circular_wrap_on_long_memory() -> None:
    # dt small and Re A tiny: the kernel barely decays over the window, so a length-L
    # (circular) FFT would leak the end of the window into its start
    layer = _layer(bidirectional=False, dt_min=1e-3, dt_max=2e-3)
    with torch.no_grad():
        layer.kernel_fwd.log_A_real.fill_(math.log(1e-3))
    u = _u()
    torch.testing.assert_close(layer.ssm(u), layer.ssm_recurrent(u), rtol=0, atol=1e-10)


def test_unidirectional_is_causal() -> None:
    layer = _layer(bidirectional=False)
    u = _u(seed=2)
    k = 17
    u2 = u.clone()
    u2[..., k] += 3.0
    y, y2 = layer(u), layer(u2)
    torch.testing.assert_close(y2[..., :k], y[..., :k], rtol=0, atol=1e-12)  # the past is untouched
    assert (y2[..., k:] - y[..., k:]).abs().max() > 1e-3  # the present and future respond


def test_bidirectional_sees_the_future() -> None:
    layer = _layer(bidirectional=True)
    u = _u(seed=2)
    k = 17
    u2 = u.clone()
    u2[..., k] += 3.0
    y, y2 = layer(u), layer(u2)
    assert (y2[..., :k] - y[..., :k]).abs().max() > 1e-3
    # and the backward half alone is anti-causal: the recurrence on the reversed sequence
    dA, dB, C = layer.kernel_bwd.discretize()
    bwd = s4d_recurrence(u.flip(-1), dA=dA, dB=dB, C=C).flip(-1)
    dA, dB, C = layer.kernel_fwd.discretize()
    fwd = s4d_recurrence(u, dA=dA, dB=dB, C=C)
    torch.testing.assert_close(layer.ssm(u), fwd + bwd + layer.D[:, None] * u, rtol=0, atol=1e-10)


def test_kernel_cache_in_eval_matches_uncached() -> None:
    layer = _layer(bidirectional=True)
    u = _u()
    y_train = layer(u).detach()  # training mode: recomputed, nothing cached
    assert layer.kernel_fwd._cache is None
    layer.eval()
    with torch.no_grad():
        k1 = layer.kernel_fwd(40)
        k2 = layer.kernel_fwd(40)
        assert k1 is k2  # served from the cache
        torch.testing.assert_close(k1, layer.kernel_fwd._compute(40), rtol=0, atol=0)
        torch.testing.assert_close(layer(u), y_train, rtol=0, atol=1e-12)
        assert layer.kernel_fwd(20).shape == (4, 20)  # a new length is a new key
        # an in-place parameter update (what an optimiser does) invalidates the cache
        layer.kernel_fwd.log_dt.add_(0.3)
        k3 = layer.kernel_fwd(40)
        assert not torch.allclose(k3, k1)
        torch.testing.assert_close(k3, layer.kernel_fwd._compute(40), rtol=0, atol=0)
    # switching to training mode drops it
    layer.train()
    assert layer.kernel_fwd._cache is None and layer.kernel_bwd._cache is None


def test_eval_with_grad_enabled_does_not_cache_and_keeps_gradients() -> None:
    layer = _layer(bidirectional=True).eval()
    layer(_u()).sum().backward()
    assert layer.kernel_fwd._cache is None
    assert layer.kernel_fwd.log_dt.grad is not None


def test_gradient_reaches_every_parameter() -> None:
    layer = _layer(bidirectional=True, dtype=torch.float32)
    u = _u(dtype=torch.float32).requires_grad_()
    (layer(u) ** 2).mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert u.grad is not None and u.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_float32_and_float64(dtype: torch.dtype) -> None:
    reference = _layer(bidirectional=True, dtype=torch.float64)
    layer = _layer(bidirectional=True, dtype=dtype)  # same seed, same parameters
    u = _u(dtype=torch.float64)
    y = layer(u.to(dtype))
    assert y.dtype == dtype and y.shape == u.shape
    tol = 1e-4 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y.double(), reference(u), rtol=0, atol=tol)


def test_bfloat16_autocast_runs_the_ssm_in_float32() -> None:
    layer = _layer(bidirectional=True, dtype=torch.float32)
    u = _u(dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(u)
        assert layer.ssm(u.bfloat16()).dtype == torch.float32
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), layer(u), rtol=0, atol=0.1)


def test_param_groups_separate_ssm_parameters() -> None:
    model = torch.nn.Sequential(S4D(4, d_state=8), torch.nn.Conv1d(4, 4, 1), S4D(4, bidirectional=False))
    groups = param_groups(model, weight_decay=0.01, lr_ssm=1e-3)
    assert len(groups) == 2
    other, ssm = groups
    ssm_ids = {id(p) for p in ssm["params"]}
    expected = {id(p) for m in model.modules() if isinstance(m, S4DKernel) for p in m.ssm_parameters()}
    assert ssm_ids == expected and len(ssm_ids) == 3 * 3  # 2 + 1 kernels, 3 SSM tensors each
    assert ssm["weight_decay"] == 0.0 and ssm["lr"] == 1e-3
    assert other["weight_decay"] == 0.01 and "lr" not in other
    other_ids = {id(p) for p in other["params"]}
    assert not other_ids & ssm_ids
    assert other_ids | ssm_ids == {id(p) for p in model.parameters()}
    assert id(model[0].kernel_fwd.C) in other_ids  # C is an ordinary weight
    assert {id(p) for p in model[0].ssm_parameters()} <= ssm_ids
    optimizer = torch.optim.AdamW(groups, lr=1e-2)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-2, 1e-3]
    # no SSM in the model: a single group
    assert len(param_groups(torch.nn.Linear(2, 2), weight_decay=0.0)) == 1


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: S4DKernel(4, d_state=7), "d_state"),
        (lambda: S4DKernel(0), "d_model"),
        (lambda: S4DKernel(4, dt_min=0.2, dt_max=0.1), "dt_min"),
        (lambda: S4D(4, dropout=1.0), "dropout"),
        (lambda: S4D(4)(torch.zeros(2, 3, 10)), "H=4"),
        (lambda: param_groups(S4D(4), weight_decay=-1.0), "weight_decay"),
        (lambda: param_groups(S4D(4), weight_decay=0.0, lr_ssm=0.0), "lr_ssm"),
    ],
)
def test_bad_arguments_raise_value_error(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("length", [1, 2, 7, 16, 17, 300])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocked_kernel_equals_the_direct_formula(length: int, dtype: torch.dtype) -> None:
    torch.manual_seed(3)
    kernel = S4DKernel(6, d_state=16).to(dtype)
    direct, blocked = kernel._compute_direct(length), kernel._compute_blocked(length)
    assert blocked.shape == (6, length) and blocked.dtype == dtype
    tol = 2e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(blocked, direct, rtol=0, atol=tol)


def test_blocked_kernel_gradients_equal_the_direct_ones() -> None:
    torch.manual_seed(4)
    kernel = S4DKernel(3, d_state=8).double()
    weights = torch.randn(3, 50, dtype=torch.float64)
    grads = {}
    for method in ("direct", "blocked"):
        kernel.zero_grad()
        kernel.method = method
        (kernel(50) * weights).sum().backward()
        grads[method] = [p.grad.clone() for p in kernel.parameters()]
    for g_direct, g_blocked in zip(grads["direct"], grads["blocked"], strict=True):
        torch.testing.assert_close(g_blocked, g_direct, rtol=0, atol=1e-10)


def test_spectrum_cache_is_hit_in_eval_and_dropped_on_changes() -> None:
    layer = _layer(bidirectional=True, dtype=torch.float32)
    u = _u(dtype=torch.float32)
    reference = layer(u).detach()  # training mode: nothing cached
    assert layer._spectrum is None
    layer.eval()
    with torch.no_grad():
        first = layer(u)
        spectrum = layer._spectrum[4]
        second = layer(u)
        assert layer._spectrum[4] is spectrum  # the second call reused it
        torch.testing.assert_close(first, reference, rtol=0, atol=1e-6)
        torch.testing.assert_close(second, first, rtol=0, atol=0)
        layer.kernel_bwd.C.mul_(2.0)  # a parameter update: both caches must notice
        changed = layer(u)
        assert layer._spectrum[4] is not spectrum
        assert not torch.allclose(changed, first)
    layer.train()
    assert layer._spectrum is None
    with torch.no_grad():  # train mode without gradients: recomputed, same values as eval
        torch.testing.assert_close(layer(u), changed, rtol=0, atol=1e-6)


def test_configure_kernels_switches_method_and_cache() -> None:
    model = torch.nn.Sequential(S4D(4, d_state=8), S4D(4, d_state=8, bidirectional=False)).eval()
    u = _u(dtype=torch.float32)
    with torch.no_grad():
        fast = model(u)
        configure_kernels(model, method="direct", cache=False)
        kernels = [m for m in model.modules() if isinstance(m, S4DKernel)]
        assert all(k.method == "direct" and not k.cache and k._cache is None for k in kernels)
        slow = model(u)
        assert all(k._cache is None for k in kernels)  # nothing cached with cache=False
    torch.testing.assert_close(slow, fast, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        configure_kernels(model, method="fast")
    with pytest.raises(TypeError, match="cache"):
        configure_kernels(model, cache=1)

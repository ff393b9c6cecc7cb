import numpy as np
import pytest
import torch

from diffad_lib.samplers import ddim_step, ddpm_step, denoise, reconstruct, sample, timestep_sequence
from diffad_lib.schedule import NoiseSchedule

MU, SD = 0.5, 0.3


def gaussian_oracle(schedule):
    """The exact ε̂ = E[ε | x_t] for data x_0 ~ N(MU, SD²) (per coordinate)."""

    def eps_fn(x_t, t):
        ab = schedule.alphas_cumprod[t].reshape(-1, *([1] * (x_t.ndim - 1)))
        var = ab * SD**2 + (1 - ab)
        return (1 - ab).sqrt() * (x_t - ab.sqrt() * MU) / var

    return eps_fn


@pytest.mark.parametrize(
    ("method", "kwargs", "tol_var"),
    [("ddpm", {"variance": "posterior"}, 0.01), ("ddpm", {"variance": "beta"}, 0.02), ("ddim", {"steps": 100}, 0.01)],
)
def test_sampler_with_oracle_recovers_gaussian_data(method, kwargs, tol_var):
    s = NoiseSchedule(1000)
    g = torch.Generator().manual_seed(1)
    x = sample(gaussian_oracle(s), s, (20_000, 1, 1), generator=g, method=method, **kwargs)
    assert abs(float(x.mean()) - MU) < 0.01
    assert abs(float(x.var()) - SD**2) < tol_var


def test_ddim_eta0_is_deterministic_and_ddpm_is_not():
    s = NoiseSchedule(100)
    x0 = torch.randn(4, 1, 8, generator=torch.Generator().manual_seed(0))
    fn = gaussian_oracle(s)
    x_t = s.q_sample(x0, torch.full((4,), 49), torch.zeros_like(x0))
    a = denoise(fn, s, x_t, 49, method="ddim", steps=10, generator=torch.Generator().manual_seed(1))
    b = denoise(fn, s, x_t, 49, method="ddim", steps=10, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = denoise(fn, s, x_t, 49, method="ddpm", generator=torch.Generator().manual_seed(1))
    d = denoise(fn, s, x_t, 49, method="ddpm", generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(c, d)
    e = denoise(fn, s, x_t, 49, method="ddpm", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(c, e, rtol=0, atol=0)  # same seed, same result


def test_reconstruct_t0_zero_returns_input():
    s = NoiseSchedule(50)
    x0 = torch.randn(3, 2, 5)
    out = reconstruct(gaussian_oracle(s), s, x0, t0=0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x0, rtol=0, atol=0)
    assert out is not x0


def test_reconstruct_with_perfect_denoiser_is_close_for_small_t0():
    """A denoiser that knows the true noise undoes q_sample exactly with DDIM (η = 0)."""
    s = NoiseSchedule(100)
    x0 = torch.randn(4, 1, 16, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))

    def true_eps(x_t, t):
        ab = s.alphas_cumprod[t].reshape(-1, 1, 1)
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    out = reconstruct(true_eps, s, x0, t0=30, generator=g, method="ddim", steps=5)
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=1e-4)
    assert noise.shape == x0.shape


def test_ddpm_step_matches_algorithm_2_by_hand():
    s = NoiseSchedule(10, beta_start=0.01, beta_end=0.1)
    x_t = torch.tensor([[[1.0, -2.0]]])
    eps = torch.tensor([[[0.5, 0.25]]])
    t = 4
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    out = ddpm_step(s, x_t, eps, t, generator=g1)
    beta, alpha, ab = (float(v[t]) for v in (s.betas, s.alphas, s.alphas_cumprod))
    z = torch.randn(x_t.shape, generator=g2)
    expected = (x_t - beta / np.sqrt(1 - ab) * eps) / np.sqrt(alpha) + np.sqrt(beta) * z
    torch.testing.assert_close(out, expected)
    # no noise is added at the last step
    b0, a0, ab0 = float(s.betas[0]), float(s.alphas[0]), float(s.alphas_cumprod[0])
    last = ddpm_step(s, x_t, eps, 0, generator=g1)
    torch.testing.assert_close(last, (x_t - b0 / np.sqrt(1 - ab0) * eps) / np.sqrt(a0))


def test_ddim_step_to_zero_returns_predicted_x0():
    s = NoiseSchedule(20)
    x_t, eps = torch.randn(2, 1, 4), torch.randn(2, 1, 4)
    out = ddim_step(s, x_t, eps, 5, -1)
    torch.testing.assert_close(out, s.predict_start_from_noise(x_t, torch.full((2,), 5), eps))


def test_trajectory_snapshots_and_sequence():
    s = NoiseSchedule(30)
    x, snaps = denoise(gaussian_oracle(s), s, torch.randn(2, 1, 3), 29, trajectory=[29, 15, -1],
                       generator=torch.Generator().manual_seed(0))
    assert set(snaps) == {29, 15, -1}
    torch.testing.assert_close(snaps[-1], x)
    seq = timestep_sequence(99, 10)
    assert seq[0] == 99 and seq[-1] == 0 and len(seq) == 10 and seq == sorted(seq, reverse=True)


def test_bad_arguments():
    s = NoiseSchedule(10)
    fn = gaussian_oracle(s)
    with pytest.raises(ValueError, match="method"):
        denoise(fn, s, torch.zeros(1, 1, 2), 5, method="euler")
    with pytest.raises(ValueError, match="ddim"):
        denoise(fn, s, torch.zeros(1, 1, 2), 5, method="ddpm", steps=2)
    with pytest.raises(ValueError, match="t0"):
        reconstruct(fn, s, torch.zeros(1, 1, 2), t0=11)


def test_clip_bounds_the_predicted_x0_not_the_state():
    """With clip, a DDIM step to x_0 returns the clipped prediction; an unclipped one exceeds it."""
    s = NoiseSchedule(50)

    def wild(x_t, t):  # predicts noise that implies |x̂_0| >> 1
        return -50 * torch.ones_like(x_t)

    x_t = torch.zeros(2, 1, 4)
    free = denoise(wild, s, x_t, 10, method="ddim", steps=1)
    clipped = denoise(wild, s, x_t, 10, method="ddim", steps=1, clip=1.0)
    assert float(free.abs().max()) > 1.0
    torch.testing.assert_close(clipped, torch.ones_like(clipped))
    # intermediate states keep their noise scale: x_T is not clipped
    g = torch.Generator().manual_seed(0)
    x = sample(gaussian_oracle(s), s, (1000, 1, 1), generator=g, clip=3.0, trajectory=[49])[1][49]
    assert float(x.abs().max()) > 2.0


def test_reconstruct_computes_each_s4_kernel_once_and_matches_the_uncached_path(monkeypatch):
    from diffad_lib.models import build_model
    from diffad_lib.models.s4d import S4DKernel, configure_kernels

    torch.manual_seed(0)
    model = build_model("diffwave", in_channels=2, residual_channels=4, n_layers=2, s4_state=4,
                        diffusion_embed_dim=8, diffusion_hidden_dim=8).eval()
    with torch.no_grad():
        model.output_projection.weight.normal_(0, 0.3)  # a non-zero head, so outputs differ by input
    n_kernels = sum(isinstance(m, S4DKernel) for m in model.modules())
    calls = []
    original = S4DKernel._compute
    monkeypatch.setattr(S4DKernel, "_compute", lambda self, length: calls.append(length) or original(self, length))
    schedule = NoiseSchedule(50)
    x0 = torch.randn(3, 2, 24, generator=torch.Generator().manual_seed(1))
    cached = reconstruct(model, schedule, x0, t0=10, generator=torch.Generator().manual_seed(2))
    assert len(calls) == n_kernels  # ten denoising steps, one kernel computation each
    calls.clear()
    configure_kernels(model, method="direct", cache=False)
    uncached = reconstruct(model, schedule, x0, t0=10, generator=torch.Generator().manual_seed(2))
    assert len(calls) == 10 * n_kernels
    torch.testing.assert_close(cached, uncached, rtol=0, atol=1e-5)

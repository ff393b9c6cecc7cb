import numpy as np
import pytest
import torch

from diffad_lib.schedule import NoiseSchedule, cosine_betas, linear_betas


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alphas_cumprod_strictly_decreasing_in_unit_interval(kind):
    s = NoiseSchedule(1000, kind=kind)
    ab = s.alphas_cumprod.double()
    assert ab.dtype == torch.float64
    assert torch.all(ab > 0) and torch.all(ab < 1)
    assert torch.all(ab[1:] < ab[:-1])


def test_buffers_are_float32_and_match_float64_products():
    s = NoiseSchedule(200, kind="linear", beta_start=1e-4, beta_end=0.02)
    assert s.alphas_cumprod.dtype == torch.float32
    ref = np.cumprod(1 - np.linspace(1e-4, 0.02, 200))
    np.testing.assert_allclose(s.alphas_cumprod.numpy(), ref, rtol=1e-6)
    # DiffADT's schedule: after 200 steps a noticeable fraction of the signal remains
    assert 0.1 < float(s.alphas_cumprod[-1]) < 0.2


def test_cosine_schedule_matches_closed_form():
    T = 100
    betas = cosine_betas(T)
    ab = torch.cumprod(1 - betas, 0)
    t = torch.arange(1, T + 1, dtype=torch.float64) / T
    f = torch.cos((t + 0.008) / 1.008 * torch.pi / 2) ** 2 / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(ab[:-5].numpy(), f[:-5].numpy(), rtol=1e-10)  # the tail is clipped at 0.999


def test_q_sample_matches_iterated_forward_process():
    """q(x_t | x_0) in closed form equals iterating x_t = √(1-β_t) x_{t-1} + √β_t z (Monte Carlo)."""
    s = NoiseSchedule(50, kind="linear", beta_start=1e-3, beta_end=0.05)
    n, k = 200_000, 30
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((n,), 0.7, dtype=torch.float64)
    x = x0.clone()
    betas = s.betas.double()
    for t in range(k + 1):
        x = (1 - betas[t]).sqrt() * x + betas[t].sqrt() * torch.randn(n, generator=g, dtype=torch.float64)
    closed = s.q_sample(x0.float(), torch.full((n,), k), torch.randn(n, generator=g)).double()
    ab = float(s.alphas_cumprod[k])
    # the standard error of a mean over 2e5 unit-variance draws is ~0.0022: tolerance 0.01
    for sample in (x, closed):
        assert abs(float(sample.mean()) - np.sqrt(ab) * 0.7) < 0.01
        assert abs(float(sample.var()) - (1 - ab)) < 0.01


def test_predict_start_from_noise_inverts_q_sample():
    s = NoiseSchedule(100)
    x0 = torch.randn(8, 2, 16)
    eps = torch.randn_like(x0)
    t = torch.randint(0, 100, (8,))
    x_t = s.q_sample(x0, t, eps)
    torch.testing.assert_close(s.predict_start_from_noise(x_t, t, eps), x0, atol=1e-4, rtol=1e-4)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="kind"):
        NoiseSchedule(10, kind="quadratic")
    with pytest.raises(ValueError, match="n_steps"):
        NoiseSchedule(0)
    with pytest.raises(ValueError, match="beta_start"):
        linear_betas(10, beta_start=0.1, beta_end=0.01)
    s = NoiseSchedule(10)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 9\]"):
        s.q_sample(torch.zeros(2, 3), torch.tensor([0, 10]), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="integer"):
        s.q_sample(torch.zeros(2, 3), torch.tensor([0.0, 1.0]), torch.zeros(2, 3))

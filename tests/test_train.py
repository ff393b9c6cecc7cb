import numpy as np
import pytest
import torch

from diffad_lib.models import MLPConfig, MLPDenoiser, build_model
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.train import TrainConfig, diffusion_loss, load_checkpoint, lr_factor, train_diffusion


def sine_windows(n=64, length=16, seed=0):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(length)
    return torch.tensor(np.sin(2 * np.pi * t / length + phase[:, None])[:, None, :], dtype=torch.float32)


def small_model(length=16):
    torch.manual_seed(0)
    return MLPDenoiser(MLPConfig(window=length, hidden=64, n_layers=2, time_dim=16))


def test_lr_factor_warms_up_to_peak_then_decays():
    total = 100
    f = [lr_factor(s, total, schedule="warmup_cosine", warmup_frac=0.25) for s in range(total)]
    assert int(np.argmax(f)) == 24 and f[24] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(f[:24], f[1:25], strict=True))
    assert all(a >= b for a, b in zip(f[24:-1], f[25:], strict=True))
    assert f[-1] < 0.01
    lin = [lr_factor(s, total, schedule="warmup_linear", warmup_frac=0.5) for s in range(total)]
    assert int(np.argmax(lin)) == 49
    assert lr_factor(3, total, schedule="constant", warmup_frac=0.25) == 1.0


def test_training_reduces_loss_and_records_history():
    x = sine_windows()
    model = small_model()
    cfg = TrainConfig(epochs=60, batch_size=16, lr=3e-3, warmup_frac=0.1, progress=False)
    res = train_diffusion(model, NoiseSchedule(50), x, config=cfg)
    assert len(res.losses) == 60 and len(res.lrs) == 60
    assert np.mean(res.losses[-5:]) < 0.5 * np.mean(res.losses[:3])
    assert not res.model.training


def test_training_is_seeded():
    x = sine_windows()
    cfg = TrainConfig(epochs=3, batch_size=16, progress=False)
    a = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)
    b = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)
    assert a.losses == b.losses


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    x = sine_windows()
    cfg = TrainConfig(epochs=6, batch_size=16, progress=False, ema_decay=0.9)
    straight = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)

    ckpt = tmp_path / "run.pt"
    cfg_ck = TrainConfig(epochs=6, batch_size=16, progress=False, ema_decay=0.9, checkpoint=str(ckpt),
                         checkpoint_every=1, resume=True)

    class Interrupt(Exception):
        pass

    def stop_at_3(epoch, _model):
        if epoch == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg_ck, callback=stop_at_3)
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2  # the interrupt came before epoch 3's checkpoint
    resumed = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg_ck)
    assert resumed.epochs_run == 4
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-6)
    for p, q in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_ema_model_differs_from_raw_model():
    res = train_diffusion(small_model(), NoiseSchedule(50), sine_windows(),
                          config=TrainConfig(epochs=3, batch_size=16, ema_decay=0.99, progress=False))
    assert res.raw_model is not None
    diff = sum(float((p - q).detach().abs().sum()) for p, q in zip(res.model.parameters(), res.raw_model.parameters(),
                                                          strict=True))
    assert diff > 0


def test_diffusion_loss_of_zero_predictor_is_noise_variance():
    class Zero(torch.nn.Module):
        def forward(self, x_t, t):
            return torch.zeros_like(x_t)

    x0 = torch.randn(4000, 1, 8)
    loss = diffusion_loss(Zero(), NoiseSchedule(100), x0, generator=torch.Generator().manual_seed(0))
    assert float(loss) == pytest.approx(1.0, abs=0.02)


def test_bad_inputs_and_config():
    with pytest.raises(ValueError, match="NaN"):
        x = sine_windows()
        x[0, 0, 0] = float("nan")
        train_diffusion(small_model(), NoiseSchedule(10), x, config=TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="warmup_frac"):
        TrainConfig(warmup_frac=1.5)
    with pytest.raises(ValueError, match="condition 'cond'"):
        train_diffusion(small_model(), NoiseSchedule(10), sine_windows(), config=TrainConfig(epochs=1),
                        conditions={"cond": torch.zeros(3, 1, 16)})


def test_mlp_contract_and_build_model_errors():
    m = build_model("mlp", window=16, hidden=32)
    out = m(torch.randn(5, 1, 16), torch.randint(0, 10, (5,)))
    assert out.shape == (5, 1, 16)
    assert torch.count_nonzero(out) == 0  # zero-initialised output layer
    with pytest.raises(ValueError, match="x_t must be"):
        m(torch.randn(5, 1, 8), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['widht'\].*valid parameters"):
        build_model("mlp", widht=3)
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("transformer")


def test_custom_loss_fn_is_used_by_the_one_loop():
    calls = []

    def doubled(model, schedule, x0, *, generator=None, model_kwargs=None):
        calls.append(x0.shape[0])
        return 2 * diffusion_loss(model, schedule, x0, generator=generator, model_kwargs=model_kwargs)

    cfg = TrainConfig(epochs=2, batch_size=16, progress=False)
    base = train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=cfg)
    twice = train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=cfg, loss_fn=doubled)
    assert sum(calls) == 2 * 64
    assert twice.losses[0] == pytest.approx(2 * base.losses[0], rel=1e-5)

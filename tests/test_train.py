import os
import re

import numpy as np
import pytest
import torch

from diffad_lib.models import MLPConfig, MLPDenoiser, build_model
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.train import (
    CheckpointError,
    TrainConfig,
    diffusion_loss,
    load_checkpoint,
    lr_factor,
    save_checkpoint,
    seeded_init,
    train_diffusion,
)


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


# --------------------------------------------------------------------------------------------
# Step budget, validation, best weights, early stopping
# --------------------------------------------------------------------------------------------


def shifted_val(n=16):
    """Held-out windows from another distribution: the validation loss rises as the model fits x."""
    return sine_windows(n=n, seed=1) * 4 + 2


def test_step_budget_min_steps_and_max_steps():
    x = sine_windows()  # 64 windows, batch 16: 4 steps per epoch
    cfg = TrainConfig(epochs=2, min_steps=10, batch_size=16, lr=2e-3, progress=False)
    res = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)
    assert res.total_steps == 10 and res.steps_run == 10 and len(res.step_losses) == 10
    assert len(res.losses) == 3 and res.epochs_run == 3  # two full epochs and a partial third
    expected = [2e-3 * lr_factor(s, 10, schedule="warmup_cosine", warmup_frac=0.25) for s in range(10)]
    assert res.step_lrs == pytest.approx(expected)
    assert res.lrs[-1] == res.step_lrs[-1]
    capped = train_diffusion(small_model(), NoiseSchedule(50), x,
                             config=TrainConfig(epochs=50, min_steps=100, max_steps=6, batch_size=16, progress=False))
    assert capped.total_steps == 6 and len(capped.step_losses) == 6 and len(capped.losses) == 2


def test_validation_uses_the_same_draws_at_every_evaluation():
    class Zero(torch.nn.Module):  # predicts 0 whatever its weight: its validation loss cannot change
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x_t, t):
            return torch.zeros_like(x_t) * self.w

    cfg = TrainConfig(max_steps=12, batch_size=16, eval_every=3, progress=False)
    res = train_diffusion(Zero(), NoiseSchedule(50), sine_windows(), config=cfg, val_data=shifted_val())
    assert res.val_steps == [3, 6, 9, 12]
    assert len(set(res.val_losses)) == 1  # fresh draws would differ at every evaluation
    assert res.val_losses[0] == pytest.approx(1.0, abs=0.2)  # E‖ε‖² per element with a zero predictor


def test_best_ema_weights_are_kept_and_early_stopping_stops():
    x, val = sine_windows(), shifted_val()
    base = dict(max_steps=40, batch_size=16, lr=3e-3, lr_schedule="constant", eval_every=4, ema_decay=0.5,
                progress=False)
    snapshots = {}

    def record(epoch, model):  # eval_every = steps per epoch: an epoch end is an evaluation
        snapshots[4 * epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    res = train_diffusion(small_model(), NoiseSchedule(50), x, config=TrainConfig(**base), val_data=val,
                          callback=record)
    assert res.best_step < res.steps_done == 40 and not res.stopped_early
    assert res.best_val_loss == min(res.val_losses) == res.val_losses[res.val_steps.index(res.best_step)]
    for k, v in res.model.state_dict().items():
        torch.testing.assert_close(v, snapshots[res.best_step][k], rtol=0, atol=0)
    assert res.raw_model is not None  # the EMA model is what is kept; the raw one ends at the last step

    last = train_diffusion(small_model(), NoiseSchedule(50), x, config=TrainConfig(**base, restore_best=False),
                           val_data=val)
    assert any(not torch.equal(v, snapshots[40][k]) for k, v in res.model.state_dict().items())
    for k, v in last.model.state_dict().items():
        torch.testing.assert_close(v, snapshots[40][k], rtol=0, atol=0)

    stop = train_diffusion(small_model(), NoiseSchedule(50), x, config=TrainConfig(**base, patience=2), val_data=val)
    assert stop.stopped_early and stop.steps_done < 40
    assert stop.val_steps[-1] == stop.best_step + 2 * 4  # two evaluations without improvement
    assert stop.val_losses == res.val_losses[: len(stop.val_losses)]


def test_validation_arguments_are_checked():
    x = sine_windows()
    with pytest.raises(ValueError, match="patience=3 needs val_data"):
        train_diffusion(small_model(), NoiseSchedule(10), x, config=TrainConfig(epochs=1, patience=3, progress=False))
    with pytest.raises(ValueError, match=r"val_data windows must have the shape of x's, \(1, 16\); got \(1, 8\)"):
        train_diffusion(small_model(), NoiseSchedule(10), x, config=TrainConfig(epochs=1, progress=False),
                        val_data=torch.zeros(4, 1, 8))
    with pytest.raises(ValueError, match="val_conditions must name the same conditions"):
        train_diffusion(small_model(), NoiseSchedule(10), x, config=TrainConfig(epochs=1, progress=False),
                        conditions={"cond": torch.zeros(64, 1, 16)}, val_data=x[:4])
    with pytest.raises(TypeError, match="epochs must be an int; got float 2.5"):
        TrainConfig(epochs=2.5)
    with pytest.raises(ValueError, match="max_steps must be >= 1; got 0"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="distributed=True needs an initialised"):
        train_diffusion(small_model(), NoiseSchedule(10), x, config=TrainConfig(epochs=1, distributed=True))


def test_a_loss_that_takes_t_and_noise_gets_the_loops_draws():
    seen = []

    def recording(model, schedule, x0, *, generator=None, model_kwargs=None, t=None, noise=None):
        seen.append((t.clone(), noise.clone()))
        return diffusion_loss(model, schedule, x0, generator=generator, model_kwargs=model_kwargs, t=t, noise=noise)

    def draws_itself(model, schedule, x0, *, generator=None, model_kwargs=None):
        return diffusion_loss(model, schedule, x0, generator=generator, model_kwargs=model_kwargs)

    cfg = TrainConfig(max_steps=3, batch_size=16, progress=False)
    a = train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=cfg, loss_fn=recording)
    b = train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=cfg, loss_fn=draws_itself)
    assert len(seen) == 3 and seen[0][0].shape == (16,) and seen[0][1].shape == (16, 1, 16)
    assert len({tuple(t.tolist()) for t, _ in seen}) == 3  # fresh draws at every step
    # the loop draws t then ε from the run's generator exactly as a loss drawing for itself would
    assert a.step_losses == b.step_losses


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


def test_same_seed_same_weights_and_global_rng_untouched():
    def dropout_model():
        return seeded_init(lambda: MLPDenoiser(MLPConfig(window=16, hidden=32, n_layers=2, time_dim=8, dropout=0.2)),
                           seed=3)

    cfg = TrainConfig(max_steps=8, batch_size=16, progress=False)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = train_diffusion(dropout_model(), NoiseSchedule(50), sine_windows(), config=cfg)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)  # another global state: must not matter
    b = train_diffusion(dropout_model(), NoiseSchedule(50), sine_windows(), config=cfg)
    c = train_diffusion(dropout_model(), NoiseSchedule(50), sine_windows(),
                        config=TrainConfig(max_steps=8, batch_size=16, progress=False, seed=1))
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, r) for p, r in zip(a.model.parameters(), c.model.parameters(), strict=True))


def test_seeded_init_is_reproducible_without_global_state():
    before = torch.random.get_rng_state()
    a = seeded_init(small_model_unseeded, seed=5)
    b = seeded_init(small_model_unseeded, seed=5)
    c = seeded_init(small_model_unseeded, seed=6)
    assert torch.equal(torch.random.get_rng_state(), before)
    first = next(iter(a.parameters()))
    assert torch.equal(first, next(iter(b.parameters()))) and not torch.equal(first, next(iter(c.parameters())))
    with pytest.raises(TypeError, match="factory must return an nn.Module"):
        seeded_init(lambda: 3, seed=0)


def small_model_unseeded():
    return MLPDenoiser(MLPConfig(window=16, hidden=32, n_layers=2, time_dim=8))


# --------------------------------------------------------------------------------------------
# Checkpoints that can be trusted
# --------------------------------------------------------------------------------------------


class Interrupt(Exception):
    pass


def _kill_at(epoch_to_stop):
    def callback(epoch, _model):
        if epoch == epoch_to_stop:
            raise Interrupt

    return callback


def test_kill_and_resume_with_validation_equals_straight_run(tmp_path):
    x, val = sine_windows(), shifted_val()
    base = dict(max_steps=22, batch_size=16, lr=3e-3, ema_decay=0.8, eval_every=3, progress=False)
    straight = train_diffusion(small_model(), NoiseSchedule(50), x, config=TrainConfig(**base), val_data=val)
    cfg = TrainConfig(**base, checkpoint=str(tmp_path / "ck" / "run.pt"), checkpoint_every=1, resume=True)
    with pytest.raises(Interrupt):
        train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg, val_data=val, callback=_kill_at(4))
    assert load_checkpoint(tmp_path / "ck" / "run.pt")["step"] == 12
    resumed = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg, val_data=val)
    assert resumed.steps_run == 10 and resumed.steps_done == 22
    assert resumed.step_losses == straight.step_losses and resumed.val_losses == straight.val_losses
    assert resumed.step_lrs == straight.step_lrs and resumed.best_step == straight.best_step
    for p, q in zip(resumed.model.state_dict().values(), straight.model.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    again = train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg, val_data=val)  # finished: no steps
    assert again.steps_run == 0 and again.epochs_run == 0
    for p, q in zip(again.model.state_dict().values(), straight.model.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def _checkpointed(tmp_path, **overrides):
    settings = dict(epochs=2, batch_size=16, progress=False, checkpoint=str(tmp_path / "run.pt"), resume=True)
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": 2e-3}, r"setting 'lr' was 0.001 there and is 0.002 now"),
        ({"batch_size": 8}, r"setting 'batch_size' was 16 there and is 8 now"),
        ({"seed": 1}, r"setting 'seed' was 0 there and is 1 now"),
        ({"epochs": 4}, r"setting 'total_steps' was 8 there and is 16 now \(it sets the learning-rate schedule"),
    ],
)
def test_resume_refuses_other_settings(tmp_path, change, message):
    x = sine_windows()
    train_diffusion(small_model(), NoiseSchedule(50), x, config=_checkpointed(tmp_path))
    with pytest.raises(ValueError, match=message):
        train_diffusion(small_model(), NoiseSchedule(50), x, config=_checkpointed(tmp_path, **change))


def test_resume_refuses_other_data(tmp_path):
    train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=_checkpointed(tmp_path))
    with pytest.raises(ValueError, match=r"run.pt: data 'x' was 'shape=\(64, 1, 16\) dtype=float32 sha256="):
        train_diffusion(small_model(), NoiseSchedule(50), sine_windows(seed=7), config=_checkpointed(tmp_path))
    with pytest.raises(ValueError, match="data 'val_data' was None there"):
        train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=_checkpointed(tmp_path),
                        val_data=shifted_val())


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped", "foreign"])
def test_damaged_checkpoints_are_refused_naming_the_file(tmp_path, damage):
    x = sine_windows()
    cfg = _checkpointed(tmp_path)
    train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)
    path = tmp_path / "run.pt"
    data = bytearray(path.read_bytes())
    if damage == "empty":
        data = bytearray()
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped":
        data[len(data) // 2] ^= 0xFF  # inside the stored payload
    if damage == "foreign":
        torch.save({"model": small_model().state_dict()}, path)
    else:
        path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        train_diffusion(small_model(), NoiseSchedule(50), x, config=cfg)


def test_checkpoint_directory_is_checked_before_training(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    calls = []
    cfg = TrainConfig(epochs=2, batch_size=16, progress=False, checkpoint=str(tmp_path / "file" / "run.pt"))
    with pytest.raises(OSError, match="cannot write checkpoint .*file/run.pt"):
        train_diffusion(small_model(), NoiseSchedule(50), sine_windows(), config=cfg,
                        callback=lambda epoch, model: calls.append(epoch))
    assert calls == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_read_only_checkpoint_directory_fails_fast(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OSError, match="is not writable"):
            train_diffusion(small_model(), NoiseSchedule(50), sine_windows(),
                            config=TrainConfig(epochs=1, progress=False, checkpoint=str(ro / "run.pt")))
    finally:
        ro.chmod(0o700)


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"step": 1})

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match=f"cannot write checkpoint {re.escape(str(path))}"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left behind
    outer = torch.load(path, weights_only=True)  # the file itself is a plain weights-only archive
    assert outer["format"] == "diffad-train-checkpoint"
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_mask_makes_the_diffusion_loss_average_the_observed_entries_only():
    from diffad_lib.schedule import NoiseSchedule
    from diffad_lib.train import diffusion_loss

    sched = NoiseSchedule(20)

    def model(x_t, t):  # a fixed "denoiser" that would fail on an unexpected keyword (the mask)
        return 0.5 * x_t

    x0 = torch.randn(4, 2, 8)
    t = torch.tensor([0, 5, 10, 19])
    noise = torch.randn_like(x0)
    full = diffusion_loss(model, sched, x0, t=t, noise=noise)
    ones = diffusion_loss(model, sched, x0, model_kwargs={"mask": torch.ones_like(x0)}, t=t, noise=noise)
    assert float(ones) == pytest.approx(float(full))
    mask = (torch.rand_like(x0) > 0.3).float()
    se = (model(sched.q_sample(x0, t, noise), t) - noise) ** 2
    expected = float((se * mask).sum() / mask.sum())
    got = diffusion_loss(model, sched, x0, model_kwargs={"mask": mask}, t=t, noise=noise)
    assert float(got) == pytest.approx(expected) and float(got) != pytest.approx(float(full))


def test_diffusion_loss_with_context_keeps_the_past_clean_and_out_of_the_loss():
    seen = []

    class Spy(torch.nn.Module):  # ε̂ = 0 on the steps to denoise, 100 on the context (ignored by the loss)
        def forward(self, x_t, t):
            seen.append(x_t)
            out = torch.zeros_like(x_t)
            out[..., :3] = 100.0
            return out

    x0 = torch.randn(500, 2, 10)
    noise = torch.randn(500, 2, 10)
    t = torch.full((500,), 60)
    loss = diffusion_loss(Spy(), NoiseSchedule(100), x0, t=t, noise=noise, context=3)
    assert torch.equal(seen[0][..., :3], x0[..., :3])  # the past is given clean
    assert not torch.allclose(seen[0][..., 3:], x0[..., 3:])  # the rest is noised
    assert float(loss) == pytest.approx(float((noise[..., 3:] ** 2).mean()), rel=1e-6)
    for bad in (10, 12):
        with pytest.raises(ValueError, match="context"):
            diffusion_loss(Spy(), NoiseSchedule(100), x0, context=bad)

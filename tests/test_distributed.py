"""Two CPU processes on the gloo backend train the same weights as one process with the same global batch."""

import numpy as np
import pytest
import torch

from diffad_lib.distributed import TrainJob, main, run_job, spawn_local
from diffad_lib.train import TrainConfig, shard_batch


def windows(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(16)
    return np.sin(2 * np.pi * t / 16 + rng.uniform(0, 2 * np.pi, (n, 1, 1))).astype(np.float32)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed support")
def test_two_gloo_processes_match_one_process(tmp_path):
    np.save(tmp_path / "x.npy", windows(30, 0))
    np.save(tmp_path / "val.npy", windows(8, 1))
    # batch 7 over 30 windows: global batches of 7 (split 4 + 3) and a last one of 2 (1 + 1)
    config = TrainConfig(max_steps=12, batch_size=7, lr=3e-3, ema_decay=0.9, eval_every=4, progress=False,
                         device="cpu", checkpoint=str(tmp_path / "ddp.pt"))
    job = TrainJob(data=str(tmp_path / "x.npy"), model="mlp", model_params={"window": 16, "hidden": 32,
                   "n_layers": 2, "time_dim": 8}, n_steps=50, config=config, init_seed=3,
                   output=str(tmp_path / "ddp_model.pt"), val_data=str(tmp_path / "val.npy"))
    spawn_local(job, nproc=2, backend="gloo")
    single = run_job(TrainJob(**{**job.__dict__, "output": None,
                                 "config": TrainConfig(**{**config.__dict__, "checkpoint": None})}))
    ddp = torch.load(tmp_path / "ddp_model.pt", weights_only=True)
    assert len(ddp["step_losses"]) == 12 and (tmp_path / "ddp.pt").exists()
    np.testing.assert_allclose(ddp["step_losses"], single.step_losses, rtol=1e-5)
    np.testing.assert_allclose(ddp["val_losses"], single.val_losses, rtol=1e-5)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp["model"][name], value, rtol=1e-4, atol=1e-5)


def test_command_line_single_process(tmp_path):
    np.save(tmp_path / "x.npy", windows(20, 0))
    out = tmp_path / "m.pt"
    assert main(["--data", str(tmp_path / "x.npy"), "--model-param", "window=16", "--model-param", "hidden=16",
                 "--max-steps", "3", "--batch-size", "8", "--progress", "false", "--device", "cpu",
                 "--output", str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert len(saved["step_losses"]) == 3
    with pytest.raises(ValueError, match="--model-param must look like name=value; got 'window'"):
        main(["--data", str(tmp_path / "x.npy"), "--model-param", "window"])


@pytest.mark.parametrize(("batch", "world"), [(7, 2), (8, 4), (2, 3)])
def test_shards_partition_the_global_batch_and_weights_give_its_mean(batch, world):
    shards = [shard_batch(batch, rank=r, world_size=world) for r in range(world)]
    kept = [pos for pos, weight in shards if weight > 0]
    assert sorted(torch.cat(kept).tolist()) == list(range(batch))
    # per-window losses l: DDP's average over ranks of weight_r * mean(l[shard_r]) is mean(l)
    losses = torch.arange(batch, dtype=torch.float64) ** 2
    ddp_mean = sum(weight * float(losses[pos].mean()) for pos, weight in shards) / world
    assert ddp_mean == pytest.approx(float(losses.mean()))

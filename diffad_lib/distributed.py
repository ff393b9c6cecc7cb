"""Train a denoiser on several processes: under ``torchrun`` or started here on one machine.

:func:`diffad_lib.train.train_diffusion` switches to DistributedDataParallel by itself when
``torch.distributed`` is initialised; this module sets that up and offers a command line::

    # one machine, 4 GPUs (or 4 CPU processes with gloo when no GPU is present)
    torchrun --nproc_per_node 4 -m diffad_lib.distributed --data windows.npy --model mlp \\
        --model-param window=64 --epochs 50 --batch-size 64 --output model.pt

    # the same without torchrun: the processes are spawned here
    python -m diffad_lib.distributed --nproc 2 --data windows.npy --model mlp --model-param window=64 ...

``--data`` is a ``.npy`` array of training windows (N, C, L); ``--batch-size`` is the global batch,
split across the processes, so the trained weights match a one-process run with the same batch
(up to floating-point summation order). Rank 0 writes ``--output`` (a ``torch.save`` dict with
``model`` state and the loss curves) and any ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from diffad_lib.models import build_model
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.train import TrainConfig, TrainResult, seeded_init, train_diffusion


@dataclass(frozen=True)
class TrainJob:
    """Everything one process needs to train: data file, model, schedule, config, output file."""

    data: str  # .npy file of training windows (N, C, L)
    model: str = "mlp"  # a name for diffad_lib.models.build_model
    model_params: Mapping[str, Any] = field(default_factory=dict)  # its keyword arguments
    n_steps: int = 100  # diffusion steps T of the noise schedule
    config: TrainConfig = field(default_factory=TrainConfig)
    init_seed: int = 0  # seed of the weight initialisation (seeded_init)
    output: str | None = None  # where rank 0 saves the trained weights and curves
    val_data: str | None = None  # optional .npy of held-out normal windows (M, C, L)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_from_env(*, backend: str | None = None) -> tuple[int, int]:
    """Initialise the process group from torchrun's environment; return (rank, world_size).

    The backend defaults to NCCL with CUDA and gloo without; each process uses the GPU
    ``LOCAL_RANK``. Without torchrun's variables nothing is initialised and (0, 1) is returned.
    """
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group(backend=backend or ("nccl" if torch.cuda.is_available() else "gloo"))
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def _load_windows(path: str, *, name: str) -> torch.Tensor:
    arr = np.load(path, allow_pickle=False)
    if arr.ndim < 3:
        raise ValueError(f"{name} {path} must hold windows (N, C, L); got shape {arr.shape}")
    return torch.as_tensor(arr, dtype=torch.float32)


def run_job(job: TrainJob) -> TrainResult:
    """Train ``job`` in this process (one rank when a process group is initialised)."""
    x = _load_windows(job.data, name="data")
    val = _load_windows(job.val_data, name="val_data") if job.val_data else None
    model = seeded_init(lambda: build_model(job.model, **dict(job.model_params)), seed=job.init_seed)
    result = train_diffusion(model, NoiseSchedule(job.n_steps), x, config=job.config, val_data=val)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if job.output and rank == 0:
        out = Path(job.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        torch.save({"model": result.model.state_dict(), "losses": result.losses, "step_losses": result.step_losses,
                    "step_lrs": result.step_lrs, "val_losses": result.val_losses, "val_steps": result.val_steps},
                   tmp)
        os.replace(tmp, out)
    return result


def _worker(rank: int, world_size: int, port: int, job: TrainJob, backend: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)  # one thread per process: the processes share the cores
    if backend == "nccl":
        torch.cuda.set_device(rank)
    torch.distributed.init_process_group(backend=backend, rank=rank, world_size=world_size)
    try:
        run_job(job)
    finally:
        torch.distributed.destroy_process_group()


def spawn_local(job: TrainJob, *, nproc: int, backend: str | None = None) -> None:
    """Train ``job`` on ``nproc`` processes of this machine (gloo on CPU, NCCL with enough GPUs)."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an int >= 1; got {nproc!r}")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= nproc else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl'; got {backend!r}")
    torch.multiprocessing.spawn(_worker, args=(nproc, free_port(), job, backend), nprocs=nproc, join=True)


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--model-param must look like name=value; got {item!r}")
        params[key] = yaml.safe_load(value)
    return params


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m diffad_lib.distributed", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help=".npy file of training windows (N, C, L)")
    p.add_argument("--val-data", help=".npy file of held-out normal windows (M, C, L)")
    p.add_argument("--model", default="mlp", help="model name for build_model")
    p.add_argument("--model-param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--n-steps", type=int, default=100, help="diffusion steps T")
    p.add_argument("--init-seed", type=int, default=0)
    p.add_argument("--output", help="where rank 0 saves the trained weights and curves")
    p.add_argument("--nproc", type=int, default=1, help="processes to spawn here (ignored under torchrun)")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool) or f.name == "distributed":
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, metavar="BOOL")
        elif f.name in ("grad_clip", "ema_decay"):
            p.add_argument(flag, type=float, default=value)
        elif f.name in ("max_steps", "eval_every", "patience"):
            p.add_argument(flag, type=int, default=value)
        else:
            p.add_argument(flag, type=type(value) if value is not None else str, default=value)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    job = TrainJob(data=args.data, model=args.model, model_params=_parse_params(args.model_param),
                   n_steps=args.n_steps, config=config, init_seed=args.init_seed, output=args.output,
                   val_data=args.val_data)
    if "WORLD_SIZE" in os.environ:  # under torchrun: this process is one rank
        init_from_env()
        try:
            run_job(job)
        finally:
            if torch.distributed.is_initialized():
                with contextlib.suppress(Exception):
                    torch.distributed.destroy_process_group()
    elif args.nproc > 1:
        spawn_local(job, nproc=args.nproc)
    else:
        run_job(job)
    return 0


__all__ = ["TrainJob", "free_port", "init_from_env", "main", "run_job", "spawn_local"]

if __name__ == "__main__":
    raise SystemExit(main())

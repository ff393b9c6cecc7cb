"""Speed of the DiffADT core (training and reconstruction) against a naive reference path.

Both paths run the same denoiser (``build_model("diffwave", ...)``) with the same weights and the
same sampler (:func:`diffad_lib.samplers.reconstruct`); they are timed interleaved in one run,
so their ratio is meaningful even on a busy machine. Absolute times only mean something with
the device recorded beside them.

* **naive**: float32, eager, every S4 kernel recomputed on every call by the written-out
  Vandermonde formula (``configure_kernels(method="direct", cache=False)``), ``torch.no_grad``,
  reconstruction one window at a time through the sampler loop.
* **ours**: the library's defaults (S4 kernels from lag blocks, kernels and their spectra
  cached across the sampler loop), all windows of the batch in each denoising step,
  ``torch.inference_mode``; on CUDA also bf16 autocast (the S4 FFT convolution stays float32)
  and ``torch.compile`` (falls back to eager when compilation fails).

Settings: ``reconstruct_20`` is 20 DDPM steps (t0 = 20, every step); ``fast`` is DDIM with
``fast_steps`` deterministic steps from the same t0. The JSON also holds a sweep of the
training-step and denoising-step cost over window length, layers and channels with fitted
exponents, and the top operators of each measured path from ``torch.profiler``.

    python benchmarks/bench_diffusion.py --config cpu            # writes results/bench_cpu.json
    python benchmarks/bench_diffusion.py --config paper --device cuda
    python benchmarks/bench_diffusion.py --config cpu --peer ~/src/SSSD   # also SSSD's model
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diffad_lib.models import build_model
from diffad_lib.models.s4d import configure_kernels
from diffad_lib.report import git_commit
from diffad_lib.samplers import reconstruct
from diffad_lib.schedule import NoiseSchedule
from diffad_lib.train import diffusion_loss

ROOT = Path(__file__).resolve().parents[1]

# batch: windows per training step and per denoising step ("ours"); naive_windows: windows the
# one-at-a-time naive reconstruction is timed on (its cost per window does not depend on it).
CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {"batch": 32, "channels": 25, "window": 2000, "n_layers": 18, "residual_channels": 512,
              "s4_state": 64, "n_steps": 200, "t0": 20, "fast_steps": 5, "naive_windows": 2, "repeats": 3,
              "train_steps": 3, "sweep": {"window": [500, 1000, 2000], "n_layers": [6, 12, 18],
                                          "residual_channels": [128, 256, 512]}},
    "cpu": {"batch": 8, "channels": 25, "window": 256, "n_layers": 4, "residual_channels": 32,
            "s4_state": 64, "n_steps": 200, "t0": 20, "fast_steps": 5, "naive_windows": 1, "repeats": 3,
            "train_steps": 3, "sweep": {"window": [128, 256, 512], "n_layers": [2, 4, 8],
                                        "residual_channels": [16, 32, 64]}},
    "smoke": {"batch": 2, "channels": 3, "window": 32, "n_layers": 2, "residual_channels": 8,
              "s4_state": 8, "n_steps": 50, "t0": 4, "fast_steps": 2, "naive_windows": 1, "repeats": 1,
              "train_steps": 1, "sweep": {"window": [16, 32], "n_layers": [1, 2], "residual_channels": [4, 8]}},
}
METRICS = ("train_windows_per_s", "reconstruct_ms_per_window_20", "reconstruct_ms_per_window_fast", "peak_mem_mb")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(fn: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


@contextlib.contextmanager
def _precision(device: torch.device, bf16: bool) -> Iterator[None]:
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        yield


class _Path:
    """One way of running the denoiser: how it trains one step and reconstructs a batch."""

    def __init__(self, *, name: str, model: nn.Module, device: torch.device, bf16: bool, batched: bool,
                 inference: bool, schedule: NoiseSchedule, cfg: dict[str, Any], compiled: bool = False) -> None:
        self.name, self.model, self.device, self.bf16 = name, model, device, bf16
        self.batched, self.inference, self.schedule, self.cfg = batched, inference, schedule, cfg
        self.forward: Callable[..., torch.Tensor] = model
        self.compile_status = "off"
        if compiled:
            self.forward = torch.compile(model)
            self.compile_status = "on"
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        self.generator = torch.Generator().manual_seed(0)

    def _fallback(self, exc: Exception) -> None:
        self.forward = self.model
        self.compile_status = f"failed, eager fallback ({type(exc).__name__})"

    def train_step(self, x0: torch.Tensor) -> None:
        self.model.train()
        with _precision(self.device, self.bf16):
            loss = diffusion_loss(self.forward, self.schedule, x0, generator=self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def reconstruct(self, x0: torch.Tensor, *, fast: bool) -> torch.Tensor:
        self.model.eval()
        options: dict[str, Any] = ({"method": "ddim", "steps": self.cfg["fast_steps"]} if fast
                                   else {"method": "ddpm"})
        grad_off = torch.inference_mode() if self.inference else torch.no_grad()
        chunks = [x0] if self.batched else list(x0.split(1))
        with grad_off, _precision(self.device, self.bf16):
            out = [reconstruct(self.forward, self.schedule, chunk, t0=self.cfg["t0"], generator=self.generator,
                               **options) for chunk in chunks]
        return torch.cat(out)

    def warm_up(self, x_train: torch.Tensor, x_rec: torch.Tensor) -> None:
        """Run every measured call once (compilation, allocator, caches) before timing."""
        for call in (lambda: self.train_step(x_train), lambda: self.reconstruct(x_rec, fast=False),
                     lambda: self.reconstruct(x_rec, fast=True)):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - any compiler failure falls back to eager
                if self.forward is self.model:
                    raise
                self._fallback(exc)
                call()


def _peak_mb(fn: Callable[[], Any], device: torch.device) -> float:
    """Peak memory allocated by ``fn`` above what was held before it, in MiB."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # self memory of each event (an operator's own allocations, a "[memory]" free) avoids counting
    # a child's allocation again in its parent
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage != 0), key=lambda e: e.time_range.start)
    level = peak = 0
    for e in events:  # allocations are positive, frees negative, in time order
        level += e.self_cpu_memory_usage
        peak = max(peak, level)
    return peak / 2**20


def _top_operators(fn: Callable[[], Any], device: torch.device, limit: int = 10) -> list[dict[str, Any]]:
    """The operators with the most self time during one call of ``fn`` (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        fn()
        _sync(device)
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    rows = sorted(prof.key_averages(), key=lambda e: getattr(e, attr), reverse=True)
    total = sum(getattr(e, attr) for e in rows) or 1.0
    return [{"operator": e.key, "self_ms": round(getattr(e, attr) / 1e3, 3),
             "share": round(getattr(e, attr) / total, 4), "calls": e.count} for e in rows[:limit]]


def _build(cfg: dict[str, Any], *, window: int | None = None, n_layers: int | None = None,
           residual_channels: int | None = None, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model("diffwave", in_channels=cfg["channels"], residual_channels=residual_channels or
                        cfg["residual_channels"], n_layers=n_layers or cfg["n_layers"], s4_state=cfg["s4_state"])
    with torch.no_grad():  # move the zero-initialised head off zero so outputs can be compared
        head = model.output_projection.weight
        head.copy_(torch.randn(head.shape, generator=torch.Generator().manual_seed(seed + 1)) * 0.1)
    return model


def _peer_model(path: Path, cfg: dict[str, Any]) -> nn.Module:
    """SSSD's published S4 imputer (github AI4HealthUOL/SSSD) from the source folder ``path``."""
    src = path / "src" if (path / "src" / "imputers").is_dir() else path
    if not (src / "imputers" / "SSSDS4Imputer.py").is_file():
        raise ValueError(f"--peer must be a checkout of SSSD (with src/imputers/SSSDS4Imputer.py); got {str(path)!r}")
    sys.path.insert(0, str(src))
    from imputers.SSSDS4Imputer import SSSDS4Imputer  # noqa: PLC0415 - the peer's own module layout

    net = SSSDS4Imputer(cfg["channels"], cfg["residual_channels"], cfg["residual_channels"], cfg["channels"],
                        cfg["n_layers"], 128, 512, 512, cfg["window"], cfg["s4_state"], 0.0, 1, 1)

    class Peer(nn.Module):
        """Our ``(x_t, t) -> ε̂`` interface around SSSD's ``(noise, cond, mask, t)`` tuple input."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            empty = torch.zeros_like(x_t)  # nothing observed: pure denoising, as in detection
            return self.net((x_t, empty, empty, t.view(-1, 1)))

    return Peer()


def _measure(paths: list[_Path], cfg: dict[str, Any], device: torch.device) -> dict[str, dict[str, float]]:
    """Interleaved timings of every path on the same inputs, best of the repeats.

    The best repeat is the one least disturbed by other work on the machine; interleaving gives
    every path the same chances of an undisturbed repeat.
    """
    g = torch.Generator().manual_seed(1)
    shape = (cfg["batch"], cfg["channels"], cfg["window"])
    x_train = torch.randn(shape, generator=g).to(device)
    x_rec = torch.randn(shape, generator=g).to(device)
    for p in paths:
        p.warm_up(x_train, x_rec[:1] if not p.batched else x_rec)
    times: dict[str, dict[str, list[float]]] = {p.name: {"train": [], "r20": [], "fast": []} for p in paths}
    for _ in range(cfg["repeats"]):
        for p in paths:  # interleaved: a busy spell of the machine hits every path alike
            rec = x_rec if p.batched else x_rec[: cfg["naive_windows"]]
            t = times[p.name]
            t["train"].append(_seconds(lambda p=p: [p.train_step(x_train) for _ in range(cfg["train_steps"])],
                                       device) / (cfg["train_steps"] * cfg["batch"]))
            t["r20"].append(_seconds(lambda p=p, rec=rec: p.reconstruct(rec, fast=False), device) / len(rec))
            t["fast"].append(_seconds(lambda p=p, rec=rec: p.reconstruct(rec, fast=True), device) / len(rec))
    out = {}
    for p in paths:
        t = {k: min(v) for k, v in times[p.name].items()}
        rec = x_rec if p.batched else x_rec[: cfg["naive_windows"]]
        peak = max(_peak_mb(lambda p=p: p.train_step(x_train), device),
                   _peak_mb(lambda p=p, rec=rec: p.reconstruct(rec, fast=False), device))
        out[p.name] = {"train_windows_per_s": round(1.0 / t["train"], 3),
                       "reconstruct_ms_per_window_20": round(1e3 * t["r20"], 3),
                       "reconstruct_ms_per_window_fast": round(1e3 * t["fast"], 3),
                       "peak_mem_mb": round(peak, 1)}
    return out


def _agreement(ours: nn.Module, naive: nn.Module, cfg: dict[str, Any], device: torch.device, bf16: bool
               ) -> dict[str, float]:
    """Largest difference of the two paths' noise predictions on one batch, and its scale."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(cfg["batch"], cfg["channels"], cfg["window"], generator=g).to(device)
    t = torch.randint(0, cfg["n_steps"], (cfg["batch"],), generator=g).to(device)
    ours.eval()
    naive.eval()
    with torch.inference_mode():
        with _precision(device, bf16):
            a = ours(x, t).float()
        b = torch.cat([naive(x[i : i + 1], t[i : i + 1]) for i in range(len(x))]).float()
    return {"eps_max_abs_diff": float((a - b).abs().max()), "eps_max_abs": float(b.abs().max())}


def _fit_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) against log(size): time ∝ size^exponent."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def _sweep(cfg: dict[str, Any], device: torch.device, bf16: bool) -> dict[str, Any]:
    """Cost of one training step and one denoising step (ours, eager) as each size grows alone."""
    out: dict[str, Any] = {}
    g = torch.Generator().manual_seed(3)
    for knob, values in cfg["sweep"].items():
        rows = []
        for value in values:
            model = _build(cfg, **{knob: value}).to(device)
            window = value if knob == "window" else cfg["window"]
            x = torch.randn(cfg["batch"], cfg["channels"], window, generator=g).to(device)
            t = torch.randint(0, cfg["n_steps"], (cfg["batch"],), generator=g).to(device)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

            def train(model=model, x=x, t=t, opt=opt):
                model.train()
                with _precision(device, bf16):
                    loss = (model(x, t).float() - x).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            def step(model=model, x=x, t=t):
                model.eval()
                with torch.inference_mode(), _precision(device, bf16):
                    model(x, t)

            timings = {}
            for name, fn in (("train_step_s", train), ("denoise_step_s", step)):
                fn()
                timings[name] = min(_seconds(fn, device) for _ in range(2))
            rows.append({knob: value, **{k: round(v, 6) for k, v in timings.items()}})
        out[knob] = {"points": rows, "exponent": {
            name: round(_fit_exponent(values, [r[name] for r in rows]), 3)
            for name in ("train_step_s", "denoise_step_s")}}
    return out


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def run_benchmark(*, config: str = "cpu", device: str = "cpu", compile_mode: str = "auto", peer: str | None = None,
                  sweep: bool = True, profile: bool = True, command: str | None = None) -> dict[str, Any]:
    """Run the benchmark and return the JSON record (see the module docstring).

    Parameters
    ----------
    config : {"paper", "cpu", "smoke"}
        Shapes and repeat counts (``CONFIGS``).
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    compile_mode : {"auto", "on", "off"}
        ``torch.compile`` for "ours"; ``"auto"`` compiles on CUDA only (on a CPU the compile time
        is not repaid within a benchmark-sized run).
    peer : str or None
        Path of an SSSD checkout to time its model at the same shapes ("ours" settings, fp32).
    sweep, profile : bool
        Include the scaling sweep and the profiler's top operators.
    command : str or None
        The command line recorded in ``meta`` (default: this process's).
    """
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}; got {config!r}")
    if compile_mode not in ("auto", "on", "off"):
        raise ValueError(f"compile_mode must be 'auto', 'on' or 'off'; got {compile_mode!r}")
    dev = torch.device(device)
    cfg = dict(CONFIGS[config])
    cuda = dev.type == "cuda"
    bf16 = cuda
    compiled = compile_mode == "on" or (compile_mode == "auto" and cuda)
    schedule = NoiseSchedule(cfg["n_steps"]).to(dev)

    base = _build(cfg).to(dev)
    naive_model = configure_kernels(copy.deepcopy(base), method="direct", cache=False)
    naive = _Path(name="naive", model=naive_model, device=dev, bf16=False, batched=False, inference=False,
                  schedule=schedule, cfg=cfg)
    ours = _Path(name="ours", model=copy.deepcopy(base), device=dev, bf16=bf16, batched=True, inference=True,
                 schedule=schedule, cfg=cfg, compiled=compiled)
    paths = [naive, ours]
    if peer is not None:
        paths.append(_Path(name="peer", model=_peer_model(Path(peer).expanduser(), cfg).to(dev), device=dev,
                           bf16=False, batched=True, inference=True, schedule=schedule, cfg=cfg))
    agreement = _agreement(ours.model, naive.model, cfg, dev, bf16)  # before training moves the weights apart
    measured = _measure(paths, cfg, dev)
    record: dict[str, Any] = {
        "meta": {"commit": git_commit(ROOT), "command": command or shlex.join(["python", *sys.argv]),
                 "device": _device_name(dev), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "threads": torch.get_num_threads()},
        "config": {"name": config, **{k: v for k, v in cfg.items() if k != "sweep"},
                   "reconstruct_20": f"DDPM, every step from t0={cfg['t0']}",
                   "fast": f"DDIM (eta=0), {cfg['fast_steps']} steps from t0={cfg['t0']}",
                   "ours": {"bf16_autocast": bf16, "compile": ours.compile_status, "inference_mode": True,
                            "batched_windows": cfg["batch"], "s4_kernel": "blocked, cached"},
                   "naive": {"bf16_autocast": False, "compile": "off", "inference_mode": False,
                             "batched_windows": 1, "s4_kernel": "direct, recomputed every call"}},
        "ours": measured["ours"],
        "naive": measured["naive"],
        "speedup": {
            "train": round(measured["ours"]["train_windows_per_s"] / measured["naive"]["train_windows_per_s"], 3),
            "reconstruct_20": round(measured["naive"]["reconstruct_ms_per_window_20"]
                                    / measured["ours"]["reconstruct_ms_per_window_20"], 3),
            "reconstruct_fast": round(measured["naive"]["reconstruct_ms_per_window_fast"]
                                      / measured["ours"]["reconstruct_ms_per_window_fast"], 3),
        },
        "agreement": agreement,
    }
    if peer is not None:
        record["peer"] = {"source": "SSSD (github AI4HealthUOL/SSSD), SSSDS4Imputer as published, fp32",
                          **measured["peer"]}
        record["speedup_vs_peer"] = {
            "train": round(measured["ours"]["train_windows_per_s"] / measured["peer"]["train_windows_per_s"], 3),
            "reconstruct_20": round(measured["peer"]["reconstruct_ms_per_window_20"]
                                    / measured["ours"]["reconstruct_ms_per_window_20"], 3)}
    if profile:
        g = torch.Generator().manual_seed(4)
        x = torch.randn(cfg["batch"], cfg["channels"], cfg["window"], generator=g).to(dev)
        record["profile"] = {
            "ours_train_step": _top_operators(lambda: ours.train_step(x), dev),
            "ours_reconstruct_20": _top_operators(lambda: ours.reconstruct(x, fast=False), dev),
            "naive_reconstruct_20_one_window": _top_operators(lambda: naive.reconstruct(x[:1], fast=False), dev),
        }
    if sweep:
        record["sweep"] = _sweep(cfg, dev, bf16)
    return record


def write_record(record: dict[str, Any], path: str | Path | None = None) -> Path:
    """Write ``record`` to ``path`` (default ``results/bench_<device type>.json``)."""
    if path is None:
        kind = "cuda" if not record["meta"]["device"].startswith("CPU") else "cpu"
        path = ROOT / "results" / f"bench_{kind}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--smoke", action="store_true", help="the tiny configuration (same as --config smoke)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", dest="compile_mode", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--peer", default=None, help="path of an SSSD checkout to time at the same shapes")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    parser.add_argument("--output", default=None, help="JSON path (default results/bench_<device>.json)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv_used = sys.argv[1:] if argv is None else argv
    record = run_benchmark(config="smoke" if args.smoke else args.config, device=args.device,
                           compile_mode=args.compile_mode, peer=args.peer, sweep=not args.no_sweep,
                           profile=not args.no_profile,
                           command=shlex.join(["python", "benchmarks/bench_diffusion.py", *argv_used]))
    path = write_record(record, args.output)
    print(json.dumps(record, indent=1))
    print(f"written to {path}", file=sys.stderr)
    return record


if __name__ == "__main__":
    main()

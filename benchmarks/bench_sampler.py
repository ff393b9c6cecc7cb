"""Speed of the detection path: reconstruct() throughput per denoiser, and the S4 kernel cache.

Prints one JSON object. Compare numbers as ratios within one run; absolute times only mean
something on a fixed machine (record the device printed with them).

    python benchmarks/bench_sampler.py [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from diffad_lib.models import build_model
from diffad_lib.samplers import reconstruct
from diffad_lib.schedule import NoiseSchedule


def _time(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up (kernel caches, allocator)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps per reconstruction")
    args = parser.parse_args()
    device = torch.device(args.device)
    schedule = NoiseSchedule(200).to(device)
    x0 = torch.randn(args.batch, 1, args.length, device=device)
    gen = torch.Generator().manual_seed(0)
    configs = {
        "mlp": dict(name="mlp", window=args.length, hidden=256, n_layers=3),
        "diffwave_res_6x64": dict(name="diffwave", in_channels=1, residual_channels=64, n_layers=6, layer="res"),
        "diffwave_s4_6x64": dict(name="diffwave", in_channels=1, residual_channels=64, n_layers=6, layer="s4",
                                 s4_state=32),
    }
    results: dict[str, object] = {"device": str(torch.cuda.get_device_name(0) if device.type == "cuda" else
                                                platform.processor() or platform.machine()),
                                  "torch": torch.__version__, "threads": torch.get_num_threads(),
                                  "batch": args.batch, "length": args.length, "ddim_steps": args.steps}
    for key, cfg in configs.items():
        cfg = dict(cfg)
        model = build_model(cfg.pop("name"), **cfg).to(device).eval()

        def run(model=model):
            with torch.no_grad():
                reconstruct(model, schedule, x0, t0=50, method="ddim", steps=args.steps, generator=gen)

        seconds = _time(run, args.repeats, device)
        results[key] = {"seconds": round(seconds, 4), "windows_per_s": round(args.batch / seconds, 1)}

    # S4 kernel cache: eval-mode forward with the cached kernel vs recomputing it every call.
    model = build_model("diffwave", in_channels=1, residual_channels=64, n_layers=6, layer="s4",
                        s4_state=32).to(device)
    t = torch.zeros(args.batch, dtype=torch.long, device=device)

    def forward_eval():
        with torch.no_grad():
            model(x0, t)

    model.eval()
    cached = _time(forward_eval, args.repeats, device)
    model.train()  # training mode recomputes the kernel on every call
    uncached = _time(forward_eval, args.repeats, device)
    results["s4_kernel_cache"] = {"cached_s": round(cached, 4), "uncached_s": round(uncached, 4),
                                  "speedup": round(uncached / cached, 2)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

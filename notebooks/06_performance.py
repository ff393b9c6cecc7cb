# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Performance of the diffusion core
#
# ## Overview
#
# Detection with DiffADT ({doc}`02_s4_telemetry`) costs one training run per dataset and, per
# test window, a reverse diffusion of $t_0$ denoising steps, each a full pass through a cascade
# of dilated convolutions and S4 layers. This page measures that cost with
# `benchmarks/bench_diffusion.py` and compares two ways of running the *same* network with the
# *same* weights and sampler:
#
# * **naive**: float32, eager PyTorch, every S4 convolution kernel recomputed on every call from
#   its written-out formula ($H \cdot N/2 \cdot L$ complex exponentials), and reconstruction one
#   window at a time through the sampler loop;
# * **ours**: the library's defaults — S4 kernels built from $\sqrt{L}$-sized blocks of lags
#   (two small exponential tables and one complex matrix product, equal to the written-out formula
#   to float rounding), kernels and their FFTs cached across the sampler's steps, every window of
#   the batch in each denoising step, `torch.inference_mode`; on a GPU also bf16 autocast (the
#   S4 FFT convolution stays in float32) and `torch.compile`.
#
# Both paths are timed interleaved in one process, so their ratio holds even on a busy machine;
# absolute times belong to the device named with them. "20 steps" is DDPM from $t_0 = 20$, every
# step; "fast" is deterministic DDIM with a few steps from the same $t_0$ (the configuration
# table names the count).
#
# ## Parameters

# %% tags=["parameters"]
profile = "default"  # name of the profile that produced this page
bench_config = "cpu"  # benchmark configuration run in this page: "smoke", "cpu" (or "paper" on a GPU)
device = "cpu"  # torch device of the in-page run
threads = 1  # torch CPU threads (0: torch's default)

# %%
import importlib.util
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from diffad_lib.report import glue, glue_table
from diffad_lib.runner import repo_root

if threads:
    torch.set_num_threads(threads)
root = repo_root()
spec = importlib.util.spec_from_file_location("bench_diffusion", root / "benchmarks" / "bench_diffusion.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
glue("perf_profile", profile)

LABELS = {"train_windows_per_s": "training (windows/s)",
          "reconstruct_ms_per_window_20": "reconstruction, 20 steps (ms/window)",
          "reconstruct_ms_per_window_fast": "reconstruction, fast (ms/window)",
          "peak_mem_mb": "peak memory (MiB)"}


def speed_table(record):
    """naive / ours / speed-up for one benchmark record, rows as in LABELS."""
    speedups = {"train_windows_per_s": record["speedup"]["train"],
                "reconstruct_ms_per_window_20": record["speedup"]["reconstruct_20"],
                "reconstruct_ms_per_window_fast": record["speedup"]["reconstruct_fast"],
                "peak_mem_mb": np.nan}
    rows = {LABELS[k]: {"naive": record["naive"][k], "ours": record["ours"][k], "speed-up (×)": speedups[k]}
            for k in LABELS}
    if "peer" in record:
        for k in LABELS:
            rows[LABELS[k]]["SSSD (published model)"] = record["peer"][k]
    return pd.DataFrame(rows).T.rename_axis("measurement")  # a named index is kept as the table's first column


# %% [markdown]
# ## This build's run
#
# The cell below runs the benchmark's `bench_config` configuration in this page, through the
# same function that `make bench` calls.

# %% tags=["remove-stderr"]
record = bench.run_benchmark(config=bench_config, device=device,
                             command=f"run_benchmark(config={bench_config!r}, device={device!r}) in 06_performance")
cfg = record["config"]
shapes = pd.Series({"batch (windows)": cfg["batch"], "channels": cfg["channels"], "window": cfg["window"],
                    "residual layers": cfg["n_layers"], "residual channels": cfg["residual_channels"],
                    "S4 state": cfg["s4_state"], "diffusion steps T": cfg["n_steps"],
                    "20-step setting": cfg["reconstruct_20"], "fast setting": cfg["fast"],
                    "device": record["meta"]["device"]}, name="value").to_frame()
glue_table("perf_table", speed_table(record), digits=2)
glue("perf_shapes", shapes, display=False)
glue("perf_config", bench_config)
glue("perf_device", record["meta"]["device"])
glue("perf_train_speedup", f"{record['speedup']['train']:.1f}")
glue("perf_rec20_speedup", f"{record['speedup']['reconstruct_20']:.0f}")
glue("perf_fast_speedup", f"{record['speedup']['reconstruct_fast']:.0f}")
glue("perf_eps_diff", f"{record['agreement']['eps_max_abs_diff']:.1e}")
glue("perf_eps_scale", f"{record['agreement']['eps_max_abs']:.2f}")
display(shapes)

# %% [markdown]
# :::{table} Speed of the naive path and the library's path in this build (configuration {glue:text}`perf_config`, device {glue:text}`perf_device`): read the speed-up column. Training counts windows per second of optimisation steps; reconstruction is amortised per window. The speed-up is naive time over ours.
# :name: perf-table
# ```{glue:md} perf_table
# :format: myst
# ```
# :::
#
# In this run ({numref}`perf-table`) the library's path trains {glue:text}`perf_train_speedup`
# times as many windows per second as the naive path and reconstructs
# {glue:text}`perf_rec20_speedup` times faster with 20 steps ({glue:text}`perf_fast_speedup` times in the fast setting). The gap in reconstruction
# is mostly the naive path recomputing every S4 kernel at every step for every window; training
# recomputes the kernels on both paths, so its ratio measures the blocked kernel alone (on a CPU,
# where there is no bf16 and no compilation). Both paths compute the same function: their noise
# predictions on one batch differ by at most {glue:text}`perf_eps_diff` on outputs of size up to
# {glue:text}`perf_eps_scale`.

# %% [markdown]
# ## The committed measurements
#
# `make bench` writes `results/bench_cpu.json` (the `cpu` configuration); a GPU run of the
# `paper` configuration writes `results/bench_cuda.json`. Both are committed with the commit,
# command and device that produced them.

# %%
def load_bench(kind):
    path = root / "results" / f"bench_{kind}.json"
    return json.loads(path.read_text()) if path.is_file() else None


cpu_record = load_bench("cpu")
if cpu_record is None:
    display(Markdown("*No `results/bench_cpu.json` is committed yet; run `make bench`.*"))
else:
    meta = cpu_record["meta"]
    display(Markdown(f"**`make bench` (cpu configuration)** — device: {meta['device']}; commit {meta['commit']}; "
                     f"command `{meta['command']}`; run {meta['date']}."))
    display(speed_table(cpu_record).round(2))

# %% [markdown]
# ### GPU targets
#
# The targets below are for the `paper` configuration (batch 32, 25 channels, window 2000,
# 18 layers × 512 channels) on one H100 or H200.

# %%
TARGETS = [("training (windows/s)", "train_windows_per_s", ">=", 400.0),
           ("peak training memory (MiB)", "peak_mem_mb", "<=", 24 * 1024.0),
           ("reconstruction, 20 steps (ms/window)", "reconstruct_ms_per_window_20", "<=", 10.0),
           ("reconstruction, fast (ms/window)", "reconstruct_ms_per_window_fast", "<=", 2.0)]
gpu_record = load_bench("cuda")
rows = []
for label, key, sense, target in TARGETS:
    if gpu_record is None:
        rows.append({"target": f"{sense} {target:g}", "measured": "not measured", "status": "unmeasured"})
        continue
    value = gpu_record["ours"][key]
    ok = value >= target if sense == ">=" else value <= target
    factor = target / value if sense == ">=" else value / target
    rows.append({"target": f"{sense} {target:g}", "measured": f"{value:.4g}",
                 "status": "met" if ok else f"missed by {factor:.2f}×"})
targets = pd.DataFrame(rows, index=pd.Index([label for label, *_ in TARGETS], name="measurement"))
glue_table("perf_targets", targets)
if gpu_record is None:
    glue("perf_gpu_status", "not measured on a GPU yet: every GPU target below is unmeasured")
else:
    meta = gpu_record["meta"]
    glue("perf_gpu_status", f"measured on {meta['device']} (commit {meta['commit']}, {meta['date']})")
    display(speed_table(gpu_record).round(2))

# %% [markdown]
# :::{table} GPU targets at the paper's configuration, with the committed GPU measurement where one exists: read the status column. "Missed by" is how many times slower (or larger) the measurement is than its target.
# :name: perf-targets
# ```{glue:md} perf_targets
# :format: myst
# ```
# :::
#
# GPU status: {glue:text}`perf_gpu_status`.

# %% [markdown]
# ## How the cost grows
#
# The benchmark also times one training step and one denoising step of the library's path as
# the window length, the number of residual layers and the residual channels grow one at a
# time, and fits the exponent $k$ of $\text{time} \propto \text{size}^k$ by least squares on the
# logarithms. Convolutions and FFTs predict about 1 in the window length and in the layers
# (the FFT adds a $\log L$ factor), and between 1 and 2 in the channels (the 1×1 and dilated
# convolutions are $R^2$, the S4 kernels $R$); small shapes sit below these slopes because fixed
# per-call costs still matter there.

# %%
sweep = record["sweep"]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for ax, (knob, title) in zip(axes, [("window", "window length L"), ("n_layers", "residual layers"),
                                    ("residual_channels", "residual channels R")], strict=True):
    points = pd.DataFrame(sweep[knob]["points"])
    for column, name in (("train_step_s", "training step"), ("denoise_step_s", "denoising step")):
        k = sweep[knob]["exponent"][column]
        ax.loglog(points[knob], points[column] * 1e3, "o-", label=f"{name} (k = {k:.2f})")
    ax.set(title=title, xlabel=knob, ylabel="ms per batch")
    ax.legend(fontsize=8)
fig.tight_layout()
exponents = pd.DataFrame({knob: sweep[knob]["exponent"] for knob in sweep}).T
glue("perf_exponents", exponents.round(2), display=False)
glue("perf_k_window", f"{sweep['window']['exponent']['denoise_step_s']:.2f}")
glue("perf_k_channels", f"{sweep['residual_channels']['exponent']['denoise_step_s']:.2f}")
plt.show()
exponents.round(2)

# %% [markdown]
# In this run a denoising step grows with exponent {glue:text}`perf_k_window` in the window
# length and {glue:text}`perf_k_channels` in the residual channels.
#
# ## Where the time goes
#
# The operators with the most self time during one training step and one 20-step
# reconstruction of the library's path, and during one window of the naive path, from
# `torch.profiler`.

# %%
profiles = {name: pd.DataFrame(rows).set_index("operator") for name, rows in record["profile"].items()}
for name, frame in profiles.items():
    glue(f"perf_profile_{name}", frame, display=False)
    display(Markdown(f"**{name.replace('_', ' ')}**"))
    display(frame)
naive_top = profiles["naive_reconstruct_20_one_window"]
glue("perf_naive_top_op", naive_top.index[0])
glue("perf_naive_top_share", f"{100 * naive_top['share'].iloc[0]:.0f}")

# %% [markdown]
# In the naive path, {glue:text}`perf_naive_top_op` takes {glue:text}`perf_naive_top_share` % of
# the time: the kernel computation that the library's path does once per reconstruction
# instead of once per step and window.
#
# ## Reproduce
#
# ```bash
# make bench                                                    # results/bench_cpu.json
# python benchmarks/bench_diffusion.py --config paper --device cuda   # results/bench_cuda.json
# python benchmarks/bench_diffusion.py --config cpu --peer PATH_TO_SSSD  # also SSSD's model
# ```

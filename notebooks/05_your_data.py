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
# # 5. Use it on your own data
#
# ## Overview
#
# The first chapters reproduce papers; this one is a recipe. You have a CSV file with a
# timestamp column and a value column, a stretch of it that you trust to be normal, and you want
# to know where the rest misbehaves. The worked example is one series of the Numenta Anomaly
# Benchmark (NAB) {cite}`lavin2015evaluating`, New York taxi demand every half hour, written out as
# a plain CSV first so that what you read is exactly what you would have.
#
# The first part fits a diffusion detector on the clean period, scores the rest, plots the
# scores with the threshold and the flagged segments, and saves and reloads the fitted
# detector, in under 20 lines of code. The second part shows how to choose the four settings
# that matter most: the window length, the noise level $t_0$, the threshold rule and how many
# points to train on, each with a small sweep.
#
# ## Prerequisites
#
# {doc}`01_sine_mlp` (how the reconstruction detector works) and {doc}`../evaluation` (why a
# threshold is fitted on normal data only).
#
# ## Imports

# %%
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import diffad_lib as dl
from diffad_lib import metrics
from diffad_lib import report as rp
from diffad_lib.experiments import holdout_split
from diffad_lib.report import glue
from diffad_lib.thresholds import fit_threshold

# %% [markdown]
# ## Parameters
#
# papermill's `parameters` cell (the `default` profile; `smoke` and `full` override it from
# `notebooks/profiles.yaml`).

# %% tags=["parameters", "hide-input"]
profile = "default"  # name of the profile that produced this page
seed = 0  # seeds the weights, the batches and the reconstruction noise
series = "realKnownCause/nyc_taxi"  # the NAB series of the worked example
work_dir = ""  # where the CSV and the saved detector go ("": a temporary folder)
n_train = 4000  # points of the clean period at the start (nyc_taxi's first labelled window starts at 5839)
window = 48  # window length L (48 half-hours: one day)
hop = 4  # step between window starts
n_steps = 100  # diffusion steps T
t0 = 40  # reconstruction noise level (of T steps)
sample_steps = 10  # DDIM steps of the reconstruction
epochs = 100  # training epochs
val_fraction = 0.2  # last fraction of the clean period held out to fit the threshold
quantile = 99.5  # threshold: this percentile of the held-out normal scores
sweep_windows = [12, 24, 48, 96]  # window lengths tried
sweep_t0 = [5, 10, 20, 40, 60, 80, 95]  # noise levels tried (rescoring only)
sweep_quantiles = [95.0, 99.0, 99.5, 99.9]  # percentile thresholds tried beside three sigma (no retraining)
sweep_train = [500, 1000, 2000, 4000]  # training lengths tried
sweep_epochs = 60  # training epochs of each model of the window and training-length sweeps
threads = 1  # torch CPU threads (0: torch's default)

# %% tags=["hide-input"]
if threads:
    torch.set_num_threads(threads)
chapter_start = time.perf_counter()
folder = Path(work_dir or tempfile.mkdtemp(prefix="diffad_your_data_"))
folder.mkdir(parents=True, exist_ok=True)
for key, value in dict(profile=profile, n_train=n_train, window=window, t0=t0, epochs=epochs,
                       quantile=f"{quantile:g}", sweep_epochs=sweep_epochs).items():
    glue(f"ch5_{key}", value)
print(rp.profile_line(profile, series=series, train_points=n_train, window=window, t0=t0, epochs=epochs))

# %% [markdown]
# ## The example as a plain CSV
#
# NAB ships each series as a CSV already; we write the one we use to a folder of our own with
# pandas, so that the next section starts from an ordinary file with a `timestamp` and a `value`
# column, as yours will.

# %%
dl.data.prepare(["nab"], progress=False)
nab = dl.data.load_nab(series)
csv_path = folder / f"{series.split('/')[-1]}.csv"
frame = pd.DataFrame({"timestamp": nab.timestamps, "value": nab.values})
frame.to_csv(csv_path, index=False)
print(csv_path.read_text()[:120])

# %% [markdown]
# ## From a CSV to flagged segments
#
# Everything a user writes is in the next cell: read the file, take the clean period, fit,
# score, flag, save and reload. `window` is one day of half-hourly points; the threshold is the
# {glue:text}`ch5_quantile`th percentile of the scores of the last fifth of the clean period,
# which the detector holds out from training for exactly this purpose.

# %% tags=["your-code"]
df = pd.read_csv(csv_path, parse_dates=["timestamp"])
x = df[["value"]].to_numpy()  # (n, 1): one row per time step, one column per channel
train, rest = x[:n_train], x[n_train:]  # a period you trust to be normal, and the rest

detector = dl.DiffusionDetector(
    "mlp", window=window, hop=hop, n_steps=n_steps, t0=t0, sample_steps=sample_steps,
    epochs=epochs, val_fraction=val_fraction, random_state=seed,
    threshold="percentile", threshold_params={"q": quantile},
).fit(train)
scores = detector.decision_function(rest)  # (n - n_train,): higher is more anomalous
flags = detector.predict(rest)  # 0/1 per step: score above detector.threshold_
stamps = df.timestamp[n_train:].to_numpy()
segments = [(stamps[s], stamps[e - 1]) for s, e in metrics.segments(flags)]

# the library has no save method of its own: a fitted detector is a plain Python
# object, so torch.save pickles it whole (weights, scaler, threshold); load such a
# file only if you trust where it came from
torch.save(detector, folder / "detector.pt")
reloaded = torch.load(folder / "detector.pt", weights_only=False)
assert np.array_equal(reloaded.predict(rest), flags)  # same decisions after reloading

# %% tags=["hide-input"]
labels = nab.labels[n_train:]  # NAB's labelled windows, only to judge the example
glue("ch5_n_segments", len(segments))
glue("ch5_flagged", f"{100 * flags.mean():.1f} %")
glue("ch5_first_segments", "; ".join(f"{pd.Timestamp(a):%Y-%m-%d %H:%M} to {pd.Timestamp(b):%H:%M}"
                                     for a, b in segments[:3]) or "none")
glue("ch5_hits", f"{sum(bool(flags[s:e].any()) for s, e in metrics.segments(labels))} of "
                 f"{len(metrics.segments(labels))}")
rp.glue_figure("ch5_fig_flags", rp.plot_flags(df.timestamp[n_train:], rest[:, 0], scores,
                                              threshold=detector.threshold_, flags=flags, labels=labels))

# %% [markdown]
# ```{glue:figure} ch5_fig_flags
# :name: ch5-fig-flags
# :alt: Taxi demand after the training period with flagged segments shaded, and the anomaly score below.
#
# The scored part of the series (top) with the flagged segments shaded red and NAB's labelled
# anomaly windows outlined green, and the anomaly score (bottom) with the threshold. Look at
# whether the red segments fall inside the green windows, and at how far the score rises above
# the threshold there compared with elsewhere.
# ```
#
# The detector flags {glue:text}`ch5_n_segments` segments ({glue:text}`ch5_flagged` of the
# scored points); the first ones are {glue:text}`ch5_first_segments`. NAB's labelled windows
# touched by at least one flag: {glue:text}`ch5_hits`. The saved detector, reloaded, makes the
# same decisions (the cell checks it).
#
# ## Choosing the settings
#
# Each sweep below changes one setting and keeps the others at this page's values. Because the
# example has labels, we judge each setting by the threshold-free PR-AUC and VUS-PR
# {cite}`paparrizos2022volume` on the scored part and by the point-wise F1 at the threshold.
# **On your own data you usually have no labels**: then look at the same plots for the score on
# the held-out normal tail (it should stay low and flat) and at a few known incidents.

# %% tags=["hide-input"]
def judge(det, *, threshold=None):
    """PR-AUC, VUS-PR and F1 of a fitted detector on the scored part (NAB's labels)."""
    s = det.decision_function(rest)
    ev = metrics.evaluate(labels, s, det.threshold_ if threshold is None else threshold)
    return {"PR-AUC": ev["pr_auc"], "VUS-PR": ev["vus_pr"], "F1": ev["f1"]}


def refit(**changes):
    """The page's detector with some settings changed, trained for ``sweep_epochs`` epochs."""
    params = {**detector.get_params(), "epochs": sweep_epochs, **changes}
    n = params.pop("n_train", n_train)
    return dl.DiffusionDetector(**params).fit(train[-n:])

# %% [markdown]
# ### Window length
#
# The window is what the denoiser sees at once. It should hold the pattern that defines
# "normal" (here a day), but a longer window is a harder generation task for the same model and
# training budget ({doc}`01_sine_mlp` measured this).

# %% tags=["hide-input"]
by_window = pd.DataFrame({w: judge(refit(window=w)) for w in sweep_windows}).T.rename_axis("window")
glue("ch5_best_window", int(by_window["VUS-PR"].idxmax()))
rp.glue_figure("ch5_fig_window", rp.plot_sweep(by_window, xlabel="window length L", log_x=True))

# %% [markdown]
# ```{glue:figure} ch5_fig_window
# :name: ch5-fig-window
# :alt: PR-AUC, VUS-PR and F1 against the window length.
#
# PR-AUC, VUS-PR and F1 against the window length (each model trained for
# {glue:text}`ch5_sweep_epochs` epochs). Look for the shortest window near the best VUS-PR.
# ```
#
# The best VUS-PR in this run is at L = {glue:text}`ch5_best_window`.
#
# ### Noise level $t_0$
#
# $t_0$ decides how much of a window is erased before it is reconstructed: too little and the
# reconstruction copies the anomaly, too much and it forgets the window. It needs no retraining:
# the fitted detector is given another $t_0$ and `recalibrate(train)` fits its error calibration
# and threshold again on the clean period at the new noise levels, keeping the trained network.

# %% tags=["hide-input"]
by_t0 = pd.DataFrame({t: judge(detector.set_params(t0=t).recalibrate(train)) for t in sweep_t0}).T.rename_axis("t0")
detector.set_params(t0=t0).recalibrate(train)  # back to the page's value: the fit's calibration and threshold
glue("ch5_best_t0", int(by_t0["VUS-PR"].idxmax()))
rp.glue_figure("ch5_fig_t0", rp.plot_sweep(by_t0, xlabel="t0 (of T steps)", log_x=True))

# %% [markdown]
# ```{glue:figure} ch5_fig_t0
# :name: ch5-fig-t0
# :alt: PR-AUC, VUS-PR and F1 against the noise level t0.
#
# PR-AUC, VUS-PR and F1 against the noise level $t_0$, rescoring with the page's trained
# detector, its calibration and threshold fitted again on the clean period at each $t_0$.
# ```
#
# The best VUS-PR in this run is at $t_0$ = {glue:text}`ch5_best_t0`.
#
# ### Threshold rule
#
# The score ranks points; the threshold turns it into decisions. Every rule here is fitted on the
# held-out normal tail of the clean period, never on the scored part: three sigma (assumes
# roughly Gaussian normal scores) and percentiles of the normal scores (assume nothing, and set
# the expected share of false alarms directly).

# %% tags=["hide-input"]
held_out = detector.decision_scores_[holdout_split(n_train, fraction=val_fraction):]
rules = {"three sigma": fit_threshold(held_out, method="three_sigma")}
rules |= {f"{q:g}th pct": fit_threshold(held_out, method="percentile", q=q) for q in sweep_quantiles}
by_rule = pd.DataFrame({name: {**judge(detector, threshold=thr), "flagged (%)": 100 * np.mean(scores > thr)}
                        for name, thr in rules.items()}).T.rename_axis("rule")[["F1", "flagged (%)"]]
glue("ch5_best_rule", by_rule["F1"].idxmax())
rp.glue_figure("ch5_fig_rule", rp.plot_sweep(by_rule, xlabel="threshold rule"))

# %% [markdown]
# ```{glue:figure} ch5_fig_rule
# :name: ch5-fig-rule
# :alt: F1 and the share of flagged points for each threshold rule.
#
# F1 and the share of flagged points for each threshold rule, all fitted on held-out normal
# scores. Look at the share flagged: it is what an operator pays in alarms.
# ```
#
# The best F1 in this run comes from the {glue:text}`ch5_best_rule` rule. Without labels, pick the
# percentile from the number of alarms you can afford.
#
# ### How many points to train on
#
# The detector learns "normal" from the clean period alone, so that period has to show every
# normal regime (weekdays and weekends here). We train on the last $n$ points of the clean period
# for several $n$.

# %% tags=["hide-input"]
by_train = pd.DataFrame({n: judge(refit(n_train=n)) for n in sweep_train}).T.rename_axis("training points")
glue("ch5_best_train", int(by_train["VUS-PR"].idxmax()))
rp.glue_figure("ch5_fig_train", rp.plot_sweep(by_train, xlabel="training points", log_x=True))

# %% [markdown]
# ```{glue:figure} ch5_fig_train
# :name: ch5-fig-train
# :alt: PR-AUC, VUS-PR and F1 against the number of training points.
#
# PR-AUC, VUS-PR and F1 against the number of training points (the last $n$ of the clean
# period). Look for where the curves stop rising: more clean data than that buys little.
# ```
#
# The best VUS-PR in this run is with {glue:text}`ch5_best_train` training points.
#
# ## Summary
#
# - A CSV, a clean period and one `DiffusionDetector` give scores, flagged segments and a
#   saved detector in under 20 lines ({numref}`ch5-fig-flags`).
# - The window should hold one normal pattern ({numref}`ch5-fig-window`); $t_0$ trades copying
#   the anomaly against forgetting the window and can be tuned without retraining
#   ({numref}`ch5-fig-t0`); a percentile of held-out normal scores sets the alarm rate directly
#   ({numref}`ch5-fig-rule`); the clean period must cover every normal regime
#   ({numref}`ch5-fig-train`).
# - This page used the {glue:text}`ch5_profile` profile and ran in {glue:text}`ch5_seconds` s.

# %% tags=["hide-input"]
glue("ch5_seconds", f"{time.perf_counter() - chapter_start:.0f}")

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
# # 2. S4 diffusion on spacecraft and server telemetry
#
# ## Overview
#
# The second paper, *Unsupervised diffusion based anomaly detection for time series*
# {cite}`zuo2024unsupervised` (DiffADT), moves from sine waves to real multivariate telemetry:
# NASA's SMAP and MSL spacecraft channels {cite}`hundman2018detecting` and the Server Machine
# Dataset (SMD) {cite}`su2019robust`. Its denoiser is a DiffWave-style {cite}`kong2021diffwave`
# cascade of residual layers in which each bidirectional dilated convolution is followed by a
# structured state-space (S4) layer {cite}`gu2022efficiently,gu2022parameterization`, as in SSSD
# {cite}`alcaraz2023diffusion`. Two conditions enter every layer: the spacecraft's **command
# channels** (known inputs, not reconstructed) and an **entity-ID embedding** that tells one shared
# model which channel or machine it is looking at. A test window is noised to step $t_0$,
# denoised back, and the L1 distance between input and reconstruction, smoothed by a
# Hanning / Hamming / Bartlett kernel, is the anomaly score; a three-sigma rule fitted on
# training scores turns it into decisions.
#
# This chapter reproduces the paper's tables and figures — the data statistics (Table 1), the
# settings (Table 2), reconstructions with and without the entity ID (Figs. 3/4), the detection
# table (Table 3), IoU per smoothing kernel (Table 4), warm-up against a fixed learning rate
# (Fig. 5), S4 against plain dilated-convolution "RES" layers (Tables 5/6) and ROC curves
# (Fig. 6) — and adds what the paper leaves out: point-wise, event-wise and threshold-free
# metrics beside its point-adjusted ones, a random-score row, and the effect of $t_0$ and of
# the number of denoising steps.
#
# ## Prerequisites
#
# {doc}`01_sine_mlp` (the reconstruction detector on a toy problem), the
# {doc}`../diffusion_primer` and {doc}`../evaluation` (why point adjustment inflates scores, and
# what VUS-PR measures).
#
# ## Imports

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import diffad_lib as dl
from diffad_lib import experiments as ex
from diffad_lib import report as rp
from diffad_lib.papers import paper_table
from diffad_lib.report import glue

PAPER = "zuo2024unsupervised"  # its tables in book/paper_results.yaml

# %% [markdown]
# ## Parameters
#
# The cell below is papermill's `parameters` cell and holds the `default` profile: a documented
# subset of three entities per dataset and a model small enough to train on two CPU cores. The
# `smoke` profile (CI) shrinks everything further; the `full` profile (one GPU) uses every
# entity and the paper's scale. Both are overrides in `notebooks/profiles.yaml`. Run the chapter
# with your own values with, e.g., `diffad run 02 -p epochs 100 -p window 256`.

# %% tags=["parameters", "hide-input"]
profile = "default"  # name of the profile that produced this page
seed = 0  # seeds weights, batches, timesteps, noise and the baselines
datasets = ["SMAP", "MSL", "SMD"]  # benchmarks to run
# entities per dataset (an empty list: every entity). Default: three of different subsystems each.
entities = {"SMAP": ["A-1", "E-1", "P-1"], "MSL": ["C-1", "F-7", "T-8"],
            "SMD": ["machine-1-2", "machine-2-1", "machine-3-2"]}
max_train_length = 3000  # keep the first N training steps of each entity (0: all; cuts SMAP/MSL little, SMD most)
max_test_length = 0  # keep N test steps around each entity's first anomaly (0: the whole test split)
window = 128  # window length L (paper: 2000)
alpha = 0.5  # hop between windows as a fraction of L (the hop is α·L)
n_steps = 200  # diffusion steps T (paper: 200)
beta_start = 1e-4  # linear β schedule start (paper: 1e-4)
beta_end = 0.02  # linear β schedule end (paper: 0.02)
# width R of the residual path per dataset; SMD reconstructs all 38 metrics, and a path narrower than
# that is a bottleneck (the predicted noise would live in an R-dimensional subspace)
residual_channels = {"SMAP": 16, "MSL": 16, "SMD": 64}
n_layers = 6  # residual layers in the cascade
s4_state = 16  # state size N of each S4 kernel
dilation_cycle = 6  # layer i uses dilation 2 ** (i mod cycle)
epochs = 80  # training epochs
batch_size = 32  # windows per optimisation step
lr = 1e-3  # peak learning rate (AdamW; paper: 1e-3)
warmup_frac = 0.25  # the warm-up peaks at this fraction of training (paper: 1/4)
ssm_lr = 1e-3  # learning rate of the S4 parameters (no weight decay)
t0 = 50  # reconstruction noise level: windows are noised t0 steps and denoised back
sample_steps = 10  # DDIM steps of the reconstruction
kernel = "hann"  # smoothing kernel of the score (Table 3)
kernel_size = 15  # its length
kernels = ["hann", "hamming", "bartlett"]  # Table 4 kernels
kernel_sizes = [15, 25, 35]  # Table 4 sizes
baselines = ["iforest", "pca", "kmeans", "ocsvm", "kpca", "autoencoder", "random"]  # Table 3 baselines
baseline_window = 16  # window of the window-based baselines
baseline_hop = 1  # their hop
baseline_epochs = 20  # training epochs of the autoencoder baseline
ablation_dataset = "SMAP"  # dataset of Fig. 5, Tables 5/6 and the t0 / step sweeps
ablation_entities = 1  # its first k entities are used there
layer_counts = [6, 12, 18, 24]  # depths compared in Tables 5/6 (the paper's)
layer_channels = 8  # residual channels of the Tables 5/6 models
layer_epochs = 40  # training epochs of the Tables 5/6 models
sweep_t0 = [10, 25, 50, 100, 150]  # t0 values of the t0 sweep (at `sample_steps` DDIM steps)
sweep_steps = [1, 2, 5, 10, 20]  # DDIM step counts of the step sweep (at `t0`)
device = "auto"  # "cpu", "cuda" or "auto"
threads = 1  # torch CPU threads (0: torch's default; small models run fastest on one)

# %% tags=["hide-input"]
if threads:
    torch.set_num_threads(threads)
dl.utils.seed_everything(seed)
chapter_start = time.perf_counter()
hop = dl.data.hop_from_alpha(window, alpha)
model_params = {ds: dict(residual_channels=residual_channels[ds], n_layers=n_layers, layer="s4", s4_state=s4_state,
                         dilation_cycle=dilation_cycle) for ds in datasets}
detector_params = dict(window=window, hop=hop, n_steps=n_steps, beta_start=beta_start, beta_end=beta_end, t0=t0,
                       sampler="ddim", sample_steps=sample_steps, epochs=epochs, batch_size=batch_size, lr=lr,
                       warmup_frac=warmup_frac, lr_schedule="warmup_cosine", smoothing="none",
                       threshold="three_sigma", ssm_lr=ssm_lr, device=device, random_state=seed)
# settings the prose quotes, glued once
for key, value in dict(profile=profile, window=window, epochs=epochs, n_layers=n_layers,
                       window_ratio=f"{2000 / window:.3g}", kernel=f"{kernel}, {kernel_size} taps",
                       baseline_window=baseline_window, ablation_ds=ablation_dataset, layer_channels=layer_channels,
                       layer_epochs=layer_epochs, sweep_t0=t0, sweep_steps=sample_steps).items():
    glue(f"ch2_{key}", value)
print(rp.profile_line(profile, window=window, hop=hop, layers=n_layers, epochs=epochs,
                      device=dl.utils.resolve_device(device)))

# %% [markdown]
# ## The data (Table 1)
#
# **SMAP** and **MSL** come from NASA's telemanom release {cite}`hundman2018detecting`: each entity
# is one spacecraft telemetry channel (column 0) recorded together with one-hot encoded commands
# sent to the spacecraft (the other {glue:text}`ch2_cmd_SMAP` columns for SMAP,
# {glue:text}`ch2_cmd_MSL` for MSL). **SMD** {cite}`su2019robust` holds
# {glue:text}`ch2_smd_channels` metrics per server machine, one row per minute; the local mirror
# has the train and test files of {glue:text}`ch2_smd_available` of its
# {glue:text}`ch2_smd_total` machines (see `shared/data/MANIFEST.md`), and the SMD statistics
# below cover those. Training splits are unlabelled and assumed normal; test splits carry point
# labels.
#
# Everything in {numref}`ch2-table1` is computed from the files by `dl.data.dataset_summary`;
# the paper's own statistics stand beside them.

# %% tags=["remove-output"]
dl.data.prepare(["smap_msl", "smd"], progress=False)
summaries = {ds: dl.data.dataset_summary(ds).set_index("entity") for ds in datasets}
data, skipped = {}, {}
for ds in datasets:
    loaded = [ex.truncate_entity(e, max_train_length=max_train_length, max_test_length=max_test_length)
              for e in dl.data.load_telemetry(ds, entities=entities.get(ds) or None)]
    # a split shorter than the window cannot be framed (SMAP D-12 trains on 312 steps, for example)
    data[ds] = [e for e in loaded if min(len(e.train), len(e.test)) >= window]
    skipped[ds] = [e.name for e in loaded if min(len(e.train), len(e.test)) < window]

table1 = rp.telemetry_statistics(summaries, data)
paper1 = paper_table(PAPER, "table1")
rp.glue_table("ch2_table1", rp.beside_paper(table1, paper1, columns={
    "entities": "entities", "size": "steps", "anomaly ratio (%)": "anomaly ratio (%)"}), digits=2)
glue("ch2_table1_vs_paper", rp.agreement(table1["anomaly ratio (%)"], paper1["anomaly ratio (%)"],
                                         what="the anomaly ratio (%)", tolerance=0.5))
glue("ch2_entities_used", "; ".join(f"{ds}: {', '.join(e.name for e in data[ds])}" for ds in datasets
                                    if entities.get(ds)) or "every entity of every dataset")
for ds, n_cmd in (("SMAP", 24), ("MSL", 54)):  # the datasets' command channels, for a run that leaves one out
    glue(f"ch2_cmd_{ds}", len(data[ds][0].command_channels) if data.get(ds) else n_cmd)
glue("ch2_smd_total", len(list(dl.data.dataset_path("smd").glob("ServerMachineDataset/test_label/machine-*.txt"))))
glue("ch2_smd_available", len(dl.data.list_entities("SMD")))
glue("ch2_smd_channels", int(summaries["SMD"]["channels"].max()) if "SMD" in summaries else 38)
glue("ch2_skipped", "; ".join(f"{ds}: {', '.join(v)}" for ds, v in skipped.items() if v) or "none")
for ds in datasets:
    glue(f"ch2_ratio_{ds}", f"{table1.loc[ds, 'anomaly ratio (%)']:.2f}")

# %% [markdown]
# :::{table} Dataset statistics computed from the files (all available entities), what this run uses, and the paper's Table 1 (columns marked "reported by the paper"; all entities, size in time steps). Compare the anomaly ratios: the files and the paper should agree where every entity is available.
# :name: ch2-table1
# ```{glue:md} ch2_table1
# :format: myst
# ```
# :::
#
# {glue:text}`ch2_table1_vs_paper` SMD differs where the local mirror lacks some of the paper's
# machines (the SMD row counts the available ones); SMAP and MSL count every released entity.
#
# The anomaly ratios are {glue:text}`ch2_ratio_SMAP` % (SMAP), {glue:text}`ch2_ratio_MSL` % (MSL)
# and {glue:text}`ch2_ratio_SMD` % (SMD, the 19 available machines). Entities used in this run:
# {glue:text}`ch2_entities_used`. Entities left out because a split is shorter than the window:
# {glue:text}`ch2_skipped`.
#
# {numref}`ch2-fig-data` shows one entity per dataset.

# %% tags=["hide-input"]
rp.glue_figure("ch2_fig_data", rp.plot_entities({ds: data[ds] for ds in datasets}))

# %% [markdown]
# ```{glue:figure} ch2_fig_data
# :name: ch2-fig-data
# :alt: One telemetry channel per dataset over its training and test splits, labelled anomalies shaded.
#
# One entity per dataset: the training split, then the test split (after the vertical line) with
# its labelled segments shaded. For SMAP and MSL the line is the telemetry channel and the ticks
# under it mark when a command was active; for SMD it is the metric that moves most inside the
# first labelled segment. Look at how different the anomalies are: level shifts, spikes, and
# stretches where only the commands change.
# ```

# %% [markdown]
# ## Settings of this run against the paper's (Table 2)
#
# The paper trains with windows of L = 2000 steps and T = 200 diffusion steps on a GPU. On two
# CPU cores that is out of reach, so the `default` and `smoke` profiles shrink the window, the
# model and the training, and use a subset of the entities. {numref}`ch2-table2` states exactly
# what this page ran; the `full` profile restores the paper's scale. A dash in the paper's column
# marks a setting its Table 2 does not give; the `full` profile's value is then the book's own
# choice.

# %% tags=["hide-input"]
# the paper's Table 2 names its rows; the rows after it are settings the paper does not tabulate
settings = pd.DataFrame({f"this run ({profile})": {
    "layers": n_layers,
    "feature dim (channels and embedding)": ", ".join(f"{ds} {residual_channels[ds]}" for ds in datasets),
    "diffusion steps T": n_steps, "window (time series max length)": window, "batch size": batch_size,
    "optimizer": f"AdamW (S4 parameters: lr {ssm_lr or lr:g}, no weight decay)",
    "warm-up epochs": f"linear warm-up to {warmup_frac:g} of the steps, then cosine decay",
    "total epochs": epochs, "learning rate": f"{lr:g}",
    "hop α·L": f"{hop} (α = {alpha})", "β schedule": f"linear, {beta_start:g} to {beta_end:g}",
    "S4 state size": s4_state, "conditions": "command channels + entity ID",
    "scaling": "min-max to (−1, 1) per channel and entity (training split)",
    "reconstruction": f"noise to t0 = {t0}, {sample_steps} DDIM steps back",
    "score": f"L1 distance, {kernel} kernel of {kernel_size}", "threshold": "three sigma of the training scores",
    "entities": "; ".join(f"{ds} {len(data[ds])} of {len(summaries[ds]) - 1}" for ds in datasets),
    "series length": f"train: first {max_train_length or 'all'} steps; test: "
                     + (f"{max_test_length} steps around the first anomaly" if max_test_length else "full split"),
}}).rename_axis("setting").astype(str)
settings.insert(0, rp.PAPER_LABEL, paper_table(PAPER, "table2")["value"].reindex(settings.index).fillna("—"))
rp.glue_table("ch2_table2", settings)

# %% [markdown]
# :::{table} Training and scoring settings: the paper's Table 2 (reported by the paper; a dash where it does not give the setting in that table) beside this page's (the profile is named in the column header). The differences in scale are the first place to look when this page's numbers differ from the paper's.
# :name: ch2-table2
# ```{glue:md} ch2_table2
# :format: myst
# ```
# :::
#
# ## Training DiffADT with and without the entity ID
#
# For each dataset we train **one** model on the training splits of all its entities, twice:
# with the entity-ID embedding (DiffADT) and without it. The variant without the ID is the same
# network with the embedding removed (`n_entities=0`); both keep the per-entity min-max
# scaling and a per-entity threshold, so the only difference is whether the denoiser knows which
# entity a window comes from. The detector keeps the raw L1 distances of the training and test
# splits (`smoothing="none"`), so every kernel of Table 4 rescores the same reconstructions.

# %%
VARIANTS = {f"{ex.display_name('diffadt')} ({w} entity ID)": w == "with" for w in ("without", "with")}
without_id, with_id = VARIANTS
runs: dict[tuple[str, str], ex.FitReport] = {}
for ds in datasets:
    for variant, embed in VARIANTS.items():
        det = ex.diffusion_detector(data[ds], entity_embedding=embed, model_params=model_params[ds], **detector_params)
        rep = runs[ds, variant] = ex.run_entities(det, data[ds], keep_reconstruction=True)
        print(f"{ds:5s} {variant:28s} train {rep.fit_seconds:6.1f} s, score {rep.score_seconds:6.1f} s, "
              f"final loss {np.mean(rep.detector.detector_.train_losses_[-3:]):.4f}")
glue("ch2_train_seconds", f"{sum(r.fit_seconds + r.score_seconds for r in runs.values()):.0f}")
glue("ch2_n_models", len(runs))
glue("ch2_first_ds", datasets[0])
glue("ch2_n_params", f"{sum(p.numel() for p in runs[datasets[0], with_id].detector.detector_.model_.parameters()):,}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(datasets), figsize=(4 * len(datasets), 2.8), squeeze=False)
for ax, ds in zip(axes[0], datasets, strict=True):
    for variant in VARIANTS:
        ax.plot(np.arange(1, epochs + 1), runs[ds, variant].detector.detector_.train_losses_, lw=1, label=variant)
    ax.set(title=ds, xlabel="epoch", ylabel="ε-prediction loss")
axes[0, 0].legend(fontsize=8)
rp.glue_figure("ch2_fig_loss", fig)

# %% [markdown]
# ```{glue:figure} ch2_fig_loss
# :name: ch2-fig-loss
# :alt: Training loss per epoch of the models with and without the entity ID, one panel per dataset.
#
# Training loss of the models with and without the entity ID, one panel per dataset. Look for
# the gap between the two curves: it is what the entity ID buys during training.
# ```
#
# Training and scoring the {glue:text}`ch2_n_models` models took {glue:text}`ch2_train_seconds` s;
# the {glue:text}`ch2_first_ds` model with the entity ID has {glue:text}`ch2_n_params` parameters.
#
# ## Reconstructions without and with the entity ID (Figs. 3/4)
#
# {numref}`ch2-fig-recon` reproduces the paper's Figs. 3 and 4 on one entity per dataset.

# %% tags=["hide-input"]
rp.glue_figure("ch2_fig_recon", rp.plot_reconstructions(runs, {ds: data[ds] for ds in datasets},
                                                        variants=list(VARIANTS), window=window, kernel=kernel,
                                                        kernel_size=kernel_size))

# %% [markdown]
# ```{glue:figure} ch2_fig_recon
# :name: ch2-fig-recon
# :alt: Test series, reconstructions and smoothed distances around the first anomaly of one entity per dataset.
#
# The paper's Figs. 3/4: for one entity per dataset, the test series around its first labelled
# anomaly (shaded) with the reconstruction, and below it the smoothed distance with the
# three-sigma threshold fitted on the training split. Left: one shared model without the entity
# ID (Fig. 3); right: DiffADT with it (Fig. 4). Look at whether the reconstruction follows the
# series outside the shaded segment and departs from it inside.
# ```

# %% [markdown]
# ## Detection results (Table 3)
#
# Every method is scored per entity and its threshold is the three-sigma rule on its own
# **training** scores (for a baseline, the `threshold_` its detector fitted); the table gives the
# mean over the entities of each dataset. DiffADT's score
# is the smoothed L1 distance ({glue:text}`ch2_kernel`); the baselines — Isolation Forest
# {cite}`liu2008isolation`, PCA, k-means, one-class SVM, kernel PCA and a small autoencoder on
# sliding windows of {glue:text}`ch2_baseline_window` steps over all channels, and a random score —
# are used as they come, fitted on each entity's training split. The first three columns are the
# paper's protocol (point-adjusted precision, recall and F1 {cite}`xu2018unsupervised`); the
# others are point-wise, event-wise and threshold-free (see {doc}`../evaluation`).

# %% tags=["remove-output"]
# the baselines' shared settings; each baseline takes those it accepts (ex.supported_params)
baseline_shared = dict(window=baseline_window, hop=baseline_hop, epochs=baseline_epochs, random_state=seed)
# Uniform scores never exceed mean + 3σ of uniform training scores, so the three-sigma random row flags
# nothing. A second random detector flags the top 1 % (its threshold rule is the 99th percentile of its
# training scores, still no test information) to show what point adjustment does with chance.
RANDOM, RANDOM_PCT = ex.display_name("random"), f"{ex.display_name('random')} (99th percentile)"
reports, start = {}, time.perf_counter()
for ds in datasets:
    reports.update({(ds, variant): runs[ds, variant] for variant in VARIANTS})
    reports.update({(ds, ex.display_name(b)): ex.run_entities(b, data[ds], **ex.supported_params(b, baseline_shared))
                    for b in baselines})
    if "random" in baselines:
        reports[ds, RANDOM_PCT] = ex.run_entities("random", data[ds], random_state=seed, threshold="percentile",
                                                  threshold_params={"q": 99.0})
glue("ch2_baseline_seconds", f"{time.perf_counter() - start:.0f}")
table3 = rp.mean_entity_metrics(reports, smoothed=VARIANTS, kernel=kernel, kernel_size=kernel_size)

# %% tags=["hide-input"]
paper3 = rp.per_dataset(paper_table(PAPER, "table3"),
                        rename={"mPre": "precision (PA)", "mRec": "recall (PA)", "mF1": "F1-PA"})
shown3 = rp.stack_paper(table3, paper3, ours_label=f"this run ({profile})")
rp.glue_table("ch2_table3", shown3.reorder_levels(["dataset", "source", "method"]).loc[datasets])
glue("ch2_table3_vs_paper", rp.agreement(table3.xs(with_id, level="method")["F1-PA"],
                                         paper3.xs("DiffADT (entity ID)", level="method")["F1-PA"],
                                         what="F1-PA of DiffADT with the entity ID", tolerance=0.05))
base_labels = [ex.display_name(b) for b in baselines if b != "random"]
best_bases = {ds: table3.loc[ds].loc[base_labels, "VUS-PR"].idxmax() if base_labels else None for ds in datasets}
vus_wins = sum(bool(best) and table3.loc[(ds, with_id), "VUS-PR"] > table3.loc[(ds, best), "VUS-PR"]
               for ds, best in best_bases.items())
for ds, best in best_bases.items():
    t3 = table3.loc[ds]
    for key, col in (("f1pa", "F1-PA"), ("f1", "F1"), ("vus", "VUS-PR")):
        glue(f"ch2_{key}_{ds}", f"{t3.loc[with_id, col]:.3f}")
        glue(f"ch2_random_{key}_{ds}", f"{t3.loc[RANDOM_PCT, col]:.3f}" if RANDOM_PCT in t3.index else "n/a")
    glue(f"ch2_best_base_{ds}", f"{best} ({t3.loc[best, 'VUS-PR']:.3f})" if best else "none")
glue("ch2_vus_wins", f"{vus_wins} of {len(datasets)}")
glue("ch2_beats_baselines", "yes" if (vus_wins >= 2 if len(datasets) == 3 else vus_wins > len(datasets) / 2) else "no")

# %% [markdown]
# :::{table} The paper's Table 3 reproduced: mean over the entities of each dataset. "(PA)": point-adjusted, the paper's protocol; F1 is point-wise; event F1 counts segments; ROC-AUC, PR-AUC and VUS-PR need no threshold. Every threshold is three sigma of the method's own training scores, except for the second random row, which flags the top 1 % (the 99th percentile of its training scores). Rows marked "reported by the paper" are its mean precision, recall and F1 over all entities (its protocol: point adjustment not stated, values in the point-adjusted range; threshold not given). Compare DiffADT's F1-PA with the random rows before comparing it with the paper.
# :name: ch2-table3
# ```{glue:md} ch2_table3
# :format: myst
# ```
# :::
#
# **This run against the paper.** {glue:text}`ch2_table3_vs_paper` The paper's rows cover every
# entity of each dataset, windows of 2000 steps and its own threshold; this page uses
# {glue:text}`ch2_entities_per_ds` entities at the {glue:text}`ch2_profile` profile
# ({numref}`ch2-table2`), and its thresholds come from training scores only. Baselines the paper
# lists but the library does not implement (OC-ALP, OC-LCB, LSTM-AE, BeatGAN) appear only in the
# paper's rows.
#
# **Full-profile results.** The `full` profile (every entity, the paper's configuration, one GPU)
# writes its Table 3 to `results/02_s4_telemetry_full.json`, naming the device, the commit and
# the command. When that file is committed it is shown below, beside this build's own table.

# %%
ex.show_full_results("02_s4_telemetry_full", {"table3": table3}, profile=profile,
                     command="diffad run 02 --profile full")

# %% [markdown]
# **What changed since the last recorded run.** The detector behind DiffADT changed between
# builds: per-channel scaling is robust (quantiles instead of min and max), training runs for a
# budget of optimizer steps with a validation loss on held-out normal windows (best weights,
# early stopping), each telemetry channel's error is standardised by its held-out normal errors
# before channels are averaged, and a value beyond the training range adds its excess to the
# score. The score itself is still the paper's reconstruction distance. The cell below compares
# this build's Table 3 with the `default` run recorded in `results/02_s4_telemetry_default.json`
# (cell by cell, this build minus the recorded one) and then records this build:
# {glue:text}`ch2_vs_recorded`

# %% tags=["hide-input"]
glue("ch2_vs_recorded", ex.compare_with_recorded("02_s4_telemetry", {"table3": table3}, profile=profile,
                                                 command=f"diffad run 02 --profile {profile}"))

# %% [markdown]
# With the paper's protocol DiffADT reaches F1-PA {glue:text}`ch2_f1pa_SMAP` (SMAP),
# {glue:text}`ch2_f1pa_MSL` (MSL) and {glue:text}`ch2_f1pa_SMD` (SMD), but its point-wise F1 is
# {glue:text}`ch2_f1_SMAP`, {glue:text}`ch2_f1_MSL` and {glue:text}`ch2_f1_SMD`. The random score
# makes the gap concrete. With the three-sigma rule it flags nothing (uniform scores never exceed
# the mean plus three standard deviations of uniform training scores); flagging the top 1 % of
# steps instead (the 99th percentile of its training scores), it reaches a point-adjusted F1 of
# {glue:text}`ch2_random_f1pa_SMAP`, {glue:text}`ch2_random_f1pa_MSL` and
# {glue:text}`ch2_random_f1pa_SMD`, but a point-wise F1 of only {glue:text}`ch2_random_f1_SMAP`,
# {glue:text}`ch2_random_f1_MSL` and {glue:text}`ch2_random_f1_SMD` {cite}`kim2022towards`. On the threshold-free VUS-PR
# {cite}`paparrizos2022volume` DiffADT scores {glue:text}`ch2_vus_SMAP`, {glue:text}`ch2_vus_MSL`
# and {glue:text}`ch2_vus_SMD`; the best baselines are {glue:text}`ch2_best_base_SMAP`,
# {glue:text}`ch2_best_base_MSL` and {glue:text}`ch2_best_base_SMD`. DiffADT is ahead of the best
# baseline on {glue:text}`ch2_vus_wins` datasets. The baselines took
# {glue:text}`ch2_baseline_seconds` s in all.
#
# ## Smoothing kernels (Table 4)
#
# The paper smooths the L1 distance with a Hanning, Hamming or Bartlett kernel of 15, 25 or 35
# taps and reports the IoU of the detected and the labelled anomalous steps. Here the same
# reconstructions (DiffADT with the entity ID) are rescored with each kernel, with the
# three-sigma threshold refitted on the smoothed training scores every time; nothing is
# retrained.

# %% tags=["hide-input"]
table4 = pd.concat({ds: ex.kernel_grid(runs[ds, with_id].scores, kinds=kernels, sizes=kernel_sizes)
                    for ds in datasets}, names=["dataset"]).rename(columns=lambda s: f"IoU, {s} taps")
iou_none = {ds: ex.kernel_grid(runs[ds, with_id].scores, kinds=["none"], sizes=[1]).iloc[0, 0] for ds in datasets}
for ds in datasets:
    (k, size), best = table4.loc[ds].stack().idxmax(), table4.loc[ds].stack().max()
    glue(f"ch2_best_kernel_{ds}", f"{k}, {size.split(', ')[1]} ({best:.3f})")
    glue(f"ch2_iou_none_{ds}", f"{iou_none[ds]:.3f}")
table4["IoU, no smoothing"] = [iou_none[ds] for ds, _ in table4.index]
paper4 = paper_table(PAPER, "table4").rename(index={"Hanning": "hann", "Hamming": "hamming", "Bartlett": "bartlett"})
paper4 = (paper4 / 100).rename(columns=lambda c: f"IoU, {c.split()[1]} taps")  # the paper prints percentages
rp.glue_table("ch2_table4", pd.concat([table4, pd.concat({f"{rp.PAPER_LABEL} (mean)": paper4}, names=["dataset"])]))
mean4 = table4.drop(columns="IoU, no smoothing").groupby(level="kernel", sort=False).mean().mean(axis=1)
glue("ch2_table4_vs_paper", rp.agreement(mean4, paper4.mean(axis=1), tolerance=0.05,
                                         what="IoU averaged over the datasets and kernel sizes"))

# %% [markdown]
# :::{table} The paper's Table 4 reproduced: mean IoU of detected and labelled anomalous test steps per smoothing kernel and size (DiffADT with the entity ID, thresholds from training scores), and without smoothing. The last rows are reported by the paper (its average over the datasets, printed in percent and shown here as fractions). Look along a row for the effect of the kernel size, down a column for the kernel.
# :name: ch2-table4
# ```{glue:md} ch2_table4
# :format: myst
# ```
# :::
#
# {glue:text}`ch2_table4_vs_paper` The paper's IoU is measured at its own scale and threshold,
# over every entity; at this page's scale the detections cover far less of each labelled
# segment. The best kernel and size by IoU is {glue:text}`ch2_best_kernel_SMAP` on SMAP,
# {glue:text}`ch2_best_kernel_MSL` on MSL and {glue:text}`ch2_best_kernel_SMD` on SMD; without any
# smoothing the IoU is {glue:text}`ch2_iou_none_SMAP`, {glue:text}`ch2_iou_none_MSL` and
# {glue:text}`ch2_iou_none_SMD`. Smoothing suppresses isolated spikes of the reconstruction error
# (sampling noise) that the three-sigma rule would otherwise flag, and spreads detections over
# neighbouring steps; that helps where labelled segments are long and hurts where they are short
# (compare the datasets' segment lengths in {numref}`ch2-table1`).
#
# ## Warm-up against a fixed learning rate (Fig. 5)
#
# The paper warms the learning rate up to its peak at a quarter of training and decays it
# afterwards, and reports a smoother, lower loss than with a fixed rate. We train the model of
# this page twice on the first {glue:text}`ch2_ablation_k` entity (or entities) of
# {glue:text}`ch2_ablation_ds`, once with each schedule, everything else equal.

# %%
abl = data[ablation_dataset][:ablation_entities]
glue("ch2_ablation_k", len(abl))
glue("ch2_ablation_names", ", ".join(e.name for e in abl))

SCHEDULES = {"warm-up to 1/4, cosine decay": "warmup_cosine", "fixed learning rate": "constant"}
sched_runs = {name: ex.run_entities(ex.diffusion_detector(abl, model_params=model_params[ablation_dataset],
                                                          **{**detector_params, "lr_schedule": sched}), abl)
              for name, sched in SCHEDULES.items()}

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [2, 1]})
for name, rep in sched_runs.items():
    result = rep.detector.detector_.train_result_
    axes[0].plot(np.arange(1, epochs + 1), result.losses, lw=1.2, label=name)
    axes[1].plot(np.arange(len(result.step_lrs)) * epochs / len(result.step_lrs), result.step_lrs, lw=1.2)
axes[0].set(xlabel="epoch", ylabel="ε-prediction loss (per epoch)", title="training loss")
axes[1].set(xlabel="epoch", ylabel="learning rate", title="schedule")
axes[0].legend(fontsize=8)
rp.glue_figure("ch2_fig_warmup", fig)
summary = {"kernel": kernel, "kernel_size": kernel_size}
sched_table = pd.DataFrame({name: rp.training_summary(rep, **summary) for name, rep in sched_runs.items()}).T
rp.glue_table("ch2_table_schedule", sched_table.rename_axis("schedule"), digits=4)
(warm_loss, warm_std, _), (fixed_loss, fixed_std, _) = sched_table.to_numpy()
for key, value in dict(warm_loss=warm_loss, fixed_loss=fixed_loss, warm_std=warm_std, fixed_std=fixed_std).items():
    glue(f"ch2_{key}", f"{value:.4f}")
glue("ch2_warm_lower", "yes" if warm_loss < fixed_loss else "no")
glue("ch2_warm_stabler", "yes" if warm_std < fixed_std else "no")

# %% [markdown]
# ```{glue:figure} ch2_fig_warmup
# :name: ch2-fig-warmup
# :alt: Training loss per epoch and learning rate for the warm-up schedule and a fixed learning rate.
#
# The paper's Fig. 5: training loss (left) and learning rate (right) with a warm-up peaking at a
# quarter of training and with a fixed rate, on the entities named in the text. Look at the
# loss over the last epochs, where the two schedules differ most.
# ```
#
# :::{table} Loss level and spread over the last fifth of training, and ROC-AUC of the smoothed score, for the two schedules of {numref}`ch2-fig-warmup`.
# :name: ch2-table-schedule
# ```{glue:md} ch2_table_schedule
# :format: myst
# ```
# :::
#
# Over the last fifth of training the loss averages {glue:text}`ch2_warm_loss` with the warm-up
# and {glue:text}`ch2_fixed_loss` with the fixed rate (standard deviation
# {glue:text}`ch2_warm_std` against {glue:text}`ch2_fixed_std`). Lower with the warm-up?
# {glue:text}`ch2_warm_lower`. Steadier? {glue:text}`ch2_warm_stabler`. Part of any difference is
# simply the decay: the warm-up schedule ends at a learning rate near zero, the fixed one does not.
#
# ## S4 against dilated convolutions only (Tables 5/6)
#
# The paper's ablation replaces each S4 layer by nothing — leaving the "RES" cascade of dilated
# convolutions — at 6, 12, 18 and 24 residual layers, and compares the reconstruction loss, its
# stability and the reconstruction time. We keep the four depths and shrink the width to
# {glue:text}`ch2_layer_channels` channels and the training to {glue:text}`ch2_layer_epochs`
# epochs so that eight models fit in the budget (same data as {numref}`ch2-fig-warmup`). Columns: the
# ε-prediction training loss at the end; its standard deviation over the last fifth of the epochs
# (stability); the L1 reconstruction error on the normal (unlabelled) test steps; the ROC-AUC of
# the smoothed score; training time; reconstruction time per 1000 test steps.

# %% tags=["hide-input"]
L1 = "L1 reconstruction error (normal test steps)"
layer_rows = {}
for layer in ("S4", "RES"):
    for depth in layer_counts:
        params = {**model_params[ablation_dataset], "residual_channels": layer_channels, "n_layers": depth,
                  "layer": layer.lower()}
        rep = ex.run_entities(ex.diffusion_detector(abl, model_params=params,
                                                    **{**detector_params, "epochs": layer_epochs}), abl)
        layer_rows[layer, depth] = {
            **rp.training_summary(rep, **summary),
            L1: float(np.mean([s.test_scores[s.labels == 0].mean() for s in rep.scores])),
            "training time (s)": rep.fit_seconds,
            "reconstruction time (s per 1000 steps)": 1000 * rep.score_seconds / sum(len(e.test) for e in abl),
            "parameters": sum(p.numel() for p in rep.detector.detector_.model_.parameters()),
        }
layers_df = pd.DataFrame.from_dict(layer_rows, orient="index").rename_axis(["layer", "layers"])
paper6 = paper_table(PAPER, "table6")  # rows "S4-L6" ... "RES-L24"
paper6.index = pd.MultiIndex.from_tuples([(n.split("-L")[0], int(n.split("-L")[1])) for n in paper6.index],
                                         names=["layer", "layers"])
rp.glue_table("ch2_table5", rp.beside_paper(layers_df.iloc[:, [0, 1, 3, 2]], paper6, columns={  # loss, spread, L1, AUC
    "L1 loss": "L1 loss of sampling", "L2 loss (last 500 epochs)": "L2 loss", "L2 loss std": "L2 loss std"}), digits=4)
rp.glue_table("ch2_table6", rp.beside_paper(layers_df.iloc[:, 4:], paper6, columns={  # times and parameter counts
    "time (s)": "time per window (s, Tesla P40)"}), digits=3)
s4, res = (layers_df.xs(k, level="layer") for k in ("S4", "RES"))
p4, pres = (paper6.xs(k, level="layer")["L1 loss"] for k in ("S4", "RES"))
glue("ch2_paper_s4_l1_wins", f"{int((p4 < pres).sum())} of {len(p4)}")
glue("ch2_s4_l1_wins", f"{int((s4[L1] < res[L1]).sum())} of {len(layer_counts)}")
glue("ch2_s4_std_wins", f"{int((s4.iloc[:, 1] < res.iloc[:, 1]).sum())} of {len(layer_counts)}")
glue("ch2_s4_time_ratio", f"{(s4.iloc[:, 5] / res.iloc[:, 5]).mean():.1f}")
glue("ch2_rf_depth", min(layer_counts))
glue("ch2_rf", dl.models.diffwave.DiffWaveConfig(in_channels=1, n_layers=min(layer_counts), layer="res",
                                                 dilation_cycle=dilation_cycle).receptive_field)

# %% [markdown]
# :::{table} The paper's Table 5 reproduced: S4 against RES layers, with the training loss at the end of training, its standard deviation over the last fifth of the epochs, the L1 reconstruction error on normal test steps and ROC-AUC. The columns marked "reported by the paper" are its Table 6 (SMAP, every entity, 800 epochs at 512 channels: L1 loss of sampling, L2 loss over the last 500 epochs). Compare the S4 and RES rows at the same depth.
# :name: ch2-table5
# ```{glue:md} ch2_table5
# :format: myst
# ```
# :::
#
# :::{table} The paper's Table 6 reproduced (cost): training time, reconstruction time per 1000 test steps and number of parameters on this machine (see {doc}`reproducibility`), beside the paper's time per window on a Tesla P40 with 20 sampling steps. Only the ratio of S4 to RES times compares across machines.
# :name: ch2-table6
# ```{glue:md} ch2_table6
# :format: myst
# ```
# :::
#
# In the paper, S4 layers reach the lower L1 loss at {glue:text}`ch2_paper_s4_l1_wins` depths
# ({numref}`ch2-table5`). Here S4 layers give the lower L1 reconstruction error on normal steps at
# {glue:text}`ch2_s4_l1_wins` depths (a different loss: reconstruction from $t_0$ on test data,
# at {glue:text}`ch2_layer_channels` channels instead of 512) and the steadier training loss at
# {glue:text}`ch2_s4_std_wins`; they make reconstruction {glue:text}`ch2_s4_time_ratio` times as
# slow on average ({numref}`ch2-table6`). A RES cascade of $n$ layers sees only its receptive field of dilated
# convolutions, while every S4 layer sees the whole window — the paper's argument for S4 on long
# windows. Here the shallowest RES cascade ({glue:text}`ch2_rf_depth` layers) already reaches
# {glue:text}`ch2_rf` steps, against a window of {glue:text}`ch2_window` steps; the paper makes
# its case at L = 2000, where a dilated cascade covers a much smaller part of the window.
#
# ## ROC curves (Fig. 6)
#
# ROC curves of the smoothed distance, pooled over the entities of each dataset. Each entity's
# scores are first standardised by the mean and standard deviation of its own training scores,
# so the point marked on each DiffADT curve, z = 3, is the three-sigma threshold of every entity
# at once.

# %% tags=["hide-input"]
curves = {ds: {key: reports[ds, key] for key in [without_id, with_id, best_bases[ds]] if key} for ds in datasets}
fig, pooled_auc = rp.plot_pooled_roc(curves, smoothed=VARIANTS, kernel=kernel, kernel_size=kernel_size)
rp.glue_figure("ch2_fig_roc", fig)
for ds in datasets:
    glue(f"ch2_pooled_auc_{ds}", f"{pooled_auc[ds, with_id]:.3f}")

# %% [markdown]
# ```{glue:figure} ch2_fig_roc
# :name: ch2-fig-roc
# :alt: ROC curves of DiffADT with and without the entity ID and of the best baseline, one panel per dataset.
#
# The paper's Fig. 6: ROC curves of the smoothed distance, pooled over the entities of each
# dataset and standardised per entity; the dot on each DiffADT curve is z = 3, the three-sigma
# threshold. Look at where the dots sit: the threshold's operating point, not the whole curve,
# decides the F1 of {numref}`ch2-table3`.
# ```
#
# The pooled ROC-AUC of DiffADT with the entity ID is {glue:text}`ch2_pooled_auc_SMAP` (SMAP),
# {glue:text}`ch2_pooled_auc_MSL` (MSL) and {glue:text}`ch2_pooled_auc_SMD` (SMD). The dot shows
# where the three-sigma rule operates: far to the left, at a low false-positive rate, trading
# recall for precision.
#
# ## How much noise, how many denoising steps
#
# Two knobs decide how a window is reconstructed: the noise level $t_0$ (how far the window is
# pushed towards noise before it is denoised back; at $t_0 = 0$ the reconstruction is the input
# itself) and the number of DDIM steps {cite}`song2021denoising` used to come back. With the
# trained DiffADT model of {glue:text}`ch2_ablation_ds` we rescore the same test series (entities
# {glue:text}`ch2_ablation_names`) while varying one knob at a time, and report the L1
# reconstruction error on normal test steps, the ROC-AUC of the smoothed score and the
# reconstruction time.

# %%
# the ablation entities are the first of the dataset, so their indices are the model's entity IDs
sweep = ex.rescore_sweep(runs[ablation_dataset, with_id].detector, abl, {
    "t0": ("t0", [int(v) for v in sweep_t0]), "DDIM steps": ("sample_steps", [int(v) for v in sweep_steps])},
    kind=kernel, size=kernel_size)

# %% tags=["hide-input"]
rp.glue_table("ch2_sweep", sweep, digits=4)
best_t0 = sweep.loc["t0"]["ROC-AUC"].idxmax()
glue("ch2_best_t0", f"{best_t0} ({sweep.loc[('t0', best_t0), 'ROC-AUC']:.3f})")
for knob, key in (("t0", "t0"), ("DDIM steps", "steps")):
    part = sweep.loc[knob]
    glue(f"ch2_auc_range_{key}", f"{part['ROC-AUC'].min():.3f} to {part['ROC-AUC'].max():.3f}")
    glue(f"ch2_time_range_{key}", f"{part['time (s)'].min():.1f} s to {part['time (s)'].max():.1f} s")
rp.glue_figure("ch2_fig_sweep", rp.plot_knob_sweep(sweep, xlabels={
    "t0": f"t0 (at {sample_steps} DDIM steps)", "DDIM steps": f"DDIM steps (at t0 = {t0})"}))

# %% [markdown]
# ```{glue:figure} ch2_fig_sweep
# :name: ch2-fig-sweep
# :alt: L1 error on normal steps and ROC-AUC against t0 and against the number of DDIM steps.
#
# Reconstruction error on normal steps (circles, left axis) and ROC-AUC (squares, right axis)
# against the noise level $t_0$ and the number of DDIM steps, rescoring the same test series
# with the trained model. Look for the $t_0$ where ROC-AUC peaks while the error keeps growing.
# ```
#
# :::{table} The numbers of {numref}`ch2-fig-sweep`: the noise level $t_0$ at {glue:text}`ch2_sweep_steps` DDIM steps, and the number of DDIM steps at $t_0$ = {glue:text}`ch2_sweep_t0`, with the reconstruction time of each setting.
# :name: ch2-sweep
# ```{glue:md} ch2_sweep
# :format: myst
# ```
# :::
#
# A larger $t_0$ erases more of the window, so the reconstruction leans more on what the model
# has learned and less on the input: the error on normal steps grows, and so, if the model has
# learned normal behaviour, does the contrast with anomalies. Too large a $t_0$ loses the window
# altogether. In this run the best ROC-AUC over the $t_0$ values tried is at
# {glue:text}`ch2_best_t0`. Across the $t_0$ values the ROC-AUC spans
# {glue:text}`ch2_auc_range_t0`, across the step counts {glue:text}`ch2_auc_range_steps`; the
# reconstruction time grows with the number of steps ({glue:text}`ch2_time_range_steps`) and
# hardly with $t_0$ ({glue:text}`ch2_time_range_t0`), because DDIM takes the same number of
# steps from any starting level.
#
# ## Discussion: this run against the paper
#
# Each of the paper's claims is checked below against this run's numbers.

# %% tags=["hide-input"]
# a baseline "beaten" is only informative if it is itself better than chance
chance = [ds for ds, best in best_bases.items() if best and RANDOM in table3.loc[ds].index
          and table3.loc[(ds, best), "VUS-PR"] <= table3.loc[(ds, RANDOM), "VUS-PR"]]
glue("ch2_baseline_at_chance", ", ".join(chance) or "none")
pa_gain = table3["F1-PA"] - table3["F1"]
glue("ch2_pa_gap", f"{pa_gain.xs(with_id, level='method').mean():.3f}")
glue("ch2_all_pa_gap", f"{pa_gain[~pa_gain.index.get_level_values('method').str.startswith(RANDOM)].mean():.3f}")
glue("ch2_entities_per_ds", ", ".join(f"{len(data[ds])} ({ds})" for ds in datasets))
for key, col in (("f1pa", "F1-PA"), ("vus", "VUS-PR")):
    wins = sum(table3.loc[(ds, with_id), col] > table3.loc[(ds, without_id), col] for ds in datasets)
    glue(f"ch2_id_{key}_wins", f"{wins} of {len(datasets)}")

# %% [markdown]
# **This run against the paper's claims**
#
# - *The entity ID helps* ({numref}`ch2-fig-recon` and {numref}`ch2-table3`): with the ID, F1-PA is higher on
#   {glue:text}`ch2_id_f1pa_wins` datasets and VUS-PR on {glue:text}`ch2_id_vus_wins`.
# - *DiffADT beats the baselines*: on VUS-PR it is ahead of the best baseline on
#   {glue:text}`ch2_vus_wins` datasets; on at least two of three? {glue:text}`ch2_beats_baselines`.
#   That comparison means less where the best baseline is itself no better than the random score
#   on VUS-PR — in this run: {glue:text}`ch2_baseline_at_chance`.
# - *Point adjustment*: it adds {glue:text}`ch2_pa_gap` to DiffADT's F1 on average; the random
#   score's F1-PA ({numref}`ch2-table3`) shows how much of that is the protocol rather than the detector.
# - *Warm-up gives a lower, steadier loss* ({numref}`ch2-fig-warmup`): lower? {glue:text}`ch2_warm_lower`;
#   steadier? {glue:text}`ch2_warm_stabler`.
# - *S4 reconstructs better than RES* ({numref}`ch2-table5`): lower L1 error at {glue:text}`ch2_s4_l1_wins`
#   depths, at {glue:text}`ch2_s4_time_ratio` times the reconstruction time ({numref}`ch2-table6`).
# - *Smoothing kernels* ({numref}`ch2-table4`): the best kernel by IoU is {glue:text}`ch2_best_kernel_SMAP` on
#   SMAP, {glue:text}`ch2_best_kernel_MSL` on MSL and {glue:text}`ch2_best_kernel_SMD` on SMD.
#
# Where this page and the paper can disagree, the reasons are mostly of scale. This run (profile
# {glue:text}`ch2_profile`) trains on windows of L = {glue:text}`ch2_window` steps — the paper's
# are {glue:text}`ch2_window_ratio` times as long — with {glue:text}`ch2_n_layers` residual layers,
# for {glue:text}`ch2_epochs` epochs, on {glue:text}`ch2_entities_per_ds` entities. With few
# entities the embedding has little to separate, and short windows remove the long-range
# structure that S4 is meant to capture. The paper's headline numbers are point-adjusted; with
# thresholds fitted on training data only, point-adjusted F1 exceeds point-wise F1 by
# {glue:text}`ch2_all_pa_gap` on average over the non-random methods of {numref}`ch2-table3`, and the random
# row flagging the top 1 % shows that point-adjusted F1 is a weak yardstick on these benchmarks.
# Finally, a three-sigma rule fitted on training scores is conservative when test data drift away
# from the training range (some SMAP/MSL channels do, see `shared/data/MANIFEST.md`), and
# it trades recall for precision. The `full` profile removes the differences of scale; the
# evaluation protocol is the same at every scale.
#
# ## Summary
#
# - One DiffWave-style cascade with S4 layers, conditioned on command channels and an entity-ID
#   embedding, is trained per dataset across all of its entities and detects anomalies from the
#   smoothed L1 distance of partial reconstructions, with a three-sigma threshold from training
#   scores.
# - {numref}`ch2-table3` reports the paper's point-adjusted metrics beside point-wise, event-wise and
#   threshold-free ones for DiffADT with and without the entity ID and for seven baselines.
#   DiffADT beats the best baseline on VUS-PR on at least two of three datasets?
#   {glue:text}`ch2_beats_baselines`.
# - {numref}`ch2-table4`–{numref}`ch2-table6`, {numref}`ch2-fig-warmup` and
#   {numref}`ch2-fig-roc` reproduce the paper's ablations (kernels, warm-up, S4 against RES,
#   ROC), and the last section shows how $t_0$ and the number of denoising steps trade
#   reconstruction fidelity for contrast.
# - This page used the {glue:text}`ch2_profile` profile and ran in {glue:text}`ch2_seconds` s.
#
# ## What's next
#
# Chapter 3 replaces the cascade by a U-Net with a wavelet pyramid and self-attention, and applies
# one model to images, audio and time series.

# %%
glue("ch2_seconds", f"{time.perf_counter() - chapter_start:.0f}")
print(f"chapter executed in {time.perf_counter() - chapter_start:.0f} s")

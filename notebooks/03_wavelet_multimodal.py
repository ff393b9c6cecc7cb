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
# # 3. A wavelet U-Net for images, sounds and series
#
# ## Overview
#
# The third paper, Yi Chen's *Research on Anomaly Detection Methods Based on Diffusion Models*
# {cite}`chen2025research`, moves from one modality to three. A denoising diffusion model
# {cite}`ho2020denoising` with a U-Net noise predictor is trained on normal data only; an input
# is noised a little and denoised back, and the anomaly score mixes two discrepancies between the
# input $x_0$ and its reconstruction $\tilde x_0$:
#
# $$A = \lambda\,\lVert x_0-\tilde x_0\rVert^2 + (1-\lambda)\,\lVert f(x_0)-f(\tilde x_0)\rVert^2,$$
#
# where $f$ is a frozen feature network. The U-Net has four additions that the paper ablates: a
# **wavelet pyramid module** (multi-level Daubechies DWT bands fed into the encoder stages),
# **multi-head self-attention** between stages, a **hybrid time embedding**
# Conv1D(Sinusoidal($t$)), and a **modality-shared input adapter**. Training minimises
# $L_\text{MSE} + \gamma L_\text{feat}$. Images are used directly, sounds as continuous-wavelet
# scalograms, series as windows.
#
# This chapter reproduces the paper's structure — Table I (images), Table II (time series),
# Table III (the ablation), the audio experiment and the effect of λ — and reports what the run
# does and does not support. **Every number on this page comes from real data**: real
# photographs of defective magnetic tiles with pixel masks (Tables I and III, the λ study), real
# UrbanSound8K recordings (the sound table) and real NAB and UCR series (Table II). Nothing is
# synthetic except the noise the diffusion model itself adds.
#
# ## Prerequisites
#
# The {doc}`../diffusion_primer` and {doc}`../evaluation` (ROC-AUC, PR-AUC, VUS-PR, point
# adjustment). Chapter 1 introduces reconstruction from a partially noised input.
#
# ## Imports

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from PIL import Image

import diffad_lib as dl
from diffad_lib import experiments as ex
from diffad_lib import metrics, wavelets
from diffad_lib.data.audio import URBANSOUND_CLASSES
from diffad_lib.experiments import compare_with_recorded, display_name, make_detector, show_full_results
from diffad_lib.papers import paper_table
from diffad_lib.report import ablation_table, glue, glue_figure, glue_table

PAPER = "chen2025research"  # its tables in book/paper_results.yaml

# %% [markdown]
# ## Parameters
#
# The cell below is papermill's `parameters` cell and holds the `default` profile (7–11
# minutes on one shared CPU core; every tile photograph at 48 × 48 pixels, all nine usable sound
# classes at 8 kHz). The `smoke` profile (CI) runs the same real-data path on a few small
# images and clips of three sound classes; the `full` profile (one GPU) uses every image and clip
# at the paper's resolution, larger models and more seeds. Both are overrides in
# `notebooks/profiles.yaml`. Run the chapter with your own values with, e.g.,
# `diffad run 03 -p epochs 40 -p lam 0.7`, or on MVTec AD with
# `diffad run 03 -p mvtec_root /path/to/mvtec_anomaly_detection -p mvtec_category bottle`.

# %% tags=["parameters"]
profile = "default"  # name of the profile that produced this page
seed = 0  # seeds weights, batches, timesteps, noise and the recording split
mvtec_root = ""  # folder with MVTec AD (official layout); "" uses the magnetic-tile photographs
mvtec_category = "bottle"  # MVTec AD category used when mvtec_root is set
image_size = 48  # every photograph and mask is resized to image_size x image_size in the loader
max_per_kind = 0  # 0: every image; else at most this many of train/good, test/good and each defect kind
base_channels = 16  # width of the U-Net's first stage
channel_mults = [1, 2, 2]  # stage widths (x base_channels); one DWT level per downsampling
n_heads = 2  # heads of the self-attention blocks
adapter_channels = 8  # hidden width of the modality-shared adapter
time_dim = 32  # width of the time embedding
n_steps = 100  # diffusion steps T
beta_end = 0.05  # linear β schedule from 1e-4 to beta_end
t0 = 30  # reconstruction noise level: inputs are noised t0 steps and denoised back
sample_steps = 5  # DDIM steps of the reconstruction
epochs = 10  # training epochs of the image diffusion models
batch_size = 8  # samples per optimisation step
lr = 3e-3  # peak learning rate (AdamW, warm-up then cosine decay)
lam = 0.5  # λ: weight of the reconstruction term in the score A
gamma = 0.1  # γ: weight of the feature loss L_feat in training
lam_grid = [0.0, 0.25, 0.5, 0.75, 1.0]  # λ values of the λ study (no retraining needed)
map_sigma = 1.0  # Gaussian smoothing (pixels) of the anomaly maps
ae_epochs = 30  # training epochs of the convolutional autoencoder baseline
knn_bank = 5000  # training pixels kept in the feature-kNN memory bank
sample_baselines = ["conv_ae", "feature_knn", "random"]  # registry names of the image and audio baselines
ablation_seeds = [0, 1]  # seeds of the ablation (mean ± std over them)
ablation_n_train = 64  # training images of each ablation model (evenly spaced over train/good)
ablation_per_kind = 20  # test images of each kind (good and each defect) in the ablation
ablation_epochs = 5  # training epochs of each ablation model
audio_classes = []  # UrbanSound8K classes taken in turn as normal ([]: all ten)
audio_sr = 8000  # clips are resampled to this rate (Hz) in the loader
audio_test_fraction = 0.3  # share of the normal class's clips held out (whole recordings)
n_scales = 32  # scalogram rows (log-spaced frequencies)
scalogram_width = 32  # scalogram columns (time averaged in blocks)
audio_epochs = 10  # training epochs of each audio diffusion model
nab_series = ["realKnownCause/nyc_taxi", "realKnownCause/ambient_temperature_system_failure"]  # Table II, NAB
ucr_series = [1, 117]  # Table II, UCR archive ids
ts_window = 64  # window of the 1-D U-Net; divisible by 2 ** (len(channel_mults) - 1)
ts_hop = 8  # hop between windows
ts_epochs = 40  # training epochs of the 1-D models
ts_max_train = 3000  # last N training steps kept (0: all)
ts_max_test = 4000  # test steps kept around the first anomaly (0: all)
ts_baselines = ["random", "iforest", "pca", "kmeans", "ocsvm"]  # registry names of Chapter 2's baselines used here
baseline_window = 16  # window of the series baselines
device = "auto"  # "cpu", "cuda" or "auto"
threads = 1  # torch CPU threads (0: torch default); these small models run fastest on one

# %% tags=["hide-input"]
if threads:
    torch.set_num_threads(threads)
dl.utils.seed_everything(seed)
chapter_start = time.perf_counter()
unet = {"base_channels": base_channels, "channel_mults": tuple(channel_mults), "n_heads": n_heads,
        "adapter_channels": adapter_channels, "time_dim": time_dim, "hybrid_kernels": 2}
PLAIN = dict.fromkeys(("use_wavelet", "use_attention", "use_adapter", "use_hybrid_embedding"), False)
FULL, PLAIN_NAME = display_name("patch_diffusion"), "plain DDPM U-Net"  # the full model and its all-off variant
diffusion_params = dict(n_steps=n_steps, beta_end=beta_end, t0=t0, sample_steps=sample_steps, batch_size=batch_size,
                        lr=lr, lam=lam, gamma=gamma, map_sigma=map_sigma, device=device,
                        random_state=seed)  # the series detector takes those that apply to it
for key, value in dict(profile=profile, full_name=FULL, lam=lam, gamma=gamma, t0=t0, T=n_steps, ddim=sample_steps,
                       epochs=epochs, image_size=image_size, abl_n_seeds=len(ablation_seeds),
                       abl_n_train=ablation_n_train, abl_per_kind=ablation_per_kind, abl_epochs=ablation_epochs,
                       audio_sr=audio_sr, n_scales=n_scales, scalogram_width=scalogram_width,
                       audio_epochs=audio_epochs, audio_test_pct=f"{audio_test_fraction:.0%}", knn_bank=knn_bank,
                       ae_epochs=ae_epochs, ts_window=ts_window, ts_hop=ts_hop,
                       baseline_window=baseline_window).items():  # parameters quoted by the text
    glue(f"ch3_{key}", value)
print(f"profile={profile}; images {image_size}px, U-Net {unet}, {epochs} epochs, "
      f"device {dl.utils.resolve_device(device)}")

# %% [markdown]
# ## The image data: real defects on magnetic tiles
#
# The paper evaluates on MVTec AD {cite}`bergmann2019mvtec`, whose licence (CC BY-NC-SA) keeps it
# out of the book's data. We use the **Magnetic Tile Surface Defects** photographs of Huang, Qiu
# and Yuan (The Visual Computer, 2020), in MVTec AD's folder layout: real 8-bit grey photographs
# of magnetic tiles, with defect-free tiles for training (`train/good`), defect-free and defective
# tiles for testing (`test/good`, `test/<defect>`: blowhole, break, crack, fray, uneven) and a
# hand-drawn pixel mask for every defective tile (`ground_truth/`). The crops differ in size
# (105–632 × 227–403 pixels), so the loader `dl.data.magnetic_tiles` resizes every photograph to
# {glue:text}`ch3_image_size` × {glue:text}`ch3_image_size` pixels (bilinear; this squashes the
# aspect ratio) and every mask the same way with nearest neighbour, binarised at > 127, and
# verifies each file's checksum before use. Four *uneven* masks are empty upstream: those images
# count for image AUROC and are left out of pixel AUROC.
#
# **Protocol**: one model for the whole dataset, trained on `train/good` only (the last 20 % of
# it fit each detector's threshold), evaluated on all of `test/`; *image AUROC* ranks test images
# (defective against good), *pixel AUROC* ranks all pixels of the test images with known masks
# against the masks. The per-kind rows use the good test images plus the images of one kind.
# The images used in this run, {glue:text}`ch3_image_source`:

# %% tags=["hide-input"]
dl.data.prepare(["nab", "ucr", "magnetic_tiles", "urbansound8k"], progress=False)
limit = max_per_kind or None
if mvtec_root:
    images = dl.data.mvtec_ad(mvtec_root, mvtec_category, size=image_size, color="gray")
    image_source = f"MVTec AD category {mvtec_category}, {image_size} × {image_size} px"
else:
    images = dl.data.magnetic_tiles(size=image_size, max_per_kind=limit)
    image_source = (f"magnetic tiles, {'every image' if limit is None else f'at most {limit} images per kind'}, "
                    f"{image_size} × {image_size} px")
kinds = [k for k in dict.fromkeys(images.defect_types) if k != "good"]
kind_of = np.asarray(images.defect_types)
counts = pd.Series(images.counts(), name="images").rename_axis("split / kind")
counts["test masks used for pixel AUROC"] = int((images.labels == 1).sum() if images.mask_known is None
                                                else images.mask_known[images.labels == 1].sum())
glue("ch3_image_source", image_source)
glue_table("ch3_counts", counts.to_frame())
glue("ch3_n_train", int(counts["train/good"]))
glue("ch3_n_test", len(kind_of))

# %% [markdown]
# :::{table} Images of this run per split and kind, and how many defective test images have a non-empty mask (the others count for image AUROC only).
# :name: ch3-counts
# ```{glue:md} ch3_counts
# :format: myst
# ```
# :::

# %% tags=["hide-input"]
shown = [int(np.flatnonzero(kind_of == "good")[0])] + [int(np.flatnonzero(kind_of == k)[0]) for k in kinds]
fig, axes = plt.subplots(2, len(shown), figsize=(1.9 * len(shown), 4), squeeze=False, layout="constrained")
for col, i in enumerate(shown):
    axes[0, col].imshow(images.test[i, 0], cmap="gray", vmin=-1, vmax=1)
    axes[0, col].set_title(kind_of[i], fontsize=9)
    axes[1, col].imshow(images.masks[i], cmap="gray", vmin=0, vmax=1)
    axes[1, col].set_title("mask", fontsize=8)
for ax in axes.ravel():
    ax.axis("off")
glue_figure("ch3_fig_tiles", fig)

# %% [markdown]
# ```{glue:figure} ch3_fig_tiles
# :name: "ch3-fig-tiles"
# :alt: Test photographs of magnetic tiles, one defect-free and one per defect kind, with their masks
#
# Real test photographs as the models see them (top: one defect-free tile and the first tile of
# each defect kind, resized) and their ground-truth masks (bottom, white = defect). Breaks sit
# at the tile's edge; cracks and blowholes are a few pixels wide at this size.
# ```
#
# ## The wavelet pyramid
#
# The wavelet pyramid module decomposes the input with a multi-level discrete wavelet transform
# (Daubechies `db2`, `diffad_lib.wavelets.dwt_pyramid`): level $j$ holds an approximation $a_j$
# (a low-pass copy at $1/2^j$ resolution) and three detail bands (horizontal, vertical, diagonal
# edges). In the U-Net, the bands of level $j$ are projected and added to the encoder stage of
# the same resolution, so the network sees fine texture and coarse structure explicitly. The
# same band energies, frozen, are the default feature network $f$ of the score
# (`diffad_lib.features.WaveletFeatures`: local averages of $|d_j|$ per band, plus $a_J$).
# {numref}`ch3-fig-pyramid` shows the pyramid of a defective tile at its stored resolution.

# %% tags=["hide-input"]
example = int(np.flatnonzero(kind_of == kinds[0])[0])
with Image.open(images.test_files[example]) as im:
    photo = np.asarray(im.convert("L"), dtype=np.float32) / 127.5 - 1.0  # stored size, not resized
side = min(128, *photo.shape) // 8 * 8
crop = torch.as_tensor(photo[:side, :side].copy())[None, None]  # (1, 1, side, side)
pyr = wavelets.dwt_pyramid(crop, wavelet="db2", levels=3)
fig, axes = plt.subplots(3, 4, figsize=(9, 7), layout="constrained")
for row, level in zip(axes, (1, 2, 3), strict=True):
    a, d = pyr.band(level)
    panels = [("approximation a", a[0, 0])] + list(zip(("horizontal", "vertical", "diagonal"), d[0, 0], strict=True))
    for ax, (name, band) in zip(row, panels, strict=True):
        ax.imshow(band.numpy(), cmap="gray" if name.startswith("approx") else "RdBu_r")
        ax.set_title(f"level {level}: {name}", fontsize=8)
        ax.axis("off")
glue_figure("ch3_fig_pyramid", fig)
glue("ch3_pyramid_kind", kinds[0])
glue("ch3_pyramid_side", side)

# %% [markdown]
# ```{glue:figure} ch3_fig_pyramid
# :name: "ch3-fig-pyramid"
# :alt: Three-level db2 wavelet pyramid of a crop of a defective magnetic-tile photograph
#
# Three-level db2 wavelet pyramid of the top-left {glue:text}`ch3_pyramid_side`-pixel crop of a
# real {glue:text}`ch3_pyramid_kind` tile. Rows are levels 1–3 (finest first): the approximation
# and the horizontal, vertical and diagonal detail bands (red/blue: sign of the coefficient).
# ```
#
# ## The detectors
#
# Every method comes from the library's registry by name (`dl.experiments.make_detector`). The
# diffusion model is `"patch_diffusion"` (`PatchDiffusionDetector`, the scikit-learn / pyod
# interface of Chapter 1's detector for arrays of samples (N, C, H, W) or (N, C, L)):
#
# - the denoiser is `WaveletUNet` (`dl.models.build_model("wavelet_unet", ...)`) with the four
#   modules switched on (*full model*, the row {glue:text}`ch3_full_name` of the tables) or all
#   off (*plain DDPM U-Net*: a 1 × 1 stem and head, sinusoidal time embedding, no attention, no
#   wavelet bands);
# - training: {glue:text}`ch3_epochs` epochs of $L_\text{MSE} + \gamma L_\text{feat}$ with
#   γ = {glue:text}`ch3_gamma`; $L_\text{feat}$ is the feature distance between $x_0$ and the
#   one-step estimate $\hat x_0(x_t, t)$, weighted by $\bar\alpha_t$;
# - scoring: each image is noised to step $t_0$ = {glue:text}`ch3_t0` of T =
#   {glue:text}`ch3_T` and denoised back with {glue:text}`ch3_ddim` DDIM steps; the squared error
#   map and the feature-distance map are smoothed (Gaussian, 1 px), each term of $A$ is
#   standardised with the mean and std of the *training* scores, and mixed with λ =
#   {glue:text}`ch3_lam`; each term's image-level value is the maximum of its smoothed map, and
#   the pixel score is the mixed map itself;
# - the threshold (three sigma) comes from a held-out 20 % of the normal training images
#   (each detector's own `val_fraction`).
#
# Baselines on the same images: a small **convolutional autoencoder** (`"conv_ae"`,
# two strided convolutions to a 4-channel code at 1/4 resolution, squared error,
# {glue:text}`ch3_ae_epochs` epochs), a **feature kNN** (`"feature_knn"`: distance of every
# pixel's wavelet-energy features to the nearest of {glue:text}`ch3_knn_bank` training pixels,
# PatchCore-style, no training) and a **random score** (`"random"`; its pixel map is random too).
# The baselines' image score is the maximum of their smoothed map, as for each term of the
# diffusion score. With `mvtec_root` set, every "tile" in this chapter's image sections reads as
# the chosen MVTec AD category.

# %% tags=["hide-input"]
def build(name, **params):
    """Registry method ``name`` with those of the shared ``params`` that its class accepts."""
    return make_detector(name, **ex.supported_params(name, params))


def diffusion(switches=None, **overrides):
    """The wavelet U-Net diffusion detector; ``switches`` turn modules off."""
    return make_detector("patch_diffusion", model_params={**unet, **(switches or {})}, scaling="none",
                         **{**diffusion_params, **overrides})


def baselines():
    """Unfitted baselines of the image and audio tables, keyed by their row name."""
    return {display_name(n): build(n, epochs=ae_epochs, batch_size=batch_size, map_sigma=map_sigma, scaling="none",
                                   max_bank=knn_bank, random_state=seed) for n in sample_baselines}


# %% [markdown]
# ## Table I: image and pixel AUROC on the tiles
#
# Each method is fitted once on `train/good` and scores every test image.

# %% tags=["remove-output"]
detectors = {FULL: diffusion(epochs=epochs), PLAIN_NAME: diffusion(PLAIN, epochs=epochs), **baselines()}
results, seconds = {}, {}
for name, det in detectors.items():
    start = time.perf_counter()
    results[name] = ex.sample_outputs(det.fit(images.train), images.test, seed=seed)
    seconds[name] = time.perf_counter() - start
full_det, full_comp = detectors[FULL], results[FULL][2]

# %% tags=["hide-input"]
table1 = glue_table("ch3_table1", ex.auroc_table(images, {name: (s, m) for name, (s, m, _) in results.items()}))
glue("ch3_fit_seconds", f"{seconds[FULL]:.0f}")

# %% [markdown]
# :::{table} Image AUROC and pixel AUROC on the real magnetic-tile photographs (the data of {numref}`ch3-counts`), as the paper's Table I: per defect kind (good test images against the images of that kind; the number of images of the kind in brackets), over all test images, and the mean over the kinds. One model per method, trained on `train/good`; compare the full model with the plain U-Net and the baselines in the rows of each kind.
# :name: ch3-table1
# ```{glue:md} ch3_table1
# :format: myst
# ```
# :::
#
# Training and scoring the full model took {glue:text}`ch3_fit_seconds` s.
#
# **The paper's Table I beside ours.** The paper reports Table I on MVTec AD, *a different
# dataset* (other objects, other defects, full resolution, a pretrained feature network), so its
# numbers are not comparable with ours: they show the scale the method reaches there, not a target
# for these tiles. The cell below shows them from the project's transcription of the papers'
# tables (`diffad_lib.papers.paper_table`), labelled "reported on MVTec AD, a different
# dataset".

# %% tags=["hide-input"]
paper_table1 = paper_table(PAPER, "table1")  # extend here: more of the paper's tables, or its rows beside ours
paper_table1.columns = pd.MultiIndex.from_product([["reported on MVTec AD, a different dataset"],
                                                   paper_table1.columns])
glue("ch3_paper_table1", paper_table1, display=False)
display(paper_table1)  # noqa: F821  (IPython's display, available in the kernel)

# %% tags=["remove-output"]
mean_t1 = table1.loc["mean over kinds", "image AUROC"]
baselines_t1 = mean_t1.drop([FULL, PLAIN_NAME, display_name("random")])
by_kind = table1["image AUROC"].drop(index=["mean over kinds", f"all ({len(kind_of)})"], level=0).unstack(sort=False)
full_vs_plain, full_kinds = int((by_kind[FULL] > by_kind[PLAIN_NAME]).sum()), by_kind[FULL]
trained = {name: m for name, (_, m, _) in results.items() if name != display_name("random")}  # (N, H, W) maps
border = {name: ex.border_share(m) for name, m in trained.items()}
frame_share = 1 - (image_size - 4) ** 2 / image_size**2  # share of pixels within 2 px of the border
glue("ch3_border_full", f"{border[FULL]:.0%}")
glue("ch3_border_range", f"{min(border.values()):.0%}–{max(border.values()):.0%}")
glue("ch3_border_expected", f"{frame_share:.0%}")
# a check made after seeing where the maxima lie, so not part of any method: the same maps, the
# maximum taken inside a 2-pixel frame; the mean over kinds of the image AUROC with and without it
inner_max = {name: (m[:, 2:-2, 2:-2].reshape(len(m), -1).max(axis=1), m) for name, m in trained.items()}
inner = pd.DataFrame({"whole map": mean_t1[list(trained)],
                      "outer 2 px ignored": ex.auroc_table(images, inner_max).loc["mean over kinds", "image AUROC"]})
inner = inner.rename_axis(index="method", columns="mean image AUROC over kinds, maximum of")
glue_table("ch3_inner_table", inner)
glue("ch3_inner_full", f"{inner.loc[FULL, 'outer 2 px ignored']:.3f}")
for key, value in dict(full_img=f"{mean_t1[FULL]:.3f}",
                       full_pix=f"{table1.loc[('mean over kinds', FULL), 'pixel AUROC']:.3f}",
                       plain_img=f"{mean_t1[PLAIN_NAME]:.3f}", best_img=f"{mean_t1.max():.3f}",
                       random_img=f"{mean_t1[display_name('random')]:.3f}", best_method=mean_t1.idxmax(),
                       best_baseline=baselines_t1.idxmax(), best_baseline_img=f"{baselines_t1.max():.3f}",
                       full_beats_plain=f"{full_vs_plain} of {len(kinds)}",
                       full_easiest=f"{full_kinds.idxmax().split(' (')[0]} ({full_kinds.max():.3f})",
                       full_hardest=f"{full_kinds.idxmin().split(' (')[0]} ({full_kinds.min():.3f})",
                       detects="supported" if mean_t1[FULL] > 0.6 else "not supported",
                       beats_baselines="supported" if mean_t1[FULL] >= baselines_t1.max() else "not supported").items():
    glue(f"ch3_{key}", value)

# %% [markdown]
# The full model reaches a mean image AUROC over the defect kinds of {glue:text}`ch3_full_img`
# (pixel AUROC {glue:text}`ch3_full_pix`), the plain U-Net {glue:text}`ch3_plain_img`; the full
# model is ahead on {glue:text}`ch3_full_beats_plain` defect kinds. Its easiest kind is
# {glue:text}`ch3_full_easiest`, its hardest {glue:text}`ch3_full_hardest`. The best method on
# average in this run is {glue:text}`ch3_best_method` ({glue:text}`ch3_best_img`).
#
# Where a method's pixel AUROC is well above its image AUROC, its map does rank defect pixels
# above normal ones, yet the single brightest pixel of an image does not separate defective from
# defect-free tiles. One reason can be measured: the maximum of the full model's map lies within
# 2 pixels of the image border for {glue:text}`ch3_border_full` of the test images (for the
# trained methods: {glue:text}`ch3_border_range`), although that frame holds only
# {glue:text}`ch3_border_expected` of the pixels. The tiles' cut edges, their shading and the
# convolutions' padding make the border the least predictable part of a normal tile, so the
# image score can end up measuring the border rather than the defect.
#
# :::{table} Border check: mean image AUROC over the defect kinds when the image score is the maximum of the whole map (as in {numref}`ch3-table1`) and of the map without its outer 2 pixels. This check was made after seeing where the maxima lie, on the same test images; it is a diagnosis, not a tuned method, and it also hides defects that touch the border (most breaks).
# :name: ch3-inner
# ```{glue:md} ch3_inner_table
# :format: myst
# ```
# :::
#
# Without the border, the full model's mean image AUROC is {glue:text}`ch3_inner_full`.
#
# ## Score maps
#
# {numref}`ch3-fig-maps` shows, for one tile of each defect kind, the photograph, the full model's
# reconstruction $\tilde x_0$, its mixed anomaly map, the convolutional autoencoder's map and the
# true mask. A reconstruction-based detector works when $\tilde x_0$ looks like a *normal* tile
# where the defect was, so that the map lights up there.

# %% tags=["hide-input"]
shown = [int(np.flatnonzero(kind_of == k)[-1]) for k in kinds]
ae_maps = results.get(display_name("conv_ae"), (None, None))[1]
fig, axes = plt.subplots(len(shown), 5, figsize=(8.5, 1.8 * len(shown)), squeeze=False, layout="constrained")
for row, i in zip(axes, shown, strict=True):
    panels = [(images.test[i, 0], "gray", (-1, 1), kind_of[i]),
              (full_comp["x_hat"][i, 0], "gray", (-1, 1), "reconstruction"),
              (results[FULL][1][i], "inferno", (None, None), "full model map")]
    if ae_maps is not None:
        panels.append((ae_maps[i], "inferno", (None, None), "conv AE map"))
    panels.append((images.masks[i], "gray", (0, 1), "true mask"))
    for ax, (img, cmap, (lo, hi), title) in zip(row, panels, strict=False):
        ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=8)
    for ax in row:
        ax.axis("off")
glue_figure("ch3_fig_maps", fig)

# %% [markdown]
# ```{glue:figure} ch3_fig_maps
# :name: "ch3-fig-maps"
# :alt: For one tile per defect kind, the photograph, reconstruction, two anomaly maps and the mask
#
# One real test tile per defect kind (rows): the input, the full model's reconstruction, its
# anomaly map (bright = anomalous), the convolutional autoencoder's map and the ground-truth
# mask. Compare where each map is bright with the white region of the mask.
# ```
#
# ## The effect of λ
#
# The score's two terms are stored separately, so every λ can be evaluated on the same
# reconstructions without retraining: λ = 1 is the pure reconstruction error, λ = 0 the pure
# feature distance.

# %% tags=["hide-input"]
lam_outputs = {value: (full_det.scores_from_components(full_comp, lam=value),
                       full_det.maps_from_components(full_comp, lam=value)) for value in lam_grid}
lam_all = ex.auroc_table(images, lam_outputs, level="λ")  # rows (kind, λ): the same reconstructions for every λ
lam_mean = lam_all.loc["mean over kinds", "image AUROC"]  # (λ,)
lam_table = lam_all.drop(index="mean over kinds", level=0).rename_axis(index=["defect kind", "λ"], columns="metric")
glue_table("ch3_lam_table", lam_table.stack().unstack("λ", sort=False).rename(columns=lambda v: f"λ = {v:g}"))
for key, value in dict(best_lam=f"{lam_mean.idxmax():g}", lam0=f"{lam_mean.loc[lam_grid[0]]:.3f}",
                       lam1=f"{lam_mean.loc[lam_grid[-1]]:.3f}", lam_mixing="an interior λ: mixing helps"
                       if 0 < lam_mean.idxmax() < 1 else "an end point: mixing does not help").items():
    glue(f"ch3_{key}", value)
fig, axes = plt.subplots(1, 2, figsize=(10, 3), layout="constrained")
for ax, col in zip(axes, ("image AUROC", "pixel AUROC"), strict=True):
    lam_table[col].unstack(0, sort=False).plot(ax=ax, marker="o", xlabel="λ (weight of the reconstruction term)",
                                               ylabel=col, legend=col == "image AUROC")
axes[0].legend(fontsize=7)
glue_figure("ch3_fig_lam", fig)

# %% [markdown]
# ```{glue:figure} ch3_fig_lam
# :name: "ch3-fig-lam"
# :alt: Image and pixel AUROC of the full model against λ for each defect kind
#
# Image AUROC (left) and pixel AUROC (right) of the full model against λ, one line per defect
# kind and one for all test images (same trained model and reconstructions for every λ).
# ```
#
# :::{table} The λ study, the numbers of {numref}`ch3-fig-lam`: image and pixel AUROC of the full model per defect kind (rows) and λ (columns); find the best column of each row.
# :name: ch3-lam
# ```{glue:md} ch3_lam_table
# :format: myst
# ```
# :::
#
# Averaged over the defect kinds, the best λ in this run is {glue:text}`ch3_best_lam`; the pure
# feature distance (λ = 0) gives a mean image AUROC of {glue:text}`ch3_lam0` and the pure
# reconstruction error (λ = 1) {glue:text}`ch3_lam1`.
#
# ## Ablation (Table III)
#
# The paper removes one module at a time. We train each variant on the same tiles with
# {glue:text}`ch3_abl_n_seeds` seeds (seeds change the weights, batches, timesteps and noise; the
# data stay fixed), on {glue:text}`ch3_abl_n_train` training images evenly spaced over
# `train/good`, for {glue:text}`ch3_abl_epochs` epochs, and test on at most
# {glue:text}`ch3_abl_per_kind` images of each kind (good and each defect, evenly spaced); mean ±
# std over seeds of the image and pixel AUROC over that whole test subset. The last column gives
# the paper's drop in image AUC on MVTec AD from the project's transcription of the paper's tables
# ("—" for a variant the paper does not ablate).

# %% tags=["remove-output"]
variants = {FULL: {}, "− wavelet": {"use_wavelet": False}, "− MHA": {"use_attention": False},
            "− adapter": {"use_adapter": False}, "− hybrid embedding": {"use_hybrid_embedding": False},
            PLAIN_NAME: PLAIN}
abl_train = images.train[ex.spread_indices(len(images.train), ablation_n_train)]
abl_test = ex.spread_indices(kind_of, ablation_per_kind)  # at most ablation_per_kind of each kind, good included


def ablation_run(switches, s):
    """Image and pixel AUROC on the ablation's test images of one variant trained with seed ``s``."""
    det = diffusion(switches, random_state=s, epochs=ablation_epochs).fit(abl_train)
    return ex.image_auroc(images, *ex.sample_outputs(det, images.test[abl_test])[:2], index=abl_test)


abl = pd.DataFrame([{"variant": name, "seed": s, **ablation_run(switches, s)}
                    for s in ablation_seeds for name, switches in variants.items()])

# %% tags=["hide-input"]
table3 = ablation_table(abl, reference=FULL, metrics=["image AUROC", "pixel AUROC"], reference_label="full")
PAPER_ROWS = {"− wavelet pyramid": "− wavelet", "− cross-modal adapter": "− adapter",
              "− hybrid time embedding": "− hybrid embedding"}  # the paper's row -> our variant, where they differ
paper_drop = paper_table(PAPER, "table3")["image drop (%)"].rename(PAPER_ROWS).dropna()
table3["paper's drop"] = [f"{paper_drop[v]:+.1f} % (MVTec AD)" if v in paper_drop else "—" for v in table3.index]
glue_table("ch3_table3", table3)
glue("ch3_abl_supported", ", ".join(table3.index[table3["verdict"].str.endswith(": supported")]) or "none")
glue("ch3_abl_n_test", len(abl_test))

# %% [markdown]
# :::{table} Ablation on the real tiles, as the paper's Table III ({glue:text}`ch3_abl_n_test` test images), mean ± std over seeds. Δ is the paired difference to the full model of the same seed (negative: removing the module hurts); read the verdict, which compares the mean Δ image AUROC with its seed-to-seed spread. The paper's column, where filled, is its relative drop in image AUC on MVTec AD, a different dataset; "—" marks a row the paper does not report, not a zero.
# :name: ch3-table3
# ```{glue:md} ch3_table3
# :format: myst
# ```
# :::

# %% [markdown]
# Modules whose removal costs more image AUROC than the seed-to-seed spread in this run:
# {glue:text}`ch3_abl_supported`. With a handful of seeds, small images and a short training
# budget, a difference inside the spread is not evidence either way; it does not show that the
# module is useless, only that this experiment cannot see its effect.
#
# ## Audio: UrbanSound8K as scalograms
#
# The paper's audio modality is UrbanSound8K (Salamon, Jacoby and Bello, 2014): four-second
# slices of real street recordings in ten classes. We use the 30-slice-per-class subset of the
# data registry (`dl.data.urbansound8k`, checksummed), resampled in the loader to
# {glue:text}`ch3_audio_sr` Hz. In that copy, the slices shorter than 4 s had been filled to 4 s by
# repeating them; **we exclude those loop-padded clips** rather than trim them, because a
# trimmed clip padded with silence would let a detector find the silence instead of the sound.
# That removes 29 of the 30 gun shots, so *gun_shot* cannot be a normal class (one recording) and
# appears in no test set either. The clips used: {glue:text}`ch3_audio_source`.
#
# **One-class protocol** (`dl.data.one_class_split`): each class in turn is normal. Its
# recordings (UrbanSound8K's `fsID`; slices of one recording overlap) are shuffled and about
# {glue:text}`ch3_audio_test_pct` of its clips, as whole recordings, are held out; the models are
# trained on the rest of that class, and tested on the held-out clips of the class (label 0)
# against every clip of the other classes (label 1), leaving out any clip whose recording is also
# in training, so **no recording is on both sides**. The score is the AUROC per normal class and
# its mean.
#
# Each clip becomes a complex-Morlet CWT scalogram (`dl.wavelets.scalogram_image`) with
# {glue:text}`ch3_n_scales` log-spaced frequencies, log-magnitude, averaged in time to
# {glue:text}`ch3_scalogram_width` columns: a small grey "image" that the same U-Net and baselines
# take unchanged, min-max scaled with the training clips of the normal class. To keep the page
# within its budget the audio table runs the full model ({glue:text}`ch3_audio_epochs` epochs)
# and the baselines, not the plain U-Net.

# %% tags=["hide-input"]
sound = dl.data.urbansound8k(sr=audio_sr, loop_padded="exclude", classes=tuple(audio_classes) or URBANSOUND_CLASSES)
clips = sound.stack(4 * audio_sr)  # (N, 4 s · sr): every kept clip is a full 4 s slice
scalograms = wavelets.scalogram_image(clips, width=scalogram_width, n_scales=n_scales, sampling_rate=sound.sr)
_, freqs = wavelets.scalogram_scales(n_scales, wavelet="cmor1.5-1.0", sampling_rate=sound.sr)
names = {int(i): c for i, c in zip(sound.labels, sound.categories, strict=True)}
recordings = {names[i]: len(np.unique(sound.fs_ids[sound.labels == i])) for i in names}
normal_classes = [c for c, n in recordings.items() if n >= 2]
glue("ch3_audio_source", f"{len(clips)} clips of {len(names)} classes ({', '.join(names.values())}), "
     f"{sound.sr} Hz, 4 s each; normal classes with at least two recordings: {len(normal_classes)}")
shown = [int(np.flatnonzero(sound.labels == i)[0]) for i in names]
n_cols = min(5, len(shown))
fig, axes = plt.subplots(-(-len(shown) // n_cols), n_cols, figsize=(2.6 * n_cols, 2.3 * -(-len(shown) // n_cols)),
                         squeeze=False, sharey=True, layout="constrained")
seconds_axis = (np.arange(scalogram_width) + 0.5) * 4.0 / scalogram_width  # (W,) s, block centres
for ax, i in zip(axes.ravel(), shown, strict=False):
    ax.pcolormesh(seconds_axis, freqs, scalograms[i, 0], cmap="magma", shading="nearest")
    ax.set(yscale="log", title=sound.categories[i], xlabel="time (s)")
for ax in axes.ravel()[len(shown):]:
    ax.axis("off")
for ax in axes[:, 0]:
    ax.set_ylabel("frequency (Hz)")
glue_figure("ch3_fig_scalograms", fig)

# %% [markdown]
# ```{glue:figure} ch3_fig_scalograms
# :name: "ch3-fig-scalograms"
# :alt: Log scalograms of one real UrbanSound8K clip per class
#
# Log scalograms of the first clip of each class, as the detectors see them (bright = energy).
# Steady sounds (air conditioner, engine idling, drilling) are horizontal bands; dog barks and
# car horns are short vertical events.
# ```

# %% tags=["remove-output"]
audio_rows = {}
for normal in normal_classes:
    split = dl.data.one_class_split(sound, normal=normal, test_fraction=audio_test_fraction, seed=seed)
    scaler = dl.scaling.ChannelScaler("minmax").fit(scalograms[split.train])  # training clips only
    train_x, test_x = scaler.transform(scalograms[split.train]), scaler.transform(scalograms[split.test])
    row = {("clips", "train"): len(split.train),
           ("clips", "train recordings"): len(np.unique(sound.fs_ids[split.train])),
           ("clips", "test normal"): int((split.labels == 0).sum()), ("clips", "test other"): int(split.labels.sum())}
    for name, det in {FULL: diffusion(epochs=audio_epochs), **baselines()}.items():
        row["AUROC", name] = metrics.roc_auc(split.labels, ex.sample_outputs(det.fit(train_x), test_x, seed=seed)[0])
    audio_rows[normal] = row

# %% tags=["hide-input"]
audio_table = pd.DataFrame.from_dict(audio_rows, orient="index")  # tuple keys: (group, column) levels
audio_table = pd.concat([audio_table, audio_table.mean().to_frame("mean").T]).rename_axis("normal class")
audio_table["clips"] = audio_table["clips"].round().astype(int)  # the mean row's counts, rounded
full_audio = audio_table.loc[normal_classes, ("AUROC", FULL)]
audio_means = audio_table.loc["mean", "AUROC"]
glue_table("ch3_audio_table", audio_table)  # the column levels are joined into one header
glue("ch3_audio_all", f"{audio_means[FULL]:.3f}")
glue("ch3_audio_best", f"{audio_means.idxmax()} ({audio_means.max():.3f})")
glue("ch3_audio_easiest", f"{full_audio.idxmax()} ({full_audio.max():.3f})")
glue("ch3_audio_hardest", f"{full_audio.idxmin()} ({full_audio.min():.3f})")

# %% [markdown]
# :::{table} One-class AUROC on real UrbanSound8K clips, the paper's audio experiment: each row's class is normal, its held-out recordings are the normal test clips and the other classes' clips the anomalies; the clip counts of each split, and the mean over the normal classes in the last row.
# :name: ch3-audio
# ```{glue:md} ch3_audio_table
# :format: myst
# ```
# :::

# %% [markdown]
# On the scalograms the full model's mean AUROC over the normal classes is
# {glue:text}`ch3_audio_all`; the best method on average is {glue:text}`ch3_audio_best`. The
# full model separates its normal class best for {glue:text}`ch3_audio_easiest` and worst for
# {glue:text}`ch3_audio_hardest`. A one-class detector of urban sound has a hard task: "normal"
# is itself varied (children playing, street music), and the test anomalies are other everyday
# sounds rather than faults.
#
# %% [markdown]
# ## Time series (Table II)
#
# For series we use the same model family in 1-D: `DiffusionDetector("wavelet_unet",
# model_params={"dims": 1, ...})`, the wavelet U-Net with 1-D convolutions and a 1-D DWT
# pyramid, on windows of {glue:text}`ch3_ts_window` steps (hop {glue:text}`ch3_ts_hop`). We chose
# it over Chapter 2's DiffWave/S4 cascade because this chapter's claim is about *one* architecture
# shared across modalities; the detector and the three-sigma threshold on a held-out normal
# tail are those of the leaderboard, with `DiffusionDetector`'s defaults (robust scaling and the
# denoising score: the size of the mean signed noise-prediction error over 8 draws, at four noise
# levels around $t_0$, pooled over each window before the windows are stitched back, per channel,
# standardised on held-out normal data; the pooling became the default in December 2026, when it
# raised the leaderboard's development mean, and these rows moved with it; since 2026-12-07 the
# denoiser is also given the 16 steps before each window as they are, `context=16`, which raised
# that mean again, measured with the MLP denoiser; since 2026-12-08 each channel's errors at the
# four levels are scored together, by the Mahalanobis distance of their profile from the training
# profiles, instead of averaged, `calibration="mahalanobis"`, chosen the same way). The series score has
# no feature term (λ = 1): that term needs image-like samples and is left to the image and audio
# sections. Data: NAB {cite}`lavin2015evaluating` (real series with
# labelled anomaly windows; we train on the first 70 % of the steps before the first window) and the
# UCR anomaly archive {cite}`wu2021current` (each series has an anomaly-free training prefix and
# one anomaly). Baselines as in Chapter 2: Isolation Forest {cite}`liu2008isolation`, PCA,
# k-means, one-class SVM on sliding windows of {glue:text}`ch3_baseline_window` steps, and a random
# score, thresholded the same way.

# %% tags=["remove-output"]
dl.data.prepare(["nab", "ucr"], progress=False)
cut = dict(max_train_length=ts_max_train, max_test_length=ts_max_test)  # the last train steps, a test window
# NAB: train on the first 70 % of the steps before the first anomaly window; UCR: on the anomaly-free prefix
series = [("NAB", n, *ex.split_series(s.values, s.labels.astype(int), int(0.7 * np.flatnonzero(s.labels)[0]), **cut))
          for n, s in zip(nab_series, map(dl.data.load_nab, nab_series), strict=True)]
series += [("UCR", f"{u.name.split('_')[0]} {u.series}", *ex.split_series(u.values, u.labels.astype(int),
                                                                          u.train_end, **cut))
           for u in map(dl.data.load_ucr, ucr_series)]

ts_variants = {f"{FULL} 1-D": {}, f"{PLAIN_NAME} 1-D": PLAIN}  # the 1-D U-Net with its modules on / off
ts_rows = []
for ds_name, name, train, test, y in series:
    dets = {label: build("diffusion", model="wavelet_unet", model_params={**unet, "dims": 1, **switches},
                         window=ts_window, hop=ts_hop, **{**diffusion_params, "batch_size": 32}, epochs=ts_epochs,
                         val_fraction=0.2) for label, switches in ts_variants.items()}
    dets |= {display_name(b): build(b, window=baseline_window, hop=1, val_fraction=0.2, random_state=seed)
             for b in ts_baselines}
    for label, det in dets.items():
        scores = det.fit(train).decision_function(test)
        ts_rows.append({"dataset": ds_name, "series": name, "method": label,
                        **metrics.evaluate(y, scores, det.threshold_)})

cols = {"f1": "F1", "f1_pa": "F1-PA", "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "vus_pr": "VUS-PR"}
ts = pd.DataFrame(ts_rows).set_index(["dataset", "series", "method"])[list(cols)].rename(columns=cols)
table2 = ts.groupby(["dataset", "method"], sort=False).mean()
glue_table("ch3_table2", table2)
glue_table("ch3_table2_series", ts)

# %% [markdown]
# :::{table} Time-series detection as the paper's Table II, mean over the series of each benchmark. F1 is point-wise, F1-PA point-adjusted (the papers' protocol); thresholds are three sigma of held-out normal training scores; ROC-AUC, PR-AUC and VUS-PR need no threshold. Compare VUS-PR of the 1-D U-Nets with the baselines'.
# :name: ch3-table2
# ```{glue:md} ch3_table2
# :format: myst
# ```
# :::
#
# :::{table} The metrics of {numref}`ch3-table2` per series, to see how much one series moves the mean.
# :name: ch3-table2-series
# ```{glue:md} ch3_table2_series
# :format: myst
# ```
# :::
#
# **Full-profile results.** The `full` profile (every image and clip, paper resolution, larger
# models, more series, one GPU) writes Tables I–III to `results/03_wavelet_multimodal_full.json`,
# naming the device, the commit and the command. When that file is committed it is shown below,
# beside this build's tables.

# %% tags=["hide-input"]
show_full_results("03_wavelet_multimodal_full", {"table1": table1, "table2": table2, "table3": table3},
                  profile=profile, command="diffad run 03 --profile full")

# %% [markdown]
# **What changed since the last recorded run.** Two changes of the library reach this page: the
# 1-D models of {numref}`ch3-table2` are `DiffusionDetector`s, whose default score is now the
# denoising error averaged over four noise levels, standardised per channel on held-out normal
# data, with robust scaling, and since December 2026 the size of the *mean signed* error of 8
# noise draws per level (the noise no model can predict averages away; before, one draw), and since
# 2026-12-07 a denoiser given the 16 steps before each window clean (`context=16`, chosen on the
# leaderboard's development series with the MLP; the U-Net here takes it as its default without a
# separate comparison), and since 2026-12-08 the Mahalanobis calibration of each channel's errors
# over the four noise levels (chosen the same way, taken here without a comparison of its own);
# and the image and sound detector now reconstructs inputs clipped to
# ten scaled units and measures the distance to the unclipped values (only extreme inputs are
# affected). The cell below compares this build's Tables I and II with the `default` run recorded
# in `results/03_wavelet_multimodal_default.json` (this build minus the recorded one) and then
# records this build: {glue:text}`ch3_vs_recorded`

# %% tags=["hide-input"]
glue("ch3_vs_recorded", compare_with_recorded("03_wavelet_multimodal", {"table1": table1, "table2": table2},
                                              profile=profile, command=f"diffad run 03 --profile {profile}"))

# %% tags=["remove-output"]
vus = table2["VUS-PR"].unstack("method")  # (dataset, method)
glue("ch3_ts_wins", f"{(vus[f'{FULL} 1-D'] > vus.drop(columns=list(ts_variants)).max(axis=1)).sum()} of {len(vus)}")
glue("ch3_pa_gap", f"{(table2['F1-PA'] - table2['F1']).mean():.3f}")

# %% [markdown]
# On VUS-PR the 1-D wavelet U-Net is ahead of every baseline on {glue:text}`ch3_ts_wins`
# benchmarks. With two series per benchmark, a short training budget and one anomaly per UCR
# series, these are anecdotes rather than a ranking; the per-series table shows how much a single
# series moves the mean. Point adjustment adds {glue:text}`ch3_pa_gap` to F1 on average over the
# methods and benchmarks, which is why F1-PA alone flatters every detector, the random one
# included.
#
# ## Discussion
#
# What the run supports and what it does not, in the paper's order (all on real data):
#
# - *The diffusion model detects image defects*: mean image AUROC over the tile defect kinds
#   {glue:text}`ch3_full_img` against {glue:text}`ch3_random_img` for a random score —
#   {glue:text}`ch3_detects` (criterion: above 0.6).
# - *It outperforms the baselines*: the best baseline by mean image AUROC is
#   {glue:text}`ch3_best_baseline` ({glue:text}`ch3_best_baseline_img`) —
#   {glue:text}`ch3_beats_baselines` by this run.
# - *The four modules help*: the full model beats the plain U-Net on
#   {glue:text}`ch3_full_beats_plain` defect kinds in {numref}`ch3-table1`; in {numref}`ch3-table3`
#   the removals that cost more than the seed spread are: {glue:text}`ch3_abl_supported`.
# - *Mixing reconstruction and feature distance helps*: the best λ is {glue:text}`ch3_best_lam`
#   ({glue:text}`ch3_lam_mixing` on average in this run).
# - *One model serves several modalities*: full-model mean one-class AUROC on UrbanSound8K
#   {glue:text}`ch3_audio_all` (best method {glue:text}`ch3_audio_best`); on series (VUS-PR) it
#   leads the baselines on {glue:text}`ch3_ts_wins` benchmarks.
#
# Three caveats bound these verdicts. The tiles are not MVTec AD: one grey material instead of
# fifteen object and texture categories, crops squashed to {glue:text}`ch3_image_size` pixels,
# where a crack or a blowhole is a few pixels wide, whereas the paper works at 256 pixels and
# more. The models are tiny and trained for minutes on a CPU, whereas the paper trains large
# U-Nets on a GPU — the `full` profile moves towards that scale. Finally, the feature network
# here is a fixed wavelet filter bank rather than the paper's pretrained CNN:
# `diffad_lib.features` also provides a MobileNetV3 loader for readers with torchvision and a
# local weights file.
#
# ## Summary
#
# - A U-Net noise predictor with a wavelet pyramid, self-attention, a hybrid time embedding and a
#   shared adapter is trained on normal samples; inputs are reconstructed from step $t_0$ and
#   scored with $A = \lambda\,$recon $+ (1-\lambda)\,$feature distance, each term standardised
#   on training scores.
# - {numref}`ch3-table1` (the paper's Table I on real magnetic tiles, {glue:text}`ch3_image_source`):
#   mean image AUROC {glue:text}`ch3_full_img` for the full model, best method on average
#   {glue:text}`ch3_best_method`. {numref}`ch3-table3` (the paper's Table III): removals that cost
#   more than the seed spread: {glue:text}`ch3_abl_supported`.
# - Real UrbanSound8K clips as scalograms, one class normal at a time with recordings never
#   split, and real series as windows go through the same model family; {numref}`ch3-table2` (the
#   paper's Table II) reports honest and point-adjusted metrics with a random row.
# - This run used the {glue:text}`ch3_profile` profile and took {glue:text}`ch3_seconds` s.
#
# ## What's next
#
# The {doc}`reproducibility` appendix lists the environment and the run records of every chapter.

# %% tags=["hide-input"]
glue("ch3_seconds", f"{time.perf_counter() - chapter_start:.0f}")
print(f"chapter executed in {time.perf_counter() - chapter_start:.0f} s")

"""The method registry and the experiment glue every chapter calls instead of re-implementing it.

* :data:`METHODS`, :func:`make_detector`, :func:`display_name` — every method the book compares,
  built by name with keyword parameters (unknown names raise, listing the valid ones), with its
  display name defined once, so a chapter builds its comparison table from a list of names;
* :func:`truncate_entity`, :func:`split_series`, :func:`holdout_split`, :func:`spread_indices` — shorter
  splits for quick runs; held-out normal tails; evenly spaced subsets;
* :func:`supported_params` — the shared settings of a page that one registry method accepts;
* :func:`diffusion_detector` — the DiffADT configuration for a set of entities (command channels
  as conditions, with or without the entity-ID embedding);
* :func:`run_entities` / :func:`score_entities` — fit any method on the training splits of many
  entities through :class:`~diffad_lib.detectors.EntityDetector` and keep raw per-step scores
  (:class:`EntityScores`), so every smoothing kernel and threshold can be evaluated afterwards;
* :func:`evaluate_entities`, :func:`kernel_grid`, :func:`pooled_scores` — metrics per entity, the
  kernel × size table and pooled standardised scores for ROC curves;
* :func:`with_params`, :func:`rescore_sweep`, :func:`loss_stability` — helpers of the ablations;
* :func:`sample_outputs`, :func:`image_auroc`, :func:`auroc_table`, :func:`border_share` — scores and
  maps of a fitted sample detector, image and pixel AUROC per defect kind, where map maxima lie;
* :func:`full_results_table` — the committed ``full``-profile results beside a page's own table.

Thresholds always come from training scores (three sigma by default), never from test labels.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from diffad_lib import baselines, metrics
from diffad_lib._validation import check_choice, check_int
from diffad_lib.data.telemetry import Entity
from diffad_lib.detectors import BaseDetector, DiffusionDetector, EntityDetector, PatchDiffusionDetector
from diffad_lib.scoring import ScoreStats, smooth
from diffad_lib.thresholds import fit_threshold
from diffad_lib.utils import spread

__all__ = [
    "METHODS",
    "compare_with_recorded",
    "EntityScores",
    "FitReport",
    "Method",
    "diffusion_detector",
    "display_name",
    "evaluate_entities",
    "holdout_split",
    "kernel_grid",
    "loss_stability",
    "auroc_table",
    "border_share",
    "image_auroc",
    "make_detector",
    "method_names",
    "pooled_scores",
    "rescore_sweep",
    "run_entities",
    "sample_outputs",
    "score_entities",
    "show_full_results",
    "split_series",
    "spread_indices",
    "supported_params",
    "truncate_entity",
    "with_params",
]

Kernel = Literal["hann", "hamming", "bartlett", "none"]


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Method:
    """One method of the book's comparisons."""

    display: str  # the name tables and figures show
    factory: Callable[..., BaseDetector]  # the detector class
    input: Literal["series", "samples", "any"]  # what it scores: time steps of a series, or samples
    kind: Literal["diffusion", "baseline", "reference"]  # reference: shown for comparison, never ranked
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)  # registry-level presets


#: Every method the book compares, keyed by registry name, in the order tables list them.
METHODS: dict[str, Method] = {
    "diffusion": Method("diffusion (MLP)", DiffusionDetector, "series", "diffusion"),
    # DiffADT as published: reconstruction distance (smoothed at evaluation), not the denoising score
    # DiffADT keeps window 32: on the leaderboard's development series it scored a mean VUS-PR of
    # 0.417 at 32 and 0.386 at 16 (`diffad leaderboard --profile dev`)
    "diffadt": Method("DiffADT", DiffusionDetector, "series", "diffusion",
                      {"model": "diffwave", "score_method": "reconstruction", "window": 32, "n_samples": 1}),
    # the exact denoiser of the training windows (no network): what memorising them would change,
    # shown beside the trained denoisers but counted neither as a diffusion method nor as a baseline
    "exact_denoiser": Method("exact denoiser (reference)", DiffusionDetector, "series", "reference",
                             {"model": "empirical"}),
    "patch_diffusion": Method("wavelet diffusion U-Net", PatchDiffusionDetector, "samples", "diffusion"),
    "zscore": Method("z-score", baselines.ZScoreDetector, "series", "baseline"),
    "iforest": Method("Isolation Forest", baselines.IsolationForestDetector, "series", "baseline"),
    "pca": Method("PCA", baselines.PCADetector, "series", "baseline"),
    "kmeans": Method("k-means", baselines.KMeansDetector, "series", "baseline"),
    "knn": Method("k-nearest neighbours", baselines.KNNDetector, "series", "baseline"),
    "ocsvm": Method("one-class SVM", baselines.OCSVMDetector, "series", "baseline"),
    "kpca": Method("kernel PCA", baselines.KernelPCADetector, "series", "baseline"),
    "autoencoder": Method("autoencoder", baselines.AutoencoderDetector, "series", "baseline"),
    "conv_ae": Method("conv autoencoder", baselines.ConvAutoencoderDetector, "samples", "baseline"),
    "feature_knn": Method("feature kNN", baselines.FeatureKNNDetector, "samples", "baseline"),
    "random": Method("random score", baselines.RandomScore, "any", "baseline"),
}


def method_names(*, input: Literal["series", "samples"] | None = None,
                 kind: Literal["diffusion", "baseline", "reference"] | None = None) -> list[str]:
    """Registry names, optionally only those scoring ``input`` or of one ``kind``."""
    return [k for k, m in METHODS.items()
            if (input is None or m.input in (input, "any")) and (kind is None or m.kind == kind)]


def display_name(name: str) -> str:
    """The display name of registry method ``name``."""
    check_choice(name, name="name", choices=tuple(METHODS))
    return METHODS[name].display


def make_detector(name: str, **params: Any) -> BaseDetector:
    """An unfitted detector of registry method ``name`` with keyword ``params``.

    Unknown parameter names raise ``ValueError`` listing the valid ones; values are validated
    when the detector is fitted.
    """
    check_choice(name, name="name", choices=tuple(METHODS))
    method = METHODS[name]
    valid = [p for p in inspect.signature(method.factory.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"method {name!r} accepts parameters {valid}; got unknown {unknown}")
    return method.factory(**{**method.defaults, **params})


def supported_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Those of ``params`` that registry method ``name`` accepts (the others are dropped).

    A page keeps one dict of shared settings (window, epochs, seed, ...) and builds every method
    of a comparison from it with ``make_detector(name, **supported_params(name, shared))``.
    """
    check_choice(name, name="name", choices=tuple(METHODS))
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of keyword parameters, got {type(params).__name__}")
    accepted = inspect.signature(METHODS[name].factory.__init__).parameters
    return {k: v for k, v in params.items() if k in accepted and k != "self"}


# --------------------------------------------------------------------------- data


def truncate_entity(entity: Entity, *, max_train_length: int = 0, max_test_length: int = 0) -> Entity:
    """A copy of ``entity`` with shorter splits (0 keeps a split whole).

    The training split keeps its first ``max_train_length`` steps. The test split keeps a window
    of ``max_test_length`` steps that contains the start of the first labelled segment, which
    begins a quarter of the window after the window's start when the series allows it; labels are
    cut the same way. Returns the entity itself when nothing needs cutting.
    """
    check_int(max_train_length, name="max_train_length", minimum=0)
    check_int(max_test_length, name="max_test_length", minimum=0)
    train, test, labels = entity.train, entity.test, entity.labels
    if max_train_length and len(train) > max_train_length:
        train = train[:max_train_length]
    test, labels = _test_window(test, labels, max_test_length)
    if train is entity.train and test is entity.test:
        return entity
    return dataclasses.replace(entity, train=train, test=test, labels=labels)


def _test_window(test: np.ndarray, labels: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``length`` steps of ``test`` and ``labels`` (0: all), the first labelled step a quarter in."""
    if not length or len(test) <= length:
        return test, labels
    hits = np.flatnonzero(labels)
    first = int(hits[0]) if hits.size else 0
    start = int(np.clip(first - length // 4, 0, len(test) - length))
    return test[start : start + length], labels[start : start + length]


def split_series(values: Any, labels: Any, train_end: int, *, max_train_length: int = 0,
                 max_test_length: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training and test parts of one labelled series, cut short for a quick run (0 keeps a part whole).

    The training part is the last ``max_train_length`` steps before ``train_end`` (those nearest
    the test part); the test part is the rest of the series, cut to a window of
    ``max_test_length`` steps as in :func:`truncate_entity`.

    Parameters
    ----------
    values : array-like, shape (n,) or (n, C)
    labels : array-like, shape (n,)
        0/1 labels of every step.
    train_end : int
        First step of the test part, in [1, n).

    Returns
    -------
    (train, test, test_labels)
    """
    values, labels = np.asarray(values), np.asarray(labels)
    if labels.shape != values.shape[:1]:
        raise ValueError(f"labels must have shape ({len(values)},) like values; got {labels.shape}")
    check_int(train_end, name="train_end", minimum=1, maximum=len(values) - 1)
    check_int(max_train_length, name="max_train_length", minimum=0)
    check_int(max_test_length, name="max_test_length", minimum=0)
    train = values[max(0, train_end - max_train_length) if max_train_length else 0 : train_end]
    test, test_labels = _test_window(values[train_end:], labels[train_end:], max_test_length)
    return train, test, test_labels


def spread_indices(groups: int | Sequence[Any], limit: int) -> np.ndarray:
    """Sorted indices of at most ``limit`` items of each group, evenly spaced within the group.

    ``groups`` is the group label of every item, shape (N,), or an int N for N items in one group;
    a group of at most ``limit`` items is kept whole (:func:`diffad_lib.utils.spread` within each
    group, the choice :func:`diffad_lib.leaderboard.load_problems` makes among series names).
    """
    check_int(limit, name="limit", minimum=1)
    labels = np.zeros(check_int(groups, name="groups", minimum=0)) if isinstance(groups, int | np.integer) \
        else np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f"groups must be an int or a 1-D array of group labels; got shape {labels.shape}")
    keep = [i for g in dict.fromkeys(labels.tolist()) for i in spread(list(np.flatnonzero(labels == g)), limit)]
    return np.sort(np.asarray(keep, dtype=np.int64))


def holdout_split(n: int, *, fraction: float, minimum: int = 1) -> int:
    """Length of the fitting part when the last ``fraction`` of ``n`` steps or samples is held out.

    Raises ``ValueError`` when either part would be shorter than ``minimum``.
    """
    n_val = int(round(fraction * n))
    if not 0 <= fraction < 1 or n - n_val < minimum or (n_val and n_val < minimum):
        raise ValueError(f"fraction={fraction!r} of {n} leaves {n - n_val} to fit and {n_val} held out; "
                         f"each needs at least {minimum} (fraction must lie in [0, 1))")
    return n - n_val


# --------------------------------------------------------------------------- detectors


def _command_channels(entities: Sequence[Entity]) -> list[int]:
    if not entities:
        raise ValueError("entities must hold at least one Entity; got an empty sequence")
    n_ch = {e.n_channels for e in entities}
    cmd = {tuple(e.command_channels) for e in entities}
    if len(n_ch) != 1 or len(cmd) != 1:
        raise ValueError(f"entities must share channels and command channels; got channel counts {sorted(n_ch)}")
    return list(next(iter(cmd)))


def diffusion_detector(
    entities: Sequence[Entity],
    *,
    entity_embedding: bool = True,
    model_params: dict[str, Any] | None = None,
    **detector_params: Any,
) -> DiffusionDetector:
    """An unfitted DiffADT detector for ``entities`` (one model across all of them, via :func:`run_entities`).

    The command channels of the entities condition the denoiser (``cond_channels``) and are never
    scored. ``entity_embedding=False`` gives the same denoiser without the embedding
    (``n_entities=0``); per-entity scaling and thresholds are kept either way.

    Parameters
    ----------
    entities : sequence of Entity
        Entities sharing one channel layout.
    entity_embedding : bool, default True
    model_params : dict, optional
        :class:`~diffad_lib.models.diffwave.DiffWaveConfig` fields (``residual_channels``,
        ``n_layers``, ``layer``, ``s4_state``, ...).
    **detector_params
        Other :class:`DiffusionDetector` options (``window``, ``hop``, ``epochs``, ...).
    """
    cond = _command_channels(entities)
    params = dict(model_params or {})
    for key in ("in_channels", "cond_channels", "n_entities"):
        if key in params:
            raise ValueError(f"model_params must not set {key!r}; it follows from the entities")
    for key in ("model", "model_params", "cond_channels", "n_entities"):
        if key in detector_params:
            raise ValueError(f"{key!r} is set by diffusion_detector; got it in detector_params")
    detector_params.setdefault("smoothing", "none")  # run_entities keeps raw scores; evaluation smooths
    return make_detector("diffadt", model_params=params or None, cond_channels=cond or None,
                         n_entities=len(entities) if entity_embedding else 0, **detector_params)


def with_params(detector: EntityDetector, **params: Any) -> EntityDetector:
    """A copy of a fitted diffusion :class:`EntityDetector` with scoring options changed (``t0``, ...).

    The copy shares the trained model and scalers; the original is left unchanged.
    """
    if not hasattr(detector, "detector_"):
        raise ValueError("with_params needs a fitted EntityDetector around a DiffusionDetector")
    out = copy.copy(detector)
    out.detector_ = copy.copy(detector.detector_).set_params(**params)
    out.detector_._check_params()
    return out


def rescore_sweep(detector: EntityDetector, entities: Sequence[Entity], knobs: dict[str, tuple[str, Sequence[Any]]],
                  *, kind: Kernel = "hann", size: int = 15) -> pd.DataFrame:
    """Score the test splits again for every value of each scoring knob of a fitted diffusion detector.

    No retraining: each value gives a :func:`with_params` copy sharing the trained model. For each
    value the table holds the mean over entities of the detector's unsmoothed score on the normal
    test steps (the L1 error for a reconstruction score without calibration), the mean ROC-AUC of
    the score smoothed with ``kind`` / ``size``, and the wall time of scoring every entity.

    Parameters
    ----------
    detector : EntityDetector
        Fitted around a :class:`DiffusionDetector`.
    entities : sequence of Entity
        ``entities[i]`` is the detector's entity ``i`` (e.g. the first k of those it was fitted on).
    knobs : dict
        Row label -> (detector parameter, values), e.g. ``{"t0": ("t0", [10, 50])}``.

    Returns
    -------
    DataFrame indexed by (knob, value) with columns "L1 error (normal steps)", "ROC-AUC", "time (s)".
    """
    if not entities or len(entities) > getattr(detector, "n_entities_", 0):
        raise ValueError(f"entities must hold 1 to {getattr(detector, 'n_entities_', 0)} entities of the fitted "
                         f"detector; got {len(entities)}")
    if not knobs:
        raise ValueError("knobs must name at least one (parameter, values) pair")
    rows = {}
    for knob, (param, values) in knobs.items():
        for value in values:
            start = time.perf_counter()
            det = with_params(detector, **{param: value})
            scores = [(np.asarray(e.labels), det.decision_function(e.test, entity=i)) for i, e in enumerate(entities)]
            rows[knob, value] = {
                "L1 error (normal steps)": float(np.mean([s[y == 0].mean() for y, s in scores])),
                "ROC-AUC": float(np.mean([metrics.roc_auc(y, smooth(s, kind=kind, size=size)) for y, s in scores])),
                "time (s)": time.perf_counter() - start}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(["knob", "value"])


# --------------------------------------------------------------------------- scores


@dataclass
class EntityScores:
    """Raw (unsmoothed) per-step scores of one entity, before any threshold."""

    name: str  # entity name ("P-1", "machine-1-2")
    labels: np.ndarray  # (n_test,) 0/1 test labels
    train_scores: np.ndarray  # (n_train,) scores of the training split (thresholds are fitted on these)
    test_scores: np.ndarray  # (n_test,) scores of the test split
    reconstruction: np.ndarray | None = None  # (n_test, C) test reconstruction in input units (diffusion only)


@dataclass
class FitReport:
    """What :func:`run_entities` returns."""

    detector: EntityDetector  # the fitted detector (``detector.detector_``: the shared diffusion model)
    scores: list[EntityScores]  # one per entity, in the order given
    fit_seconds: float  # training wall time (includes scoring the training splits)
    score_seconds: float  # wall time of scoring every test split


def score_entities(detector: EntityDetector, entities: Sequence[Entity], *,
                   keep_reconstruction: bool = False) -> list[EntityScores]:
    """Score every test split with a fitted :class:`EntityDetector`; ``entities[i]`` is entity ``i``.

    Diffusion scores are the detector's distance (unsmoothed when built with ``smoothing="none"``);
    ``keep_reconstruction`` also keeps the test reconstruction (diffusion only).
    """
    if len(entities) != detector.n_entities_:
        raise ValueError(f"{len(entities)} entities for a detector fitted on {detector.n_entities_}")
    out = []
    for i, ent in enumerate(entities):
        if keep_reconstruction and detector.detector_.score_method == "reconstruction":
            x_hat = detector.reconstruct(ent.test, entity=i)
            test = detector.detector_.score_reconstruction(ent.test, x_hat, entity=i)
        elif keep_reconstruction:  # the score is not a function of x̂: both are computed
            x_hat, test = detector.reconstruct(ent.test, entity=i), detector.decision_function(ent.test, entity=i)
        else:
            x_hat, test = None, detector.decision_function(ent.test, entity=i)
        out.append(EntityScores(ent.name, np.asarray(ent.labels, dtype=np.int8),
                                np.asarray(detector.decision_scores_[i], dtype=np.float64),
                                np.asarray(test, dtype=np.float64), x_hat))
    return out


def run_entities(method: str | BaseDetector, entities: Sequence[Entity], *, keep_reconstruction: bool = False,
                 **params: Any) -> FitReport:
    """Fit a method on the training splits of all ``entities`` and score their test splits.

    ``method`` is a registry name (built with ``params``) or an unfitted detector (e.g. from
    :func:`diffusion_detector`). A diffusion detector trains one model over all entities; any
    other detector is fitted per entity. Raw scores are kept, so a diffusion detector must use
    ``smoothing="none"`` (smoothing is applied at evaluation, :func:`evaluate_entities`); a
    registry name is built with it unless ``params`` say otherwise (which raises).
    """
    if isinstance(method, str) and method in METHODS:
        if "smoothing" in inspect.signature(METHODS[method].factory).parameters:
            params.setdefault("smoothing", "none")
    det = make_detector(method, **params) if isinstance(method, str) else method
    if params and not isinstance(method, str):
        raise ValueError("params are for a registry name; configure a detector instance before passing it")
    if getattr(det, "smoothing", "none") != "none":
        raise ValueError(f"run_entities keeps raw scores: build the detector with smoothing='none'; "
                         f"got {det.smoothing!r}")
    start = time.perf_counter()
    wrapper = EntityDetector(det).fit([e.train for e in entities])
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = score_entities(wrapper, entities, keep_reconstruction=keep_reconstruction)
    return FitReport(wrapper, scores, fit_seconds, time.perf_counter() - start)


# --------------------------------------------------------------------------- metrics


def _smoothed(s: EntityScores, kind: Kernel, size: int) -> tuple[np.ndarray, np.ndarray]:
    if s.train_scores.size == 0:
        raise ValueError(f"entity {s.name!r} has no training scores; a threshold needs them")
    return smooth(s.train_scores, kind=kind, size=size), smooth(s.test_scores, kind=kind, size=size)


def evaluate_entities(
    scores: Sequence[EntityScores],
    *,
    kind: Kernel = "hann",
    size: int = 15,
    threshold: str = "three_sigma",
    **threshold_params: Any,
) -> pd.DataFrame:
    """Metrics of :func:`diffad_lib.metrics.evaluate` per entity, after smoothing.

    Train and test scores are smoothed with the same kernel; the threshold is fitted on the
    smoothed *training* scores (``threshold`` rule of :func:`~diffad_lib.thresholds.fit_threshold`).

    Returns
    -------
    DataFrame indexed by entity name with the metric columns plus ``threshold``.
    """
    rows = {}
    for s in scores:
        train, test = _smoothed(s, kind, size)
        thr = fit_threshold(train, method=threshold, **threshold_params)
        rows[s.name] = {**metrics.evaluate(s.labels, test, thr), "threshold": thr}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("entity")


def kernel_grid(
    scores: Sequence[EntityScores],
    *,
    kinds: Sequence[Kernel] = ("hann", "hamming", "bartlett"),
    sizes: Sequence[int] = (15, 25, 35),
    metric: Literal["iou", "f1", "f1_pa", "f1_event"] = "iou",
) -> pd.DataFrame:
    """Mean over entities of a thresholded metric for every kernel × size (rows: kernel, columns: size).

    Rescoring only: the same raw distances are smoothed with each kernel, and the three-sigma
    threshold is refitted on the smoothed training scores each time.
    """
    funcs = {
        "iou": metrics.iou,
        "f1": lambda y, p: metrics.precision_recall_f1(y, p)["f1"],
        "f1_pa": lambda y, p: metrics.point_adjusted_f1(y, p)["f1"],
        "f1_event": lambda y, p: metrics.event_f1(y, p)["f1"],
    }
    if metric not in funcs:
        raise ValueError(f"metric must be one of {list(funcs)}; got {metric!r}")
    table = pd.DataFrame(index=pd.Index(list(kinds), name="kernel"), columns=pd.Index(list(sizes), name="size"),
                         dtype=float)
    for kind in kinds:
        for size in sizes:
            values = []
            for s in scores:
                train, test = _smoothed(s, kind, size)
                values.append(funcs[metric](s.labels, test > fit_threshold(train, method="three_sigma")))
            table.loc[kind, size] = float(np.mean(values))
    return table


def pooled_scores(scores: Sequence[EntityScores], *, kind: Kernel = "hann", size: int = 15
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Labels and smoothed test scores of all entities, each standardised by its training scores.

    ``z = (s − mean_train) / std_train``, so one threshold (e.g. z = 3, the three-sigma rule)
    means the same for every entity and a pooled ROC curve is meaningful.
    Returns ``(labels (N,), z (N,))`` with N the total test length.
    """
    ys, zs = [], []
    for s in scores:
        train, test = _smoothed(s, kind, size)
        ys.append(s.labels)
        zs.append(ScoreStats.fit(train).transform(test))
    return np.concatenate(ys), np.concatenate(zs)


def loss_stability(losses: Sequence[float], *, last_frac: float = 0.2) -> float:
    """Standard deviation of the last ``last_frac`` of the per-epoch losses (at least two epochs)."""
    arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"losses must hold at least two epochs; got {arr.size}")
    if not 0 < last_frac <= 1:
        raise ValueError(f"last_frac must lie in (0, 1]; got {last_frac!r}")
    k = max(2, int(round(last_frac * arr.size)))
    return float(arr[-k:].std())


# --------------------------------------------------------------------------- samples (images, scalograms)


def sample_outputs(detector: BaseDetector, X: Any, *, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray] | None]:
    """Scores, anomaly maps and (for the diffusion detector) score components of a fitted sample detector.

    The diffusion detector (:class:`PatchDiffusionDetector`) reconstructs ``X`` once and keeps the
    components, from which scores and maps for any λ follow without reconstructing again. A
    detector with ``anomaly_map`` whose ``image_score`` is ``"max"`` gets its scores as the maximum
    of the map (computed once, not twice). A detector without maps (the random score) gets a random
    map, seeded by ``seed``, so every method has a pixel AUROC.

    Parameters
    ----------
    detector : BaseDetector
        A fitted detector of samples.
    X : array-like, shape (N, C, *S)
        Samples (images (N, C, H, W) or sequences (N, C, L)).
    seed : int, default 0
        Seed of the random map of a detector without maps.

    Returns
    -------
    scores : ndarray, shape (N,)
    maps : ndarray, shape (N, *S)
    components : dict or None
        ``detector.score_components(X)`` for the diffusion detector, else None.
    """
    X = np.asarray(X)
    if X.ndim < 3:
        raise ValueError(f"X must hold samples of shape (N, C, *S); got shape {X.shape}")
    check_int(seed, name="seed", minimum=0)
    if hasattr(detector, "score_components"):
        comp = detector.score_components(X)
        return detector.scores_from_components(comp), detector.maps_from_components(comp), comp
    if not hasattr(detector, "anomaly_map"):
        return detector.decision_function(X), np.random.default_rng(seed).random((len(X), *X.shape[2:])), None
    maps = detector.anomaly_map(X)  # (N, *S), already smoothed by the detector's map_sigma
    if getattr(detector, "image_score", None) == "max":
        return maps.reshape(len(maps), -1).max(axis=1), maps, None
    return detector.decision_function(X), maps, None


def _mask_known(data: Any) -> np.ndarray:
    known = getattr(data, "mask_known", None)
    return np.ones(len(data.labels), dtype=bool) if known is None else np.asarray(known, dtype=bool)


def image_auroc(data: Any, scores: Any, maps: Any, *, index: Any = None) -> dict[str, float]:
    """Image AUROC and pixel AUROC of scores and maps of test images against their labels and masks.

    Parameters
    ----------
    data : MVTecData
        The test split's ``labels`` (M,), ``masks`` (M, H, W) and ``mask_known`` (M,) (a defective
        image whose mask is empty counts for the image AUROC only).
    scores : array-like, shape (K,)
        Scores of the test images ``index`` (all M when ``index`` is None).
    maps : array-like, shape (K, H, W)
    index : array-like of int, shape (K,), optional
        Positions in the test split of the scored images.

    Returns
    -------
    ``{"image AUROC": float, "pixel AUROC": float}``
    """
    idx = np.arange(len(data.labels)) if index is None else np.asarray(index, dtype=np.int64)
    scores, maps = np.asarray(scores), np.asarray(maps)
    if scores.shape != idx.shape or maps.shape != (len(idx), *np.shape(data.masks)[1:]):
        raise ValueError(f"scores and maps must have shapes ({len(idx)},) and ({len(idx)}, "
                         f"{', '.join(map(str, np.shape(data.masks)[1:]))}); got {scores.shape} and {maps.shape}")
    pix = _mask_known(data)[idx]
    return {"image AUROC": metrics.roc_auc(np.asarray(data.labels)[idx], scores),
            "pixel AUROC": metrics.roc_auc(np.asarray(data.masks)[idx][pix].ravel(), maps[pix].ravel())}


def auroc_table(data: Any, outputs: dict[Any, tuple[Any, Any]], *, normal: str = "good",
                level: str = "method") -> pd.DataFrame:
    """Image and pixel AUROC per defect kind, over all test images and as the mean over the kinds.

    Each kind's row ranks the ``normal`` test images against the images of that kind; the row
    ``"all (M)"`` uses every test image, and ``"mean over kinds"`` averages the kinds' rows (not the
    all row). Kinds are labelled with their image count, ``"crack (12)"``, in the order of
    ``data.defect_types``.

    Parameters
    ----------
    data : MVTecData
        Test labels, masks, ``mask_known`` and ``defect_types`` (M,).
    outputs : dict
        Row label (a method, a λ, ...) -> (scores (M,), maps (M, H, W)) of every test image.
    normal : str, default "good"
        The defect type of the defect-free test images.
    level : str, default "method"
        Name of the index level of the keys of ``outputs``.

    Returns
    -------
    DataFrame indexed by ("defect kind (test images)", ``level``) with columns "image AUROC" and
    "pixel AUROC".
    """
    kind_of = np.asarray(data.defect_types)
    if normal not in kind_of:
        raise ValueError(f"normal must be a defect type of the test images {sorted(set(kind_of))}; got {normal!r}")
    if not outputs:
        raise ValueError("outputs must hold at least one (scores, maps) pair")
    groups = {f"{k} ({(kind_of == k).sum()})": np.flatnonzero((kind_of == normal) | (kind_of == k))
              for k in dict.fromkeys(kind_of) if k != normal}
    groups[f"all ({len(kind_of)})"] = np.arange(len(kind_of))
    rows = {(group, key): image_auroc(data, np.asarray(s)[idx], np.asarray(m)[idx], index=idx)
            for group, idx in groups.items() for key, (s, m) in outputs.items()}
    name = "defect kind (test images)"
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(list(rows), names=[name, level])
    by_kind = table.drop(index=f"all ({len(kind_of)})", level=0)
    return pd.concat([table, pd.concat({"mean over kinds": by_kind.groupby(level=level, sort=False).mean()},
                                       names=[name])])


def border_share(maps: Any, *, margin: int = 2) -> float:
    """Share of the maps (N, H, W) whose maximum lies within ``margin`` pixels of the border."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or not len(maps):
        raise ValueError(f"maps must have shape (N, H, W) with N >= 1; got {maps.shape}")
    check_int(margin, name="margin", minimum=0)
    h, w = maps.shape[1:]
    rows, cols = np.unravel_index(maps.reshape(len(maps), -1).argmax(axis=1), (h, w))
    return float(np.mean((rows < margin) | (rows >= h - margin) | (cols < margin) | (cols >= w - margin)))


# --------------------------------------------------------------------------- committed full-profile runs


def show_full_results(name: str, tables: dict[str, pd.DataFrame], *, profile: str, command: str) -> None:
    """Record ``tables`` under ``results/<name>.json`` at the ``full`` profile; display the recorded run.

    At every profile the page then shows the committed ``full`` run (device, commit, command and
    date first) or says that none has been recorded yet, so a CPU build never passes its own
    small run off as the paper-scale one.
    """
    from IPython.display import Markdown, display

    from diffad_lib.report import load_results, save_results

    if profile == "full":
        save_results(name, tables, command=command)
    run = load_results(name)
    if run is None:
        display(Markdown("*No `full`-profile run has been recorded in `results/` yet (it needs a GPU); "
                         "the tables above are this build's own run.*"))
        return
    display(Markdown(f"**`full` profile** — device: {run['device']}; commit {run['commit']}; "
                     f"command `{run['command']}`; run {run['date']}."))
    for key in tables:
        if key in run["tables"]:
            display(run["tables"][key].round(3))


def compare_with_recorded(name: str, tables: dict[str, pd.DataFrame], *, profile: str, command: str,
                          recorded: Sequence[str] = ("default",), directory: str | Path | None = None) -> str:
    """Compare this build's ``tables`` with the run recorded at the same profile, then record this one.

    At a profile in ``recorded`` the previous run of that profile is read from
    ``results/<name>_<profile>.json`` (commit, date and tables, written by an earlier build and
    committed), the change of every numeric cell (this build − recorded) is displayed per table, and
    this build's tables replace the record. Returns a sentence for the page saying what changed
    (largest and mean absolute change) or that nothing was recorded before; at other profiles it
    says that the comparison runs at the recorded profiles only. Nothing is typed by hand: both
    sides are runs of the chapter.
    """
    from IPython.display import Markdown, display

    from diffad_lib.report import flat_columns, load_results, save_results

    if profile not in recorded:
        return (f"This build ran at the `{profile}` profile; the comparison with the previous recorded run is made "
                f"at {', '.join(f'`{p}`' for p in recorded)} only.")
    stem = f"{name}_{profile}"
    flat = {key: flat_columns(df) for key, df in tables.items()}
    previous = load_results(stem, directory=directory)
    save_results(stem, flat, command=command, directory=directory)
    if previous is None:
        return (f"No earlier `{profile}` run was recorded; this build's tables are now recorded in "
                f"`results/{stem}.json` for the next build to compare with.")
    changes = []
    for key, df in flat.items():
        old = previous["tables"].get(key)
        if old is None:
            continue
        now = df.select_dtypes("number")
        if isinstance(now.index, pd.MultiIndex) != isinstance(old.index, pd.MultiIndex):
            continue
        common = [c for c in now.columns if c in old.columns]
        rows = now.index.intersection(old.index)
        if not common or rows.empty:
            continue
        delta = now.loc[rows, common] - old.loc[rows, common].apply(pd.to_numeric, errors="coerce")
        display(Markdown(f"**{key}**: this build − the recorded `{profile}` run"))
        display(delta.round(3))
        stacked = delta.stack().dropna()
        if not stacked.empty:
            where = stacked.abs().idxmax()
            changes.append((abs(stacked[where]), key, where, stacked[where], stacked.abs().mean()))
    head = (f"Against the recorded `{profile}` run (commit {previous['commit']}, {previous['date']}, "
            f"{previous['device']})")
    if not changes:
        return f"{head} no table shares rows and columns with this build, so nothing is compared."
    _, key, where, value, _ = max(changes)
    *row, col = where if isinstance(where, tuple) else (where,)
    mean_abs = np.mean([c[4] for c in changes])
    return (f"{head}, the largest change is {value:+.3f} ({key}, {col}, {' / '.join(map(str, row))}) and the "
            f"mean absolute change over the compared cells is {mean_abs:.3f}.")

"""Running detectors over the entities of a telemetry benchmark and collecting per-entity metrics.

The DiffADT chapter trains **one** diffusion model across many entities (spacecraft channels or
server machines) and scores each entity with its own training-fitted threshold. This module holds
the glue that is not specific to one page:

* :func:`truncate_entity` — shorten an entity's splits for quick runs, keeping its first anomaly;
* :func:`diffusion_detector` — a ``"diffwave"`` :class:`~diffad_lib.detector.DiffusionDetector`
  conditioned on the entities' command channels, **with** or **without** the entity-ID embedding
  (``n_entities=0``);
* :func:`fit_entities` / :func:`score_entities` / :func:`baseline_entities` — fit and score, keeping
  the raw per-step distances of the training and test splits (:class:`EntityScores`), so that every
  smoothing kernel and threshold can be evaluated afterwards without retraining;
* :func:`evaluate_entities`, :func:`kernel_grid`, :func:`pooled_scores` — metrics per entity, the
  kernel × size table and pooled standardised scores for ROC curves;
* :func:`with_params`, :func:`loss_stability` — small helpers of the ablations.

Thresholds always come from training scores (three sigma by default), never from test labels.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from diffad_lib import metrics
from diffad_lib.baselines import make_baseline
from diffad_lib.data.telemetry import Entity
from diffad_lib.detector import DiffusionDetector
from diffad_lib.scoring import ScoreStats, smooth
from diffad_lib.thresholds import fit_threshold

__all__ = [
    "EntityScores",
    "FitReport",
    "baseline_entities",
    "diffusion_detector",
    "evaluate_entities",
    "fit_entities",
    "kernel_grid",
    "loss_stability",
    "pooled_scores",
    "score_entities",
    "truncate_entity",
    "with_params",
]

Kernel = Literal["hann", "hamming", "bartlett", "none"]


# --------------------------------------------------------------------------- data


def truncate_entity(entity: Entity, *, max_train_length: int = 0, max_test_length: int = 0) -> Entity:
    """A copy of ``entity`` with shorter splits (0 keeps a split whole).

    The training split keeps its first ``max_train_length`` steps. The test split keeps a window
    of ``max_test_length`` steps that contains the start of the first labelled segment, which
    begins a quarter of the window after the window's start when the series allows it; labels are
    cut the same way. Returns the entity itself when nothing needs cutting.
    """
    for name, value in (("max_train_length", max_train_length), ("max_test_length", max_test_length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    train, test, labels = entity.train, entity.test, entity.labels
    if max_train_length and len(train) > max_train_length:
        train = train[:max_train_length]
    if max_test_length and len(test) > max_test_length:
        hits = np.flatnonzero(labels)
        first = int(hits[0]) if hits.size else 0
        start = int(np.clip(first - max_test_length // 4, 0, len(test) - max_test_length))
        test = test[start : start + max_test_length]
        labels = labels[start : start + max_test_length]
    if train is entity.train and test is entity.test:
        return entity
    return dataclasses.replace(entity, train=train, test=test, labels=labels)


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
    """An unfitted DiffADT detector for ``entities`` (one model across all of them).

    The command channels of the entities condition the denoiser (``cond_channels``) and are never
    scored. Entities are numbered ``0 .. len(entities)-1`` in the given order (pass the same order
    to :func:`fit_entities`).

    Parameters
    ----------
    entities : sequence of Entity
        Entities sharing one channel layout.
    entity_embedding : bool, default True
        True: the ``"diffwave"`` denoiser embeds the entity ID. False: the same denoiser without
        the embedding (``n_entities=0``); per-entity scaling and thresholds are kept either way.
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
    return DiffusionDetector("diffwave", model_params=params or None, cond_channels=cond or None,
                             n_entities=len(entities) if entity_embedding else 0, **detector_params)


def with_params(detector: DiffusionDetector, **params: Any) -> DiffusionDetector:
    """A shallow copy of a fitted detector with scoring options changed (``t0``, ``sample_steps``, ...).

    The copy shares the trained model and scalers; the original is left unchanged.
    """
    out = copy.copy(detector)
    out.set_params(**params)
    return out


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
    """What :func:`fit_entities` returns."""

    detector: DiffusionDetector  # the fitted detector
    scores: list[EntityScores]  # one per entity, in the order given
    fit_seconds: float  # training wall time (includes the detector's own scoring of the training splits)
    score_seconds: float  # wall time of reconstructing every test split


def score_entities(
    detector: DiffusionDetector,
    entities: Sequence[Entity],
    *,
    train_scores: Sequence[np.ndarray] | None = None,
    keep_reconstruction: bool = True,
) -> list[EntityScores]:
    """Reconstruct every test split with a fitted detector and keep the raw distances.

    ``entities[i]`` is scored as entity ``i``. The distance is the detector's (L1 by default,
    averaged over the reconstructed channels, in the entity's training scale), unsmoothed.
    ``train_scores`` (one array per entity) are stored as they are; ``None`` stores empty arrays
    (enough for threshold-free metrics).
    """
    if detector.smoothing != "none":
        raise ValueError(f"score_entities needs raw distances: build the detector with smoothing='none'; "
                         f"got {detector.smoothing!r}")
    if train_scores is not None and len(train_scores) != len(entities):
        raise ValueError(f"train_scores has {len(train_scores)} arrays for {len(entities)} entities")
    out = []
    for i, ent in enumerate(entities):
        x_hat = detector.reconstruct(ent.test, entity=i)
        dist = detector.score_reconstruction(ent.test, x_hat, entity=i)
        train = np.asarray(train_scores[i], dtype=np.float64) if train_scores is not None else np.empty(0)
        out.append(EntityScores(ent.name, np.asarray(ent.labels, dtype=np.int8), train, dist,
                                x_hat if keep_reconstruction else None))
    return out


def fit_entities(detector: DiffusionDetector, entities: Sequence[Entity], *,
                 keep_reconstruction: bool = True) -> FitReport:
    """Train ``detector`` (``smoothing="none"``) on the training splits of all ``entities``, then score them.

    ``entities[i]`` gets entity ID ``i``. Training scores are the detector's ``decision_scores_``
    (the raw distances of each training split).
    """
    if detector.smoothing != "none":
        raise ValueError(f"fit_entities needs raw distances: build the detector with smoothing='none'; "
                         f"got {detector.smoothing!r}")
    if detector.n_entities and len(entities) > detector.n_entities:
        raise ValueError(f"{len(entities)} entities for a detector with n_entities={detector.n_entities}")
    start = time.perf_counter()
    # one model over all entities; each keeps its own scaling and threshold (with or without the embedding)
    detector.fit([e.train for e in entities], entity=list(range(len(entities))))
    train_scores = detector.decision_scores_
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = score_entities(detector, entities, train_scores=train_scores, keep_reconstruction=keep_reconstruction)
    return FitReport(detector, scores, fit_seconds, time.perf_counter() - start)


def baseline_entities(name: str, entities: Sequence[Entity], **params: Any) -> list[EntityScores]:
    """Fit the baseline ``name`` (:func:`~diffad_lib.baselines.make_baseline`) on each entity's training split.

    One detector per entity, on all of its channels; returns training and test scores.
    """
    out = []
    for ent in entities:
        det = make_baseline(name, **params).fit(ent.train)
        out.append(EntityScores(ent.name, np.asarray(ent.labels, dtype=np.int8),
                                np.asarray(det.decision_scores_, dtype=np.float64),
                                np.asarray(det.decision_function(ent.test), dtype=np.float64)))
    return out


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

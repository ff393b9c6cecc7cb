"""Multi-entity fitting: one detector over many series (DiffADT's spacecraft channels, SMD machines).

:class:`EntityDetector` wraps any detector of the library. Each entity keeps its own scaling,
held-out split and threshold; what is shared depends on the wrapped detector:

* a :class:`~diffad_lib.detectors.series.DiffusionDetector` trains **one** denoiser on the
  windows of every entity (with ``n_entities > 0`` and ``model="diffwave"`` the denoiser also
  embeds the entity ID, DiffADT's conditioning);
* any other detector (the baselines) is cloned and fitted once per entity.

Return types never change with the number of entities: ``decision_scores_``, ``threshold_`` and
``labels_`` are always dicts keyed by entity index ``0 .. n_entities-1`` (the order of ``fit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from diffad_lib.detectors.base import BaseDetector
from diffad_lib.detectors.series import DiffusionDetector

__all__ = ["EntityDetector"]


class EntityDetector(BaseEstimator):
    """Fit a detector on several entities' normal series; score each with its own threshold.

    Parameters
    ----------
    detector : BaseDetector
        The unfitted template (cloned at ``fit``; never modified). A ``DiffusionDetector`` is
        trained once across all entities, any other detector once per entity.

    Attributes
    ----------
    detector_ : the fitted shared DiffusionDetector (diffusion) ; detectors_ : list (others)
    decision_scores_ : dict int -> (n_i,) ; threshold_ : dict int -> float ; labels_ : dict int -> (n_i,)
    n_entities_ : int
    """

    def __init__(self, detector: BaseDetector) -> None:
        self.detector = detector

    @property
    def _shared(self) -> bool:
        return isinstance(self.detector, DiffusionDetector)

    def fit(self, X: Sequence[Any], y: Any = None) -> EntityDetector:
        """Fit on a list of normal series (one per entity); ``y`` is ignored. Returns ``self``."""
        if not isinstance(self.detector, BaseDetector):
            raise TypeError(f"detector must be a diffad_lib detector; got {type(self.detector).__name__}")
        if isinstance(X, np.ndarray) or not isinstance(X, (list, tuple)) or not X:
            raise ValueError(f"X must be a non-empty list of series, one per entity; got {type(X).__name__}")
        self.n_entities_ = len(X)
        if not self._shared:
            self.detectors_ = [clone(self.detector).fit(x) for x in X]
            self.threshold_ = {i: d.threshold_ for i, d in enumerate(self.detectors_)}
            self.decision_scores_ = {i: d.decision_scores_ for i, d in enumerate(self.detectors_)}
            self.labels_ = {i: d.labels_ for i, d in enumerate(self.detectors_)}
            return self
        det = clone(self.detector)
        det._check_common()
        det._check_params()
        if det.n_entities and len(X) > det.n_entities:
            raise ValueError(f"{len(X)} entities for a detector with n_entities={det.n_entities}")
        series = [det._validate(x, reset=(i == 0), name=f"X[{i}]") for i, x in enumerate(X)]
        n_fit = [det._n_fit(len(s)) for s in series]
        scores = det.fit_entities(series, keys=list(range(len(series))), n_fit=n_fit)
        self.detector_ = det
        self.threshold_, self.decision_scores_, self.labels_ = {}, {}, {}
        for i, (s, k) in enumerate(zip(scores, n_fit, strict=True)):
            det._set_threshold(s, k)
            self.threshold_[i], self.decision_scores_[i], self.labels_[i] = (
                det.threshold_, det.decision_scores_, det.labels_)
        for attr in ("threshold_", "decision_scores_", "labels_"):  # per-entity values live here only
            del det.__dict__[attr]
        return self

    def _check_entity(self, entity: int) -> int:
        check_is_fitted(self, "threshold_")
        if isinstance(entity, bool) or not isinstance(entity, (int, np.integer)) or entity not in self.threshold_:
            raise ValueError(f"entity must be one of the fitted entities 0..{self.n_entities_ - 1}; got {entity!r}")
        return int(entity)

    def decision_function(self, X: Any, *, entity: int) -> np.ndarray:
        """Scores of a series of entity ``entity`` (its own scaling): (n,) float64."""
        entity = self._check_entity(entity)
        if not self._shared:
            return self.detectors_[entity].decision_function(X)
        return self.detector_.score_entity(self.detector_._validate(X, reset=False), entity)

    def predict(self, X: Any, *, entity: int) -> np.ndarray:
        """0/1 labels of a series of entity ``entity`` with that entity's threshold."""
        return (self.decision_function(X, entity=entity) > self.threshold_[self._check_entity(entity)]).astype(int)

    def reconstruct(self, X: Any, *, entity: int) -> np.ndarray:
        """Reconstruction x̂ of a series of entity ``entity`` (diffusion detectors only)."""
        entity = self._check_entity(entity)
        if not self._shared:
            raise TypeError(f"{type(self.detector).__name__} does not reconstruct")
        return self.detector_.reconstruct(X, entity=entity)

"""Detectors: one base class, one reconstruction core, two adapters, one multi-entity wrapper.

* :mod:`.base` — :class:`BaseDetector`, the pyod / scikit-learn contract every detector follows;
* :mod:`.core` — :class:`DiffusionCore`: schedule, denoiser, training, reconstruction;
* :mod:`.series` — :class:`DiffusionDetector`: series adapter (scale, frame, stitch, conditions)
  and the point-distance scorer (distance + smoothing);
* :mod:`.samples` — :class:`PatchDiffusionDetector`: sample adapter (images, scalograms, fixed
  windows) and the λ-mixed reconstruction / feature scorer;
* :mod:`.entities` — :class:`EntityDetector`: one detector over many entities.

The baselines (:mod:`diffad_lib.baselines`) derive from the same base class.
"""

from diffad_lib.detectors.base import BaseDetector
from diffad_lib.detectors.entities import EntityDetector
from diffad_lib.detectors.samples import PatchDiffusionDetector, feature_loss
from diffad_lib.detectors.series import DiffusionDetector

__all__ = ["BaseDetector", "DiffusionDetector", "EntityDetector", "PatchDiffusionDetector", "feature_loss"]

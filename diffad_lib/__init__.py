"""diffad_lib: diffusion models for anomaly detection (the library behind the diffad book).

Import as ``import diffad_lib as dl``. Submodules: ``schedule``, ``samplers``, ``models``,
``train``, ``scoring``, ``thresholds``, ``metrics``, ``baselines``, ``data``, ``detector``.
"""

from diffad_lib.detector import DiffusionDetector

__version__ = "0.1.0"
__all__ = ["DiffusionDetector", "__version__"]

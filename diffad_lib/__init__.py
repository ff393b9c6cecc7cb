"""diffad_lib: diffusion models for anomaly detection (the library behind the diffad book).

Import as ``import diffad_lib as dl``. Submodules: ``schedule``, ``samplers``, ``models``,
``train``, ``scoring``, ``thresholds``, ``metrics``, ``baselines``, ``data``, ``detector``,
``wavelets``, ``features``, ``detectors``, ``experiments``.
"""

import warnings

from diffad_lib.detectors import DiffusionDetector, EntityDetector, PatchDiffusionDetector

# tqdm.auto (imported by pooch and by the progress bars) warns in a notebook without
# ipywidgets; the library's own bars are plain text, so that warning is noise on every page.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")

__version__ = "0.1.0"
__all__ = ["DiffusionDetector", "EntityDetector", "PatchDiffusionDetector", "__version__"]

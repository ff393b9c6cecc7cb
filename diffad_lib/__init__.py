"""diffad_lib: diffusion models for anomaly detection (the library behind the diffad book).

Import as ``import diffad_lib as dl``. Submodules: ``schedule``, ``samplers``, ``models``,
``train``, ``scoring``, ``thresholds``, ``metrics``, ``baselines``, ``data``, ``detector``,
``wavelets``, ``features``, ``patch_detector``, ``experiments``.
"""

import warnings

from diffad_lib.detector import DiffusionDetector

# pooch (imported by scikit-image) imports tqdm.auto, which warns in a notebook without
# ipywidgets; the library's own bars are plain text, so that warning is noise on every page.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")

__version__ = "0.1.0"
__all__ = ["DiffusionDetector", "__version__"]

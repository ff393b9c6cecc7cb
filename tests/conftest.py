"""Shared test settings.

Tests use small models, for which torch's intra-op threads cost more than they bring (and
oversubscribe a 2-core CI machine); one thread keeps timings stable.
"""

import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)

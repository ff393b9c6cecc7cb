"""The README's library example runs and does what it says."""

import re
from pathlib import Path

import numpy as np


def test_readme_example_detects_the_anomalous_point():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    scores, labels = namespace["scores"], namespace["labels"]
    # the default score is smoothed by a 15-step Hann kernel, and the point is also in the clean past (16 steps)
    # of the windows after it, whose errors it raises: the peak lies at the point or up to 16 steps after it
    assert -2 <= int(np.argmax(scores)) - 1234 <= 16 + 2
    assert labels[1234] == 1
    # the point's error reaches every step of the 32-step windows that hold it (window pooling), of those that
    # hold it in their past, then the 15-step smoothing: steps further away are false positives, about 1 %
    # under three sigma
    offset = np.arange(len(labels)) - 1234
    far = (offset < -(32 + 15)) | (offset > 32 + 16 + 15)
    assert labels[far].mean() < 0.02
    assert labels[~far].sum() >= 16  # the flagged stretch around the point

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
    assert abs(int(np.argmax(scores)) - 1234) <= 2  # the default score is smoothed by a 15-step Hann kernel
    assert labels[1234] == 1
    assert labels.mean() < 0.02  # three sigma on held-out normal scores: about 1 % false positives here

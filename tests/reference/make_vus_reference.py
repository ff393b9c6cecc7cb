"""Print the reference values recorded in ``tests/test_metrics.py`` (not collected by pytest).

The reference is the VUS implementation of the TSB-AD benchmark, which needs NumPy < 2, so it
runs in a throw-away environment outside the project (it is never a project dependency):

    python3 -m venv /tmp/tsbref
    /tmp/tsbref/bin/pip install "numpy<2" scikit-learn
    /tmp/tsbref/bin/pip install --no-deps TSB-AD==1.5
    /tmp/tsbref/bin/python tests/reference/make_vus_reference.py

The first block has one line ``name: (VUS-PR, VUS-ROC, event F1, sum of labels, sum of scores)``
per seeded case (the two sums let the test check that it rebuilt the same inputs); the second
has ``name: (VUS-PR, VUS-ROC)`` per literal tiny case.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
from TSB_AD.evaluation.metrics import get_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vus_cases import CASES, TINY_CASES, build, threshold_prediction  # noqa: E402


def main() -> None:
    grader = basic_metricor()
    for name, *_ in CASES:
        y, s, window = build(name)
        *_, vus_roc, vus_pr = generate_curve(y, s, window)
        if name == CASES[0][0]:  # the benchmark's entry point gives the same volumes
            full = get_metrics(s, y, slidingWindow=window)
            assert abs(full["VUS-PR"] - vus_pr) < 1e-12 and abs(full["VUS-ROC"] - vus_roc) < 1e-12
        event = grader.metric_EventF1PA(y, s, preds=threshold_prediction(s))
        print(f'    "{name}": ({vus_pr!r}, {vus_roc!r}, {event!r}, {int(y.sum())}, {float(s.sum())!r}),')
    print()
    for name, labels, scores, window, n_thresholds in TINY_CASES:
        *_, vus_roc, vus_pr = generate_curve(np.array(labels), np.array(scores), window, "opt", n_thresholds)
        print(f'    "{name}": ({vus_pr!r}, {vus_roc!r}),')


if __name__ == "__main__":
    main()

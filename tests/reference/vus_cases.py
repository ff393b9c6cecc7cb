"""Seeded label/score cases on which ``diffad_lib.metrics`` is compared with the VUS reference.

Plain NumPy only, so that the same module builds the same inputs in the project's environment
and in the separate environment that runs the reference implementation
(``tests/reference/make_vus_reference.py``). Not collected by pytest.
"""

from __future__ import annotations

import numpy as np

#: (name, length, window, label layout, score kind, seed)
CASES: list[tuple[str, int, int, str, str, int]] = [
    ("random-short-w1", 200, 1, "short", "random", 0),
    ("random-short-w10", 500, 10, "short", "random", 1),
    ("random-long-w100", 2000, 100, "long", "random", 2),
    ("random-mixed-w10", 5000, 10, "mixed", "random", 3),
    ("corr-short-w1", 1000, 1, "short", "correlated", 4),
    ("corr-short-w10", 1000, 10, "short", "correlated", 5),
    ("corr-short-w100", 3000, 100, "short", "correlated", 6),
    ("corr-long-w10", 2000, 10, "long", "correlated", 7),
    ("corr-long-w100", 5000, 100, "long", "correlated", 8),
    ("corr-mixed-w100", 5000, 100, "mixed", "correlated", 9),
    ("late-short-w10", 1500, 10, "short", "late", 10),
    ("late-long-w100", 3000, 100, "long", "late", 11),
    ("perfect-short-w1", 300, 1, "short", "perfect", 12),
    ("perfect-mixed-w10", 2000, 10, "mixed", "perfect", 13),
    ("perfect-long-w100", 4000, 100, "long", "perfect", 14),
    ("constant-short-w1", 400, 1, "short", "constant", 15),
    ("constant-mixed-w10", 1000, 10, "mixed", "constant", 16),
    ("constant-long-w100", 2500, 100, "long", "constant", 17),
    ("tied-short-w1", 800, 1, "short", "tied", 18),
    ("tied-short-w10", 800, 10, "short", "tied", 19),
    ("tied-mixed-w100", 3000, 100, "mixed", "tied", 20),
    ("start-corr-w10", 600, 10, "start", "correlated", 21),
    ("start-random-w100", 1200, 100, "start", "random", 22),
    ("end-corr-w10", 600, 10, "end", "correlated", 23),
    ("end-random-w100", 1200, 100, "end", "random", 24),
    ("both-ends-corr-w1", 200, 1, "both_ends", "correlated", 25),
    ("both-ends-tied-w10", 700, 10, "both_ends", "tied", 26),
    ("both-ends-late-w100", 2500, 100, "both_ends", "late", 27),
    ("last-step-corr-w10", 500, 10, "last_step", "correlated", 28),
    ("last-step-random-w100", 900, 100, "last_step", "random", 29),
    ("crowded-corr-w10", 1000, 10, "crowded", "correlated", 30),
    ("crowded-corr-w100", 2000, 100, "crowded", "correlated", 31),
    ("crowded-tied-w100", 1500, 100, "crowded", "tied", 32),
    ("points-corr-w10", 2000, 10, "points", "correlated", 33),
    ("points-random-w100", 5000, 100, "points", "random", 34),
    ("one-long-corr-w100", 4000, 100, "one_long", "correlated", 35),
]


def _labels(layout: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """0/1 labels (n,) for one layout."""
    y = np.zeros(n, dtype=np.int64)
    if layout == "short":  # several short segments, well apart
        for s in rng.choice(np.arange(20, n - 40, 60), size=max(2, n // 250), replace=False):
            y[s : s + rng.integers(2, 12)] = 1
    elif layout == "long":  # a few long segments
        for s in rng.choice(np.arange(50, n - 300, 400), size=max(1, n // 1000), replace=False):
            y[s : s + rng.integers(80, 250)] = 1
    elif layout == "mixed":
        for s in rng.choice(np.arange(30, n - 200, 120), size=max(3, n // 300), replace=False):
            y[s : s + rng.integers(1, 150)] = 1
    elif layout == "start":  # one segment from index 0, others later
        y[: rng.integers(5, 40)] = 1
        y[n // 2 : n // 2 + 20] = 1
    elif layout == "end":  # one segment up to the last step
        y[n // 3 : n // 3 + 15] = 1
        y[n - rng.integers(5, 40) :] = 1
    elif layout == "both_ends":
        y[: rng.integers(3, 15)] = 1
        y[n // 2 : n // 2 + 10] = 1
        y[n - rng.integers(3, 15) :] = 1
    elif layout == "last_step":  # a one-step anomaly on the last step
        y[n // 4 : n // 4 + 30] = 1
        y[n - 1] = 1
    elif layout == "crowded":  # segments a few steps apart: buffers overlap and ranges merge
        pos = 40
        while pos < n - 60:
            length = int(rng.integers(1, 8))
            y[pos : pos + length] = 1
            pos += length + int(rng.integers(1, 30)) + (int(rng.integers(100, 300)) if rng.random() < 0.2 else 0)
    elif layout == "points":  # isolated one-step anomalies
        y[rng.choice(np.arange(5, n - 5), size=max(3, n // 200), replace=False)] = 1
    elif layout == "one_long":
        y[n // 3 : n // 3 + n // 5] = 1
    else:
        raise ValueError(f"layout must be one of the names used in CASES; got {layout!r}")
    return y


def _scores(kind: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scores (n,) of one kind for labels ``y``."""
    n = y.shape[0]
    noise = rng.normal(size=n)
    if kind == "random":
        return rng.random(n)
    if kind == "correlated":
        return noise + 1.5 * y
    if kind == "late":  # fires just after each segment ends, as a lagging detector does
        late = np.zeros(n)
        ends = np.flatnonzero(np.diff(np.concatenate((y, [0]))) == -1)
        for e in ends:
            late[e + 1 : e + 6] = 2.0
        return 0.5 * noise + late + 0.3 * y
    if kind == "perfect":
        return y.astype(np.float64)
    if kind == "constant":
        return np.full(n, 0.3)
    if kind == "tied":  # few distinct values: large ties at every threshold
        return np.round(noise + 1.2 * y, 0)
    raise ValueError(f"kind must be one of the names used in CASES; got {kind!r}")


def build(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels (n,), scores (n,) and window of the case called ``name``."""
    for case_name, n, window, layout, kind, seed in CASES:
        if case_name == name:
            rng = np.random.default_rng(seed)
            y = _labels(layout, n, rng)
            return y, _scores(kind, y, rng), window
    raise ValueError(f"name must be one of the names in CASES; got {name!r}")


def threshold_prediction(scores: np.ndarray) -> np.ndarray:
    """A fixed 0/1 prediction (n,) for the event-F1 comparison: the top 5 % of the scores."""
    return (scores >= np.quantile(scores, 0.95)).astype(np.int64)


#: Short series given literally, with windows whose buffers reach past both ends of the series:
#: (name, labels, scores, window, n_thresholds).
TINY_CASES: list[tuple[str, list[int], list[float], int, int]] = [
    ("first-step-w37", [1, 0, 0, 0, 0, 0, 0], [0.0, 2.0, 0.0, 1.0, 1.0, 2.0, 0.0], 37, 250),
    ("last-two-w36-k2", [0, 0, 1, 1], [0.76, 0.05, 0.33, 0.19], 36, 2),
    ("three-segments-w30", [0, 1, 0, 1, 1, 0, 0, 0, 1], [0.2, 0.9, 0.4, 0.1, 0.8, 0.7, 0.3, 0.5, 0.6], 30, 250),
    ("ties-w12-k5", [1, 1, 0, 0, 1, 0], [1.0, 0.0, 1.0, 0.0, 1.0, 1.0], 12, 5),
]

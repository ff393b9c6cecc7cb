"""Draw ``vus_buffer.png`` for the evaluation page (run from the repository root).

    PYTHONPATH=. MPLBACKEND=Agg python book/figures/vus_buffer.py

Left: the soft labels around one anomalous segment for three two-sided windows ``w`` (buffer of
``w // 2`` steps per side, weight ``sqrt(1 - d / w)`` at distance ``d``). Right: the range-AUC-PR
of each window for a detector whose response lags each anomaly by six steps and for a random
score; VUS-PR is the mean of each curve over the windows 0..w.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from diffad_lib import metrics


def soft_labels(n: int, start: int, end: int, window: int) -> np.ndarray:
    """Soft labels (n,) of one segment [start, end) for a two-sided window."""
    lam = np.zeros(n)
    lam[start:end] = 1.0
    half = window // 2
    for d in range(1, half + 1):
        weight = np.sqrt(1.0 - d / window)
        if start - d >= 0:
            lam[start - d] = weight
        if end - 1 + d < n:
            lam[end - 1 + d] = weight
    return lam


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 2.6), dpi=110)
    steps = np.arange(60)
    for window, style in ((0, "-"), (10, "--"), (30, ":")):
        left.step(steps, soft_labels(60, 25, 35, window), where="mid", ls=style, label=f"w = {window}")
    left.set(xlabel="time step", ylabel="label weight λ", title="soft labels around one anomaly")
    left.legend(fontsize=8, frameon=False)

    rng = np.random.default_rng(0)
    n = 3000
    y = np.zeros(n, int)
    late = rng.random(n) * 0.5
    for s in (400, 1200, 2100):
        y[s : s + 30] = 1
        late[s + 6 : s + 36] += 1.0  # responds six steps late and stays up six steps too long
    noise = rng.random(n)
    windows = np.arange(0, 41, 2)
    for scores, name in ((late, "lagging detector"), (noise, "random score")):
        areas = [metrics.range_pr_auc(y, scores, window=int(w)) for w in windows]
        right.plot(windows, areas, marker=".", label=f"{name} (VUS-PR {metrics.vus_pr(y, scores, window=40):.2f})")
    right.set(xlabel="window w", ylabel="range-AUC-PR", title="area per window (VUS-PR = mean)", ylim=(0, 1))
    right.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_suffix(".png"))


if __name__ == "__main__":
    main()

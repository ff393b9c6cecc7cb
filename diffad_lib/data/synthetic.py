"""A seeded suite of synthetic multichannel series with labelled anomalies of known kinds.

This data is **synthetic**, generated here; the book uses it only as a controlled experiment
(and as the test that the default detector beats simple baselines on data it was not tuned on),
never in place of the real datasets.

The generator
-------------
Each channel ``c`` is a sum of two sinusoids with channel-specific periods, amplitudes and
phases, plus Gaussian noise (standard deviation ``noise``). The last channel is *coupled*: it is
a fixed mixture ``0.6 x_0 + 0.4 x_1`` of the first two noise-free channels plus its own noise, so
the channels are correlated and a break of that relation is an anomaly no single channel shows.
The training series is clean; the test series continues the same process and carries
``n_anomalies`` non-overlapping segments, each of one kind drawn in turn from ``kinds``:

* ``spike``: 1–3 steps offset by 4–6 channel standard deviations (one channel);
* ``level_shift``: the channel shifted by 1.5–2.5 standard deviations over 40–120 steps;
* ``frequency``: the channel's main sinusoid runs 2–3 times faster over 60–150 steps;
* ``noise_burst``: extra noise of 0.6–1.0 standard deviations over 40–120 steps;
* ``trend``: a linear drift reaching 2–3 standard deviations over 80–160 steps (then back);
* ``correlation``: the coupled channel follows ``0.6 x_0 − 0.4 x_1`` over 80–160 steps, which
  keeps its amplitude range while breaking its relation to the other channels.

Labels mark every step of every segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffad_lib._validation import check_float, check_int

__all__ = ["SYNTHETIC_KINDS", "SyntheticSeries", "make_synthetic_series"]

SYNTHETIC_KINDS: tuple[str, ...] = ("spike", "level_shift", "frequency", "noise_burst", "trend", "correlation")

# (shortest, longest) segment length per kind
_LENGTHS = {"spike": (1, 3), "level_shift": (40, 120), "frequency": (60, 150), "noise_burst": (40, 120),
            "trend": (80, 160), "correlation": (80, 160)}


@dataclass(frozen=True, eq=False)
class SyntheticSeries:
    """One generated problem.

    Attributes
    ----------
    train : ndarray (n_train, n_channels) float64, anomaly-free
    test : ndarray (n_test, n_channels) float64
    labels : ndarray (n_test,) int64, 1 inside an anomalous segment
    segments : tuple of (start, end, kind, channel), end exclusive
    seed : int
    """

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    segments: tuple[tuple[int, int, str, int], ...]
    seed: int


def make_synthetic_series(
    *,
    n_train: int = 3000,
    n_test: int = 5000,
    n_channels: int = 3,
    n_anomalies: int = 10,
    kinds: tuple[str, ...] = SYNTHETIC_KINDS,
    noise: float = 0.1,
    seed: int = 0,
) -> SyntheticSeries:
    """Generate a clean training series and a test series with labelled anomalies.

    Parameters
    ----------
    n_train, n_test : int
        Lengths (time steps) of the two series; ``n_test`` must leave room for the segments.
    n_channels : int, default 3
        At least 2; with 3 or more the last channel is the coupled one.
    n_anomalies : int, default 12
        Number of anomalous segments (about 10 % of the test steps at the defaults), kinds assigned
        in turn from ``kinds`` (shuffled, seeded).
    kinds : tuple of str
        A subset of :data:`SYNTHETIC_KINDS` (``"correlation"`` needs ``n_channels >= 3``).
    noise : float, default 0.1
        Standard deviation of the additive Gaussian noise (the sinusoids have amplitude ~1).
    seed : int

    Returns
    -------
    SyntheticSeries
    """
    check_int(n_train, name="n_train", minimum=16)
    check_int(n_test, name="n_test", minimum=16)
    check_int(n_channels, name="n_channels", minimum=2)
    check_int(n_anomalies, name="n_anomalies", minimum=0)
    check_float(noise, name="noise", low=0.0)
    check_int(seed, name="seed", minimum=0)
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in SYNTHETIC_KINDS]
    if not kinds or bad:
        raise ValueError(f"kinds must be a non-empty subset of {SYNTHETIC_KINDS}; got {kinds}")
    if "correlation" in kinds and n_channels < 3:
        raise ValueError(f"kind 'correlation' needs n_channels >= 3; got n_channels={n_channels}")
    rng = np.random.default_rng(seed)
    periods = rng.uniform(20.0, 60.0, size=(n_channels, 2)) * np.array([1.0, 2.7])
    amps = rng.uniform(0.5, 1.0, size=(n_channels, 2)) * np.array([1.0, 0.4])
    phases = rng.uniform(0.0, 2 * np.pi, size=(n_channels, 2))
    n = n_train + n_test
    t = np.arange(n, dtype=np.float64)
    # speed[c, i] multiplies the main sinusoid's phase increment (frequency anomalies change it)
    speed = np.ones((n_channels, n))

    segments = _place_segments(rng, n_test, n_anomalies, kinds, n_channels)
    for start, end, kind, ch in segments:
        if kind == "frequency":
            speed[ch, n_train + start : n_train + end] = rng.uniform(2.0, 3.0)
    main_phase = np.cumsum(speed, axis=1) * (2 * np.pi / periods[:, :1])
    clean = (amps[:, :1] * np.sin(main_phase + phases[:, :1])
             + amps[:, 1:] * np.sin(2 * np.pi * t / periods[:, 1:] + phases[:, 1:]))  # (C, n)
    coupled = n_channels >= 3
    sign = np.ones(n)
    for start, end, kind, _ in segments:
        if kind == "correlation":
            sign[n_train + start : n_train + end] = -1.0
    if coupled:
        clean[-1] = 0.6 * clean[0] + 0.4 * sign * clean[1]
    x = clean + noise * rng.standard_normal(clean.shape)
    std = x[:, :n_train].std(axis=1)
    for start, end, kind, ch in segments:
        lo, hi = n_train + start, n_train + end
        if kind == "spike":
            x[ch, lo:hi] += rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 6.0) * std[ch]
        elif kind == "level_shift":
            x[ch, lo:hi] += rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 2.5) * std[ch]
        elif kind == "noise_burst":
            x[ch, lo:hi] += rng.uniform(0.6, 1.0) * std[ch] * rng.standard_normal(hi - lo)
        elif kind == "trend":
            x[ch, lo:hi] += rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 3.0) * std[ch] * np.linspace(0, 1, hi - lo)
    labels = np.zeros(n_test, dtype=np.int64)
    for start, end, _, _ in segments:
        labels[start:end] = 1
    series = x.T
    return SyntheticSeries(train=series[:n_train].copy(), test=series[n_train:].copy(), labels=labels,
                           segments=tuple(segments), seed=seed)


def _place_segments(
    rng: np.random.Generator, n_test: int, n_anomalies: int, kinds: tuple[str, ...], n_channels: int
) -> list[tuple[int, int, str, int]]:
    """Non-overlapping segments with a gap of at least 50 steps, kinds in turn (shuffled)."""
    order = [kinds[i % len(kinds)] for i in range(n_anomalies)]
    rng.shuffle(order)
    gap = 50
    lengths = [int(rng.integers(_LENGTHS[k][0], _LENGTHS[k][1] + 1)) for k in order]
    free = n_test - sum(lengths) - gap * (n_anomalies + 1)
    if free < 0:
        raise ValueError(f"n_test={n_test} is too short for {n_anomalies} anomalies (needs at least "
                         f"{n_test - free} steps)")
    # split the free room at random between the gaps, keep order of segments
    cuts = np.sort(rng.integers(0, free + 1, size=n_anomalies))
    segments = []
    pos = gap
    prev = 0
    for kind, length, cut in zip(order, lengths, cuts, strict=True):
        pos += int(cut - prev)
        prev = int(cut)
        ch = n_channels - 1 if kind == "correlation" else int(rng.integers(0, n_channels))
        segments.append((pos, pos + length, kind, ch))
        pos += length + gap
    return segments

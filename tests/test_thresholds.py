"""Thresholds fitted on training scores: closed forms, numpy references and POT on known tails."""

from __future__ import annotations

import numpy as np
import pytest

from diffad_lib import thresholds as T


def test_three_sigma_on_standard_normal_is_three():
    s = np.random.default_rng(0).normal(size=200_000)
    assert T.three_sigma(s) == pytest.approx(3.0, abs=0.03)
    assert T.three_sigma(s, k=2.0) == pytest.approx(2.0, abs=0.03)


def test_three_sigma_by_hand():
    # mean 2.5, population std sqrt(1.25)
    assert T.three_sigma([1.0, 2.0, 3.0, 4.0], k=2.0) == pytest.approx(2.5 + 2 * np.sqrt(1.25))


def test_percentile_and_contamination_match_numpy():
    s = np.random.default_rng(1).gamma(2.0, size=5000)
    assert T.percentile(s, q=97.5) == pytest.approx(np.percentile(s, 97.5))
    assert T.contamination(s, rate=0.05) == pytest.approx(np.percentile(s, 95.0))
    assert T.percentile(s) == pytest.approx(np.percentile(s, 99.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pot_on_exponential_matches_the_analytic_quantile(seed):
    # Exp(1) has P(X > z) = exp(-z): the risk-q quantile is -log(q)
    s = np.random.default_rng(seed).exponential(size=200_000)
    z = T.pot(s, init_quantile=0.98, risk=1e-4)
    assert z == pytest.approx(-np.log(1e-4), rel=0.06)


def test_pot_on_pareto_tail():
    # Lomax(a=4): P(X > z) = (1 + z)^-a, a GPD with ξ = 1/4 above any threshold
    s = np.random.default_rng(3).pareto(4.0, size=200_000)
    z = T.pot(s, init_quantile=0.95, risk=1e-4)
    assert z == pytest.approx(1e-4 ** (-1 / 4) - 1, rel=0.1)


def test_pot_checks_its_inputs():
    s = np.random.default_rng(4).exponential(size=300)
    with pytest.raises(ValueError, match="at least 10 training scores"):
        T.pot(s, init_quantile=0.99)
    with pytest.raises(ValueError, match="risk must be below"):
        T.pot(s, init_quantile=0.9, risk=0.5)
    with pytest.raises(ValueError, match="init_quantile must lie in"):
        T.pot(s, init_quantile=1.0)


def test_fit_threshold_dispatches():
    s = np.random.default_rng(5).normal(size=10_000)
    assert T.fit_threshold(s) == T.three_sigma(s)
    assert T.fit_threshold(s, method="percentile", q=90) == T.percentile(s, q=90)
    assert T.fit_threshold(s, method="contamination", rate=0.1) == T.contamination(s, rate=0.1)
    assert T.fit_threshold(s, method="pot", risk=1e-3) == T.pot(s, risk=1e-3)


def test_fit_threshold_refuses_unknown_options_and_methods():
    s = np.arange(100.0)
    with pytest.raises(ValueError, match=r"accepts options \['q'\]; got unknown \['k'\]"):
        T.fit_threshold(s, method="percentile", k=3)
    with pytest.raises(ValueError, match="method must be one of"):
        T.fit_threshold(s, method="spot")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: T.three_sigma([1.0, np.nan]), "train_scores contains 1 non-finite"),
        (lambda: T.three_sigma([[1.0, 2.0]]), "train_scores must have ndim"),
        (lambda: T.percentile([1.0, 2.0], q=150), r"q must lie in \[0, 100\]"),
        (lambda: T.contamination([1.0, 2.0], rate=-0.1), r"rate must lie in \[0, 1\]"),
        (lambda: T.three_sigma([1.0, 2.0], k=float("inf")), "k must be finite"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()

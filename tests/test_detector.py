import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from diffad_lib import DiffusionDetector, EntityDetector
from diffad_lib.models import MLPConfig, MLPDenoiser

FAST = dict(window=32, hop=8, n_steps=50, t0=10, sampler="ddim", sample_steps=5, epochs=40, batch_size=32,
            lr=2e-3, model_params={"hidden": 128, "n_layers": 2}, smoothing="none", random_state=0,
            context=0)  # the scores of one window alone; the context tests set their own


def sine(n, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 40) + noise * rng.standard_normal(n))[:, None]


def with_spikes(x, n_spikes, seed):
    rng = np.random.default_rng(seed)
    x = x.copy()
    y = np.zeros(len(x), dtype=int)
    idx = rng.choice(np.arange(40, len(x) - 40), n_spikes, replace=False)
    x[idx, 0] += rng.choice([-1, 1], n_spikes) * rng.uniform(0.8, 1.2, n_spikes)
    y[idx] = 1
    return x, y


@pytest.fixture(scope="module")
def fitted():
    return DiffusionDetector(**FAST).fit(sine(1500, 0))


def test_fit_sets_the_pyod_attributes(fitted):
    assert fitted.n_features_in_ == 1
    assert fitted.decision_scores_.shape == (1500,)
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    assert np.isfinite(fitted.threshold_)
    # a three-sigma threshold on training scores flags only a small fraction of the training data
    assert fitted.labels_.mean() < 0.05
    assert len(fitted.train_losses_) == FAST["epochs"]


def test_injected_anomalies_score_higher_and_auc(fitted):
    x, y = with_spikes(sine(1000, 1), 10, seed=2)
    scores = fitted.decision_function(x)
    assert scores.shape == (1000,)
    assert scores[y == 1].mean() > 3 * scores[y == 0].mean()
    # window pooling (the default) gives a one-step spike's error to every step of the windows that hold it,
    # so the steps beside a spike score high too; per-step errors place it exactly
    assert roc_auc_score(y, scores) > 0.9
    per_step = DiffusionDetector(**FAST, pooling="step").fit(sine(1500, 0))
    assert roc_auc_score(y, per_step.decision_function(x)) > 0.95
    pred = fitted.predict(x)
    assert set(np.unique(pred)) <= {0, 1}
    assert pred[y == 1].mean() >= 0.8  # most injected points exceed the training-fitted threshold


def test_scores_are_deterministic(fitted):
    x = sine(300, 3)
    np.testing.assert_array_equal(fitted.decision_function(x), fitted.decision_function(x))


def test_sklearn_api_contract():
    det = DiffusionDetector(window=16, epochs=3)
    params = det.get_params()
    assert params["window"] == 16 and params["model"] == "mlp"
    cloned = clone(det)
    assert cloned.get_params() == params and cloned is not det
    det.set_params(window=8)
    assert det.window == 8
    with pytest.raises(ValueError, match="Invalid parameter"):
        det.set_params(windw=3)
    with pytest.raises(ValueError, match="not fitted"):
        det.decision_function(np.zeros((20, 1)))


def test_dataframe_input_and_inputs_not_modified():
    df = pd.DataFrame({"a": sine(200, 4)[:, 0], "b": sine(200, 5)[:, 0]})
    before = df.copy()
    model = MLPDenoiser(MLPConfig(in_channels=2, window=16, hidden=32, n_layers=1))
    weights = [p.detach().clone() for p in model.parameters()]
    det = DiffusionDetector(model, window=16, epochs=2, n_steps=20, t0=5).fit(df)
    assert det.decision_function(df).shape == (200,)
    pd.testing.assert_frame_equal(df, before)
    for p, w in zip(model.parameters(), weights, strict=True):  # the caller's module is not trained
        torch.testing.assert_close(p.detach(), w)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.array([[0.0], [np.nan]] * 20), "NaN"),
        (np.array([[0.0], [np.inf]] * 20), "inf"),
        (np.zeros((40, 1, 1)), "ndim"),
        (np.zeros((0, 1)), "empty"),
        (np.zeros((10, 1)), r"shorter than the window length 32 \(a window of 16 steps after a context of 16"),
        ([["a", "b"]] * 20, "numeric"),
    ],
)
def test_bad_input_raises_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        DiffusionDetector(window=16, epochs=1).fit(X)


@pytest.mark.parametrize(
    ("params", "match"),
    [({"t0": 500}, "t0"), ({"sampler": "euler"}, "sampler"), ({"hop": 100}, "hop"), ({"distance": 3}, "distance"),
     ({"threshold": "magic"}, "threshold must be one of"), ({"model": "gpt"}, "model must be one of"),
     ({"model_params": {"hiden": 3}}, "unknown parameter")],
)
def test_bad_parameters_raise_value_error(params, match):
    with pytest.raises(ValueError, match=match):
        DiffusionDetector(**{"window": 16, "epochs": 1, "n_steps": 20, "t0": 5, **params}).fit(sine(100, 0))


def test_wrong_channel_count_at_predict(fitted):
    with pytest.raises(ValueError, match="channels"):
        fitted.decision_function(np.zeros((100, 2)))


def test_entities_and_condition_channels_with_diffwave():
    """Two entities with different amplitudes and a command channel; the RES cascade keeps it fast."""
    rng = np.random.default_rng(0)
    t = np.arange(600)
    series = []
    for amp in (1.0, 3.0):
        cmd = (np.sin(2 * np.pi * t / 150) > 0).astype(float)
        x = amp * np.sin(2 * np.pi * t / 30) * (1 + 0.5 * cmd) + 0.02 * rng.standard_normal(600)
        series.append(np.stack([x, cmd], axis=1))
    det = EntityDetector(DiffusionDetector(
        "diffwave", model_params={"residual_channels": 16, "n_layers": 3, "layer": "res", "dilation_cycle": 3},
        window=32, hop=8, n_steps=50, t0=10, sample_steps=5, epochs=5, batch_size=32, cond_channels=[1],
        n_entities=2, random_state=0, context=0,  # a reconstruction below needs no context
    )).fit(series)
    assert set(det.threshold_) == {0, 1} and set(det.decision_scores_) == {0, 1}
    core = det.detector_
    assert core.model_.config.cond_channels == 1 and core.model_.config.n_entities == 2
    recon = det.reconstruct(series[1], entity=1)
    np.testing.assert_array_equal(recon[:, 1], series[1][:, 1])  # the command channel is an input, copied
    np.testing.assert_allclose(det.decision_function(series[0], entity=0), det.decision_scores_[0], atol=1e-12)
    assert set(np.unique(det.predict(series[0], entity=0))) <= {0, 1}
    with pytest.raises(ValueError, match=r"entity must be one of the fitted entities 0..1; got 5"):
        det.decision_function(series[0], entity=5)
    # with the default context (16 clean steps) the cascade sees the conditions of the whole 48 steps
    ctx = EntityDetector(DiffusionDetector(
        "diffwave", model_params={"residual_channels": 4, "n_layers": 1, "layer": "res"}, window=32, hop=8,
        n_steps=20, t0=5, max_steps=5, cond_channels=[1], n_entities=2)).fit(series)
    assert ctx.detector_._span == 48 and ctx.decision_function(series[1], entity=1).shape == (600,)
    with pytest.raises(ValueError, match="cond_channels must index"):
        DiffusionDetector("diffwave", window=32, epochs=1, cond_channels=[3]).fit(series[0])
    with pytest.raises(ValueError, match=r"4 entities for a detector with n_entities=2"):
        EntityDetector(DiffusionDetector("diffwave", window=32, epochs=1, n_entities=2)).fit(series * 2)


def test_several_series_without_entity_embedding():
    """One model over several series, no entity embedding: per-series scaling and thresholds, dict attributes."""
    series = [sine(300, 0) * 2, sine(300, 1) + 5]
    det = EntityDetector(DiffusionDetector(window=16, hop=8, epochs=2, n_steps=20, t0=5, random_state=0)).fit(series)
    assert set(det.threshold_) == {0, 1} and isinstance(det.threshold_[0], float)
    assert det.decision_function(series[1], entity=1).shape == (300,)
    one = EntityDetector(DiffusionDetector(window=16, hop=8, epochs=2, n_steps=20, t0=5)).fit(series[:1])
    assert isinstance(one.threshold_, dict) and isinstance(one.decision_scores_, dict)  # one type, any count
    with pytest.raises(ValueError, match="X must be a non-empty list of series"):
        EntityDetector(DiffusionDetector()).fit(series[0])


def test_baselines_are_fitted_per_entity():
    from diffad_lib.baselines import PCADetector

    series = [sine(300, 0), sine(300, 1) * 3]
    det = EntityDetector(PCADetector(window=8)).fit(series)
    assert len(det.detectors_) == 2 and det.detectors_[0] is not det.detectors_[1]
    np.testing.assert_allclose(det.decision_function(series[1], entity=1), det.decision_scores_[1])


def test_score_reconstruction_matches_decision_function_and_scaling_is_fit_on_training(fitted):
    x = sine(400, 6)
    recon = DiffusionDetector(**FAST, score_method="reconstruction").fit(sine(1500, 0))
    np.testing.assert_allclose(recon.score_reconstruction(x, recon.reconstruct(x)), recon.decision_function(x),
                               atol=1e-9)
    with pytest.raises(ValueError, match="x_hat must have the shape"):
        recon.score_reconstruction(x, recon.reconstruct(x)[:300])
    # the default denoising score is not a function of x̂: asking for it is refused
    with pytest.raises(ValueError, match="score_method='reconstruction'"):
        fitted.score_reconstruction(x, fitted.reconstruct(x))
    # robust scaling: the 0.1 % / 99.9 % quantiles of the fitting part (the first 80 %) map to -1 / +1
    fit_part = sine(1500, 0)[:1200]
    z = fitted.scalers_[0].transform(fit_part)
    lo, hi = np.quantile(z, 0.001, method="higher"), np.quantile(z, 0.999, method="lower")  # stored values
    assert lo == pytest.approx(-1.0) and hi == pytest.approx(1.0)


def test_seeded_regression_values():
    """Scores of a fixed tiny configuration (CPU, one thread), recorded when the default score became
    the calibrated, Hann-smoothed denoising error with robust scaling and a held-out fifth, again
    when it became the size of the mean signed error of 8 draws per noise level, and again when the
    errors became pooled over each window (``pooling="step"`` still gives the values before that). The
    context and the calibration are pinned to the values of those recordings (``context=0``, ``"robust"``).

    A change in initialisation, training draws, reconstruction noise or scoring moves them; the
    tolerance allows float rounding across BLAS builds only.
    """
    t = np.arange(400)
    x = np.sin(2 * np.pi * t / 25)[:, None]
    det = DiffusionDetector(window=16, hop=4, n_steps=20, t0=5, epochs=3, batch_size=16, context=0,
                            calibration="robust", model_params={"hidden": 32, "n_layers": 2}, random_state=0).fit(x)
    s = det.decision_function(x)
    np.testing.assert_allclose(s[[0, 50, 199, 399]], [1.90506102, -0.83402385, 0.41449330, 0.67661715], rtol=2e-4)
    assert det.threshold_ == pytest.approx(2.20910725, rel=2e-4)
    step = clone(det).set_params(pooling="step").fit(x)
    np.testing.assert_allclose(step.decision_function(x)[[0, 50, 199, 399]],
                               [1.91898962, -0.10488161, 0.21821061, 1.02634518], rtol=2e-4)
    assert step.threshold_ == pytest.approx(1.09254512, rel=2e-4)


class _ZeroDenoiser(torch.nn.Module):
    """Predicts ε̂ = 0 whatever its input (one parameter, so the detector can find its device)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, **kwargs):
        return x * self.w * 0.0  # a zero gradient: training leaves w at 0


@pytest.mark.parametrize("n_samples", [1, 4, 16])
def test_denoising_score_averages_the_signed_errors_of_the_draws(n_samples):
    """With ε̂ ≡ 0 the error of one draw is the noise itself, which no input explains: the score of
    n draws is |mean of n standard normals|, whose mean is √(2/π)/√n (a mean of |ε̂ − ε| would stay
    at √(2/π) whatever n)."""
    x = sine(2000, 3)
    det = DiffusionDetector(_ZeroDenoiser(), window=16, hop=16, n_steps=20, t0=8, max_steps=1,
                            n_samples=n_samples, val_fraction=0.0, smoothing="none", random_state=0).fit(x)
    scaled = det.scalers_[0].transform(x)
    # per step, averaged over the 4 noise levels, less the term for values beyond the training range
    errors = det._errors_scaled(scaled, 0) - det._excess(scaled, 0)
    per_level = np.sqrt(2 / np.pi) / np.sqrt(n_samples)
    # the mean over 2000 steps x 4 levels of independent |N(0, 1/n)|: within 4 % of its expectation
    assert errors.mean() == pytest.approx(per_level, rel=0.04)


def test_level_errors_are_the_rows_the_denoising_score_averages():
    x = np.hstack([sine(600, 2), sine(600, 3)])  # two channels
    # the robust calibration averages the levels (the Mahalanobis one keeps them apart: tested below)
    det = DiffusionDetector(**FAST, n_samples=2, calibration="robust").fit(x)
    levels = det.score_levels
    rows = det.level_errors(x)
    assert rows.shape == (len(levels), len(x), 2)
    scaled = det.scalers_[0].transform(x)
    # the score's errors are the mean of the rows plus the out-of-range term, draw for draw
    np.testing.assert_allclose(rows.mean(axis=0) + det._excess(scaled, 0), det._errors_scaled(scaled, 0),
                               rtol=1e-6, atol=1e-7)
    # one level alone: its row of the full set (the same seeded draws come first)
    np.testing.assert_allclose(det.level_errors(x, levels=levels[:1])[0], rows[0], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="levels"):
        det.level_errors(x, levels=[0])
    with pytest.raises(ValueError, match="levels"):
        det.level_errors(x, levels=[])
    with pytest.raises(ValueError, match="X"):
        det.level_errors(x[:, :1])


# --------------------------------------------------------------------------- missing values (nan_policy)

def _holes(x, fraction, seed):
    out = x.copy()
    out[np.random.default_rng(seed).random(x.shape) < fraction] = np.nan
    return out


def test_nan_is_refused_by_default_and_the_message_names_the_policy():
    with pytest.raises(ValueError, match="nan_policy='mask'"):
        DiffusionDetector(**FAST).fit(_holes(sine(400, 0), 0.1, 0))


def test_masked_fit_scores_missing_data_and_still_finds_spikes():
    train = _holes(sine(1500, 0), 0.2, 1)
    # per-step errors: one-step spikes are placed exactly (window pooling spreads them over their windows)
    det = DiffusionDetector(**FAST, nan_policy="mask", pooling="step").fit(train)
    assert np.isfinite(det.decision_scores_).all() and np.isfinite(det.threshold_)
    x, y = with_spikes(sine(1000, 1), 10, seed=2)
    holes = _holes(x, 0.2, 3)
    holes[y == 1] = x[y == 1]  # the spikes themselves are observed
    scores = det.decision_function(holes)
    assert np.isfinite(scores).all()
    assert roc_auc_score(y, scores) > 0.9
    # a step with its only channel missing scores like a typical normal step: no spike-sized score
    gone = np.isnan(holes[:, 0])
    assert np.median(scores[gone]) < np.quantile(scores[y == 1], 0.1)
    rec = det.reconstruct(holes)
    assert np.isfinite(rec).all()  # the model's values fill the missing steps


def test_masked_fit_without_missing_values_equals_the_default():
    x = sine(600, 0)
    a = DiffusionDetector(**FAST).fit(x)
    b = DiffusionDetector(**FAST, nan_policy="mask").fit(x)
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)


@pytest.mark.parametrize(("X", "match"), [(np.array([[0.0], [np.inf]] * 20), "replace ±inf by NaN"),
                                          (np.full((40, 1), np.nan), r"channel\(s\) \[0\] hold no observed")])
def test_masking_still_refuses_inf_and_empty_channels(X, match):
    with pytest.raises(ValueError, match=match):
        DiffusionDetector(window=16, epochs=1, nan_policy="mask").fit(X)


def test_condition_channels_must_be_complete():
    X = np.column_stack([sine(200, 0)[:, 0], np.tile([0.0, 1.0], 100)])
    X[5, 1] = np.nan
    det = DiffusionDetector(model="diffwave", window=16, epochs=1, n_steps=20, t0=5, cond_channels=[1],
                            nan_policy="mask", model_params={"residual_channels": 4, "n_layers": 1})
    with pytest.raises(ValueError, match=r"condition channels \[1\] must be complete"):
        det.fit(X)


# --------------------------------------------------------------------------- pooling over the window

def test_window_pooling_gives_every_step_of_a_window_its_mean_error():
    x = np.hstack([sine(600, 2), sine(600, 3)])
    common = dict(FAST, hop=32, n_samples=2)  # windows that do not overlap: each step lies in one window
    step = DiffusionDetector(**common, pooling="step").fit(x)
    window = DiffusionDetector(**common, pooling="window").fit(x)
    test = x[:576]  # 18 whole windows: no window overlaps another
    rows_step, rows_window = step.level_errors(test), window.level_errors(test)  # same weights, same draws
    for start in range(0, len(test), 32):
        want = rows_step[:, start:start + 32].mean(axis=1, keepdims=True)  # per level and channel
        np.testing.assert_allclose(rows_window[:, start:start + 32], np.broadcast_to(want, rows_window[:, :32].shape),
                                   rtol=1e-6, atol=1e-7)
    assert DiffusionDetector()._pooling == "window"
    assert DiffusionDetector(score_method="reconstruction")._pooling == "step"


def test_window_pooling_leaves_missing_steps_out_of_the_mean():
    x = sine(800, 4)
    holes = x.copy()
    holes[[100, 101, 350]] = np.nan
    det = DiffusionDetector(**dict(FAST, hop=32), pooling="window", nan_policy="mask").fit(x)
    rows_full, rows_holes = det.level_errors(x), det.level_errors(holes)
    step = DiffusionDetector(**dict(FAST, hop=32), pooling="step", nan_policy="mask").fit(x)
    steps = step.level_errors(holes)  # the per-step errors of the same windows, missing values as 0
    start = 96  # the window holding steps 100 and 101
    observed = np.ones(32, dtype=bool)
    observed[[4, 5]] = False
    want = steps[:, start:start + 32][:, observed].mean(axis=1)
    np.testing.assert_allclose(rows_holes[:, start + 10], want, rtol=1e-6, atol=1e-7)
    # windows without a missing value are pooled as before
    np.testing.assert_allclose(rows_holes[:, :96], rows_full[:, :96], rtol=1e-6, atol=1e-7)


def test_bad_pooling_is_named():
    with pytest.raises(ValueError, match="pooling"):
        DiffusionDetector(**FAST, pooling="mean").fit(sine(400, 0))
    with pytest.raises(ValueError, match="pooling='window' needs score_method='denoising'"):
        DiffusionDetector(**FAST, pooling="window", score_method="reconstruction").fit(sine(400, 0))


def test_mahalanobis_calibration_scores_the_level_profile():
    from diffad_lib.scoring import LevelCalibration

    x = np.hstack([sine(1200, 2), sine(1200, 3)])  # two channels
    det = DiffusionDetector(**FAST, n_samples=2, calibration="mahalanobis").fit(x)
    cal = det.calibrations_[0]
    assert isinstance(cal, LevelCalibration) and cal.mean.shape == (2, len(det.score_levels))
    # two-sided, but its normal profiles include the windows the network was trained on: the three-sigma
    # threshold of the held-out scores flags only a small fraction of the training data
    assert det.labels_.mean() < 0.05
    scaled = det.scalers_[0].transform(x)
    # every level kept, each with the out-of-range term: the rows level_errors reads, draw for draw
    np.testing.assert_allclose(det._errors_scaled(scaled, 0), det.level_errors(x) + det._excess(scaled, 0),
                               rtol=1e-6, atol=1e-7)
    test = x[:400].copy()
    test[200:210, 1] += 2.0  # a spike in one channel
    s = det.decision_function(test)
    assert np.isfinite(s).all() and s[200:210].mean() > np.quantile(s[:150], 0.99)
    with pytest.raises(ValueError, match="calibration='mahalanobis' needs score_method='denoising'"):
        DiffusionDetector(calibration="mahalanobis", score_method="reconstruction").fit(x)


def test_default_calibration_is_mahalanobis_for_trained_denoising_only():
    from diffad_lib.scoring import ErrorCalibration, LevelCalibration

    x = sine(600, 4)
    quick = {**FAST, "epochs": 2, "n_samples": 1}
    kinds = {
        "default": (DiffusionDetector(**quick), LevelCalibration),
        "reconstruction": (DiffusionDetector(**quick, score_method="reconstruction"), ErrorCalibration),
        "exact denoiser": (DiffusionDetector(**{**quick, "model_params": None}, model="empirical"), ErrorCalibration),
        "module instance": (DiffusionDetector(**{**quick, "model_params": None},
                                              model=MLPDenoiser(MLPConfig(in_channels=1, window=32, hidden=32))),
                            ErrorCalibration),
        "explicit robust": (DiffusionDetector(**quick, calibration="robust"), ErrorCalibration),
    }
    for name, (det, expected) in kinds.items():
        assert det.get_params()["calibration"] is None or name == "explicit robust"
        det.fit(x)
        assert type(det.calibrations_[0]) is expected, name
    assert DiffusionDetector(**quick, calibration="none").fit(x).calibrations_[0] is None
    with pytest.raises(ValueError, match="calibration"):
        DiffusionDetector(**quick, calibration="mad").fit(x)


def test_recalibrate_after_changing_the_scoring_options():
    x = sine(800, 5)
    det = DiffusionDetector(**{**FAST, "epochs": 3, "n_samples": 2}).fit(x)
    scores, threshold = det.decision_scores_.copy(), det.threshold_
    weights = {k: v.clone() for k, v in det.model_.state_dict().items()}
    det.set_params(t0=20)
    # the joint calibration belongs to the levels it was fitted at: scoring other levels is refused, named
    with pytest.raises(ValueError, match=r"fitted at the noise levels \[2, 5, 10, 20\].*recalibrate"):
        det.decision_function(x)
    det.recalibrate(x)
    assert det.calibration_levels_ == det.score_levels == [5, 10, 20, 40]
    assert np.isfinite(det.decision_function(x)).all() and det.threshold_ != threshold
    det.set_params(calibration="robust")
    with pytest.raises(ValueError, match="calibration is now 'robust' but the detector was calibrated with "
                                         "'mahalanobis'"):
        det.decision_function(x)
    # back to the fitted options: the fit's scores and threshold again (seeded draws), the network untouched
    det.set_params(t0=FAST["t0"], calibration=None).recalibrate(x)
    np.testing.assert_allclose(det.decision_scores_, scores, rtol=1e-9)
    assert det.threshold_ == pytest.approx(threshold, rel=1e-12)
    assert all(torch.equal(v, det.model_.state_dict()[k]) for k, v in weights.items())
    with pytest.raises(ValueError, match="time steps"):
        det.recalibrate(x[:20])  # too short to split as fit did


def test_mahalanobis_reference_leaves_out_the_windows_of_a_training_glitch():
    det = DiffusionDetector(window=8, context=4)  # a model window spans 12 steps
    errors = np.random.default_rng(0).random((3, 200, 2))
    scaled = np.zeros((200, 2))
    assert det._glitch_free(errors, scaled) is errors  # nothing beyond ±FIT_CLIP: the fit's data unchanged
    scaled[100, 1] = 50.0  # one glitch in one channel
    out = det._glitch_free(errors, scaled)
    gone = np.isnan(out).all(axis=(0, 2))
    # every step whose windows may hold step 100, in every channel and level, and no other step
    np.testing.assert_array_equal(np.flatnonzero(gone), np.arange(100 - 11, 100 + 12))
    np.testing.assert_array_equal(out[:, ~gone], errors[:, ~gone])
    scaled[::10, 0] = -50.0  # glitches everywhere: leaving them out would leave too little, so nothing is
    assert det._glitch_free(errors, scaled) is errors


def test_context_conditions_the_denoiser_on_the_clean_past():
    from diffad_lib.data.windows import frame
    from diffad_lib.detectors.series import ContextDenoiser

    x = sine(1200, 4)
    det = DiffusionDetector(**{**FAST, "context": 8}).fit(x)
    assert det.model_.config.window == 40  # the past and the window
    assert det.fit_windows(x).shape[1:] == (1, 40)
    test, y = with_spikes(sine(600, 5), 6, seed=1)
    inputs = []

    class Spy(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x_t, t):
            inputs.append(x_t.clone())
            return self.net(x_t, t)

    errors = det.level_errors(test, levels=[det.t0], model=Spy(det.model_))
    clean = torch.as_tensor(frame(det.scalers_[0].transform(test), 40, det.hop), dtype=torch.float32)
    assert len(inputs) == det.n_samples and all(z.shape == clean.shape for z in inputs)
    for z in inputs:  # every call: the first 8 steps are the clean past, the last 32 are noised
        torch.testing.assert_close(z[..., :8], clean[..., :8])
        assert not torch.allclose(z[..., 8:], clean[..., 8:])
    # the steps before the first scored one carry its score; the rest of the series is scored
    assert errors.shape == (1, 600, 1)
    np.testing.assert_array_equal(errors[0, :8], np.repeat(errors[0, 8:9], 8, axis=0))
    s = det.decision_function(test)
    np.testing.assert_array_equal(s[:8], np.full(8, s[8]))
    assert roc_auc_score(y, s) > 0.9
    # the wrapper is the denoiser of the steps to denoise
    ctx, x_t, t = torch.randn(3, 1, 8), torch.randn(3, 1, 32), torch.tensor([1, 5, 9])
    torch.testing.assert_close(ContextDenoiser(det.model_, ctx)(x_t, t),
                               det.model_(torch.cat([ctx, x_t], -1), t)[..., 8:])


def test_context_held_out_part_takes_its_past_from_the_fitting_part():
    x = sine(100, 6)  # 35 held out: one window of 32, but not 8 + 32
    det = DiffusionDetector(**{**FAST, "hop": 1, "context": 8}, val_fraction=0.35, max_steps=30).fit(x)
    assert det.train_result_.val_losses  # the held-out windows gave a validation loss
    assert det.decision_scores_.shape == (100,)
    with pytest.raises(ValueError, match="they need at least 40 and 32"):
        DiffusionDetector(**{**FAST, "context": 8}).fit(x[:45])


def test_bad_context_is_named():
    x = sine(400, 0)
    with pytest.raises(ValueError, match="context"):
        DiffusionDetector(**{**FAST, "context": -1}).fit(x)
    with pytest.raises(ValueError, match="context > 0 needs score_method='denoising'"):
        DiffusionDetector(**{**FAST, "context": 8}, score_method="reconstruction").fit(x)
    with pytest.raises(ValueError, match="takes no context"):
        DiffusionDetector(model="empirical", context=8).fit(x)
    det = DiffusionDetector(**{**FAST, "context": 8}, max_steps=5).fit(x)
    with pytest.raises(ValueError, match="reconstruct needs context=0"):
        det.reconstruct(x)
    with pytest.raises(ValueError, match="40"):
        det.decision_function(x[:39])

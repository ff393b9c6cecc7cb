import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from diffad_lib import experiments as ex
from diffad_lib import metrics
from diffad_lib.data.telemetry import Entity
from diffad_lib.scoring import smooth
from diffad_lib.thresholds import three_sigma

TINY = dict(window=32, hop=16, n_steps=50, t0=10, sampler="ddim", sample_steps=5, epochs=50, batch_size=16,
            lr=3e-3, warmup_frac=0.1, random_state=0,
            )
MODEL = {"residual_channels": 8, "n_layers": 2, "s4_state": 4, "dilation_cycle": 2}


def make_entity(name, seed, *, n_train=600, n_test=400, spikes=(), period=25.0, eid=0):
    """Telemetry in column 0 (a sine), a one-hot command in columns 1-2 that switches the amplitude."""
    rng = np.random.default_rng(seed)

    def series(n):
        cmd = (np.arange(n) // 100) % 2  # alternates every 100 steps
        x = (1 + cmd) * np.sin(2 * np.pi * np.arange(n) / period) + 0.02 * rng.standard_normal(n)
        return np.column_stack([x, cmd, 1 - cmd]).astype(np.float32)

    train, test = series(n_train), series(n_test)
    labels = np.zeros(n_test, dtype=np.int8)
    for s in spikes:
        test[s : s + 3, 0] += 4.0
        labels[s : s + 3] = 1
    return Entity(name=name, dataset="TOY", train=train, test=test, labels=labels, telemetry_channels=(0,),
                  command_channels=(1, 2), entity_id=eid)


@pytest.fixture(scope="module")
def entities():
    return [make_entity("a", 0, spikes=(100, 250), eid=5), make_entity("b", 1, spikes=(180,), period=40.0, eid=9)]


@pytest.fixture(scope="module")
def report(entities):
    det = ex.diffusion_detector(entities, entity_embedding=True, model_params=MODEL, **TINY)
    return ex.run_entities(det, entities, keep_reconstruction=True)


# --------------------------------------------------------------------------- truncate_entity


def test_truncate_keeps_the_first_anomaly_and_aligns_labels():
    ent = make_entity("a", 0, n_train=600, n_test=400, spikes=(300,))
    cut = ex.truncate_entity(ent, max_train_length=200, max_test_length=100)
    np.testing.assert_array_equal(cut.train, ent.train[:200])
    assert len(cut.test) == len(cut.labels) == 100
    # the first anomaly starts a quarter of the window in: test[275:375]
    np.testing.assert_array_equal(cut.test, ent.test[275:375])
    np.testing.assert_array_equal(cut.labels, ent.labels[275:375])
    assert cut.labels[25] == 1 and cut.labels[:25].sum() == 0
    assert cut.name == ent.name and cut.command_channels == ent.command_channels
    assert ent.test.shape == (400, 3)  # the original is untouched


def test_truncate_near_the_end_and_no_op():
    ent = make_entity("a", 0, n_test=400, spikes=(395,))
    cut = ex.truncate_entity(ent, max_test_length=100)
    np.testing.assert_array_equal(cut.labels, ent.labels[300:])  # window clipped to the series' end
    assert ex.truncate_entity(ent) is ent
    assert ex.truncate_entity(ent, max_train_length=10_000, max_test_length=10_000) is ent
    with pytest.raises(ValueError, match="max_test_length"):
        ex.truncate_entity(ent, max_test_length=-1)


# --------------------------------------------------------------------------- detectors


def test_diffusion_detector_variants(entities):
    with_id = ex.diffusion_detector(entities, entity_embedding=True, model_params=MODEL, window=32)
    assert with_id.model == "diffwave" and with_id.n_entities == 2 and with_id.cond_channels == [1, 2]
    assert with_id.model_params == MODEL
    without = ex.diffusion_detector(entities, entity_embedding=False, model_params=MODEL, window=32)
    assert without.model == "diffwave" and without.n_entities == 0 and without.cond_channels == [1, 2]
    with pytest.raises(ValueError, match="in_channels"):
        ex.diffusion_detector(entities, model_params={"in_channels": 3})
    with pytest.raises(ValueError, match="n_entities"):
        ex.diffusion_detector(entities, n_entities=3)
    with pytest.raises(ValueError, match="empty"):
        ex.diffusion_detector([])


def test_run_entities_scores_match_the_detector(entities, report):
    det = report.detector
    assert len(report.scores) == 2 and report.fit_seconds > 0 and report.score_seconds > 0
    for i, (ent, s) in enumerate(zip(entities, report.scores, strict=True)):
        assert s.name == ent.name
        assert s.train_scores.shape == (len(ent.train),) and s.test_scores.shape == (len(ent.test),)
        np.testing.assert_array_equal(s.train_scores, det.decision_scores_[i])
        # the raw distance equals the detector's own (unsmoothed) score of the same series
        np.testing.assert_allclose(s.test_scores, det.decision_function(ent.test, entity=i), atol=1e-5)
        # command channels are inputs: copied into the reconstruction unchanged
        np.testing.assert_array_equal(s.reconstruction[:, 1:], ent.test[:, 1:])
        assert roc_auc_score(s.labels, s.test_scores) > 0.9  # 4-sigma spikes stand out


def test_run_entities_without_entity_id(entities):
    det = ex.diffusion_detector(entities, entity_embedding=False, model_params=MODEL, **{**TINY, "epochs": 3})
    rep = ex.run_entities(det, entities)
    assert all(s.reconstruction is None for s in rep.scores)
    assert len(rep.detector.detector_.train_losses_) == 3
    assert not any(isinstance(m, torch.nn.Embedding) for m in rep.detector.detector_.model_.modules())


def test_smoothed_detector_is_refused(entities):
    det = ex.diffusion_detector(entities, model_params=MODEL, smoothing="hann", **TINY)
    with pytest.raises(ValueError, match="smoothing='none'"):
        ex.run_entities(det, entities)


def test_with_params_shares_the_model(report, entities):
    fast = ex.with_params(report.detector, t0=1)
    assert fast.detector_.model_ is report.detector.detector_.model_
    assert report.detector.detector_.t0 == TINY["t0"] and fast.detector_.t0 == 1
    # the scores follow the new noise levels (t0 = 1: levels {1, 2} instead of {2, 5, 10, 20})
    assert fast.detector_.score_levels == [1, 2]
    low = ex.score_entities(fast, entities)[0].test_scores
    assert not np.allclose(low, report.scores[0].test_scores)
    with pytest.raises(ValueError, match="t0"):
        ex.with_params(report.detector, t0=0)


# --------------------------------------------------------------------------- registry, baselines and metrics


def test_registry_builds_every_method_with_its_display_name():
    assert ex.display_name("ocsvm") == "one-class SVM"
    assert len({m.display for m in ex.METHODS.values()}) == len(ex.METHODS)  # display names are unique
    assert "random" in ex.method_names(input="samples") and "random" in ex.method_names(input="series")
    assert "patch_diffusion" not in ex.method_names(input="series")
    assert ex.make_detector("diffadt").model == "diffwave"
    with pytest.raises(ValueError, match="name must be one of"):
        ex.make_detector("lof")
    with pytest.raises(ValueError, match=r"method 'pca' accepts parameters .*got unknown \['n_clusters'\]"):
        ex.make_detector("pca", n_clusters=3)


def test_baselines_through_run_entities(entities):
    out = ex.run_entities("iforest", entities, window=8, n_estimators=20).scores
    assert [s.name for s in out] == ["a", "b"]
    for ent, s in zip(entities, out, strict=True):
        assert s.train_scores.shape == (len(ent.train),) and s.test_scores.shape == (len(ent.test),)
        assert s.reconstruction is None


def _toy_scores(seed=0, n=300):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    labels[100:120] = 1
    test = rng.random(n) + 2.0 * labels
    return ex.EntityScores("toy", labels, rng.random(500), test)


def test_evaluate_entities_uses_training_thresholds():
    s = _toy_scores()
    raw = ex.evaluate_entities([s], kind="none")
    assert raw.index.tolist() == ["toy"]
    assert raw.loc["toy", "threshold"] == pytest.approx(three_sigma(s.train_scores))
    expected = metrics.evaluate(s.labels, s.test_scores, three_sigma(s.train_scores))
    for key, value in expected.items():
        assert raw.loc["toy", key] == pytest.approx(value, nan_ok=True)
    smoothed = ex.evaluate_entities([s], kind="hann", size=15)
    assert smoothed.loc["toy", "threshold"] == pytest.approx(three_sigma(smooth(s.train_scores, kind="hann", size=15)))
    pct = ex.evaluate_entities([s], kind="none", threshold="percentile", q=50.0)
    assert pct.loc["toy", "threshold"] == pytest.approx(np.percentile(s.train_scores, 50.0))


def test_kernel_grid_matches_direct_iou():
    scores = [_toy_scores(0), _toy_scores(1)]
    grid = ex.kernel_grid(scores, kinds=("hann", "bartlett"), sizes=(15, 25))
    assert grid.shape == (2, 2) and list(grid.columns) == [15, 25]
    expected = np.mean([metrics.iou(s.labels, smooth(s.test_scores, kind="bartlett", size=25)
                                    > three_sigma(smooth(s.train_scores, kind="bartlett", size=25))) for s in scores])
    assert grid.loc["bartlett", 25] == pytest.approx(expected)
    assert ((grid >= 0) & (grid <= 1)).all().all()
    with pytest.raises(ValueError, match="metric"):
        ex.kernel_grid(scores, metric="auc")


def test_pooled_scores_are_standardised_by_training():
    s = _toy_scores()
    same = ex.EntityScores("same", np.zeros(500, dtype=np.int8), s.train_scores, s.train_scores)
    y, z = ex.pooled_scores([same, s], kind="none")
    assert y.shape == z.shape == (800,)
    assert z[:500].mean() == pytest.approx(0.0, abs=1e-12) and z[:500].std() == pytest.approx(1.0)
    assert z[500:][s.labels == 1].min() > 3  # anomalies lie above the three-sigma line
    with pytest.raises(ValueError, match="training scores"):
        ex.pooled_scores([ex.EntityScores("x", s.labels, np.empty(0), s.test_scores)])


def test_loss_stability():
    assert ex.loss_stability([5.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0], last_frac=0.2) == pytest.approx(1.0)
    assert ex.loss_stability([2.0, 2.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="two epochs"):
        ex.loss_stability([1.0])

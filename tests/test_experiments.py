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


def test_rescore_sweep_matches_scoring_each_copy(report, entities):
    sweep = ex.rescore_sweep(report.detector, entities[:1], {"t0": ("t0", [2, 10]), "steps": ("sample_steps", [1])},
                             kind="hann", size=5)
    assert list(sweep.index) == [("t0", 2), ("t0", 10), ("steps", 1)]
    assert list(sweep.columns) == ["L1 error (normal steps)", "ROC-AUC", "time (s)"]
    ent = entities[0]
    for (knob, value), param in ((("t0", 2), "t0"), (("steps", 1), "sample_steps")):
        scores = ex.with_params(report.detector, **{param: value}).decision_function(ent.test, entity=0)
        row = sweep.loc[(knob, value)]
        assert row["L1 error (normal steps)"] == pytest.approx(scores[ent.labels == 0].mean())
        assert row["ROC-AUC"] == pytest.approx(roc_auc_score(ent.labels, smooth(scores, kind="hann", size=5)))
    assert (sweep["time (s)"] > 0).all()
    assert report.detector.detector_.t0 == TINY["t0"]  # the fitted detector itself is unchanged
    with pytest.raises(ValueError, match="entities"):
        ex.rescore_sweep(report.detector, entities * 2, {"t0": ("t0", [2])})
    with pytest.raises(ValueError, match="knobs"):
        ex.rescore_sweep(report.detector, entities, {})


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


# --------------------------------------------------------------------------- shared settings, series cuts, subsets


def test_supported_params_keeps_what_the_method_accepts():
    shared = {"window": 8, "epochs": 3, "random_state": 1, "max_bank": 10}
    assert ex.supported_params("iforest", shared) == {"window": 8, "random_state": 1}
    assert ex.supported_params("feature_knn", shared) == {"max_bank": 10, "random_state": 1}
    ex.make_detector("iforest", **ex.supported_params("iforest", shared))  # builds without an unknown name
    with pytest.raises(ValueError, match="name"):
        ex.supported_params("nope", shared)
    with pytest.raises(TypeError, match="params"):
        ex.supported_params("iforest", [("window", 8)])


def test_split_series_keeps_the_last_training_steps_and_a_test_window():
    values, labels = np.arange(100.0), np.zeros(100, dtype=int)
    labels[80:85] = 1
    train, test, y = ex.split_series(values, labels, 50, max_train_length=20, max_test_length=20)
    np.testing.assert_array_equal(train, values[30:50])  # the 20 steps nearest the test part
    np.testing.assert_array_equal(test, values[75:95])  # the first anomaly a quarter (5 steps) in
    np.testing.assert_array_equal(y, labels[75:95])
    train, test, y = ex.split_series(values, labels, 50)
    assert len(train) == 50 and len(test) == len(y) == 50
    _, test, _ = ex.split_series(values, labels, 10, max_test_length=20)  # the window stops at the series end
    np.testing.assert_array_equal(test, values[80 - 5 : 100][:20])
    with pytest.raises(ValueError, match="labels"):
        ex.split_series(values, labels[:-1], 50)
    with pytest.raises(ValueError, match="train_end"):
        ex.split_series(values, labels, 100)


def test_split_series_test_window_is_the_one_truncate_entity_keeps():
    ent = make_entity("a", 0, n_train=50, n_test=400, spikes=(300,))
    cut = ex.truncate_entity(ent, max_test_length=100)
    whole = np.concatenate([ent.train, ent.test])
    _, test, y = ex.split_series(whole, np.concatenate([np.zeros(50, int), ent.labels]), 50, max_test_length=100)
    np.testing.assert_array_equal(test, cut.test)
    np.testing.assert_array_equal(y, cut.labels)


def test_spread_indices_per_group():
    np.testing.assert_array_equal(ex.spread_indices(10, 4), [0, 3, 6, 9])
    np.testing.assert_array_equal(ex.spread_indices(3, 5), [0, 1, 2])  # a short group is kept whole
    groups = ["a"] * 5 + ["b"] * 2 + ["a"]
    # a = items 0-4 and 7: positions 0, 2.5 -> 2 (rounded to even), 5 -> items 0, 2, 7; b = items 5, 6, whole
    np.testing.assert_array_equal(ex.spread_indices(groups, 3), [0, 2, 5, 6, 7])
    with pytest.raises(ValueError, match="limit"):
        ex.spread_indices(10, 0)
    with pytest.raises(ValueError, match="groups"):
        ex.spread_indices(np.zeros((2, 2)), 1)


# --------------------------------------------------------------------------- samples: outputs, AUROC per kind


class _MapDetector:
    """A fitted sample detector whose map is the input's first channel."""

    def __init__(self, image_score):
        self.image_score = image_score

    def anomaly_map(self, X):
        return np.asarray(X)[:, 0] * 1.0

    def decision_function(self, X):
        return self.anomaly_map(X).mean(axis=(1, 2))


class _NoMap:
    def decision_function(self, X):
        return np.arange(len(X), dtype=float)


class _Components:
    def score_components(self, X):
        return {"recon": np.asarray(X)[:, 0].sum(axis=(1, 2)), "map": np.asarray(X)[:, 0]}

    def scores_from_components(self, comp):
        return comp["recon"] * 2

    def maps_from_components(self, comp):
        return comp["map"] + 1


def test_sample_outputs_of_each_kind_of_detector():
    X = np.random.default_rng(0).random((4, 1, 5, 6))
    s, m, comp = ex.sample_outputs(_MapDetector("max"), X)
    np.testing.assert_allclose(s, X[:, 0].reshape(4, -1).max(axis=1))
    assert m.shape == (4, 5, 6) and comp is None
    s, _, _ = ex.sample_outputs(_MapDetector("mean"), X)
    np.testing.assert_allclose(s, X[:, 0].mean(axis=(1, 2)))
    s, m, comp = ex.sample_outputs(_NoMap(), X, seed=3)
    np.testing.assert_array_equal(s, np.arange(4.0))
    np.testing.assert_array_equal(m, ex.sample_outputs(_NoMap(), X, seed=3)[1])  # seeded: the same map again
    assert m.shape == (4, 5, 6) and not np.array_equal(m, ex.sample_outputs(_NoMap(), X, seed=4)[1])
    s, m, comp = ex.sample_outputs(_Components(), X)
    np.testing.assert_allclose(s, 2 * X[:, 0].sum(axis=(1, 2)))
    np.testing.assert_allclose(m, X[:, 0] + 1)
    assert set(comp) == {"recon", "map"}
    with pytest.raises(ValueError, match="X"):
        ex.sample_outputs(_NoMap(), np.zeros((4, 5)))


def _tiles():
    """Six 2 × 2 test images: two good, two cracks, two holes (the last with an empty, unknown mask)."""
    from types import SimpleNamespace

    masks = np.zeros((6, 2, 2), dtype=bool)
    masks[2, 0, 0] = masks[3, 1, 1] = masks[4, 0, 1] = True
    return SimpleNamespace(labels=np.array([0, 0, 1, 1, 1, 1]), masks=masks,
                           defect_types=("good", "good", "crack", "crack", "hole", "hole"),
                           mask_known=np.array([True, True, True, True, True, False]))


def test_image_auroc_and_the_table_per_kind():
    data = _tiles()
    scores = np.array([0.1, 0.5, 0.9, 0.8, 0.3, 0.05])  # cracks above both good images; holes above 1 of 4 pairs
    maps = data.masks * 1.0 + 0.01 * np.arange(4).reshape(1, 2, 2)
    maps[5] = 5.0  # the unknown-mask image: its bright map must not count for pixel AUROC
    row = ex.image_auroc(data, scores, maps)
    assert row["image AUROC"] == pytest.approx(roc_auc_score(data.labels, scores))
    known = data.mask_known
    assert row["pixel AUROC"] == pytest.approx(roc_auc_score(data.masks[known].ravel(), maps[known].ravel()))
    table = ex.auroc_table(data, {"m": (scores, maps), "r": (-scores, -maps)})
    assert list(dict.fromkeys(table.index.get_level_values(0))) == ["crack (2)", "hole (2)", "all (6)",
                                                                    "mean over kinds"]
    assert table.loc[("crack (2)", "m"), "image AUROC"] == 1.0
    assert table.loc[("hole (2)", "m"), "image AUROC"] == pytest.approx(0.25)  # 0.3 beats 0.1 only; 0.05 none
    assert table.loc[("hole (2)", "r"), "image AUROC"] == pytest.approx(0.75)  # reversed scores
    assert table.loc[("all (6)", "m"), "image AUROC"] == pytest.approx(row["image AUROC"])
    assert table.loc[("mean over kinds", "m"), "image AUROC"] == pytest.approx(0.625)  # the all row left out
    assert table.loc[("crack (2)", "m"), "pixel AUROC"] == 1.0
    idx = np.array([0, 1, 2, 3])  # a subset: scores of those images only
    assert ex.image_auroc(data, scores[idx], maps[idx], index=idx) == table.loc[("crack (2)", "m")].to_dict()
    with pytest.raises(ValueError, match="scores and maps"):
        ex.image_auroc(data, scores[:3], maps)
    with pytest.raises(ValueError, match="normal"):
        ex.auroc_table(data, {"m": (scores, maps)}, normal="ok")


def test_border_share():
    maps = np.zeros((4, 8, 8))
    maps[0, 0, 4] = maps[1, 4, 7] = maps[2, 4, 4] = maps[3, 2, 2] = 1.0  # top edge, right edge, centre, inner
    assert ex.border_share(maps) == 0.5
    assert ex.border_share(maps, margin=3) == 0.75
    assert ex.border_share(maps, margin=0) == 0.0
    with pytest.raises(ValueError, match="maps"):
        ex.border_share(np.zeros((8, 8)))


def test_compare_with_recorded_reports_the_change_since_the_recorded_run(tmp_path):
    import json

    import pandas as pd

    from diffad_lib.experiments import compare_with_recorded

    idx = pd.MultiIndex.from_tuples([("SMAP", "DiffADT"), ("SMAP", "PCA")], names=["dataset", "method"])
    first = pd.DataFrame({"VUS-PR": [0.30, 0.40], "note": ["a", "b"]}, index=idx)
    said = compare_with_recorded("ch", {"t": first}, profile="default", command="c", directory=tmp_path)
    assert "No earlier `default` run" in said and (tmp_path / "ch_default.json").is_file()
    second = first.assign(**{"VUS-PR": [0.45, 0.38]})
    said = compare_with_recorded("ch", {"t": second}, profile="default", command="c", directory=tmp_path)
    assert "largest change is +0.150 (t, VUS-PR, SMAP / DiffADT)" in said
    assert "mean absolute change over the compared cells is 0.085" in said
    assert json.loads((tmp_path / "ch_default.json").read_text())["tables"]["t"]["records"][0]["VUS-PR"] == 0.45
    said = compare_with_recorded("ch", {"t": second}, profile="smoke", command="c", directory=tmp_path)
    assert "`smoke` profile" in said and not (tmp_path / "ch_smoke.json").exists()

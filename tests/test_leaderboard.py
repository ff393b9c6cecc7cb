"""The leaderboard machinery at the smoke profile (the same code `make leaderboard` runs)."""

import json

import numpy as np
import pytest

from diffad_lib import leaderboard as lb
from diffad_lib.cli import main
from diffad_lib.data.telemetry import Entity
from diffad_lib.experiments import method_names


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("lb") / "leaderboard_smoke.json"
    doc = lb.run_leaderboard(profile="smoke", output=out, progress=False)
    return doc, out


def test_smoke_leaderboard_writes_the_documented_schema(smoke):
    doc, out = smoke
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc))
    assert set(doc["meta"]) >= {"commit", "command", "device", "date", "profile"}
    assert doc["meta"]["profile"] == "smoke"
    assert list(doc["datasets"]) == list(lb.DATASETS)
    for dataset, methods in doc["datasets"].items():
        assert set(methods) == set(method_names(input="series")), dataset
        for values in methods.values():
            assert set(values) == {*lb.METRICS, "n_series"}
            assert values["n_series"] == len(doc["series"][dataset]) >= 1
            assert all(0.0 <= values[m] <= 1.0 for m in lb.METRICS)
    # dataset means are the means of the per-series values
    first = next(iter(doc["series"]["NAB"].values()))
    if len(doc["series"]["NAB"]) == 1:
        assert doc["datasets"]["NAB"]["zscore"]["vus_pr"] == pytest.approx(first["zscore"]["vus_pr"])


def test_table_ranks_methods(smoke):
    doc, _ = smoke
    table = lb.leaderboard_table(doc, metric="pr_auc")
    assert list(table.columns) == [*lb.DATASETS, "mean rank"]
    assert "random score" in table.index
    assert table["mean rank"].is_monotonic_increasing
    with pytest.raises(ValueError, match="metric"):
        lb.leaderboard_table(doc, metric="accuracy")


def _toy(seed, n_train=400, n_test=300):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n_train + n_test) / 5)[:, None] + 0.05 * rng.standard_normal((n_train + n_test, 1))
    labels = np.zeros(n_test, dtype=np.int8)
    x[n_train + 150 : n_train + 160] += 3.0
    labels[150:160] = 1
    return Entity(name="toy", dataset="NAB", train=x[:n_train].astype(np.float32),
                  test=x[n_train:].astype(np.float32), labels=labels, telemetry_channels=(0,),
                  command_channels=(), entity_id=0)


def test_thresholds_never_see_test_labels():
    ent = _toy(0)
    flipped = Entity(**{**ent.__dict__, "labels": 1 - ent.labels})
    a = lb.score_problem(ent, ["zscore", "random"], {})
    b = lb.score_problem(flipped, ["zscore", "random"], {})
    # the labels change every metric but not the threshold, which comes from training scores only
    assert a["zscore"]["threshold"] == b["zscore"]["threshold"]
    assert a["zscore"]["roc_auc"] == pytest.approx(1 - b["zscore"]["roc_auc"], abs=1e-9)
    assert a["zscore"]["roc_auc"] > 0.9 and a["zscore"]["vus_pr"] > a["random"]["vus_pr"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="profile"):
        lb.run_leaderboard(profile="huge")
    with pytest.raises(ValueError, match="datasets"):
        lb.run_leaderboard(profile="smoke", datasets=["KDD"])
    with pytest.raises(ValueError, match="methods"):
        lb.run_leaderboard(profile="smoke", methods=["patch_diffusion"])
    assert main(["leaderboard", "--profile", "huge"]) == 2


def test_the_development_series_are_disjoint_from_the_reported_ones():
    dev, default = lb.PROFILES["dev"], lb.PROFILES["default"]
    for d in lb.DATASETS:
        reported = {p.name for p in lb.load_problems(d, names=default["series"][d],
                                                     max_train=default["max_train"], max_test=default["max_test"])}
        assert reported == set(default["series"][d]), d  # every reported series loads
        chosen = lb.load_problems(d, names=dev["series"][d], max_train=dev["max_train"], max_test=dev["max_test"])
        assert sorted(p.name for p in chosen) == sorted(dev["series"][d]), d  # every development series loads
        assert not reported & set(dev["series"][d]), d
    with pytest.raises(ValueError, match="no NAB series"):
        lb.load_problems("NAB", names=["no/such_series"])


def test_overrides_score_a_variant_and_are_recorded(tmp_path):
    base = lb.run_leaderboard(profile="smoke", datasets=["NAB"], methods=["diffusion"], progress=False)
    out = tmp_path / "variant.json"
    doc = lb.run_leaderboard(profile="smoke", datasets=["NAB"], methods=["diffusion"], progress=False, output=out,
                             overrides={"diffusion": {"window": 8}})
    assert doc["meta"]["overrides"] == {"diffusion": {"window": 8}}
    assert doc["meta"]["params"]["diffusion"]["window"] == 8
    assert doc["meta"]["params"]["diffusion"]["max_steps"] == lb.PROFILES["smoke"]["params"]["diffusion"]["max_steps"]
    assert "window" not in lb.PROFILES["smoke"]["params"]["diffusion"]  # the profile itself is unchanged
    assert doc["meta"]["command"] == "diffad leaderboard --profile smoke --datasets NAB --methods diffusion " \
                                     "-p diffusion.window '8'"
    assert doc["datasets"]["NAB"]["diffusion"] != base["datasets"]["NAB"]["diffusion"]


def test_bad_overrides_are_named(tmp_path):
    assert lb.parse_overrides([("diffusion.min_steps", "12000"), ("diffusion.patience", "null"),
                               ("kmeans.n_clusters", "4")]) == {
        "diffusion": {"min_steps": 12000, "patience": None}, "kmeans": {"n_clusters": 4}}
    with pytest.raises(ValueError, match="METHOD.PARAMETER"):
        lb.parse_overrides([("min_steps", "12000")])
    with pytest.raises(ValueError, match="unknown \\['min_step'\\]"):
        lb.run_leaderboard(profile="smoke", methods=["diffusion"], overrides={"diffusion": {"min_step": 1}})
    with pytest.raises(ValueError, match="does not score"):
        lb.run_leaderboard(profile="smoke", methods=["zscore"], overrides={"kmeans": {"n_clusters": 4}})
    with pytest.raises(TypeError, match="overrides"):
        lb.run_leaderboard(profile="smoke", methods=["zscore"], overrides={"zscore": 3})
    # a variant must name its own file, so it cannot replace the committed board
    assert main(["leaderboard", "--profile", "smoke", "-p", "kmeans.n_clusters", "4"]) == 2
    out = tmp_path / "km.json"
    assert main(["leaderboard", "--profile", "smoke", "--datasets", "UCR", "--methods", "kmeans", "random",
                 "-p", "kmeans.n_clusters", "4", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["meta"]["overrides"] == {"kmeans": {"n_clusters": 4}}


def test_the_recorded_commit_names_uncommitted_library_code():
    import subprocess

    root = lb.Path(lb.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=root).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], capture_output=True,
                           text=True, cwd=root).stdout.strip()
    assert lb._commit() == head + ("+dirty" if dirty else "")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_series_is_named_and_ends_the_run(jobs):
    # a window longer than the smoke profile's training parts: every series refuses it, and the
    # error says which series (in parallel too, where the remaining series are not scored first)
    with pytest.raises(ValueError, match=r"(SMAP|MSL|SMD|NAB|UCR) series '.+': .*window"):
        lb.run_leaderboard(profile="smoke", methods=["diffusion"], jobs=jobs, progress=False,
                           overrides={"diffusion": {"window": 2000}})


def test_novelty_share_counts_unlabelled_steps_beyond_the_labelled_median():
    labels = np.array([0, 0, 0, 0, 1, 1])
    # labelled novelty 2.5 and 10 (median 6.25): no unlabelled step lies beyond it
    assert lb.novelty_share(labels, [1, 2, 3, 4, 2.5, 10]) == 0.0
    # labelled novelty 1 and 1: three of the four unlabelled steps lie beyond it
    assert lb.novelty_share(labels, [0, 2, 3, 4, 1, 1]) == 0.75
    with pytest.raises(ValueError, match="same length"):
        lb.novelty_share(labels, [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        lb.novelty_share(labels, [1, 2, np.nan, 4, 5, 6])
    with pytest.raises(ValueError, match="labelled and one unlabelled"):
        lb.novelty_share(np.ones(6, dtype=int), np.arange(6.0))
    with pytest.raises(ValueError, match="only 0 and 1"):
        lb.novelty_share(labels * 2, np.arange(6.0))


def test_label_novelty_tells_a_labelled_stretch_that_looks_like_training():
    ent = _toy(1)
    share, novelty = lb.label_novelty(ent)
    assert novelty.shape == ent.labels.shape
    assert share < 0.05  # the labelled spike lies far beyond every normal step
    # the same series with its unlabelled test steps moved to a level training never took, and the
    # labelled stretch left as the training data: the labelled steps are now the familiar ones
    test = ent.test.copy()
    test[ent.labels == 0] += 3.0
    test[ent.labels == 1] -= 3.0
    drifted = Entity(**{**ent.__dict__, "test": test})
    share, _ = lb.label_novelty(drifted)
    assert share > 0.8


def test_fitting_flag_rate_uses_the_boards_threshold():
    from diffad_lib.experiments import make_detector

    ent = _toy(2)
    det = make_detector("zscore").set_params(val_fraction=lb.VAL_FRACTION).fit(ent.train)
    rate = lb.fitting_flag_rate(det)
    assert 0.0 <= rate < 0.05  # normal data: few fitting steps above three sigma of the held-out scores
    # spikes every third step over most of the fitting part, none in the held-out part: most of it is flagged
    spiky = ent.train.copy()
    spiky[:250:3] += 20.0
    det = make_detector("zscore").set_params(val_fraction=lb.VAL_FRACTION).fit(spiky)
    assert lb.fitting_flag_rate(det) > 0.5
    with pytest.raises(ValueError, match="fitted"):
        lb.fitting_flag_rate(make_detector("zscore"))
    with pytest.raises(ValueError, match="held-out"):
        lb.fitting_flag_rate(make_detector("zscore").set_params(val_fraction=0.0).fit(ent.train))

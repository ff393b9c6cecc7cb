import json

import numpy as np
import pandas as pd
import pytest

from diffad_lib.report import ablation_table, environment_info, glue, load_results, markdown_table, save_results


def test_results_round_trip_names_device_commit_and_command(tmp_path):
    table = pd.DataFrame({"VUS-PR": [0.2, 0.3], "F1": [0.1, np.float32(0.5)]},
                         index=pd.MultiIndex.from_tuples([("SMAP", "a"), ("MSL", "b")], names=["dataset", "method"]))
    path = save_results("demo_full", {"table3": table}, command="diffad run 02 --profile full", directory=tmp_path)
    raw = json.loads(path.read_text())
    assert {"device", "commit", "command", "date", "environment"} <= set(raw)
    assert raw["command"] == "diffad run 02 --profile full"
    back = load_results("demo_full", directory=tmp_path)
    pd.testing.assert_frame_equal(back["tables"]["table3"], table.astype(float), check_dtype=False)
    assert load_results("missing", directory=tmp_path) is None


def test_corrupt_results_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.json").write_text('{"tables": 3}')
    with pytest.raises(ValueError, match="not a results file"):
        load_results("bad", directory=tmp_path)


def test_environment_info_and_glue_outside_a_notebook():
    info = environment_info()
    assert {"python", "torch", "numpy", "gpu", "commit"} <= set(info)
    assert glue("x", 3) == 3


def test_markdown_table_joins_column_levels_into_one_header():
    df = pd.DataFrame({("clips", "train"): [3], ("AUROC", "a|b"): [0.51234]}, index=pd.Index(["dog"], name="class"))
    header, _, row = markdown_table(df).splitlines()
    assert header == "| class | clips · train | AUROC · a\\|b |"
    assert row == "| dog | 3 | 0.512 |"


def _ablation_runs(seeds=(0, 1)):
    rows = []
    for s in seeds:
        rows += [{"variant": "full", "seed": s, "img": 0.80 + 0.01 * s, "pix": 0.7},
                 {"variant": "- a", "seed": s, "img": 0.70 + 0.01 * s, "pix": 0.7},  # 0.1 worse on every seed
                 {"variant": "- b", "seed": s, "img": 0.80 + (0.05 if s else -0.05), "pix": 0.7},  # noise
                 {"variant": "- c", "seed": s, "img": 0.90 + 0.01 * s, "pix": 0.6}]  # 0.1 better on every seed
    return pd.DataFrame(rows)


def test_ablation_table_pairs_each_seed_with_the_reference():
    table = ablation_table(_ablation_runs(), reference="full", metrics=["img", "pix"], reference_label="full")
    assert list(table.index) == ["full", "- a", "- b", "- c"]
    assert list(table.columns) == ["img", "pix", "Δ img vs full (paired)", "Δ pix vs full (paired)", "verdict"]
    assert table.loc["- a", "img"] == "0.705 ± 0.007"  # mean ± std (ddof 1) over the two seeds
    assert table.loc["- a", "Δ img vs full (paired)"] == "-0.100 ± 0.000"  # paired: the seed offset cancels
    assert table.loc["- c", "Δ pix vs full (paired)"] == "-0.100 ± 0.000"
    assert table.loc["full", "verdict"] == "—"
    assert table.loc["- a", "verdict"] == "removal hurts by more than the spread: supported"
    assert table.loc["- b", "verdict"] == "within the seed-to-seed spread: not supported by this run"
    assert table.loc["- c", "verdict"] == "removal helps by more than the spread: contradicted"
    # the verdict on the other metric: only the pixel drop of "- c" counts
    by_pix = ablation_table(_ablation_runs(), reference="full", metrics=["img", "pix"], verdict_on="pix")
    assert by_pix.loc["- c", "verdict"].endswith(": supported") and "Δ pix vs reference (paired)" in by_pix


def test_ablation_table_one_seed_and_bad_input():
    one = ablation_table(_ablation_runs(seeds=(0,)), reference="full", metrics=["img"])
    assert set(one["verdict"].iloc[1:]) == {"one seed only: no verdict"}
    assert one.loc["- a", "img"] == "0.700 ± 0.000"
    runs = _ablation_runs()
    with pytest.raises(ValueError, match="reference"):
        ablation_table(runs[~((runs["variant"] == "full") & (runs["seed"] == 1))], reference="full", metrics=["img"])
    with pytest.raises(ValueError, match="missing"):
        ablation_table(runs, reference="full", metrics=["auc"])
    with pytest.raises(ValueError, match="verdict_on"):
        ablation_table(runs, reference="full", metrics=["img"], verdict_on="pix")


def test_plot_pooled_roc_pools_standardised_scores_per_dataset():
    from types import SimpleNamespace

    import matplotlib

    matplotlib.use("Agg")
    from diffad_lib import metrics
    from diffad_lib.experiments import EntityScores, pooled_scores
    from diffad_lib.report import plot_pooled_roc

    rng = np.random.default_rng(0)
    labels = np.zeros(200, dtype=np.int8)
    labels[150:170] = 1

    def run(shift):
        test = rng.standard_normal(200) + shift * labels
        return SimpleNamespace(scores=[EntityScores("e", labels, rng.standard_normal(300), test)])

    reports = {"A": {"diff": run(4.0), "base": run(0.5)}, "B": {"diff": run(1.0)}}
    fig, aucs = plot_pooled_roc(reports, smoothed={"diff"}, kernel="hann", kernel_size=5)
    assert set(aucs) == {("A", "diff"), ("A", "base"), ("B", "diff")}
    y, z = pooled_scores(reports["A"]["diff"].scores, kind="hann", size=5)  # smoothed: a diffusion variant
    assert aucs["A", "diff"] == pytest.approx(metrics.roc_auc(y, z))
    y, z = pooled_scores(reports["A"]["base"].scores, kind="none")  # a baseline: unsmoothed
    assert aucs["A", "base"] == pytest.approx(metrics.roc_auc(y, z))
    assert aucs["A", "diff"] > aucs["A", "base"]
    panels = fig.axes
    assert [ax.get_title() for ax in panels] == ["A", "B"]
    # A: two curves, the z = 3 marker of the smoothed one, the diagonal; B: one curve, its marker, the diagonal
    assert [len(ax.lines) for ax in panels] == [4, 3]
    with pytest.raises(ValueError, match="reports"):
        plot_pooled_roc({}, smoothed=(), kernel="hann", kernel_size=5)


def test_plot_row_one_panel_per_entry():
    import matplotlib

    matplotlib.use("Agg")
    from diffad_lib.report import plot_row

    fig = plot_row([np.arange(5.0), np.ones((3, 5))], ["one", "three"], height=2.0)
    first, second = fig.axes
    assert [first.get_title(), second.get_title()] == ["one", "three"]
    assert len(first.lines) == 1 and len(second.lines) == 3  # (n, L) draws n curves
    np.testing.assert_array_equal(first.lines[0].get_ydata(), np.arange(5.0))
    assert first.get_shared_y_axes().joined(first, second)
    assert fig.get_size_inches()[1] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="titles"):
        plot_row([np.arange(5.0)], ["a", "b"])


def test_plot_score_examples_marks_the_labelled_points_within_the_steps():
    import matplotlib

    matplotlib.use("Agg")
    from diffad_lib.report import plot_score_examples

    labels = np.zeros(50, dtype=int)
    labels[[3, 10, 40]] = 1
    scores = np.linspace(0.0, 1.0, 50)
    fig = plot_score_examples({1: (labels, scores), 10: (labels, 2 * scores)}, threshold=0.5, steps=20)
    top, bottom = fig.axes
    assert top.get_ylabel() == "k = 1" and bottom.get_ylabel() == "k = 10"
    assert len(top.lines[0].get_ydata()) == 20  # only the first `steps` scores
    assert top.lines[1].get_ydata()[0] == 0.5  # the threshold line
    np.testing.assert_allclose(bottom.collections[0].get_offsets(), [[3, 2 * scores[3]], [10, 2 * scores[10]]])
    with pytest.raises(ValueError, match="examples"):
        plot_score_examples({}, threshold=0.5)

"""The papers' numbers (book/paper_results.yaml) and the helpers that put them beside ours on a page."""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from diffad_lib import papers, report  # noqa: E402

# the transcription source sits in a ``shared/docs`` folder beside the checkout, when there is one
PAPERS_MD = next((d / "shared" / "docs" / "PAPERS.md" for d in Path(__file__).resolve().parents[1].parents
                  if (d / "shared" / "docs" / "PAPERS.md").is_file()), Path("/nonexistent/PAPERS.md"))


def test_data_file_parses_and_every_table_loads():
    raw = yaml.safe_load(papers.results_path().read_text())
    assert set(raw) == {"zhang2023sequence", "zuo2024unsupervised", "chen2025research"}
    bib = (papers.results_path().parent / "references.bib").read_text()
    for paper in raw:
        assert f"{{{paper}," in bib  # every key is a citation the book can resolve
        assert papers.paper_citation(paper)
        for table in papers.paper_tables(paper):
            df = papers.paper_table(paper, table)
            info = papers.table_info(paper, table)
            assert len(df) > 0 and df.shape[1] > 0, (paper, table)
            assert info["protocol"] and info["label"].startswith("Table"), (paper, table)
            assert df.attrs["label"] == info["label"]


def test_values_match_the_papers_as_printed():
    t1 = papers.paper_table("zhang2023sequence", "table1")
    assert t1.loc[500, "accuracy (%)"] == 85
    t3 = papers.paper_table("zuo2024unsupervised", "table3")
    assert t3.loc["DiffADT (entity ID)", "SMAP mF1"] == pytest.approx(0.9120)
    assert t3.loc["OC-SVM", "SMD mRec"] == pytest.approx(0.6050)
    t6 = papers.paper_table("zuo2024unsupervised", "table6")
    assert t6.loc["RES-L18", "L2 loss std"] == pytest.approx(0.0010)
    chen = papers.paper_table("chen2025research", "table1")
    assert chen.loc["metal_nut", "ours"] == pytest.approx(0.940)
    ablation = papers.paper_table("chen2025research", "table3")
    assert np.isnan(ablation.loc["full model", "image drop (%)"])
    assert ablation.loc["− MHA", "TS drop (%)"] == pytest.approx(-3.9)


@pytest.mark.skipif(not PAPERS_MD.is_file(), reason="the transcription source is not next to this checkout")
def test_every_number_appears_in_the_transcription_source():
    text = PAPERS_MD.read_text().replace("−", "-")
    for paper in papers.load_papers():
        for table in papers.paper_tables(paper):
            for value in papers.paper_table(paper, table).to_numpy().ravel():
                if isinstance(value, str) or (isinstance(value, float) and np.isnan(value)):
                    continue
                # the ways the paper may print it, keeping only those that do not round the value
                shown = {t for t in (f"{value:g}", f"{value:.4f}", f"{value:.3f}", f"{value:.2f}", f"{value:.1f}",
                                     f"{value:,.0f}") if float(t.replace(",", "")) == value}
                assert any(re.search(rf"(?<![\d.]){re.escape(s)}(?![\d])", text) for s in shown), (paper, table, value)


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="paper must be one of .*zuo2024unsupervised.*got 'nope'"):
        papers.paper_table("nope", "table1")
    with pytest.raises(ValueError, match="table of 'zhang2023sequence' must be one of \\['table1'\\], got 'table9'"):
        papers.paper_table("zhang2023sequence", "table9")


def test_a_row_of_the_wrong_length_is_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"x": {"citation": "X", "tables": {"t": {
        "label": "Table 1", "title": "t", "protocol": "p", "index": ["a"], "columns": ["a", "b"],
        "rows": [[1, 2], [3]]}}}}))
    with pytest.raises(ValueError, match="a row must have 2 values"):
        papers.paper_table("x", "t", path=path)


# --------------------------------------------------------------------------- page helpers (diffad_lib.report)


def test_markdown_table_blanks_repeated_groups_and_shows_missing_values():
    df = pd.DataFrame({"F1": [0.5, np.nan, 0.25], "n": [1, 2, 3]},
                      index=pd.MultiIndex.from_tuples([("SMAP", "a"), ("SMAP", "b|c"), ("MSL", "a")],
                                                      names=["dataset", "method"]))
    lines = report.markdown_table(df, digits=2).splitlines()
    assert lines[0] == "| dataset | method | F1 | n |"
    assert lines[2] == "| SMAP | a | 0.50 | 1 |"
    assert lines[3] == "|  | b\\|c | — | 2 |"  # the group is not repeated; a pipe in a name is escaped
    assert lines[4] == "| MSL | a | 0.25 | 3 |"
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        report.markdown_table([1, 2])


def test_beside_paper_adds_marked_columns_on_matching_rows():
    ours = pd.DataFrame({"recall": [0.9, 0.1, 0.8]},
                        index=pd.MultiIndex.from_tuples([(1, "diff"), (1, "rand"), (10, "diff")], names=["k", "m"]))
    paper = pd.DataFrame({"accuracy (%)": [100, 90]}, index=pd.Index([1, 10], name="k"))
    out = report.beside_paper(ours, paper, columns={"accuracy (%)": "acc"}, on="k", rows=[True, False, True])
    col = f"{report.PAPER_LABEL}: acc"
    np.testing.assert_array_equal(out[col].to_numpy(), [100, np.nan, 90])
    with pytest.raises(ValueError, match="columns must name columns of the paper's table"):
        report.beside_paper(ours, paper, columns={"missing": "x"}, on="k")


def test_stack_and_per_dataset_put_the_papers_rows_under_ours():
    paper = papers.paper_table("zuo2024unsupervised", "table3")
    long = report.per_dataset(paper, rename={"mF1": "F1-PA"})
    assert long.index.names == ["dataset", "method"]
    assert long.loc[("MSL", "BeatGAN"), "F1-PA"] == pytest.approx(0.8672)
    ours = pd.DataFrame({"F1-PA": [0.4], "F1": [0.1]},
                        index=pd.MultiIndex.from_tuples([("MSL", "mine")], names=["dataset", "method"]))
    both = report.stack_paper(ours, long, ours_label="this run")
    assert both.loc[(report.PAPER_LABEL, "MSL", "BeatGAN"), "F1-PA"] == pytest.approx(0.8672)
    assert np.isnan(both.loc[(report.PAPER_LABEL, "MSL", "BeatGAN"), "F1"])
    with pytest.raises(ValueError, match="paper must be indexed like ours"):
        report.stack_paper(ours, paper, ours_label="x")
    with pytest.raises(ValueError, match="rename must name metrics"):
        report.per_dataset(paper, rename={"AUC": "x"})


def test_agreement_sorts_rows_into_within_above_and_below():
    ours = pd.Series({"A": 0.50, "B": 0.90, "C": 0.10, "D": np.nan})
    paper = pd.Series({"A": 0.52, "B": 0.60, "C": 0.60, "D": 0.5})
    text = report.agreement(ours, paper, what="F1", tolerance=0.05)
    assert "within ±0.05 of the paper for A" in text
    assert "above the paper for B" in text and "below the paper for C" in text and "D" not in text
    assert report.agreement(pd.Series({"A": np.nan}), paper, what="F1", tolerance=0.1).startswith("No F1")


def test_glue_helpers_publish_markdown_tables_and_png_figures(monkeypatch):
    published = {}
    monkeypatch.setattr(report, "glue", lambda name, value, **kw: published.setdefault(name, value))
    df = pd.DataFrame({"x": [1.0]}, index=pd.Index(["a"], name="k"))
    assert report.glue_table("t", df) is df
    assert published["t"]._repr_markdown_().startswith("| k | x |")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    report.glue_figure("f", fig)
    assert published["f"].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)  # closed, so the notebook does not show it a second time
    assert report.profile_line("smoke", window=64) == "profile 'smoke': window 64"


def _entity(name, *, commands):
    from diffad_lib.data.telemetry import Entity

    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(200, 3)).astype(np.float32), rng.normal(size=(150, 3)).astype(np.float32)
    labels = np.zeros(150, dtype=np.int8)
    labels[60:80] = 1
    test[60:80, 2] += 5  # metric 2 is the disturbed one
    return Entity(name, "X", train, test, labels, (0,) if commands else (0, 1, 2), (1, 2) if commands else (),
                  0)


def test_telemetry_page_helpers_pick_the_disturbed_channel_and_draw():
    smd, smap = _entity("m-1", commands=False), _entity("A-1", commands=True)
    assert report.shown_channel(smd) == 2 and report.shown_channel(smap) == 0
    summary = pd.DataFrame({"channels": [3, 3], "train_length": [200, 200], "test_length": [150, 150],
                            "anomalous_points": [20, 20], "segments": [1, 1], "anomaly_ratio": [20 / 150] * 2},
                           index=pd.Index(["m-1", "total"], name="entity"))
    stats = report.telemetry_statistics({"SMD": summary}, {"SMD": [smd]})
    assert stats.loc["SMD", "entities"] == 1
    assert stats.loc["SMD", "anomaly ratio in this run (%)"] == pytest.approx(100 * 20 / 150)
    fig = report.plot_entities({"SMD": [smd], "SMAP": [smap]})
    assert len(fig.axes) == 2
    plt.close(fig)
    sweep = pd.DataFrame({"L1 error (normal steps)": [0.1, 0.2], "ROC-AUC": [0.6, 0.7]},
                         index=pd.MultiIndex.from_tuples([("t0", 10), ("t0", 50)], names=["knob", "value"]))
    fig = report.plot_knob_sweep(sweep, xlabels={"t0": "t0"})
    assert len(fig.axes) == 2  # the error axis and its ROC-AUC twin
    plt.close(fig)



def test_own_data_plots_mark_flags_and_sweeps():
    n = 300
    flags = np.zeros(n, dtype=int)
    flags[100] = 1  # a one-step segment must still be visible
    labels = np.zeros(n, dtype=int)
    labels[90:120] = 1
    fig = report.plot_flags(np.arange(n), np.sin(np.arange(n) / 5), np.abs(np.cos(np.arange(n))), threshold=0.9,
                            flags=flags, labels=labels)
    top = fig.axes[0]
    assert top.collections[0].get_offsets().shape == (1, 2)  # the flagged point is marked
    plt.close(fig)
    table = pd.DataFrame({"F1": [0.1, 0.3], "VUS-PR": [0.2, 0.25]}, index=pd.Index([24, 48], name="window"))
    fig = report.plot_sweep(table, xlabel="window", log_x=True)
    assert [ax.get_title() for ax in fig.axes] == ["F1", "VUS-PR"]
    plt.close(fig)


# --------------------------------------------------------------------------- the front page's leaderboard


def _fake_leaderboard(path):
    def entry(vus, f1):
        return {"vus_pr": vus, "pr_auc": vus, "roc_auc": 0.5 + vus / 2, "f1": f1, "f1_pa": f1 + 0.1, "n_series": 3}

    record = {"meta": {"commit": "abc1234", "command": "diffad bench --profile default", "device": "CPU (2 cores)",
                       "date": "2026-01-01", "profile": "default"},
              "datasets": {"SMAP": {"diffadt": entry(0.30, 0.20), "diffusion": entry(0.25, 0.3),
                                    "iforest": entry(0.28, 0.10), "pca": entry(0.22, 0.05),
                                    "exact_denoiser": entry(0.50, 0.40), "random": entry(0.12, 0.01)},
                           "NAB": {"iforest": entry(0.4, 0.2), "random": entry(0.1, 0.0)}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def test_leaderboard_table_picks_the_best_of_each_family(tmp_path):
    record = report.load_leaderboard(_fake_leaderboard(tmp_path / "lb.json"))
    table = report.leaderboard_table(record)
    assert table.loc["SMAP", "best diffusion"] == "DiffADT"  # by VUS-PR, not by F1
    # the reference row (the exact denoiser) is the highest here but is neither family's best
    assert table.loc["SMAP", "best baseline: VUS-PR"] == pytest.approx(0.28)
    assert table.loc["SMAP", "best diffusion: VUS-PR"] == pytest.approx(0.30)
    assert table.loc["SMAP", "random: F1"] == pytest.approx(0.01)
    assert np.isnan(table.loc["NAB", "best diffusion: VUS-PR"])  # no diffusion method on that dataset
    text = report.leaderboard_markdown(tmp_path / "lb.json", figure="/lb.png")
    assert ":name: tab-leaderboard" in text and "abc1234" in text and ":::{figure} /lb.png" in text


def test_leaderboard_absent_or_malformed(tmp_path):
    assert report.load_leaderboard(tmp_path / "none.json") is None
    assert "not yet generated" in report.leaderboard_markdown(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text(json.dumps({"meta": {}, "datasets": {"X": {"m": {"vus_pr": 1}}}}))
    with pytest.raises(ValueError, match="X/m lacks"):
        report.load_leaderboard(tmp_path / "bad.json")


@pytest.mark.parametrize("present", [True, False])
def test_leaderboard_directive_builds_a_numbered_table_and_figure(tmp_path, present):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser", "diffad_lib.sphinx_ext"]\n'
                                 'myst_enable_extensions = ["colon_fence"]\nnumfig = True\n'
                                 'mathjax_path = "https://example.invalid/mathjax.js"\n')
    (src / "index.md").write_text("# Front\n\n```{leaderboard} results/lb.json\n```\n\nSee {numref}`tab-leaderboard`.\n"
                                  if present else "# Front\n\n```{leaderboard} results/lb.json\n```\n")
    if present:
        _fake_leaderboard(src / "results" / "lb.json")
    app = Sphinx(str(src), str(src), str(src / "_build" / "html"), str(src / "_build" / ".doctrees"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    html = (src / "_build" / "html" / "index.html").read_text()
    # the book's style sheet (code wraps at the column, wide tables scroll) is written and linked
    assert "pre-wrap" in (src / "_build" / "html" / "_static" / "diffad.css").read_text()
    assert "_static/diffad.css" in html
    if present:
        assert "Table 1" in html and "DiffADT" in html and '<img alt="VUS-PR per dataset' in html
        assert (src / "_build" / "html" / "_images" / "leaderboard.png").stat().st_size > 0
    else:
        assert "not yet generated" in html and "<table" not in html

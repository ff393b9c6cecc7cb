"""Each chapter executed end to end with papermill at the smoke profile."""

import json

import pytest

from diffad_lib import runner


def _glued_markdown(output):
    """The Markdown of a table glued with ``report.glue_table`` (pasted by ``{glue:md}`` in a ``{table}``)."""
    return next(v for k, v in output["data"].items() if k.endswith("text/markdown"))


def _n_images(outputs):
    """PNG images shown directly or glued for a ``{glue:figure}``."""
    return sum(any(k.endswith("image/png") for k in o.get("data", {})) for o in outputs)


def _outputs(nb):
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            yield from cell.get("outputs", [])


def test_table_captions_fit_the_directive_line():
    """A ``{table}`` caption is the directive's argument, which MyST reads from its first line only.

    A caption that runs onto the next line turns ``:name:`` and the glued table into body text, and
    Sphinx rejects the directive ("exactly one table expected"); so the line after the caption must
    be its ``:name:`` option.
    """
    from pathlib import Path

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))
    assert notebooks
    broken = []
    for path in notebooks:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.lstrip("# ").startswith(":::{table}"):
                following = lines[number + 1].lstrip("# ") if number + 1 < len(lines) else ""
                if not following.startswith(":name:"):
                    broken.append(f"{path.name}:{number + 1}")
    assert not broken, f"table captions that run past the directive line: {broken}"


@pytest.mark.slow
def test_chapter_01_smoke(tmp_path):
    out = runner.run_chapter("01", profile="smoke", output=tmp_path / "01.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # Figs 1-6 (Figs 4-6 share one figure), the training data, the loss, the normal scores, the score plots,
    # the sweep
    assert _n_images(outputs) >= 8
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    figures = {"ch1_fig_data", "ch1_fig_forward", "ch1_fig_loss", "ch1_fig_samples", "ch1_fig_reverse",
               "ch1_fig_normal_scores", "ch1_fig_scores", "ch1_fig_sweep"}
    assert figures | {"ch1_table1", "ch1_sweep", "ch1_meets_paper", "ch1_train_seconds"} <= set(glued)
    table = _glued_markdown(glued["ch1_table1"])
    for k in (1, 10, 100, 500):
        assert f"| {k} |" in table  # the first row of each count (repeats are left blank)
    for method in ("diffusion (MLP)", "diffusion (MLP), percentile", "Isolation Forest", "random score"):
        assert table.count(f"| {method} |") == 4, method
    for column in ("F1-PA", "ROC-AUC", "PR-AUC", "VUS-PR", "precision", "FPR", "reported by the paper: accuracy"):
        assert column in table
    from diffad_lib.papers import paper_table

    accuracy = paper_table("zhang2023sequence", "table1")["accuracy (%)"]
    first_row = next(line for line in table.splitlines() if line.startswith("| 1 | diffusion (MLP) |"))
    assert f"| {accuracy.loc[1]:.3f} |" in first_row  # the paper's number beside ours, from the data file
    assert "the paper" in next(v for k, v in glued["ch1_table1_vs_paper"]["data"].items() if k.endswith("plain"))
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"


@pytest.mark.slow
def test_chapter_02_smoke(tmp_path):
    out = runner.run_chapter("02", profile="smoke", output=tmp_path / "02.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert _n_images(outputs) >= 6  # data tour, loss curves, Figs 3/4, Fig 5, Fig 6, the t0 / step sweep
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    tables = {"ch2_table1", "ch2_table2", "ch2_table3", "ch2_table4", "ch2_table5", "ch2_table6", "ch2_sweep",
              "ch2_table_schedule"}
    figures = {"ch2_fig_data", "ch2_fig_loss", "ch2_fig_recon", "ch2_fig_warmup", "ch2_fig_roc", "ch2_fig_sweep"}
    assert tables | figures | {"ch2_beats_baselines", "ch2_vus_wins", "ch2_train_seconds", "ch2_seconds"} <= set(glued)
    table3 = _glued_markdown(glued["ch2_table3"])
    for dataset in ("SMAP", "MSL", "SMD"):
        assert f"| {dataset} |" in table3
    for method in ("DiffADT (with entity ID)", "DiffADT (without entity ID)", "Isolation Forest", "random score"):
        assert table3.count(f"| {method} |") == 3, method
    assert table3.count("| reported by the paper | DiffADT (entity ID) |") == 3  # the paper's rows, per dataset
    for column in ("F1-PA", "precision (PA)", "recall (PA)", "event F1", "ROC-AUC", "PR-AUC", "VUS-PR"):
        assert column in table3
    table4 = _glued_markdown(glued["ch2_table4"])
    for kernel in ("hann", "hamming", "bartlett"):
        assert table4.count(f"| {kernel} |") == 4  # three datasets and the paper's row
    table5 = _glued_markdown(glued["ch2_table5"])
    for depth in (6, 12, 18, 24):
        assert table5.count(f"| {depth} |") == 2  # S4 and RES
    for key in ("ch2_table1", "ch2_table2", "ch2_table5", "ch2_table6"):
        assert "reported by the paper" in _glued_markdown(glued[key]), key
    verdict = next(v for k, v in glued["ch2_beats_baselines"]["data"].items() if k.endswith("text/plain"))
    assert verdict.strip("'") in ("yes", "no")
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"


@pytest.mark.slow
def test_chapter_03_smoke(tmp_path):
    from diffad_lib.experiments import display_name

    out = runner.run_chapter("03", profile="smoke", output=tmp_path / "03.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    figures = {"ch3_fig_tiles", "ch3_fig_pyramid", "ch3_fig_maps", "ch3_fig_lam", "ch3_fig_scalograms"}
    tables = {"ch3_counts", "ch3_inner_table", "ch3_table1", "ch3_table2", "ch3_table3", "ch3_lam_table",
              "ch3_audio_table"}
    assert figures | tables | {"ch3_seconds", "ch3_image_source", "ch3_audio_source"} <= set(glued)
    for name in figures:  # each figure is glued as an image, captioned by a glue:figure directive in the text
        assert any(k.endswith("image/png") for k in glued[name]["data"]), name
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for name in figures:
        assert f"{{glue:figure}} {name}\n" in markdown, name
    for name in tables | {"ch3_table2_series"}:  # numbered as tables, not captioned as figures
        assert f"{{glue:md}} {name}\n" in markdown and f"{{glue:figure}} {name}\n" not in markdown, name
    for cell in nb["cells"]:  # cells that draw a figure are folded on the page
        if cell["cell_type"] == "code" and "plt.subplots" in "".join(cell["source"]):
            assert "hide-input" in cell["metadata"].get("tags", []), "".join(cell["source"])[:80]
    # the tiles at the smoke profile: 10 images per kind, the real defect kinds of the photographs
    counts = _glued_markdown(glued["ch3_counts"])
    for kind in ("train/good", "test/good", "test/blowhole", "test/break", "test/crack", "test/fray", "test/uneven"):
        assert f"| {kind} |" in counts, kind
    table1 = _glued_markdown(glued["ch3_table1"])
    for method in ("patch_diffusion", "conv_ae", "feature_knn", "random"):
        assert table1.count(f"| {display_name(method)} |") == 7, method  # five kinds, all, mean
    assert table1.count("| plain DDPM U-Net |") == 7
    for row in ("blowhole (10)", "uneven (10)", "all (60)", "mean over kinds"):
        assert row in table1, row
    assert "image AUROC" in table1 and "pixel AUROC" in table1
    table2 = _glued_markdown(glued["ch3_table2"])
    header = table2.splitlines()[0]
    for column in ("F1", "F1-PA", "ROC-AUC", "PR-AUC", "VUS-PR"):
        assert f"| {column} |" in header, column
    for method in (f"{display_name('patch_diffusion')} 1-D", display_name("random"), display_name("iforest")):
        assert f"| {method} |" in table2, method
    assert "| NAB |" in table2 and "| UCR |" in table2
    table3 = _glued_markdown(glued["ch3_table3"])
    for variant in ("− wavelet", "− MHA", "− adapter", "− hybrid embedding"):
        assert variant in table3, variant
    assert "not available" in table3 or "(MVTec AD)" in table3  # the paper's column, filled where transcribed
    # the sound table: the smoke profile's three UrbanSound8K classes, each normal in turn, and their mean
    audio = _glued_markdown(glued["ch3_audio_table"])
    for row in ("air_conditioner", "car_horn", "dog_bark", "mean"):
        assert f"\n| {row} |" in audio, row
    assert "gun_shot" not in audio
    header = audio.splitlines()[0]
    for column in ("clips · train recordings", "clips · test normal", "clips · test other",
                   f"AUROC · {display_name('patch_diffusion')}"):
        assert f"| {column} |" in header, column
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"


@pytest.mark.slow
def test_chapter_04_smoke(tmp_path):
    from diffad_lib.experiments import display_name

    out = runner.run_chapter("04", profile="smoke", output=tmp_path / "04.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    figures = {"ch4_contam_fig", "ch4_miss_fig", "ch4_noise_fig", "ch4_imb_fig"}
    tables = {"ch4_reference", "ch4_contam_table", "ch4_miss_table", "ch4_extreme_table"}
    assert figures | tables | {"ch4_trim_verdict", "ch4_imb_ratio", "ch4_seconds"} <= set(glued)
    for name in figures:
        assert any(k.endswith("image/png") for k in glued[name]["data"]), name
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for name in tables:  # numbered as tables, not captioned as figures
        assert f"{{glue:md}} {name}\n" in markdown and f"{{glue:figure}} {name}\n" not in markdown, name
    for name in ("ch4_reference", "ch4_contam_table", "ch4_extreme_table"):
        table = _glued_markdown(glued[name])
        for method in ("diffadt", "iforest", "pca"):
            assert f"\n| {display_name(method)} |" in table, (name, method)
    assert f"\n| {display_name('diffadt')}, robust scaling |" in _glued_markdown(glued["ch4_extreme_table"])
    misses = _glued_markdown(glued["ch4_miss_table"])
    header = misses.splitlines()[0]
    for handling in ("forward fill", "linear interpolation", "interpolation, masked", "NaN, masked in the model"):
        assert f"| VUS-PR, {handling} |" in header, handling
    assert "ch4_miss_in_model" in glued  # DiffADT with the gaps as NaN, masked by the detector
    for pattern in ("random", "burst"):
        assert f"| {pattern} |" in misses, pattern
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"


@pytest.mark.slow
def test_chapter_05_smoke(tmp_path):
    import jupytext

    source = runner.resolve_chapter("05")
    # the reader's part of the recipe stays short: non-blank, non-comment lines of the "your-code" cells
    user_cells = [c for c in jupytext.read(source).cells if "your-code" in c.metadata.get("tags", [])]
    user_lines = [line for c in user_cells for line in c.source.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    assert user_cells and len(user_lines) < 20, len(user_lines)
    out = runner.run_chapter("05", profile="smoke", output=tmp_path / "05.ipynb", progress=False,
                             overrides={"work_dir": str(tmp_path / "work")})
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    figures = {"ch5_fig_flags", "ch5_fig_window", "ch5_fig_t0", "ch5_fig_rule", "ch5_fig_train"}
    assert figures | {"ch5_n_segments", "ch5_best_window", "ch5_best_t0", "ch5_best_rule", "ch5_seconds"} <= set(glued)
    assert all(any(k.endswith("image/png") for k in glued[f]["data"]) for f in figures)
    work = tmp_path / "work"
    assert (work / "nyc_taxi.csv").read_text().startswith("timestamp,value\n")
    assert (work / "detector.pt").stat().st_size > 0  # the saved detector, reloaded inside the chapter

"""Each chapter executed end to end with papermill at the smoke profile."""

import json

import pytest

from diffad_lib import runner


def _outputs(nb):
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            yield from cell.get("outputs", [])


@pytest.mark.slow
def test_chapter_01_smoke(tmp_path):
    out = runner.run_chapter("01", profile="smoke", output=tmp_path / "01.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    n_png = sum("image/png" in o.get("data", {}) for o in outputs)
    assert n_png >= 7  # Figs 1-6 (Figs 4-6 share one figure), the loss, the score plots, the sweep
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    assert {"ch1_table1", "ch1_sweep", "ch1_meets_paper", "ch1_train_seconds"} <= set(glued)
    table = glued["ch1_table1"]["data"]["text/html"]
    for k in (1, 10, 100, 500):
        assert f"<th>{k}</th>" in table
    for method in ("diffusion (MLP)", "diffusion (MLP), percentile", "Isolation Forest", "random score"):
        assert table.count(f">{method}<") == 4, method
    for column in ("F1-PA", "ROC-AUC", "PR-AUC", "VUS-PR", "precision", "FPR"):
        assert column in table
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"


@pytest.mark.slow
def test_chapter_02_smoke(tmp_path):
    out = runner.run_chapter("02", profile="smoke", output=tmp_path / "02.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    n_png = sum("image/png" in o.get("data", {}) for o in outputs)
    assert n_png >= 6  # data tour, loss curves, Figs 3/4, Fig 5, Fig 6, the t0 / step sweep
    # glue(..., display=False) stores its MIME bundle under the "application/papermill.record/" prefix
    glued = {o["metadata"]["scrapbook"]["name"]: {k.rsplit("/", 2)[-2] + "/" + k.rsplit("/", 2)[-1]: v
                                                  for k, v in o["data"].items()}
             for o in outputs if "scrapbook" in o.get("metadata", {})}
    tables = {"ch2_table1", "ch2_table2", "ch2_table3", "ch2_table4", "ch2_table5", "ch2_table6", "ch2_sweep"}
    assert tables | {"ch2_beats_baselines", "ch2_vus_wins", "ch2_train_seconds", "ch2_seconds"} <= set(glued)
    table3 = glued["ch2_table3"]["text/html"]
    for dataset in ("SMAP", "MSL", "SMD"):
        assert dataset in table3
    for method in ("DiffADT (with entity ID)", "DiffADT (without entity ID)", "Isolation Forest", "random score"):
        assert table3.count(method) == 3
    for column in ("F1-PA", "precision (PA)", "recall (PA)", "event F1", "ROC-AUC", "PR-AUC", "VUS-PR"):
        assert column in table3
    table4 = glued["ch2_table4"]["text/html"]
    for kernel in ("hann", "hamming", "bartlett"):
        assert table4.count(kernel) == 3
    table5 = glued["ch2_table5"]["text/html"]
    for depth in (6, 12, 18, 24):
        assert table5.count(f"<th>{depth}</th>") == 2  # S4 and RES
    assert glued["ch2_beats_baselines"]["text/plain"].strip("'") in ("yes", "no")
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["profile"] == "smoke" and record["parameters"]["profile"] == "smoke"

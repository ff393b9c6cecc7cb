import json

import numpy as np
import pandas as pd
import pytest

from diffad_lib.report import environment_info, glue, load_results, save_results


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

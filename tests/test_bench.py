"""The diffusion benchmark at its smoke configuration: it runs, and its JSON keeps its schema."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METRICS = {"train_windows_per_s", "reconstruct_ms_per_window_20", "reconstruct_ms_per_window_fast", "peak_mem_mb"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_diffusion", ROOT / "benchmarks" / "bench_diffusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke_record(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench_smoke.json"
    record = _bench().main(["--smoke", "--output", str(out)])
    return record, out


def test_smoke_json_schema(smoke_record) -> None:
    record, out = smoke_record
    assert json.loads(out.read_text()) == record  # what was printed is what was written
    assert set(record["meta"]) >= {"commit", "command", "device", "torch", "date"}
    assert "--smoke" in record["meta"]["command"]
    assert record["config"]["name"] == "smoke" and record["config"]["batch"] >= 1
    for path in ("ours", "naive"):
        assert set(record[path]) == METRICS, path
        for key, value in record[path].items():
            assert isinstance(value, float) and value > 0, (path, key, value)
    assert set(record["speedup"]) == {"train", "reconstruct_20", "reconstruct_fast"}
    assert record["speedup"]["train"] == pytest.approx(
        record["ours"]["train_windows_per_s"] / record["naive"]["train_windows_per_s"], rel=1e-2)
    assert record["speedup"]["reconstruct_20"] == pytest.approx(
        record["naive"]["reconstruct_ms_per_window_20"] / record["ours"]["reconstruct_ms_per_window_20"], rel=1e-2)


def test_smoke_paths_agree_sweep_and_profile(smoke_record) -> None:
    record, _ = smoke_record
    agreement = record["agreement"]
    assert agreement["eps_max_abs"] > 0.1  # a non-trivial output, so the comparison means something
    assert agreement["eps_max_abs_diff"] < 1e-4 * agreement["eps_max_abs"]  # fp32 on CPU: same function
    for knob in ("window", "n_layers", "residual_channels"):
        sweep = record["sweep"][knob]
        assert len(sweep["points"]) >= 2
        assert set(sweep["exponent"]) == {"train_step_s", "denoise_step_s"}
        assert all(p["train_step_s"] > 0 and p["denoise_step_s"] > 0 for p in sweep["points"])
    for table in record["profile"].values():
        assert table and {"operator", "self_ms", "share", "calls"} <= set(table[0])
        assert sum(row["share"] for row in table) <= 1.0 + 1e-6


def test_fit_exponent_recovers_a_power_law() -> None:
    bench = _bench()
    sizes = [10, 20, 40, 80]
    assert bench._fit_exponent(sizes, [3.0 * s**1.5 for s in sizes]) == pytest.approx(1.5)


def test_bad_arguments() -> None:
    bench = _bench()
    with pytest.raises(ValueError, match="config"):
        bench.run_benchmark(config="huge")
    with pytest.raises(ValueError, match="compile_mode"):
        bench.run_benchmark(config="smoke", compile_mode="maybe")
    with pytest.raises(ValueError, match="--peer"):
        bench._peer_model(ROOT / "tests", bench.CONFIGS["smoke"])


@pytest.mark.slow
def test_performance_page_smoke(tmp_path) -> None:
    from diffad_lib import runner

    out = runner.run_chapter("06", profile="smoke", output=tmp_path / "06.ipynb", progress=False)
    nb = json.loads(out.read_text())
    outputs = [o for cell in nb["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1  # the scaling plot
    glued = {o["metadata"]["scrapbook"]["name"]: o for o in outputs if "scrapbook" in o.get("metadata", {})}
    assert {"perf_table", "perf_targets", "perf_exponents", "perf_gpu_status", "perf_train_speedup"} <= set(glued)
    # the two tables are glued as Markdown for numbered {table} directives, each row named by what it measures
    for name in ("perf_table", "perf_targets"):
        table = next(v for k, v in glued[name]["data"].items() if k.endswith("text/markdown"))
        assert "\n| reconstruction, 20 steps (ms/window) |" in table, name
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "{glue:md} perf_table\n" in markdown and "{glue:md} perf_targets\n" in markdown

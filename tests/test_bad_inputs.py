"""The bad-input matrix: every registry method, the data loaders and the CLI against faulty input.

Each row either raises a ``ValueError``/``TypeError`` whose message names the faulty argument, or
is accepted with a result that is checked to be right (a huge test spike gets the top, finite
score; one extreme training value does not hide a later test spike). Rows that still give a
wrong result because of code outside the validation path are strict ``xfail`` with the cause.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffad_lib import cli
from diffad_lib import experiments as ex
from diffad_lib.data import load_nab, load_telemetry, load_ucr

TINY_UNET = {"base_channels": 8, "channel_mults": (1, 2), "n_heads": 2, "adapter_channels": 8, "time_dim": 16,
             "hybrid_kernels": 2}
# tiny, fast settings per registry name (each fit well under a second or two on one core)
SMALL: dict[str, dict] = {
    "diffusion": dict(window=16, hop=8, n_steps=20, t0=5, epochs=2, model_params={"hidden": 16, "n_layers": 1}),
    "diffadt": dict(window=16, hop=8, n_steps=20, t0=5, epochs=2,
                    model_params={"residual_channels": 8, "n_layers": 2, "layer": "res", "dilation_cycle": 2}),
    "exact_denoiser": dict(window=4, n_steps=20, t0=5),  # a memory of short windows, like the window baselines
    "patch_diffusion": dict(model_params=TINY_UNET, n_steps=20, t0=5, sample_steps=2, epochs=1, batch_size=8),
    "zscore": dict(window=2),
    "iforest": dict(window=4, n_estimators=10),
    "pca": dict(window=4, n_components=2),
    "kmeans": dict(window=4, n_clusters=3),
    "knn": dict(window=4),
    "ocsvm": dict(window=4, max_train=100),
    "kpca": dict(window=4, max_train=50, n_components=4),
    "autoencoder": dict(window=8, hop=4, epochs=2),
    "conv_ae": dict(epochs=2, channels=(4,), bottleneck=2),
    "feature_knn": dict(max_bank=500),
    "random": dict(),
}
NAMES = ex.method_names()
assert set(SMALL) == set(NAMES), "every registered method is in the matrix"
SERIES = [n for n in NAMES if ex.METHODS[n].input in ("series", "any")]
SAMPLES = [n for n in NAMES if ex.METHODS[n].input == "samples"]
# the series methods whose score follows the input values (the random floor does not)
SCORING_SERIES = [n for n in SERIES if n != "random"]


def _series(n: int = 240, seed: int = 0) -> np.ndarray:
    """Two smooth channels with a little noise: (n, 2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.column_stack([np.sin(t / 5), np.cos(t / 7)]) + 0.05 * rng.standard_normal((n, 2))


def _samples(n: int = 16) -> np.ndarray:
    """Smooth random images: (N, 1, 16, 16)."""
    rng = np.random.default_rng(0)
    base = np.sin(np.arange(16) / 3)[None, None, :, None] * np.cos(np.arange(16) / 4)[None, None, None, :]
    return base + 0.05 * rng.standard_normal((n, 1, 16, 16))


def _data(name: str) -> np.ndarray:
    return _samples() if name in SAMPLES else _series()


def _det(name: str, **params):
    return ex.make_detector(name, **{**SMALL[name], **params})


def _with(X: np.ndarray, index: tuple, value) -> np.ndarray:
    out = X.astype(np.result_type(X, np.asarray(value)))
    out[index] = value
    return out


# --------------------------------------------------------------------------- inputs refused, the argument named

def _bad_inputs(name: str) -> dict[str, object]:
    X = _data(name)
    mid = (len(X) // 2,) + (0,) * (X.ndim - 1)
    rows: dict[str, object] = {
        "nan": _with(X, mid, np.nan),
        "inf": _with(X, mid, np.inf),
        "-inf": _with(X, mid, -np.inf),
        "empty": X[:0],
        "complex": X + 1j,
        "strings": np.full(X.shape, "abc", dtype=object),
        "object_mixed": np.array([{"a": 1}] * len(X), dtype=object),
    }
    if name in SAMPLES:
        rows["ndim_2"] = X[:, 0, 0, :]
        rows["ndim_5"] = X[..., None]
    else:
        if name != "random":  # the random floor also accepts samples (N, C, *S)
            rows["ndim_3"] = X[:, :, None]
        rows["ndim_0"] = np.float64(1.0)
        if SMALL[name].get("window", 1) > 1:
            rows["too_short"] = X[: SMALL[name]["window"] - 1]
    return rows


MATRIX_REFUSED = [(name, row) for name in NAMES for row in _bad_inputs(name)]


@pytest.mark.parametrize(("name", "row"), MATRIX_REFUSED, ids=[f"{n}-{r}" for n, r in MATRIX_REFUSED])
def test_bad_training_input_is_refused_naming_x(name, row):
    X = _bad_inputs(name)[row]
    with pytest.raises((ValueError, TypeError), match=r"\bX\b"):
        _det(name).fit(X)


@pytest.mark.parametrize("name", NAMES)
def test_bad_test_input_is_refused_naming_x(name):
    det = _det(name).fit(_data(name))
    for row, X in _bad_inputs(name).items():
        with pytest.raises((ValueError, TypeError), match=r"\bX\b"):
            det.decision_function(X)
        assert row  # every row of the matrix was tried on the fitted detector


# --------------------------------------------------------------------------- parameters refused, named

def _params_of(name: str) -> set[str]:
    import inspect

    return set(inspect.signature(ex.METHODS[name].factory.__init__).parameters) - {"self"}


def _bad_params(name: str) -> list[tuple[str, dict, str]]:
    """(row, params, argument the message must name)."""
    p = _params_of(name)
    rows = [("bad_threshold", {"threshold": "bogus"}, "threshold"),
            ("val_fraction_1", {"val_fraction": 1.0}, "val_fraction"),
            ("threshold_params_list", {"threshold_params": [3]}, "threshold_params")]
    if "random_state" in p:
        rows.append(("random_state_none", {"random_state": None}, "random_state"))
        rows.append(("random_state_float", {"random_state": 1.5}, "random_state"))
    if "window" in p:
        rows.append(("window_float", {"window": float(SMALL[name].get("window", 16))}, "window"))
        rows.append(("window_0", {"window": 0}, "window"))
    if "hop" in p:
        rows.append(("hop_0", {"hop": 0}, "hop"))
    if "t0" in p:
        rows.append(("t0_0", {"t0": 0}, "t0"))
        rows.append(("t0_float", {"t0": 5.0}, "t0"))
        rows.append(("t0_above_n_steps", {"t0": 21}, "t0"))
    if "epochs" in p:
        rows.append(("epochs_0", {"epochs": 0}, "epochs"))
        rows.append(("epochs_float", {"epochs": 2.0}, "epochs"))
        rows.append(("epochs_str", {"epochs": "2"}, "epochs"))
    if "lr" in p:
        rows.append(("lr_negative", {"lr": -1e-3}, "lr"))
        rows.append(("lr_nan", {"lr": float("nan")}, "lr"))
    if "scaling" in p:
        rows.append(("bad_scaling", {"scaling": "zscore"}, "scaling"))
    if "reduce" in p:
        rows.append(("bad_reduce", {"reduce": "median"}, "reduce"))
    if "sampler" in p:
        rows.append(("bad_sampler", {"sampler": "euler"}, "sampler"))
    if "smoothing" in p:
        rows.append(("bad_smoothing", {"smoothing": "gauss"}, "smoothing"))
    if "image_score" in p:
        rows.append(("bad_image_score", {"image_score": "median"}, "image_score"))
    if "batch_size" in p:
        rows.append(("batch_size_0", {"batch_size": 0}, "batch_size"))
    if "n_samples" in p:
        rows.append(("n_samples_0", {"n_samples": 0}, "n_samples"))
    return rows


MATRIX_PARAMS = [(name, row, params, arg) for name in NAMES for row, params, arg in _bad_params(name)]


@pytest.mark.parametrize(("name", "row", "params", "arg"), MATRIX_PARAMS,
                         ids=[f"{n}-{r}" for n, r, _, _ in MATRIX_PARAMS])
def test_bad_parameter_is_refused_naming_it(name, row, params, arg):
    with pytest.raises((ValueError, TypeError), match=rf"\b{arg}\b"):
        _det(name, **params).fit(_data(name))
    assert row


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_name_lists_the_valid_ones(name):
    with pytest.raises(ValueError, match=r"got unknown \['windw'\]") as info:
        ex.make_detector(name, windw=3)
    assert "val_fraction" in str(info.value)  # the valid names are listed


def test_unknown_method_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"name must be one of .*'diffadt'.*got 'difadt'"):
        ex.make_detector("difadt")


# --------------------------------------------------------------------------- accepted, with a correct result

@pytest.mark.parametrize("name", NAMES)
def test_integer_and_float32_input_is_accepted_like_float64(name):
    X = _data(name)
    det = _det(name).fit(X)
    scores = det.decision_function(X.astype(np.float32))
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    np.testing.assert_allclose(scores, det.decision_function(X.astype(np.float32).astype(np.float64)))


@pytest.mark.parametrize("name", SCORING_SERIES)
def test_one_dimensional_series_is_one_channel(name):
    X = _series()[:, 0]
    det = _det(name).fit(X)
    assert det.n_features_in_ == 1
    np.testing.assert_array_equal(det.decision_function(X), det.decision_function(X[:, None]))


def _spike_rank(scores: np.ndarray, at: int) -> int:
    """How many time steps / samples score strictly above step ``at`` (0 = the top score)."""
    return int(np.sum(scores > scores[at]))


def _rows(names: list[str], values: tuple[float, ...]) -> list:
    """(name, value) parameters with readable ids."""
    return [pytest.param(name, value, id=f"{name}-{value:g}") for name in names for value in values]


def _top_of_its_windows(scores: np.ndarray, at: int, window: int) -> None:
    """The top score lies in a window that holds step ``at``, and step ``at`` is among the top ``window``."""
    assert np.isfinite(scores).all(), "non-finite scores"
    assert abs(int(np.argmax(scores)) - at) < window, f"top score at {int(np.argmax(scores))}, spike at {at}"
    assert _spike_rank(scores, at) < window, f"the spike's rank is {_spike_rank(scores, at)}"


# an ε-prediction denoiser's ε̂ is bounded, so a value far outside the training range would pass into x̂
# almost unchanged: the series score adds its excess beyond the training range, the sample adapter
# clips the model input and measures the distance to the unclipped value
@pytest.mark.parametrize(("name", "value"), _rows(SCORING_SERIES + SAMPLES, (1e3, 1e30)))
def test_huge_finite_test_value_gets_the_top_finite_score(name, value):
    X = _data(name)
    det = _det(name).fit(X)
    at = len(X) // 2
    index = (at,) + (0,) * (X.ndim - 1) if name in SAMPLES else (at, 0)
    spiked = _with(X, index, value)
    if value > 1e6:  # beyond OUT_OF_RANGE_FACTOR training scales: clipped, with a warning naming the channel
        with pytest.warns(RuntimeWarning, match=r"X: 1 value\(s\) in channel\(s\) \[0\]"):
            scores = det.decision_function(spiked)
    else:
        scores = det.decision_function(spiked)
    # a window's score is spread over its steps, so the spike's step shares the top with its windows
    _top_of_its_windows(scores, at, 1 if name in SAMPLES else SMALL[name].get("window", 1))


# one extreme training value squashes a channel through min-max scaling or standardisation, so a later
# test spike of a few units no longer stands out: robust scaling, and a training range (the series
# diffusion score's excess term) taken as a quantile, keep it visible for every method
@pytest.mark.parametrize(("name", "value"), _rows(SCORING_SERIES, (1e3, 1e30)))
def test_one_extreme_training_value_does_not_hide_a_test_spike(name, value):
    X = _series()
    train = _with(X, (40, 0), value)  # one glitch early in the training series
    det = _det(name).fit(train)
    at = len(X) // 2
    scores = det.decision_function(_with(X, (at, 0), 5.0))  # a spike of ~5 amplitudes
    _top_of_its_windows(scores, at, SMALL[name].get("window", 1))


@pytest.mark.parametrize("name", [n for n in NAMES if "random_state" in _params_of(n)])
def test_numpy_integer_random_state_is_accepted(name):
    X = _data(name)
    a = _det(name, random_state=np.int64(3)).fit(X).decision_function(X)
    b = _det(name, random_state=3).fit(X).decision_function(X)
    np.testing.assert_array_equal(a, b)


def test_the_callers_array_is_never_modified():
    X = _series()
    before = X.copy()
    _det("pca").fit(X).decision_function(X)
    np.testing.assert_array_equal(X, before)


# --------------------------------------------------------------------------- loaders

@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda root: load_telemetry("SMAPP", root=root), "dataset"),
        (lambda root: load_telemetry("SMAP", root=root, entities=["Z-99"]), "channels"),
        (lambda root: load_telemetry("SMD", root=root, entities=["machine-9-9"]), "machines"),
        (lambda root: load_ucr(100000, root=root), "id"),
        (lambda root: load_nab("no_such_series", root=root), "no_such_series"),
    ],
    ids=["dataset", "smap_channel", "smd_machine", "ucr_id", "nab_name"],
)
def test_loader_bad_names_are_refused(call, arg):
    root = os.environ.get("DIFFAD_DATA_ROOT")
    if not root or not (Path(root) / "smap_msl").is_dir():
        pytest.skip("needs the prepared data root (DIFFAD_DATA_ROOT)")
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=arg):
        call(root)


@pytest.mark.parametrize("loader", [lambda r: load_telemetry("SMAP", root=r), lambda r: load_telemetry("SMD", root=r),
                                    lambda r: load_ucr(1, root=r), lambda r: load_nab("nyc_taxi", root=r)],
                         ids=["smap", "smd", "ucr", "nab"])
def test_loader_on_an_empty_root_names_the_folder_and_the_fix(loader, tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare") as info:
        loader(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_loader_on_a_root_that_is_a_file(tmp_path):
    root = tmp_path / "root"
    root.write_text("not a folder")
    with pytest.raises((FileNotFoundError, NotADirectoryError), match="root"):
        load_telemetry("SMAP", root=root)


# --------------------------------------------------------------------------- CLI

def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, err


def _one_line_error(code: int, err: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err


def test_cli_data_root_that_is_a_file(tmp_path, capsys):
    root = tmp_path / "root"
    root.write_text("x")
    code, err = _cli(["data", "prepare", "nab", "--root", str(root), "--mirror", str(tmp_path)], capsys)
    _one_line_error(code, err)
    assert str(root) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_cli_read_only_data_root(tmp_path, capsys):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        code, err = _cli(["data", "prepare", "nab", "--root", str(root), "--mirror", str(tmp_path)], capsys)
    finally:
        root.chmod(0o700)
    _one_line_error(code, err)
    assert str(root) in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "01", "--profile", "smoke", "-p", "epochs", "notanumber"], "epochs"),
        (["run", "01", "--profile", "smoke", "-p", "no_such_param", "3"], "no_such_param"),
        (["run", "01", "--profile", "smoke", "-p", "epochs", "2.5"], "epochs"),
        (["run", "01", "--profile", "smoke", "-p", "window", "[1"], "window"),
        (["run", "99", "--profile", "smoke"], "99"),
        (["params", "99"], "99"),
    ],
    ids=["param_type", "param_name", "param_float_for_int", "param_bad_yaml", "chapter",
         "params_chapter"],
)
def test_cli_bad_chapter_arguments_fail_before_running(argv, named, capsys):
    code, err = _cli(argv, capsys)
    _one_line_error(code, err)
    assert named in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_cli_unwritable_output_fails_before_running(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, err = _cli(["run", "01", "--profile", "smoke", "-o", str(out / "x.ipynb")], capsys)
    finally:
        out.chmod(0o700)
    _one_line_error(code, err)
    assert str(out) in err


def test_cli_output_under_a_file_fails_before_running(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = _cli(["run", "01", "--profile", "smoke", "-o", str(blocker / "x.ipynb")], capsys)
    _one_line_error(code, err)
    assert f"{blocker} is a file" in err


def test_cli_data_root_below_a_file(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = _cli(["data", "prepare", "nab", "--root", str(blocker / "sub"), "--mirror", str(tmp_path)], capsys)
    _one_line_error(code, err)
    assert str(blocker / "sub") in err


def test_cli_bad_arguments_exit_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "diffad_lib.cli", "book", "--jobs", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--jobs" in proc.stderr

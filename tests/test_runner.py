import pytest

from diffad_lib import cli, runner


def test_chapters_and_resolution():
    table = runner.chapters()
    assert "01" in table and table["01"].name == "01_sine_mlp.py"
    assert runner.resolve_chapter("1") == table["01"]
    assert runner.resolve_chapter("01_sine_mlp") == table["01"]
    with pytest.raises(ValueError, match="unknown chapter '42'; available"):
        runner.resolve_chapter("42")


def test_parameters_and_profiles():
    params = runner.notebook_parameters(runner.resolve_chapter("01"))
    assert {"epochs", "window", "seed", "profile"} <= set(params)
    smoke = runner.chapter_parameters(runner.resolve_chapter("01"), profile="smoke", overrides={"epochs": 3})
    assert smoke["epochs"] == 3 and smoke["profile"] == "smoke"
    assert smoke["window"] == runner.load_profiles()["01_sine_mlp"]["smoke"]["window"]
    # every profile override names a real parameter of its chapter
    for stem, profiles in runner.load_profiles().items():
        valid = set(runner.notebook_parameters(runner.resolve_chapter(stem)))
        for values in profiles.values():
            assert set(values or {}) <= valid, (stem, set(values or {}) - valid)


def test_unknown_parameter_is_refused_with_valid_names():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['epochz'\].*valid parameters: \[.*'epochs'"):
        runner.chapter_parameters(runner.resolve_chapter("01"), overrides={"epochz": 3})
    with pytest.raises(ValueError, match="profile must be one of"):
        runner.chapter_parameters(runner.resolve_chapter("01"), profile="huge")


def test_parse_overrides_reads_yaml_values():
    assert runner.parse_overrides([("epochs", "3000"), ("lr", "1e-3"), ("sweep_windows", "[16, 32]"),
                                   ("profile", "smoke")]) == {
        "epochs": 3000, "lr": 1e-3, "sweep_windows": [16, 32], "profile": "smoke"}


def test_cli_reports_bad_parameters_and_exits_2(capsys):
    assert cli.main(["run", "01", "-p", "epochz", "3"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['epochz']" in err and "'epochs'" in err
    with pytest.raises(SystemExit):
        cli.main(["run", "01", "--profile", "giant"])


def test_cli_params_lists_parameters(capsys):
    assert cli.main(["params", "01"]) == 0
    out = capsys.readouterr().out
    assert "epochs = 2000" in out and "profile smoke" in out


def test_toc_lists_executable_chapters_in_order():
    ids = runner.toc_chapters()
    assert ids[0] == "01" and ids[-1] == "reproducibility"
    assert all(key in runner.chapters() for key in ids)

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

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


# --- a tiny book of our own: failures, interruptions and parallel runs without the real chapters ---

TINY = '''# %% tags=["parameters"]
fail = False
sleep = 0.0
label = "x"
profile = "default"

# %%
import time

time.sleep(sleep)
if fail:
    raise RuntimeError("boom")
print("finished", label)
'''


def _tiny_book(tmp_path, names=("01_tiny",), profiles=None):
    root = tmp_path / "book_root"
    (root / "notebooks").mkdir(parents=True)
    (root / "_config.yml").write_text("title: tiny\n")
    for name in names:
        (root / "notebooks" / f"{name}.py").write_text(TINY)
    (root / "notebooks" / "profiles.yaml").write_text(yaml.safe_dump(profiles or {}))
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": f"book/chapters/{n}"} for n in names]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc))
    return root


def _finished_label(path):
    nb = json.loads(path.read_text())
    texts = [o.get("text", "") for c in nb["cells"] for o in c.get("outputs", [])]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def test_failed_chapter_never_replaces_a_good_output(tmp_path):
    root = _tiny_book(tmp_path)
    out = runner.run_chapter("01", root=root, overrides={"label": "good"}, progress=False)
    cells = json.loads(out.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and all("hide-input" in c["metadata"]["tags"] for c in injected)
    record = json.loads(out.with_suffix(".run.json").read_text())
    assert record["status"] == "ok" and record["parameters"]["label"] == "good"
    good_nb, good_record = out.read_bytes(), out.with_suffix(".run.json").read_bytes()
    assert runner.verify_executed(out)["chapter"] == "01_tiny"

    with pytest.raises(runner.ChapterError, match=r"chapter 01_tiny failed in cell \d+: RuntimeError: boom"):
        runner.run_chapter("01", root=root, overrides={"fail": True, "label": "bad"}, progress=False)
    assert out.read_bytes() == good_nb and out.with_suffix(".run.json").read_bytes() == good_record
    failed = runner.failed_path(out)
    assert "RuntimeError" in failed.read_text()  # the traceback is kept for the reader, beside the good output
    assert not list(out.parent.glob(".*partial*"))  # no temporary file left behind
    runner.verify_executed(out)  # the good output is still publishable

    runner.run_chapter("01", root=root, overrides={"label": "again"}, progress=False)
    assert "finished again" in _finished_label(out) and not failed.exists()


def test_killed_chapter_leaves_the_previous_output_publishable(tmp_path):
    root = _tiny_book(tmp_path)
    out = runner.run_chapter("01", root=root, overrides={"label": "good"}, progress=False)
    good = out.read_bytes()
    env = {**os.environ, "DIFFAD_BOOK_ROOT": str(root), "PYTHONPATH": str(Path(runner.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "diffad_lib.cli", "run", "01", "-p", "sleep", "60"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        # papermill writes the partial notebook as soon as the kernel starts: kill the run mid-cell
        while not any(p.stat().st_size for p in out.parent.glob(".01_tiny.*.partial.ipynb")):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert out.read_bytes() == good
    runner.verify_executed(out)
    assert list(out.parent.glob(".01_tiny.*.partial.ipynb"))  # what the killed run left ...
    runner.run_chapter("01", root=root, progress=False)
    assert not list(out.parent.glob(".01_tiny.*.partial.ipynb"))  # ... is cleared by the next run


def test_book_refuses_partial_stale_or_unrecorded_notebooks(tmp_path, monkeypatch, capsys):
    root = _tiny_book(tmp_path, names=("01_tiny", "02_tiny"))
    chapters_dir = root / "book" / "chapters"
    out = runner.run_chapter("01", root=root, progress=False)
    marker = out.with_suffix(".run.json")

    # the case: a half-executed notebook beside the previous run's record
    nb = json.loads(out.read_text())
    nb["cells"][-1]["metadata"]["papermill"]["status"] = "running"
    nb["cells"][-1]["outputs"] = []
    out.write_text(json.dumps(nb))
    with pytest.raises(runner.ChapterError, match="01_tiny.*not the notebook its run record .* vouches for"):
        runner.verify_executed(out)
    # a record that vouches for this file but a cell that never finished is refused as well
    record = json.loads(marker.read_text())
    marker.write_text(json.dumps({**record, "notebook_sha256": runner._sha256(out)}))
    with pytest.raises(runner.ChapterError, match="01_tiny.*a cell left 'running'"):
        runner.verify_executed(out)
    marker.unlink()
    with pytest.raises(runner.ChapterError, match="01_tiny.*has no run record"):
        runner.verify_executed(out)

    # `diffad book --no-execute` names the chapter and builds nothing; --chapters limits the check
    monkeypatch.setattr(runner, "repo_root", lambda: root)
    assert cli.main(["book", "--no-execute", "--chapters", "01"]) == 1
    err = capsys.readouterr().err
    assert "01_tiny" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert cli.main(["book", "--no-execute", "--chapters", "02"]) == 1
    assert "chapter 02_tiny has no executed notebook" in capsys.readouterr().err
    assert not (root / "_build").exists()
    assert sorted(p.name for p in chapters_dir.iterdir()) == ["01_tiny.ipynb"]


def test_parallel_chapters_report_in_order_and_name_the_failure(tmp_path, capsys):
    root = _tiny_book(tmp_path, names=("01_tiny", "02_tiny"), profiles={"02_tiny": {"smoke": {"fail": True}}})
    # chapter 01 sleeps so that 02 (which fails at once) finishes first; the report stays in chapter order
    (root / "notebooks" / "profiles.yaml").write_text(yaml.safe_dump(
        {"01_tiny": {"smoke": {"sleep": 1.0}}, "02_tiny": {"smoke": {"fail": True}}}))
    with pytest.raises(runner.ChapterError, match=r"1 chapter\(s\) failed: .*02_tiny.*RuntimeError: boom") as info:
        runner.execute_chapters(["01", "02"], profile="smoke", jobs=2, root=root)
    assert "01_tiny" not in str(info.value)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert lines[0].startswith("[1/2] 01_tiny done") and lines[1] == "[2/2] 02_tiny FAILED"
    assert runner.verify_executed(root / "book" / "chapters" / "01_tiny.ipynb")["profile"] == "smoke"
    with pytest.raises(ValueError, match="jobs must be a positive integer; got 0"):
        runner.execute_chapters(["01"], jobs=0, root=root)


def test_parameters_are_type_checked_before_anything_runs(tmp_path, capsys):
    source = runner.resolve_chapter("01")
    with pytest.raises(TypeError, match=r"parameter 'epochs' of chapter 01_sine_mlp expects an integer "
                                        r"\(default \d+\); got 'notanumber' \(str\) from the overrides"):
        runner.chapter_parameters(source, overrides={"epochs": "notanumber"})
    with pytest.raises(TypeError, match="'epochs'.*got 3.5 \\(float\\)"):
        runner.chapter_parameters(source, overrides={"epochs": 3.5})
    assert runner.chapter_parameters(source, overrides={"epochs": 7})["epochs"] == 7
    root = _tiny_book(tmp_path, profiles={"01_tiny": {"smoke": {"sleep": "long"}}})
    with pytest.raises(TypeError, match=r"'sleep' of chapter 01_tiny expects a number .* from profiles.yaml \(smoke\)"):
        runner.chapter_parameters(root / "notebooks" / "01_tiny.py", profile="smoke", root=root)
    assert runner.chapter_parameters(root / "notebooks" / "01_tiny.py", overrides={"sleep": 2}, root=root)["sleep"] == 2
    start = time.perf_counter()
    assert cli.main(["run", "01", "-p", "epochs", "notanumber"]) == 2
    assert time.perf_counter() - start < 10  # refused before a kernel starts
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'epochs'" in err and "an integer" in err and "'notanumber'" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "42"], "unknown chapter '42'"),
        (["run", "01", "-o", "{file}/out.ipynb"], "cannot write the executed notebook"),
        (["data", "prepare", "--root", "{file}"], "cannot prepare the data under"),
        (["book", "--no-execute", "--chapters", "nine"], "unknown chapter 'nine'"),
    ],
)
def test_cli_errors_are_one_line_never_a_traceback(tmp_path, capsys, argv, expected):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    argv = [a.replace("{file}", str(a_file)) for a in argv]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code != 0 and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_turns_os_errors_and_unexpected_errors_into_one_line(monkeypatch, capsys):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/data/root")

    import diffad_lib.data

    monkeypatch.setattr(diffad_lib.data, "prepare", read_only)
    assert cli.main(["data", "prepare"]) == 1
    err = capsys.readouterr().err
    assert "Permission denied: /data/root" in err and err.count("\n") == 1

    def broken(*args, **kwargs):
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr(runner, "resolve_chapter", broken)
    monkeypatch.delenv("DIFFAD_DEBUG", raising=False)
    assert cli.main(["params", "01"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: something / unexpected" in err and err.count("\n") == 1


def test_selected_toc_keeps_prose_and_the_chosen_chapters(tmp_path):
    root = _tiny_book(tmp_path, names=("01_tiny", "02_tiny"))
    toc = yaml.safe_load(runner._selected_toc(root, {"02_tiny"}).read_text())
    assert toc["root"] == "intro" and toc["chapters"] == [{"file": "book/chapters/02_tiny"}]
    assert runner.select_chapters(["2"], root=root) == ["02"]
    assert runner.select_chapters(None, root=root) == ["01", "02"]

"""The CI workflows parse, call Make targets that exist, and run the same test command as .ci/run."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    # "name: prerequisites" at the start of a line; ":=" / "?=" are variable assignments
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M)}


def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict) and data.get("jobs"), f"{name} has no jobs"
    # YAML 1.1 reads the bare key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _make_calls(workflow: dict) -> list[list[str]]:
    calls = []
    for step in _steps(workflow):
        for line in str(step.get("run", "")).splitlines():
            words = line.split()
            if words[:1] == ["make"]:
                calls.append([w for w in words[1:] if "=" not in w and not w.startswith("-")])
    return calls


def _readme_test_command() -> str:
    match = re.search(r"`([^`]+)` is the project's test command", (ROOT / "README.md").read_text())
    assert match, "the README must name the project's test command"
    return match.group(1)


def test_every_workflow_parses_and_its_make_targets_exist():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"test.yml", "book.yml"}
    targets = _make_targets()
    assert {"test", "book", "install", "data"} <= targets
    for path in files:
        workflow = _workflow(path.name)
        calls = _make_calls(workflow)
        assert calls, f"{path.name} calls no Make target"
        for call in calls:
            assert call and set(call) <= targets, f"{path.name}: make {call} names a target the Makefile lacks"
        for step in _steps(workflow):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"unpinned action {step['uses']}"


def test_ci_script_and_test_workflow_run_the_readmes_test_command():
    command = _readme_test_command()
    assert command == "make test"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in [line for line in ci_lines if not line.startswith("#")]
    workflow = _workflow("test.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert [command.split()[1:]] == _make_calls(workflow)
    setup = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    cached = [s["with"]["path"] for s in _steps(workflow) if s.get("uses", "").startswith("actions/cache")]
    assert "data_root" in cached


@pytest.mark.parametrize("target", ["test", "book"])
def test_make_targets_the_workflows_use_run_the_diffad_book_command(target):
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, flags=re.M)
    assert recipe, f"no recipe for {target}"
    assert "diffad book --profile" in recipe.group(1)


def test_test_target_checks_the_built_pages_after_the_smoke_build():
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", text, flags=re.M).group(1).splitlines()
    build = next(i for i, line in enumerate(recipe) if "diffad book --profile smoke --strict" in line)
    checks = next(i for i, line in enumerate(recipe) if "tests/test_built_book.py" in line)
    assert build < checks and "DIFFAD_CHECK_BUILT_BOOK=1" in recipe[checks]


def test_book_workflow_publishes_the_default_build_on_main():
    workflow = _workflow("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert ["book"] in _make_calls(workflow)
    run = next(s["run"] for s in _steps(workflow) if "make book" in str(s.get("run", "")))
    assert "PROFILE=default" in run
    upload = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in _steps(workflow))
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    assert workflow["jobs"]["deploy"]["needs"] == "build"

"""environment.yml must stay equivalent to the pip install declared in pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pywavelets": "pywavelets", "soundfile": "pysoundfile"}


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_every_pyproject_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("book", "test"):
        wanted += project["optional-dependencies"][extra]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip_names = {_name(d) for d in pip if not d.startswith("-e")}
    missing = [r for r in wanted if CONDA_NAMES.get(_name(r), _name(r)) not in conda | pip_names]
    assert not missing, f"environment.yml lacks {missing}"
    assert "torch==2.13.0" in pip, "torch must be pinned identically in environment.yml"
    assert any(d.startswith("-e") for d in pip)


def test_jupyter_book_is_pinned_below_2():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(r.replace(" ", "") == "jupyter-book>=1.0.4,<2" for r in project["optional-dependencies"]["book"])

"""Run chapters with a profile and overrides through papermill, and build the book.

Chapters are py:percent files ``notebooks/NN_name.py``. A run converts one to ``.ipynb`` with
jupytext (kernel ``python3``), injects the profile's parameters and the user's overrides with
papermill, and writes the executed notebook to ``book/chapters/`` where Jupyter Book renders it
(``execute_notebooks: off``). Each run also writes ``<name>.run.json`` (profile, parameters,
wall time), which the reproducibility page reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PROFILES = ("smoke", "default", "full")


def repo_root() -> Path:
    """The checkout holding ``notebooks/`` and ``_config.yml`` (from the package location or the cwd)."""
    for candidate in (Path(__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents):
        if (candidate / "notebooks").is_dir() and (candidate / "_config.yml").is_file():
            return candidate
    raise FileNotFoundError(
        "could not find the diffad checkout (a folder with notebooks/ and _config.yml); run from the repository"
    )


def chapters(root: Path | None = None) -> dict[str, Path]:
    """Chapter ids (``"01"``, ``"02"`` ...) -> py:percent source, plus the ``reproducibility`` page."""
    root = root or repo_root()
    out: dict[str, Path] = {}
    for path in sorted((root / "notebooks").glob("*.py")):
        key = path.stem.split("_", 1)[0] if path.stem[:2].isdigit() else path.stem
        out[key] = path
    return out


def toc_chapters(root: Path | None = None) -> list[str]:
    """Chapter ids in the order ``_toc.yml`` lists their executed notebooks (``book/chapters/<stem>``)."""
    root = root or repo_root()
    with open(root / "_toc.yml") as fh:
        toc = yaml.safe_load(fh)
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    stems = [Path(f).name for f in files if Path(f).parent.as_posix() == "book/chapters"]
    table = chapters(root)
    by_stem = {path.stem: key for key, path in table.items()}
    missing = [s for s in stems if s not in by_stem]
    if missing:
        raise FileNotFoundError(f"_toc.yml lists {missing} but notebooks/ has no such chapter")
    return [by_stem[s] for s in stems]


def resolve_chapter(chapter: str, root: Path | None = None) -> Path:
    """Accept ``"01"``, ``"1"``, ``"01_sine_mlp"`` or a path; raise ``ValueError`` listing the chapters."""
    table = chapters(root)
    if Path(chapter).suffix == ".py" and Path(chapter).is_file():
        return Path(chapter).resolve()
    key = chapter.zfill(2) if chapter.isdigit() else chapter
    for k, path in table.items():
        if key in (k, path.stem):
            return path
    raise ValueError(f"unknown chapter {chapter!r}; available: {[p.stem for p in table.values()]}")


def load_profiles(root: Path | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``notebooks/profiles.yaml``: chapter stem -> profile -> parameter overrides."""
    path = (root or repo_root()) / "notebooks" / "profiles.yaml"
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def to_ipynb(source: Path, target: Path) -> Path:
    """Convert a py:percent chapter to ``.ipynb`` with the ``python3`` kernel papermill needs."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, target)
    return target


def notebook_parameters(source: Path) -> dict[str, Any]:
    """Names and defaults of the chapter's ``parameters`` cell."""
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        ipynb = to_ipynb(source, Path(tmp) / (source.stem + ".ipynb"))
        params = papermill.inspect_notebook(str(ipynb))
    return {name: p["default"] for name, p in params.items()}


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" as a string; papermill's CLI reads it as a float
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """``[("epochs", "3000")]`` -> ``{"epochs": 3000}``: values are read as YAML (numbers, lists, bools)."""
    return {name: _parse_value(value) for name, value in (pairs or [])}


def chapter_parameters(
    source: Path, *, profile: str = "default", overrides: dict[str, Any] | None = None, root: Path | None = None
) -> dict[str, Any]:
    """Parameters to inject: the profile's values, then the overrides; unknown names are refused."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}; got {profile!r}")
    valid = notebook_parameters(source)
    profile_params = dict(load_profiles(root).get(source.stem, {}).get(profile) or {})
    params = {**profile_params, **(overrides or {})}
    unknown = sorted(set(params) - set(valid))
    if unknown:
        where = "profiles.yaml" if set(unknown) & set(profile_params) else "overrides"
        raise ValueError(
            f"unknown parameter(s) {unknown} for chapter {source.stem} (from {where}); "
            f"valid parameters: {sorted(valid)}"
        )
    if "profile" in valid:
        params["profile"] = profile
    return params


def run_chapter(
    chapter: str | Path,
    *,
    profile: str = "default",
    overrides: dict[str, Any] | None = None,
    output: str | Path | None = None,
    root: Path | None = None,
    progress: bool = True,
) -> Path:
    """Execute one chapter with papermill; return the path of the executed notebook."""
    import papermill

    root = root or repo_root()
    source = resolve_chapter(str(chapter), root)
    params = chapter_parameters(source, profile=profile, overrides=overrides, root=root)
    out = Path(output) if output else root / "book" / "chapters" / (source.stem + ".ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ipynb = to_ipynb(source, Path(tmp) / (source.stem + ".ipynb"))
        start = time.perf_counter()
        # Figures must be captured as inline PNG outputs whatever backend the caller's shell set
        # (e.g. MPLBACKEND=Agg in CI); the kernel inherits this process's environment.
        previous = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            papermill.execute_notebook(
                str(ipynb), str(out), parameters=params, kernel_name="python3", cwd=str(source.parent),
                progress_bar=progress, report_mode=False,
            )
        finally:
            if previous is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = previous
        elapsed = time.perf_counter() - start
    record = {"chapter": source.stem, "profile": profile, "parameters": params, "seconds": round(elapsed, 1),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    out.with_suffix(".run.json").write_text(json.dumps(record, indent=2, default=str))
    return out


def build_book(
    *, profile: str = "default", chapter_ids: list[str] | None = None, strict: bool = False,
    root: Path | None = None, execute: bool = True,
) -> Path:
    """Execute every chapter listed in ``_toc.yml`` (the reproducibility page last) and build the book.

    ``strict`` turns Sphinx warnings into errors (``-W -n --keep-going``). Returns the path of
    ``_build/html/index.html``.
    """
    root = root or repo_root()
    table = chapters(root)
    listed = toc_chapters(root)
    ids = chapter_ids or [k for k in listed if k != "reproducibility"]
    if execute:
        order = ids + (["reproducibility"] if "reproducibility" in listed else [])
        for i, key in enumerate(order, 1):
            print(f"[{i}/{len(order)}] executing {table[key].stem} (profile {profile}) ...", flush=True)
            start = time.perf_counter()
            run_chapter(key, profile=profile, root=root, progress=False)
            print(f"[{i}/{len(order)}] {table[key].stem} done in {time.perf_counter() - start:.0f} s", flush=True)
    # jupyter-book's CLI has no ``python -m`` entry point; call its main() with this interpreter.
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(root)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print("building the book: jupyter-book", " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, cwd=root)
    index = root / "_build" / "html" / "index.html"
    print(f"book ready: open {index}", flush=True)
    return index

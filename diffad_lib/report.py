"""Helpers the chapters use to publish numbers and describe the machine a run used."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "papermill", "jupyter-book",
            "myst-nb", "PyWavelets", "ptwt")


def glue(name: str, value: Any, *, display: bool = False) -> Any:
    """Publish ``value`` under ``name`` for the book's ``{glue}`` roles (myst-nb).

    Falls back to doing nothing when myst-nb is not installed (running a chapter outside the
    book). Returns ``value`` so it can be used inline.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # the book extra is not installed: nothing to publish to
        return value
    _glue(name, value, display=display)
    return value


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader (or the book build) sees either the previous complete file or the new complete one,
    never a half-written file, even if the process is killed mid-write. Returns ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; the file is meant to be read like any other
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def environment_info() -> dict[str, str]:
    """Versions of the main libraries, Python, the OS, CPU count, torch threads, GPU and git commit."""
    import torch

    info: dict[str, str] = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    info["cpu_count"] = str(os.cpu_count())
    info["torch_threads"] = str(torch.get_num_threads())
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    info["commit"] = git_commit()
    return info


def git_commit(path: str | Path | None = None) -> str:
    """Short commit hash of the repository at ``path`` (cwd by default), with ``+dirty`` if modified."""
    try:
        cwd = str(path) if path is not None else None
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=cwd,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=cwd, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def results_dir() -> Path:
    """The repository's ``results/`` folder (committed JSON of full-profile runs)."""
    from diffad_lib.runner import repo_root

    return repo_root() / "results"


def save_results(name: str, tables: dict[str, Any], *, command: str, directory: str | Path | None = None) -> Path:
    """Write ``results/<name>.json``: the tables with the device, commit, command, date and versions.

    ``tables`` maps a key to a pandas DataFrame (stored as records with its index reset). The file
    is what a chapter shows beside its own run; nothing in it is typed by hand.
    """
    import json
    import time

    info = environment_info()
    record = {
        "name": name,
        "device": info["gpu"] if info["gpu"] != "none" else f"CPU ({info['cpu_count']} cores)",
        "commit": info["commit"],
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "environment": info,
        "tables": {key: {"index": list(df.index.names), "records": df.reset_index().to_dict(orient="records")}
                   for key, df in tables.items()},
    }
    folder = Path(directory) if directory is not None else results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(folder / f"{name}.json", json.dumps(record, indent=1, default=float))


def load_results(name: str, *, directory: str | Path | None = None) -> dict[str, Any] | None:
    """The record written by :func:`save_results`, with its tables as DataFrames; ``None`` if absent."""
    import json

    import pandas as pd

    path = (Path(directory) if directory is not None else results_dir()) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        record["tables"] = {key: pd.DataFrame(t["records"]).set_index(t["index"])
                            for key, t in record["tables"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a results file written by save_results ({exc})") from exc
    return record

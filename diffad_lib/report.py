"""Helpers the chapters use to publish numbers and describe the machine a run used."""

from __future__ import annotations

import os
import platform
import subprocess
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

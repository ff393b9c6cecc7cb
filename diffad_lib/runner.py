"""Run chapters with a profile and overrides through papermill, and build the book.

Chapters are py:percent files ``notebooks/NN_name.py``. A run converts one to ``.ipynb`` with
jupytext (kernel ``python3``), injects the profile's parameters and the user's overrides with
papermill, and writes the executed notebook to ``book/chapters/`` where Jupyter Book renders it
(``execute_notebooks: off``). Each run also writes ``<name>.run.json`` (profile, parameters,
wall time and the checksum of the notebook it vouches for), which the reproducibility page reads.

Both files are written to a temporary name and renamed, notebook first: a failed or killed run
never replaces a good executed notebook, and ``diffad book`` refuses to publish a notebook that
its run record does not vouch for (see :func:`verify_executed`).
"""

from __future__ import annotations

import ast
import concurrent.futures
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from diffad_lib.report import atomic_write_text

PROFILES = ("smoke", "default", "full")

#: Name of the record ``build_book`` leaves in ``_build/html`` (what was built, when, how).
BUILD_RECORD = ".diffad-build.json"


class ChapterError(RuntimeError):
    """A chapter failed or was interrupted, or its executed notebook cannot be published."""


def repo_root() -> Path:
    """The checkout holding ``notebooks/`` and ``_config.yml``.

    ``$DIFFAD_BOOK_ROOT`` when set (how ``diffad book --jobs`` hands its book to the processes it
    starts), else the package's own checkout, else the working directory or one above it.
    """
    pinned = [Path(os.environ["DIFFAD_BOOK_ROOT"])] if os.environ.get("DIFFAD_BOOK_ROOT") else []
    for candidate in (*pinned, Path(__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents):
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



@functools.lru_cache(maxsize=32)
def _inspect(source: Path, mtime_ns: int) -> dict[str, dict[str, Any]]:
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        ipynb = to_ipynb(source, Path(tmp) / (source.stem + ".ipynb"))
        return papermill.inspect_notebook(str(ipynb))


def notebook_parameters(source: Path) -> dict[str, Any]:
    """Names and defaults (as written in the source) of the chapter's ``parameters`` cell."""
    params = _inspect(Path(source), Path(source).stat().st_mtime_ns)
    return {name: p["default"] for name, p in params.items()}


_UNKNOWN = object()  # a default that is not a Python literal: its type cannot be checked


def parameter_defaults(source: Path) -> dict[str, Any]:
    """The parameters cell's defaults as Python values (an opaque marker where not a literal)."""
    out: dict[str, Any] = {}
    for name, text in notebook_parameters(source).items():
        try:
            out[name] = ast.literal_eval(str(text))
        except (ValueError, SyntaxError):
            out[name] = _UNKNOWN
    return out


def _fits(value: Any, default: Any) -> bool:
    """Whether ``value`` may replace ``default`` (ints where floats are expected; lists element-wise)."""
    if default is None or default is _UNKNOWN:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, list | tuple):
        if not isinstance(value, list | tuple):
            return False
        if not default or len({type(d) for d in default}) != 1:  # empty or mixed: only the container
            return True
        return all(_fits(v, default[0]) for v in value)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, type(default))


def _type_name(default: Any) -> str:
    if isinstance(default, list | tuple) and default and len({type(d) for d in default}) == 1:
        return f"a list of {_type_name(default[0])}s"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             tuple: "a list", dict: "a mapping"}
    return names.get(type(default), type(default).__name__)


def check_parameter_types(params: dict[str, Any], *, source: Path, origin: str) -> None:
    """Refuse values whose type does not match the default in the chapter's parameters cell.

    Parameters
    ----------
    params : dict
        Parameter name -> value to inject.
    source : Path
        The chapter's py:percent file.
    origin : str
        Where the values come from, for the message (``"profiles.yaml (smoke)"``, ``"the overrides"``).

    Raises
    ------
    TypeError
        Naming the parameter, the expected type (with the default) and the received value.
    """
    defaults = parameter_defaults(source)
    for name, value in params.items():
        default = defaults.get(name, _UNKNOWN)
        if not _fits(value, default):
            raise TypeError(
                f"parameter {name!r} of chapter {source.stem} expects {_type_name(default)} "
                f"(default {default!r}); got {value!r} ({type(value).__name__}) from {origin}"
            )


def _parse_value(text: str, *, name: str = "value") -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"parameter {name}: {text!r} is not a valid YAML value ({problem})") from None
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" as a string; papermill's CLI reads it as a float
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """``[("epochs", "3000")]`` -> ``{"epochs": 3000}``: values are read as YAML (numbers, lists, bools)."""
    return {name: _parse_value(value, name=name) for name, value in (pairs or [])}


def chapter_parameters(
    source: Path, *, profile: str = "default", overrides: dict[str, Any] | None = None, root: Path | None = None
) -> dict[str, Any]:
    """Parameters to inject: the profile's values, then the overrides.

    Unknown names are refused (``ValueError``) and every value is type-checked against the
    parameters cell's default (``TypeError``) before anything runs.
    """
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
    check_parameter_types(profile_params, source=source, origin=f"profiles.yaml ({profile})")
    check_parameter_types(overrides or {}, source=source, origin="the overrides")
    if "profile" in valid:
        params["profile"] = profile
    return params




def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _os_error_text(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")


def failed_path(out: Path) -> Path:
    """Where a failed run leaves its partial notebook: beside the good one, never over it."""
    return Path(out).with_name(Path(out).stem + ".failed.ipynb")


def _fold_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``hide-input``: the page shows the profile line the
    chapter prints, and the reader can unfold the values."""
    nb = json.loads(path.read_text())
    changed = False
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
            changed = True
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def run_chapter(
    chapter: str | Path,
    *,
    profile: str = "default",
    overrides: dict[str, Any] | None = None,
    output: str | Path | None = None,
    root: Path | None = None,
    progress: bool = True,
) -> Path:
    """Execute one chapter with papermill; return the path of the executed notebook.

    Parameters are resolved and type-checked before anything runs. The notebook is executed into
    a temporary file beside ``output`` and renamed over it only when every cell succeeded; then
    ``<output>.run.json`` is written the same way. A failed or interrupted run leaves its notebook
    (with the traceback) at ``<output stem>.failed.ipynb`` and the previous good output untouched.

    Raises
    ------
    ChapterError
        A cell failed or the run was interrupted.
    OSError
        The output folder cannot be created or written (named in the message).
    """
    import papermill

    root = root or repo_root()
    source = resolve_chapter(str(chapter), root)
    params = chapter_parameters(source, profile=profile, overrides=overrides, root=root)
    out = Path(output) if output else root / "book" / "chapters" / (source.stem + ".ipynb")
    blocking = next((p for p in (out.parent, *out.parent.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise NotADirectoryError(f"cannot write the executed notebook {out}: {blocking} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Creating the partial file also proves, before minutes of execution, that the folder is writable.
        fd, partial_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".partial.ipynb")
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the executed notebook is read like any page
        os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write the executed notebook {out} ({_os_error_text(exc)})") from None
    partial = Path(partial_name)
    for stale in out.parent.glob(f".{out.stem}.*.partial.ipynb"):  # left by a killed run of this chapter
        if stale != partial:
            stale.unlink(missing_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ipynb = to_ipynb(source, Path(tmp) / (source.stem + ".ipynb"))
            start = time.perf_counter()
            # Figures must be captured as inline PNG outputs whatever backend the caller's shell set
            # (e.g. MPLBACKEND=Agg in CI); the kernel inherits this process's environment.
            previous = os.environ.get("MPLBACKEND")
            os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
            try:
                papermill.execute_notebook(
                    str(ipynb), str(partial), parameters=params, kernel_name="python3", cwd=str(source.parent),
                    progress_bar=progress, report_mode=False,
                )
            finally:
                if previous is None:
                    os.environ.pop("MPLBACKEND", None)
                else:
                    os.environ["MPLBACKEND"] = previous
            elapsed = time.perf_counter() - start
    except BaseException as exc:
        kept = ""
        if partial.is_file() and partial.stat().st_size > 0:
            os.replace(partial, failed_path(out))
            kept = f"; the notebook with the traceback is {failed_path(out)}"
        partial.unlink(missing_ok=True)
        untouched = f"; {out} was left as it was" if out.exists() else ""
        if type(exc).__name__ == "PapermillExecutionError":
            raise ChapterError(f"chapter {source.stem} failed in cell {exc.exec_count}: "
                               f"{exc.ename}: {exc.evalue}{kept}{untouched}") from None
        if isinstance(exc, KeyboardInterrupt):
            raise ChapterError(f"chapter {source.stem} was interrupted{kept}{untouched}") from None
        raise
    _fold_injected_parameters(partial)
    os.replace(partial, out)
    failed_path(out).unlink(missing_ok=True)
    record = {"chapter": source.stem, "profile": profile, "parameters": params, "seconds": round(elapsed, 1),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "status": "ok", "notebook": out.name,
              "notebook_sha256": _sha256(out)}
    atomic_write_text(out.with_suffix(".run.json"), json.dumps(record, indent=2, default=str))
    return out


def verify_executed(out: Path) -> dict[str, Any]:
    """Check that ``out`` is a complete, successful run vouched for by its ``.run.json``; return the record.

    Raises
    ------
    ChapterError
        Naming the notebook and why it cannot be published: missing; no run record; a record
        that does not vouch for this file (a partial or interrupted run, or a notebook written
        before or after the recorded run); or a notebook holding an error or an unfinished cell.
    """
    out = Path(out)
    name = out.stem
    if not out.is_file():
        raise ChapterError(f"chapter {name} has no executed notebook ({out}); run `diffad run {name}` first")
    marker = out.with_suffix(".run.json")
    if not marker.is_file():
        raise ChapterError(f"chapter {name}: {out} has no run record ({marker.name}); it was not completed by "
                           f"`diffad run`: re-run the chapter")
    try:
        record = json.loads(marker.read_text())
    except ValueError as exc:
        raise ChapterError(f"chapter {name}: unreadable run record {marker} ({exc})") from None
    if record.get("status") != "ok" or record.get("notebook_sha256") != _sha256(out):
        age = "older" if out.stat().st_mtime < marker.stat().st_mtime else "newer"
        raise ChapterError(
            f"chapter {name}: {out} is not the notebook its run record {marker.name} vouches for (the notebook "
            f"is {age} than the record: a partial, interrupted or foreign run); re-run the chapter"
        )
    try:
        nb = json.loads(out.read_text())
    except ValueError as exc:
        raise ChapterError(f"chapter {name}: {out} is not a complete notebook ({exc})") from None
    if (nb.get("metadata", {}).get("papermill") or {}).get("exception"):
        raise ChapterError(f"chapter {name}: {out} records a failed execution; re-run the chapter")
    for cell in nb.get("cells", []):
        status = (cell.get("metadata", {}).get("papermill") or {}).get("status")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or status not in (None, "completed"):
            what = f"an error ({errors[0].get('ename')})" if errors else f"a cell left {status!r}"
            raise ChapterError(f"chapter {name}: {out} holds {what}; re-run the chapter")
    return record


def default_jobs() -> int:
    """Chapters executed at a time by default: one per core (each chapter runs torch on one thread)."""
    return max(1, os.cpu_count() or 1)


def _run_in_subprocess(key: str, *, profile: str, root: Path, log: Path) -> tuple[int, float]:
    """``diffad run KEY`` in a fresh interpreter with its output in ``log``; (exit code, seconds)."""
    import diffad_lib

    env = dict(os.environ)
    package_parent = str(Path(diffad_lib.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    env["DIFFAD_BOOK_ROOT"] = str(root)
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "diffad_lib.cli", "run", key, "--profile", profile],
                              cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc.returncode, time.perf_counter() - start


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def execute_chapters(
    keys: list[str], *, profile: str = "default", jobs: int | None = None, root: Path | None = None
) -> dict[str, float]:
    """Execute chapters, ``jobs`` at a time in separate processes, reported in the given order.

    Every chapter runs even when another fails; the failures are then raised together. With
    ``jobs=1`` the chapters run one after the other in this process.

    Returns
    -------
    dict
        Chapter id -> wall seconds of its run.

    Raises
    ------
    ValueError
        ``jobs`` is not a positive integer.
    ChapterError
        Naming each failed chapter with its error (and its log when run in a separate process).
    """
    root = root or repo_root()
    jobs = default_jobs() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}")
    table = chapters(root)
    jobs = min(jobs, max(1, len(keys)))
    seconds: dict[str, float] = {}
    failures: list[str] = []
    start = time.perf_counter()
    if jobs == 1:
        for i, key in enumerate(keys, 1):
            print(f"[{i}/{len(keys)}] executing {table[key].stem} (profile {profile}) ...", flush=True)
            t = time.perf_counter()
            try:
                run_chapter(key, profile=profile, root=root, progress=False)
            except ChapterError as exc:
                failures.append(str(exc))
                print(f"[{i}/{len(keys)}] {table[key].stem} FAILED", flush=True)
                continue
            seconds[key] = time.perf_counter() - t
            print(f"[{i}/{len(keys)}] {table[key].stem} done in {seconds[key]:.0f} s", flush=True)
    else:
        log_dir = root / "book" / "chapters"
        log_dir.mkdir(parents=True, exist_ok=True)
        logs = {key: log_dir / f"{table[key].stem}.log" for key in keys}
        print(f"executing {len(keys)} chapters, {jobs} at a time (profile {profile}) ...", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {key: pool.submit(_run_in_subprocess, key, profile=profile, root=root, log=logs[key])
                       for key in keys}
            for i, key in enumerate(keys, 1):  # chapter order, whatever order they finish in
                code, took = futures[key].result()
                if code == 0:
                    seconds[key] = took
                    print(f"[{i}/{len(keys)}] {table[key].stem} done in {took:.0f} s", flush=True)
                else:
                    failures.append(f"{_last_line(logs[key])} (exit {code}; log {logs[key]})")
                    print(f"[{i}/{len(keys)}] {table[key].stem} FAILED", flush=True)
    print(f"executed {len(seconds)} of {len(keys)} chapter(s) in {time.perf_counter() - start:.0f} s "
          f"with {jobs} job(s)", flush=True)
    if failures:
        raise ChapterError(f"{len(failures)} chapter(s) failed: " + " | ".join(failures))
    return seconds


def _selected_toc(root: Path, keep: set[str]) -> Path:
    """A copy of ``_toc.yml`` without the chapter notebooks whose stems are not in ``keep``."""
    with open(root / "_toc.yml") as fh:
        toc = yaml.safe_load(fh)

    def dropped(item: Any) -> bool:
        return (isinstance(item, dict) and isinstance(item.get("file"), str)
                and Path(item["file"]).parent.as_posix() == "book/chapters" and Path(item["file"]).name not in keep)

    def prune(node: Any) -> Any:
        if isinstance(node, list):
            kept = [prune(item) for item in node if not dropped(item)]
            return [item for item in kept if not (isinstance(item, dict) and item.get("chapters") == [])]
        if isinstance(node, dict):
            return {k: prune(v) for k, v in node.items()}
        return node

    target = root / "_build" / "_toc.selected.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(target, yaml.safe_dump(prune(toc), sort_keys=False))


def select_chapters(chapter_ids: list[str] | None, *, root: Path | None = None) -> list[str]:
    """Book chapter ids for ``--chapters`` (all of ``_toc.yml`` by default), without the reproducibility page.

    Raises
    ------
    ValueError
        An unknown chapter, or one that ``_toc.yml`` does not list.
    """
    root = root or repo_root()
    table = chapters(root)
    listed = toc_chapters(root)
    if not chapter_ids:
        return [k for k in listed if k != "reproducibility"]
    ids: list[str] = []
    for chapter in chapter_ids:
        stem = resolve_chapter(str(chapter), root).stem
        key = next((k for k, path in table.items() if path.stem == stem), None)
        if key not in listed:
            raise ValueError(f"chapter {chapter!r} is not in _toc.yml; the book lists {listed}")
        if key != "reproducibility" and key not in ids:
            ids.append(key)
    return ids


def build_book(
    *, profile: str = "default", chapter_ids: list[str] | None = None, strict: bool = False,
    root: Path | None = None, execute: bool = True, jobs: int | None = None,
) -> Path:
    """Execute the chapters listed in ``_toc.yml`` (the reproducibility page last) and build the book.

    ``chapter_ids`` limits the book to those chapters (executed, checked and built; the prose
    pages and the reproducibility page stay). ``execute=False`` runs nothing and builds from the
    executed notebooks in ``book/chapters``. Either way every notebook is checked with
    :func:`verify_executed` before the build: nothing failed, partial or unvouched-for is
    published. ``jobs`` chapters run at a time (default: the number of cores). ``strict`` turns
    Sphinx warnings into errors (``-W -n --keep-going``). Returns ``_build/html/index.html``.

    Raises
    ------
    ValueError
        An unknown chapter id or a bad ``jobs``.
    ChapterError
        A chapter failed, or an executed notebook cannot be published (named).
    """
    root = root or repo_root()
    table = chapters(root)
    ids = select_chapters(chapter_ids, root=root)
    tail = ["reproducibility"] if "reproducibility" in toc_chapters(root) else []
    if execute:
        execute_chapters(ids, profile=profile, jobs=jobs, root=root)
        execute_chapters(tail, profile=profile, jobs=1, root=root)  # it reads the others' run records
    for key in ids + tail:
        verify_executed(root / "book" / "chapters" / (table[key].stem + ".ipynb"))
    # jupyter-book's CLI has no ``python -m`` entry point; call its main() with this interpreter.
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(root)]
    if chapter_ids:
        cmd += ["--toc", str(_selected_toc(root, {table[k].stem for k in ids + tail}))]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print("building the book: jupyter-book", " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, cwd=root)
    html = root / "_build" / "html"
    record = {"profile": profile, "chapters": [table[k].stem for k in ids + tail], "strict": strict,
              "executed": execute, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    atomic_write_text(html / BUILD_RECORD, json.dumps(record, indent=2))
    index = html / "index.html"
    print(f"book ready: open {index}", flush=True)
    return index

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


def column_label(column: Any) -> str:
    """One header for a column: the non-empty parts of a MultiIndex column joined by " · "."""
    if isinstance(column, tuple):
        return " · ".join(str(part) for part in column if str(part))
    return str(column)


def flat_columns(df: Any) -> Any:
    """``df`` with every column named by :func:`column_label` (one header per column)."""
    out = df.copy()
    out.columns = [column_label(c) for c in df.columns]
    return out


def save_results(name: str, tables: dict[str, Any], *, command: str, directory: str | Path | None = None) -> Path:
    """Write ``results/<name>.json``: the tables with the device, commit, command, date and versions.

    ``tables`` maps a key to a pandas DataFrame (stored as records with its index reset and its
    columns named by :func:`column_label`, as JSON needs). The file is what a chapter shows beside
    its own run; nothing in it is typed by hand.
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
        "tables": {key: {"index": list(df.index.names),
                         "records": flat_columns(df).reset_index().to_dict(orient="records")}
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


# --------------------------------------------------------------------------- tables and figures on the page
#
# A chapter glues a table as Markdown and the page pastes it inside a ``{table}`` directive, so
# Sphinx numbers and captions it as a table (``{numref}`` then says "Table N"); a figure is glued
# as a PNG and pasted with ``{glue:figure}``, which gives it a number, a caption and alt text.

#: Label of the row group / column prefix that holds numbers copied from a paper.
PAPER_LABEL = "reported by the paper"


def _cell(value: Any, digits: int) -> str:
    import numpy as np

    if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return "—"
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(df: Any, *, digits: int = 3) -> str:
    """A DataFrame as a Markdown (GFM) table: index levels become the first columns.

    Floats are shown with ``digits`` decimals, missing values as "—", and a repeated value of the
    outermost index level is left blank so that row groups read as groups. Column levels are
    joined into one header per column, ``"AUROC · conv autoencoder"``.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    flat = df.reset_index() if any(n is not None for n in df.index.names) else df.reset_index(drop=True)
    header = [column_label(c).replace("|", "\\|") for c in flat.columns]
    rows, previous = [], object()
    for record in flat.itertuples(index=False):
        cells = [_cell(v, digits) for v in record]
        if df.index.nlevels > 1 and cells[0] == previous:
            cells[0] = ""
        else:
            previous = cells[0]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows])


class MarkdownTable:
    """A table as glued for the book: Markdown for ``{glue:md}``, HTML when shown in Jupyter."""

    def __init__(self, df: Any, *, digits: int = 3) -> None:
        self.df, self.digits = df, digits

    def _repr_markdown_(self) -> str:
        return markdown_table(self.df, digits=self.digits)

    def _repr_html_(self) -> str:
        return self.df.round(self.digits).to_html()


def glue_table(name: str, df: Any, *, digits: int = 3) -> Any:
    """Glue ``df`` under ``name`` as a Markdown table (not displayed here); return ``df``.

    The page shows it with a numbered caption::

        :::{table} What to look at.
        :name: ch1-table1
        ```{glue:md} ch1_table1
        :format: myst
        ```
        :::
    """
    glue(name, MarkdownTable(df, digits=digits))
    return df


def glue_figure(name: str, fig: Any, *, dpi: int = 100) -> None:
    """Glue a matplotlib figure under ``name`` as a PNG (for ``{glue:figure}``) and close it.

    The PNG is rendered here rather than by the notebook's display hook, so the page gets the
    same image whatever matplotlib backend the kernel runs.
    """
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    try:
        from IPython.display import Image
    except ImportError:  # outside Jupyter there is no page to paste into
        return
    glue(name, Image(data=buffer.getvalue(), format="png"))


def profile_line(profile: str, **settings: Any) -> str:
    """One line that says which profile and settings produced the page (printed under the parameters)."""
    parts = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in settings.items())
    return f"profile {profile!r}: {parts}" if parts else f"profile {profile!r}"


def plot_row(curves: Any, titles: Any, *, height: float = 2.4, width: float = 14.0) -> Any:
    """One panel per entry of ``curves``, side by side with a shared y axis, titled by ``titles``.

    Each entry is a curve of shape (L,) or several curves of shape (n, L) drawn in one panel.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    curves, titles = list(curves), list(titles)
    if not curves or len(curves) != len(titles):
        raise ValueError(f"curves and titles must be non-empty and of one length; got {len(curves)} and "
                         f"{len(titles)}")
    fig, axes = plt.subplots(1, len(curves), figsize=(width, height), sharey=True, squeeze=False)
    for ax, y, title in zip(axes[0], curves, titles, strict=True):
        ax.plot(np.asarray(y).T, lw=0.8)
        ax.set_title(title, fontsize=9)
    return fig


def plot_score_examples(examples: dict[Any, tuple[Any, Any]], *, threshold: float, steps: int = 1000) -> Any:
    """One row per example: the first ``steps`` scores, the threshold and the labelled points marked.

    ``examples`` maps a row label (e.g. the number of injected anomalies k) to ``(labels (n,),
    scores (n,))``; points are marked rather than shaded since point anomalies are one step wide.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not examples:
        raise ValueError("examples must hold at least one (labels, scores) pair")
    fig, axes = plt.subplots(len(examples), 1, figsize=(12, 2.2 * len(examples)), sharex=True, squeeze=False)
    for ax, (key, (labels, scores)) in zip(axes[:, 0], examples.items(), strict=True):
        scores = np.asarray(scores)
        idx = np.flatnonzero(np.asarray(labels)[:steps])
        ax.plot(scores[:steps], lw=0.8, label="score |x − x̂|")
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label="threshold (3σ on normal data)")
        ax.scatter(idx, scores[idx], color="C3", s=12, zorder=3, label="injected anomaly")
        ax.set_ylabel(f"k = {key}")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel(f"t (first {steps} steps)")
    return fig


# --------------------------------------------------------------------------- the papers' numbers beside ours


def beside_paper(ours: Any, paper: Any, *, columns: dict[str, str], on: str | None = None,
                 rows: Any = None) -> Any:
    """``ours`` with some of the paper's columns added, each named ``"reported by the paper: <name>"``.

    Parameters
    ----------
    ours : pandas.DataFrame
        This run's table.
    paper : pandas.DataFrame
        The paper's table (:func:`diffad_lib.papers.paper_table`), indexed like ``ours`` or like
        its index level ``on``.
    columns : dict
        Paper column -> name shown after the prefix.
    on : str, optional
        Index level of ``ours`` that matches the paper's index (default: the whole index).
    rows : array-like of bool, optional
        Shape (len(ours),): the rows the paper's numbers apply to (others show "—").
    """
    import numpy as np

    keys = ours.index.get_level_values(on) if on is not None else ours.index
    out = ours.copy()
    for source, shown in columns.items():
        if source not in paper.columns:
            raise ValueError(f"columns must name columns of the paper's table {list(paper.columns)}, got {source!r}")
        values = paper[source].reindex(keys).to_numpy(dtype=float)
        if rows is not None:
            values = np.where(np.asarray(rows, dtype=bool), values, np.nan)
        out[f"{PAPER_LABEL}: {shown}"] = values
    return out


def stack_paper(ours: Any, paper: Any, *, ours_label: str, level: str = "source") -> Any:
    """Rows of ``ours`` and of ``paper`` in one table, told apart by a new outer index level.

    Both must share their index names and the columns to compare; the paper's rows are marked
    :data:`PAPER_LABEL`. Columns only one side has show "—" on the other.
    """
    import pandas as pd

    if list(ours.index.names) != list(paper.index.names):
        raise ValueError(f"paper must be indexed like ours ({ours.index.names}), got {paper.index.names}")
    return pd.concat({ours_label: ours, PAPER_LABEL: paper}, names=[level])


def per_dataset(paper: Any, *, rename: dict[str, str], level: str = "dataset") -> Any:
    """A paper table with ``"<dataset> <metric>"`` columns as rows ``(dataset, ...)`` × metrics.

    ``rename`` maps the paper's metric names to ours (``{"mF1": "F1-PA"}``); other metrics are dropped.
    """
    import pandas as pd

    parts = {}
    for column in paper.columns:
        dataset, _, metric = str(column).partition(" ")
        if metric in rename:
            parts.setdefault(dataset, {})[rename[metric]] = paper[column]
    if not parts:
        raise ValueError(f"rename must name metrics of the columns {list(paper.columns)}, got {list(rename)}")
    return pd.concat({ds: pd.DataFrame(cols) for ds, cols in parts.items()}, names=[level])


def agreement(ours: Any, paper: Any, *, what: str, tolerance: float) -> str:
    """A sentence on where this run's numbers meet the paper's: within ``tolerance``, above, or below.

    ``ours`` and ``paper`` are Series with the same index (the rows compared); rows where either
    is missing are left out.
    """
    import pandas as pd

    both = pd.DataFrame({"ours": ours, "paper": paper}).dropna()
    if both.empty:
        return f"No {what} can be compared with the paper."
    diff = both["ours"] - both["paper"]
    groups = {"within ±" + f"{tolerance:g} of": diff.abs() <= tolerance, "above": diff > tolerance,
              "below": diff < -tolerance}
    parts = [f"{label} the paper for {', '.join(map(str, both.index[mask]))}"
             for label, mask in groups.items() if mask.any()]
    return f"On {what}, this run is " + "; ".join(parts) + f" (mean difference {diff.mean():+.3f})."


# --------------------------------------------------------------------------- ablations over seeds


def ablation_table(runs: Any, *, reference: str, metrics: Any, verdict_on: str | None = None,
                   reference_label: str = "reference") -> Any:
    """Mean ± std over seeds of each variant's metrics, the paired Δ to the reference, and a verdict.

    Δ is the difference to the reference variant *of the same seed* (negative: the variant is
    worse). The verdict reads the mean Δ of ``verdict_on`` against its seed-to-seed std: within
    the spread, the removal is "not supported by this run"; below it, "supported" (removing the
    module hurts); above it, "contradicted". With one seed there is no spread and no verdict.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per (variant, seed): columns ``"variant"``, ``"seed"`` and the ``metrics``.
    reference : str
        The variant every other is compared with (the full model); it must have run on every seed.
    metrics : sequence of str
        Metric columns of ``runs`` (higher = better).
    verdict_on : str, optional
        The metric of the verdict (default: the first of ``metrics``).
    reference_label : str, default "reference"
        How the Δ columns name the reference: ``"Δ <metric> vs <reference_label> (paired)"``.

    Returns
    -------
    DataFrame indexed by variant (in order of first appearance) with one ``"mean ± std"`` string
    column per metric and per Δ, and ``"verdict"``.
    """
    import numpy as np
    import pandas as pd

    metrics = list(metrics)
    verdict_on = metrics[0] if verdict_on is None else verdict_on
    missing = [c for c in ("variant", "seed", *metrics) if c not in runs.columns]
    if missing:
        raise ValueError(f"runs must have the columns variant, seed and the metrics; missing {missing}")
    if verdict_on not in metrics:
        raise ValueError(f"verdict_on must be one of the metrics {metrics}; got {verdict_on!r}")
    ref = runs[runs["variant"] == reference].set_index("seed")
    seeds = runs["seed"].unique()
    if ref.index.has_duplicates or not set(seeds) <= set(ref.index):
        raise ValueError(f"reference {reference!r} must have run exactly once on every seed {sorted(seeds)}")
    runs = runs[["variant", "seed", *metrics]].copy()
    deltas = {m: f"Δ {m} vs {reference_label} (paired)" for m in metrics}
    for m, col in deltas.items():
        runs[col] = runs[m] - runs["seed"].map(ref[m])
    stats = runs.drop(columns="seed").groupby("variant", sort=False).agg(["mean", "std"]).fillna(0.0)
    table = pd.DataFrame({col: [f"{mu:.3f} ± {sd:.3f}" for mu, sd in stats[col].to_numpy()]
                          for col in [*metrics, *deltas.values()]}, index=stats.index)
    d = stats[deltas[verdict_on]]
    table["verdict"] = np.select(
        [d.index == reference, np.full(len(d), len(seeds) < 2), d["mean"].abs() <= d["std"], d["mean"] < 0],
        ["—", "one seed only: no verdict", "within the seed-to-seed spread: not supported by this run",
         "removal hurts by more than the spread: supported"], "removal helps by more than the spread: contradicted")
    return table


# --------------------------------------------------------------------------- telemetry pages (Chapter 2)


def shown_channel(entity: Any) -> int:
    """The channel a page plots for an entity: telemetry for SMAP/MSL, the most disturbed metric for SMD.

    For SMD, the metric whose mean inside the first labelled segment lies most standard deviations
    (of the training split) away from its training mean; metrics nearly constant in training are
    skipped, since any change of theirs would win trivially.
    """
    import numpy as np

    from diffad_lib import metrics

    if entity.command_channels:
        return int(entity.telemetry_channels[0])
    segments = metrics.segments(entity.labels)
    if not segments:
        return 0
    s, e = segments[0]
    mu, sd = entity.train.mean(axis=0), entity.train.std(axis=0)
    z = np.abs(entity.test[s:e].mean(axis=0) - mu) / np.maximum(sd, 1e-6)
    z[sd < 1e-3] = -np.inf
    return int(np.argmax(z))


def shade(ax: Any, labels: Any, *, offset: int = 0) -> None:
    """Shade the labelled segments of ``labels`` (shape (n,), 0/1) on ``ax``, shifted by ``offset``."""
    from diffad_lib import metrics

    for s, e in metrics.segments(labels):
        ax.axvspan(offset + s, offset + e, color="C3", alpha=0.2, lw=0)


def telemetry_statistics(summaries: dict[str, Any], data: dict[str, list[Any]]) -> Any:
    """Table 1 of Chapter 2: statistics of every available entity, and of the entities a run uses.

    ``summaries`` maps a dataset to :func:`diffad_lib.data.dataset_summary` indexed by entity (with
    its ``"total"`` row); ``data`` maps it to the (truncated) entities of the run.
    """
    import numpy as np
    import pandas as pd

    rows = {}
    for ds, summ in summaries.items():
        total, used = summ.loc["total"], data[ds]
        rows[ds] = {
            "entities": len(summ) - 1, "channels": int(total["channels"]),
            "command channels": len(used[0].command_channels) if used else np.nan,
            "train steps": int(total["train_length"]), "test steps": int(total["test_length"]),
            "anomalous test steps": int(total["anomalous_points"]), "anomaly segments": int(total["segments"]),
            "anomaly ratio (%)": 100 * float(total["anomaly_ratio"]), "entities in this run": len(used),
            "test steps in this run": sum(len(e.test) for e in used),
            "anomaly ratio in this run (%)": 100 * float(np.mean(np.concatenate([e.labels for e in used])))
            if used else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")


def plot_entities(data: dict[str, list[Any]]) -> Any:
    """One row per dataset: the first entity's training split, then its test split with labels shaded.

    SMAP/MSL rows mark the steps where a command was active with ticks under the curve.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(data), 1, figsize=(12, 2.4 * len(data)), squeeze=False)
    for ax, (ds, entities) in zip(axes[:, 0], data.items(), strict=True):
        ent = entities[0]
        c, n_tr = shown_channel(ent), len(ent.train)
        ax.plot(np.arange(n_tr), ent.train[:, c], lw=0.6, color="C0", label="train")
        ax.plot(n_tr + np.arange(len(ent.test)), ent.test[:, c], lw=0.6, color="C1", label="test")
        shade(ax, ent.labels, offset=n_tr)
        ax.axvline(n_tr, color="k", lw=0.8)
        if ent.command_channels:
            both = np.concatenate([ent.train, ent.test])[:, list(ent.command_channels)]
            active = np.flatnonzero(both.sum(axis=1))
            ax.scatter(active, np.full(len(active), ax.get_ylim()[0]), marker="|", s=20, color="0.4", lw=0.5)
        ax.set_title(f"{ds} {ent.name}, channel {c}", fontsize=10)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time step (training split, then test split; shaded: labelled anomalies)")
    fig.tight_layout()
    return fig


def plot_reconstructions(runs: dict[tuple[str, str], Any], data: dict[str, list[Any]], *, variants: list[str],
                         window: int, kernel: str, kernel_size: int) -> Any:
    """Figs. 3/4 of Chapter 2: per dataset and variant, series and reconstruction around the first anomaly,
    and below it the smoothed distance with the three-sigma threshold of the training scores.

    ``runs[dataset, variant]`` is a :class:`diffad_lib.experiments.FitReport` kept with its
    reconstructions; one column per variant.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from diffad_lib import experiments as ex
    from diffad_lib import metrics
    from diffad_lib.scoring import smooth

    fig = plt.figure(figsize=(13, 3.6 * len(data)), layout="constrained")
    grid = fig.add_gridspec(2 * len(data), len(variants), height_ratios=[2, 1] * len(data))
    for r, (ds, entities) in enumerate(data.items()):
        ent = entities[0]
        s0, e0 = metrics.segments(ent.labels)[0]
        c, pad = shown_channel(ent), max(3 * window, e0 - s0)
        a, b = max(0, s0 - pad), min(len(ent.test), e0 + pad)
        t = np.arange(a, b)
        for col, variant in enumerate(variants):
            sc = runs[ds, variant].scores[0]
            thr = ex.evaluate_entities([sc], kind=kernel, size=kernel_size)["threshold"].iloc[0]
            top = fig.add_subplot(grid[2 * r, col])
            top.plot(t, sc.reconstruction[a:b, c], lw=0.8, color="C1", label="reconstruction x̂")
            top.plot(t, ent.test[a:b, c], lw=0.9, color="0.15", label="test series x")
            top.set_title(f"{ds} {ent.name} — {variant}", fontsize=10)
            top.tick_params(labelbottom=False)
            bottom = fig.add_subplot(grid[2 * r + 1, col], sharex=top)
            bottom.plot(t, smooth(sc.test_scores, kind=kernel, size=kernel_size)[a:b], lw=0.8, color="C2",
                        label=f"smoothed L1 ({kernel}, {kernel_size})")
            bottom.axhline(thr, color="k", ls="--", lw=0.8, label="three-sigma threshold (training)")
            for ax in (top, bottom):
                shade(ax, ent.labels[a:b], offset=a)
                if r == 0:
                    ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_knob_sweep(sweep: Any, *, xlabels: dict[str, str]) -> Any:
    """Error on normal steps (left axis) and ROC-AUC (right axis) against each knob of a sweep.

    ``sweep`` is indexed by (knob, value) with columns ``"L1 error (normal steps)"`` and
    ``"ROC-AUC"``; ``xlabels`` maps each knob to its axis label. Knob values are on a log axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, len(xlabels), figsize=(5.5 * len(xlabels), 3.2), squeeze=False)
    for ax, (knob, xlabel) in zip(axes[0], xlabels.items(), strict=True):
        part = sweep.loc[knob]
        ax.plot(part.index, part["L1 error (normal steps)"], "o-", color="C0")
        ax.set(xlabel=xlabel, ylabel="L1 error on normal steps", xscale="log")
        ax.set_xticks(part.index, [str(v) for v in part.index])
        ax.xaxis.set_minor_formatter(NullFormatter())
        twin = ax.twinx()
        twin.plot(part.index, part["ROC-AUC"], "s--", color="C3")
        twin.set_ylabel("ROC-AUC", color="C3")
    fig.tight_layout()
    return fig


def training_summary(report: Any, *, kernel: str, kernel_size: int) -> dict[str, float]:
    """Loss level and spread over the last fifth of the epochs, and the ROC-AUC of the smoothed score.

    ``report`` is a :class:`diffad_lib.experiments.FitReport` of a diffusion detector.
    """
    import numpy as np

    from diffad_lib import experiments as ex

    losses = report.detector.detector_.train_losses_
    return {"final loss (last 20 % of epochs)": float(np.mean(losses[-max(2, len(losses) // 5):])),
            "loss std (last 20 % of epochs)": ex.loss_stability(losses),
            "ROC-AUC (smoothed score)": float(ex.evaluate_entities(report.scores, kind=kernel,
                                                                   size=kernel_size)["roc_auc"].mean())}


def mean_entity_metrics(reports: dict[tuple[str, str], Any], *, smoothed: Any, kernel: str,
                        kernel_size: int) -> Any:
    """Mean over entities of every metric, one row per ``(dataset, method)`` key of ``reports``.

    A method in ``smoothed`` (the diffusion variants) is scored on its smoothed distance against three
    sigma of its smoothed training scores; any other against the threshold each entity's detector
    fitted (``threshold_``).
    """
    import pandas as pd

    from diffad_lib import experiments as ex
    from diffad_lib import metrics

    rows = {}
    for key, rep in reports.items():
        if key[1] in smoothed:
            per_entity = ex.evaluate_entities(rep.scores, kind=kernel, size=kernel_size)
        else:
            per_entity = pd.DataFrame([metrics.evaluate(s.labels, s.test_scores, rep.detector.threshold_[i])
                                       for i, s in enumerate(rep.scores)])
        rows[key] = per_entity.mean(numeric_only=True)
    table = pd.DataFrame(rows).T.rename_axis(["dataset", "method"])
    columns = ["precision_pa", "recall_pa", "f1_pa", "precision", "recall", "f1", "f1_event", "roc_auc", "pr_auc",
               "vus_pr"]
    return table[columns].rename(columns=metrics.METRIC_COLUMNS)


def plot_pooled_roc(reports: dict[str, dict[str, Any]], *, smoothed: Any, kernel: str, kernel_size: int,
                    mark_z: float = 3.0) -> tuple[Any, dict[tuple[str, str], float]]:
    """Fig. 6 of Chapter 2: one panel per dataset with the ROC curve of each method's pooled scores.

    Scores are pooled over entities after standardising each entity by its training scores
    (:func:`diffad_lib.experiments.pooled_scores`); a method in ``smoothed`` is smoothed with
    ``kernel`` / ``kernel_size`` first (the others unsmoothed), and its curve marks the point
    where z = ``mark_z`` (the three-sigma rule).

    Parameters
    ----------
    reports : dict
        Dataset -> {method: :class:`~diffad_lib.experiments.FitReport`} in legend order.
    smoothed : collection of str
        The methods scored on their smoothed distance (the diffusion variants).

    Returns
    -------
    (figure, {(dataset, method): pooled ROC-AUC})
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import roc_curve

    from diffad_lib import experiments as ex
    from diffad_lib import metrics

    if not reports:
        raise ValueError("reports must map at least one dataset to its methods' FitReports")
    fig, axes = plt.subplots(1, len(reports), figsize=(4.2 * len(reports), 4), squeeze=False)
    aucs = {}
    for ax, (ds, methods) in zip(axes[0], reports.items(), strict=True):
        for key, rep in methods.items():
            y, z = ex.pooled_scores(rep.scores, kind=kernel if key in smoothed else "none", size=kernel_size)
            (fpr, tpr, thr), aucs[ds, key] = roc_curve(y, z), metrics.roc_auc(y, z)
            ax.plot(fpr, tpr, lw=1.2, label=f"{key} (AUC {aucs[ds, key]:.3f})")
            if key in smoothed:  # thresholds decrease: the first one at or below z = mark_z
                i = min(np.searchsorted(-thr, -mark_z), len(fpr) - 1)
                ax.plot(fpr[i], tpr[i], "o", ms=4, color=ax.lines[-1].get_color())
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":", label="random")
        ax.set(title=ds, xlabel="false-positive rate", ylabel="true-positive rate")
        ax.legend(fontsize=7, loc="lower right")
    return fig, aucs


# --------------------------------------------------------------------------- your own data (Chapter 5)


def plot_flags(time: Any, values: Any, scores: Any, *, threshold: float, flags: Any, labels: Any = None) -> Any:
    """The series with its flagged segments (top) and the score with the threshold (bottom).

    Parameters
    ----------
    time : array-like, shape (n,)
        x axis (timestamps or positions).
    values, scores, flags : array-like, shape (n,)
        The series, its anomaly score and the 0/1 decisions ``score > threshold``.
    threshold : float
        Drawn as a dashed line on the score.
    labels : array-like, shape (n,), optional
        Known anomalies (if the data has any), outlined for comparison.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from diffad_lib import metrics

    time = np.asarray(time)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 4.5), sharex=True, height_ratios=[2, 1])
    top.plot(time, values, lw=0.6, color="0.2")
    bottom.plot(time, scores, lw=0.6, color="C0", label="anomaly score")
    bottom.axhline(threshold, color="k", ls="--", lw=0.8, label="threshold")
    for i, (s, e) in enumerate(metrics.segments(np.asarray(flags))):
        for ax in (top, bottom):
            ax.axvspan(time[s], time[min(e, len(time) - 1)], color="C3", alpha=0.35, lw=0,
                       label="flagged" if i == 0 and ax is bottom else None)
    # a one-step segment is too narrow to see as a span: its points are marked as well
    flagged = np.asarray(flags).astype(bool)
    top.scatter(time[flagged], np.asarray(values)[flagged], s=8, color="C3", zorder=3, label="flagged")
    if labels is not None:
        for i, (s, e) in enumerate(metrics.segments(np.asarray(labels))):
            top.axvspan(time[s], time[min(e, len(time) - 1)], fill=False, ec="C2", lw=1.2,
                        label="known anomaly window" if i == 0 else None)
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_ylabel("score")
    top.set_ylabel("value")
    fig.tight_layout()
    return fig


def plot_sweep(table: Any, *, xlabel: str, log_x: bool = False) -> Any:
    """One small panel per column of ``table`` against its index (the swept setting).

    ``table`` has shape (n_settings, n_quantities); a string index gives evenly spaced points.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, table.shape[1], figsize=(3.6 * table.shape[1], 2.8), squeeze=False)
    for ax, column in zip(axes[0], table.columns, strict=True):
        x = table.index.astype(str) if table.index.dtype == object else table.index
        ax.plot(x, table[column], "o-", lw=1.2)
        ax.set(title=column, xlabel=xlabel)
        if log_x and table.index.dtype != object:
            ax.set_xscale("log")
            ax.set_xticks(table.index, [str(v) for v in table.index])
            ax.minorticks_off()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the front page


#: The committed leaderboard the front page shows (relative to the repository root).
LEADERBOARD = Path("results") / "leaderboard_default.json"

#: What a leaderboard file must hold for every method of every dataset.
LEADERBOARD_METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1", "f1_pa", "n_series")


def load_leaderboard(path: str | Path) -> dict[str, Any] | None:
    """The leaderboard record at ``path``; ``None`` when the file does not exist (yet).

    Schema: ``{"meta": {"commit", "command", "device", "date", "profile"}, "datasets": {DATASET:
    {METHOD: {"vus_pr", "pr_auc", "roc_auc", "f1", "f1_pa", "n_series"}}}}``.

    Raises
    ------
    ValueError
        If the file exists but does not follow the schema (the message names what is missing).
    """
    import json

    path = Path(path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from exc
    missing = [k for k in ("meta", "datasets") if not isinstance(record, dict) or k not in record]
    if missing:
        raise ValueError(f"{path} must hold 'meta' and 'datasets', missing {missing}")
    for dataset, methods in record["datasets"].items():
        for method, values in methods.items():
            absent = [m for m in LEADERBOARD_METRICS if m not in values]
            if absent:
                raise ValueError(f"{path}: {dataset}/{method} lacks {absent}")
    return record


def _method_kind(name: str) -> str:
    if name == "random" or name.startswith("random"):
        return "random"
    try:
        from diffad_lib.experiments import METHODS
    except ImportError:  # a build without torch still tells the families apart by name
        METHODS = {}
    if name in METHODS:
        return METHODS[name].kind
    return "diffusion" if "diff" in name.lower() else "baseline"


def _display(name: str) -> str:
    try:
        from diffad_lib.experiments import METHODS
    except ImportError:
        return name
    return METHODS[name].display if name in METHODS else name


def leaderboard_table(record: dict[str, Any]) -> Any:
    """Per dataset: the best diffusion method, the best baseline (both by VUS-PR) and the random score.

    Returns a DataFrame indexed by dataset with, for each of the three, the method's name, its
    VUS-PR and its point-wise F1; a family a dataset has no method of shows "—".
    """
    import numpy as np
    import pandas as pd

    rows = {}
    for dataset, methods in record["datasets"].items():
        row: dict[str, Any] = {}
        for kind, label in (("diffusion", "best diffusion"), ("baseline", "best baseline"), ("random", "random")):
            family = {m: v for m, v in methods.items() if _method_kind(m) == kind}
            best = max(family, key=lambda m: family[m]["vus_pr"]) if family else None
            if kind != "random":
                row[label] = _display(best) if best else np.nan
            row[f"{label}: VUS-PR"] = family[best]["vus_pr"] if best else np.nan
            row[f"{label}: F1"] = family[best]["f1"] if best else np.nan
        row["series"] = max(int(v["n_series"]) for v in methods.values()) if methods else 0
        rows[dataset] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")


def leaderboard_markdown(path: str | Path, *, figure: str | None = None) -> str:
    """The front page's headline block in MyST Markdown: a captioned table, its provenance and a figure.

    ``figure`` is the image path (as the page refers to it) of :func:`plot_leaderboard`'s output;
    without it no figure is shown. When the file is absent, a note says the results are not yet
    generated and how to generate them.
    """
    record = load_leaderboard(path)
    if record is None:
        return ("```{note}\nThe headline results are not yet generated: the committed file "
                f"`{Path(path).name}` is absent. Running the benchmark at the `default` profile writes it, "
                "and the next build of the book shows it here.\n```\n")
    meta = record["meta"]
    table = markdown_table(leaderboard_table(record), digits=3)
    text = (":::{table} Per dataset, the best diffusion method and the best baseline by VUS-PR, and the "
            "random score, with VUS-PR and point-wise F1 (thresholds from normal data only). Look at the gap "
            "to the random row before the gap between the methods.\n:name: tab-leaderboard\n"
            f"{table}\n:::\n\n"
            f"*Profile `{meta.get('profile', '?')}`, commit `{meta.get('commit', '?')}`, "
            f"{meta.get('device', '?')}, {meta.get('date', '?')}; command `{meta.get('command', '?')}`.*\n")
    if figure:
        text += (f"\n:::{{figure}} {figure}\n:name: fig-leaderboard\n"
                 ":alt: VUS-PR per dataset of the best diffusion method, the best baseline and the random score.\n\n"
                 "VUS-PR per dataset: best diffusion method, best baseline and random score. Look for the "
                 "datasets where the diffusion bar stands clearly above both others.\n:::\n")
    return text


def plot_leaderboard(table: Any) -> Any:
    """Grouped bars of VUS-PR per dataset for the three columns of :func:`leaderboard_table`."""
    import matplotlib.pyplot as plt
    import numpy as np

    labels = ("best diffusion", "best baseline", "random")
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(table) + 2), 3.2))
    for i, label in enumerate(labels):
        ax.bar(x + (i - 1) * 0.27, table[f"{label}: VUS-PR"].to_numpy(dtype=float), width=0.27, label=label,
               color=("C0", "C1", "0.6")[i])
    ax.set_xticks(x, list(table.index))
    ax.set_ylabel("VUS-PR")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

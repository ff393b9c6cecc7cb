"""The source papers' own numbers (``book/paper_results.yaml``), as DataFrames for the chapters.

The chapters show these beside their own results, always marked as reported by the paper and
with the protocol the paper used; the numbers live in one data file, never in a notebook.

Example
-------
>>> from diffad_lib.papers import paper_table
>>> paper_table("zhang2023sequence", "table1")["accuracy (%)"].tolist()
[100, 90, 88, 85]
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

#: Where the transcribed tables live, relative to the repository root.
PAPER_RESULTS = Path("book") / "paper_results.yaml"


def results_path() -> Path:
    """The repository's ``book/paper_results.yaml``."""
    from diffad_lib.runner import repo_root

    return repo_root() / PAPER_RESULTS


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} must map paper keys to their tables, got {type(data).__name__}")
    return data


def load_papers(*, path: str | Path | None = None) -> dict[str, Any]:
    """The whole data file: paper key -> ``{"citation", "chapter", "tables"}``."""
    path = Path(path) if path is not None else results_path()
    if not path.is_file():
        raise FileNotFoundError(f"the papers' numbers are expected in {path}")
    return _load(path, path.stat().st_mtime_ns)


def _paper(paper: str, path: str | Path | None) -> dict[str, Any]:
    papers = load_papers(path=path)
    if paper not in papers:
        raise ValueError(f"paper must be one of {sorted(papers)}, got {paper!r}")
    return papers[paper]


def paper_citation(paper: str, *, path: str | Path | None = None) -> str:
    """The citation of ``paper`` (its BibTeX key in ``book/references.bib``)."""
    return str(_paper(paper, path)["citation"]).strip()


def paper_tables(paper: str, *, path: str | Path | None = None) -> list[str]:
    """The keys of the tables transcribed for ``paper``."""
    return list(_paper(paper, path)["tables"])


def table_info(paper: str, table: str, *, path: str | Path | None = None) -> dict[str, str]:
    """``{"label", "title", "protocol"}`` of one table, e.g. ``label="Table 3"``."""
    tables = _paper(paper, path)["tables"]
    if table not in tables:
        raise ValueError(f"table of {paper!r} must be one of {sorted(tables)}, got {table!r}")
    spec = tables[table]
    return {key: " ".join(str(spec[key]).split()) for key in ("label", "title", "protocol")}


def paper_table(paper: str, table: str, *, path: str | Path | None = None) -> pd.DataFrame:
    """One of the paper's tables as printed, indexed by its first column(s).

    Parameters
    ----------
    paper : str
        BibTeX key of the paper (``"zhang2023sequence"``, ``"zuo2024unsupervised"``,
        ``"chen2025research"``).
    table : str
        Key of the table (``"table1"``, ...; see :func:`paper_tables`).
    path : str or Path, optional
        Another data file of the same layout (tests).

    Returns
    -------
    pandas.DataFrame
        Shape (n_rows, n_columns - n_index): the paper's values; the protocol and label are in
        ``df.attrs``.

    Raises
    ------
    ValueError
        If ``paper`` or ``table`` is unknown (the message lists the known ones), or a row's
        length does not match the columns.
    """
    info = table_info(paper, table, path=path)
    spec = _paper(paper, path)["tables"][table]
    columns, index = list(spec["columns"]), list(spec["index"])
    for row in spec["rows"]:
        if len(row) != len(columns):
            raise ValueError(f"{paper} {table}: a row must have {len(columns)} values ({columns}), got {row}")
    df = pd.DataFrame(spec["rows"], columns=columns).set_index(index)
    df.attrs.update(info, paper=paper)
    return df

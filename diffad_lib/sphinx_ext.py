"""Sphinx extension of the diffad book: offline MathJax, and pages that load without console errors.

**Offline math.** Sphinx loads MathJax from a CDN by default, so a book opened offline (or from a local
``_build/html``) shows raw LaTeX. The ``django-static-mathjax`` package ships the MathJax 3
distribution as plain files (it needs no Django to be installed); this extension copies the parts
a CommonHTML page uses into ``_static/mathjax/`` and points ``mathjax_path`` there, so every
formula typesets with the network off.

**Clean console.** Two theme scripts log errors on every page: the Thebe configuration script
is emitted twice (``const THEBE_JS_URL`` redeclared), and the colour-mode script reads an empty
default mode on a first visit. The first duplicate of every script is dropped, and the mode
defaults to ``auto`` (follow the reader's system), so the browser checks of the built book can
demand a console free of errors.

**Front-page results.** The ``leaderboard`` directive renders the committed
``results/leaderboard_default.json`` at build time as a numbered table, its provenance and a
figure (:func:`diffad_lib.report.leaderboard_markdown`), or a note that it is not yet generated;
nothing on the page is typed by hand and no notebook has to run for it::

    ```{leaderboard} results/leaderboard_default.json
    ```

Enabled from ``_config.yml``::

    sphinx:
      extra_extensions: [diffad_lib.sphinx_ext]
      config:
        mathjax_path: mathjax/tex-mml-chtml.js
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: Inside MathJax's ``es5`` folder: the combined TeX+MathML / CommonHTML component, the
#: extensions it loads on demand (``\require``, autoloaded macros), the web fonts CommonHTML
#: draws glyphs with, and the menu's accessibility components. The SVG output and the
#: ``*-full`` bundles are not used by the book and are left out (about 8 MB instead of 24).
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors", "sre")

#: Where the copy lands, relative to ``_static``; ``mathjax_path`` must name the same place.
TARGET = "mathjax"

#: The book's own style sheet, written into ``_static`` at build time: code, printed output and
#: command blocks wrap at the column's edge instead of being cut off (the notebooks keep
#: 120-character lines), and a
#: wide table scrolls inside the column instead of overflowing it.
BOOK_CSS = """\
article pre, article pre code { white-space: pre-wrap; overflow-wrap: anywhere; }
article table.table, article table.docutils { display: block; max-width: 100%; overflow-x: auto; }
"""
BOOK_CSS_NAME = "diffad.css"


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax distribution.

    Raises
    ------
    FileNotFoundError
        If the ``django-static-mathjax`` package is missing or does not hold ``es5/tex-mml-chtml.js``.
    """
    try:
        import mathjax  # the module that django-static-mathjax installs
    except ImportError as exc:
        raise FileNotFoundError(
            "the book serves MathJax from its own files: install the package django-static-mathjax "
            "(pip install -e '.[book]')"
        ) from exc
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise FileNotFoundError(f"no MathJax 3 distribution under {es5} (expected es5/tex-mml-chtml.js)")
    return es5


def copy_mathjax(*, static_dir: Path) -> Path:
    """Copy the MathJax parts the book uses into ``static_dir / "mathjax"``; return that folder.

    Files already present with the same size are left alone, so a rebuild costs nothing.
    """
    source = mathjax_source()
    target = static_dir / TARGET
    for part in MATHJAX_PARTS:
        src = source / part
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for path in files:
            dest = target / path.relative_to(source)
            if dest.is_file() and dest.stat().st_size == path.stat().st_size:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target


def _on_builder_inited(app: Any) -> None:
    # Only HTML-like builders serve _static; the copy happens before any page is written so that
    # Sphinx's asset checksums see the file.
    if getattr(app.builder, "format", None) != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / BOOK_CSS_NAME).write_text(BOOK_CSS)
    if "://" in str(app.config.mathjax_path) or str(app.config.mathjax_path).startswith("/"):
        return  # the configuration asks for a remote or absolute MathJax: respect it
    copy_mathjax(static_dir=Path(app.outdir) / "_static")


def _script_key(script: Any) -> tuple[str, str]:
    # An inline script is registered once with filename None and once with "": same script.
    filename = str(getattr(script, "filename", script) or "")
    attributes = getattr(script, "attributes", {})
    return filename, repr(sorted(attributes.items()))


def _on_html_page_context(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
    # The theme's layout reads ``default_mode`` from the page context; unset, a first visit
    # passes "" to its colour-mode script, which logs an error.
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def _leaderboard_directive() -> type:
    from sphinx.util.docutils import SphinxDirective

    class LeaderboardDirective(SphinxDirective):
        """``{leaderboard} <path relative to the source folder>``: the headline table and figure."""

        required_arguments = 1
        has_content = False

        def run(self) -> list[Any]:
            from diffad_lib import report

            source = Path(self.env.srcdir)
            path = source / self.arguments[0]
            self.env.note_dependency(str(path))  # a new leaderboard rebuilds the page
            figure = None
            record = report.load_leaderboard(path)
            if record is not None:
                # the figure is drawn into the build folder, which must sit inside the source
                # folder for Sphinx to copy it (it does in Jupyter Book's layout)
                out = Path(self.env.app.doctreedir).parent / "diffad_generated" / "leaderboard.png"
                if out.resolve().is_relative_to(source.resolve()):
                    out.parent.mkdir(parents=True, exist_ok=True)
                    fig = report.plot_leaderboard(report.leaderboard_table(record))
                    fig.savefig(out, dpi=100)
                    import matplotlib.pyplot as plt

                    plt.close(fig)
                    figure = "/" + out.resolve().relative_to(source.resolve()).as_posix()
            return self.parse_text_to_nodes(report.leaderboard_markdown(path, figure=figure))

    return LeaderboardDirective


def setup(app: Any) -> dict[str, Any]:
    """Register the MathJax copy, the two theme fixes and the ``leaderboard`` directive with Sphinx."""
    app.add_directive("leaderboard", _leaderboard_directive())
    app.add_css_file(BOOK_CSS_NAME)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_html_page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

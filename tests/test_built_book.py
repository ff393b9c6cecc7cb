"""Checks of the built book's pages (``_build/html``), as a reader meets them.

This module builds nothing. ``make test`` runs it after ``diffad book --profile smoke --strict``
with ``DIFFAD_CHECK_BUILT_BOOK=1``; without that variable (the ordinary pytest run) it is
skipped, and with it a missing or stale build fails instead of passing unseen.

The static checks read the HTML; the browser checks load every page in a headless Chromium (the
system's, driven by Playwright; nothing is downloaded) with every request off the machine
refused, so they also prove that the book renders offline.
"""

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from diffad_lib.runner import BUILD_RECORD

if not os.environ.get("DIFFAD_CHECK_BUILT_BOOK"):
    pytest.skip("checks a fresh build: `make test` runs them after the smoke build (DIFFAD_CHECK_BUILT_BOOK=1)",
                allow_module_level=True)

bs4 = pytest.importorskip("bs4")

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENS = ROOT / "_build" / "screens"
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static"}


@pytest.fixture(scope="module")
def build() -> dict:
    record_path = HTML / BUILD_RECORD
    assert record_path.is_file(), f"no book build to check: {record_path} is missing (run `diffad book` first)"
    record = json.loads(record_path.read_text())
    built = record_path.stat().st_mtime
    for stem in record["chapters"]:
        nb = ROOT / "book" / "chapters" / f"{stem}.ipynb"
        assert nb.is_file() and nb.stat().st_mtime <= built, f"the build is older than {nb}: rebuild the book"
    return record


@pytest.fixture(scope="module")
def pages(build) -> dict[Path, "bs4.BeautifulSoup"]:
    found = {}
    for path in sorted(HTML.rglob("*.html")):
        if not SKIP_DIRS & set(path.relative_to(HTML).parts):
            found[path] = bs4.BeautifulSoup(path.read_text(errors="replace"), "html.parser")
    assert len(found) >= len(build["chapters"]) + 2, f"only {len(found)} pages under {HTML}"
    return found


def _chapter_page(stem: str) -> Path:
    return HTML / "book" / "chapters" / f"{stem}.html"


def _local(href: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", href) and not href.startswith("//")


def test_every_image_exists_and_is_not_empty(pages):
    problems = []
    for path, soup in pages.items():
        for img in soup.find_all("img"):
            src = img.get("src", "")
            if src.startswith("data:"):
                if len(src.split(",", 1)[-1]) < 20:
                    problems.append(f"{path.name}: empty inline image")
            elif not _local(src):
                problems.append(f"{path.name}: image from the network {src}")
            else:
                target = (path.parent / unquote(urlsplit(src).path)).resolve()
                if not target.is_file() or target.stat().st_size == 0:
                    problems.append(f"{path.name}: missing or empty image {src}")
    assert not problems, problems


def test_every_internal_link_and_anchor_resolves(pages):
    ids: dict[Path, set[str]] = {}

    def anchors(target: Path) -> set[str]:
        if target not in ids:
            soup = pages.get(target) or bs4.BeautifulSoup(target.read_text(errors="replace"), "html.parser")
            ids[target] = {t.get("id") for t in soup.find_all(id=True)} | {t.get("name") for t in soup.find_all("a")}
        return ids[target]

    problems = []
    for path, soup in pages.items():
        for a in soup.find_all("a", href=True):
            href = a["href"]
            if not _local(href) or href.startswith("javascript"):
                continue
            parts = urlsplit(href)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{path.relative_to(HTML)}: broken link {href}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
                problems.append(f"{path.relative_to(HTML)}: no anchor #{parts.fragment} in {target.name}")
    assert not problems, problems


def test_no_page_shows_a_traceback_or_an_error_output(pages):
    problems = []
    for path, soup in pages.items():
        if soup.select(".output.traceback, .output.error, .cell_output .traceback"):
            problems.append(f"{path.relative_to(HTML)}: error output cell")
        if "Traceback (most recent call last)" in soup.get_text():
            problems.append(f"{path.relative_to(HTML)}: traceback text")
    assert not problems, problems


def _expected_tables(stem: str) -> int:
    """Tables the executed notebook shows: DataFrames displayed in place (not removed) or glued and referenced."""
    nb = json.loads((ROOT / "book" / "chapters" / f"{stem}.ipynb").read_text())
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    count = 0
    for cell in nb["cells"]:
        hidden = {"remove-output", "remove-cell"} & set(cell.get("metadata", {}).get("tags", []))
        for out in cell.get("outputs", []):
            html = "".join(next((v for k, v in out.get("data", {}).items() if k.endswith("text/html")), ""))
            if "<table" not in html:
                continue
            glued = out.get("metadata", {}).get("scrapbook", {}).get("name")
            referenced = glued is not None and re.search(rf"glue[^\n]*[`\s]{re.escape(glued)}(`|\s|$)", prose)
            if (glued is None and not hidden) or referenced:
                count += 1
    return count


def _glues_tables(stem):
    """Does the chapter's source paste a glued table (a ``{glue:md}`` in a ``{table}`` directive)?"""
    source = ROOT / "notebooks" / f"{stem}.py"
    return source.exists() and "{glue:md}" in source.read_text()


def test_every_chapter_page_has_its_tables(build, pages):
    chapters = [s for s in build["chapters"] if s[:2].isdigit()]
    assert chapters, "the build lists no chapter"
    problems = []
    for stem in chapters:
        soup = pages[_chapter_page(stem)]
        shown = len(soup.select("article table"))
        expected = _expected_tables(stem)
        # a chapter that glues or displays no table (05, the own-data recipe) may show none
        if shown < expected or (shown == 0 and expected == 0 and _glues_tables(stem)):
            problems.append(f"{stem}: {shown} tables on the page, the notebook has {expected}")
    assert not problems, problems


def test_no_table_is_captioned_as_a_figure(pages):
    offenders = [f"{path.relative_to(HTML)}: {fig.find('figcaption').get_text(' ', strip=True)[:60]!r}"
                 for path, soup in pages.items() for fig in soup.select("figure")
                 if fig.find("table") is not None and fig.find("figcaption") is not None]
    assert not offenders, f"tables captioned as figures: {offenders}"


# --- in a real browser --------------------------------------------------------------------------

def _chromium() -> str | None:
    candidates = [os.environ.get("DIFFAD_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"]
    return next((shutil.which(c) for c in candidates if c and shutil.which(c)), None)


@pytest.fixture(scope="module")
def browsed(build, pages) -> dict:
    """Every page loaded once in headless Chromium: console errors, refused requests, math, screenshots."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable, why = None, "the playwright package is not installed"
    else:
        why = "no Chromium found (set DIFFAD_CHROMIUM, or install Debian's chromium package)"
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(f"browser checks cannot run in CI: {why}")
        print(f"skipping the browser checks: {why}")
        pytest.skip(why)
    SCREENS.mkdir(parents=True, exist_ok=True)
    report = {"errors": {}, "offline": [], "math": {}, "screens": {}, "overflow": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def refuse(route):
            report["offline"].append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(https?|wss?):"), refuse)
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: messages.append(f"uncaught: {e}"))
        for path, soup in pages.items():
            if any(m.get("http-equiv", "").lower() == "refresh" for m in soup.find_all("meta")):
                continue  # a redirect (index.html -> the front page), checked as its target
            name = str(path.relative_to(HTML))
            messages.clear()
            page.goto(path.as_uri(), wait_until="load")
            if page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=30_000)
                page.evaluate("() => MathJax.startup.promise")
            report["math"][name] = page.evaluate("""() => {
                const copy = document.querySelector('article') ? document.querySelector('article').cloneNode(true)
                                                               : document.body.cloneNode(true);
                copy.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
                return {math: document.querySelectorAll('article .math').length,
                        typeset: document.querySelectorAll('article mjx-container').length,
                        errors: document.querySelectorAll('mjx-merror').length,
                        raw: /\\$\\$|\\\\begin\\{/.test(copy.textContent)};
            }""")
            report["overflow"][name] = page.evaluate(OVERFLOW_JS)
            report["errors"][name] = list(messages)
            stem = path.stem
            if path.parent == HTML / "book" / "chapters" and stem[:2].isdigit():
                figure = page.locator("article .cell_output img, article figure img").first
                if figure.count():
                    figure.scroll_into_view_if_needed()
                    shot = SCREENS / f"{stem}.png"
                    figure.screenshot(path=str(shot))
                    report["screens"][stem] = shot
        browser.close()
    return report


# What sticks out of the text column at a 1280-px viewport: a code block whose lines need a scroll bar
# (code must wrap to the column), or a table, image or output that reaches past the column's right
# edge without a scrolling container of its own inside the column (wide tables scroll in place).
OVERFLOW_JS = """() => {
    const art = document.querySelector('article') || document.body;
    const edge = art.getBoundingClientRect().right + 1;
    const out = [];
    const label = el => el.tagName.toLowerCase() + ': ' + (el.textContent || el.getAttribute('src') || '')
        .trim().slice(0, 60);
    for (const el of art.querySelectorAll('div.highlight pre')) {
        if (el.getClientRects().length && el.scrollWidth > el.clientWidth + 1) out.push('code ' + label(el));
    }
    for (const el of art.querySelectorAll('table, img, .cell_output')) {
        if (!el.getClientRects().length) continue;
        let clip = null;
        for (let a = el.parentElement; a && a !== art; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== 'visible') { clip = a; break; }
        }
        if ((clip || el).getBoundingClientRect().right > edge) out.push('wide ' + label(el));
    }
    return out;
}"""


def test_nothing_overflows_the_text_column(browsed):
    assert browsed["overflow"], "no page was loaded"
    bad = {page: found[:5] for page, found in browsed["overflow"].items() if found}
    assert not bad, f"code lines or tables past the column's edge: {bad}"


def test_pages_load_without_console_errors(browsed):
    assert browsed["errors"], "no page was loaded"
    bad = {page: errors for page, errors in browsed["errors"].items() if errors}
    assert not bad, bad


def test_the_book_asks_nothing_of_the_network(browsed):
    assert not browsed["offline"], f"requests off the machine (refused): {sorted(set(browsed['offline']))}"


def test_formulas_are_typeset(browsed):
    with_math = {page: m for page, m in browsed["math"].items() if m["math"]}
    assert with_math, "no page has a formula: the primer at least should"
    bad = {page: m for page, m in browsed["math"].items()
           if m["typeset"] < m["math"] or m["errors"] or m["raw"]}
    assert not bad, f"formulas left as raw TeX or in error: {bad}"


def test_each_chapter_first_figure_is_captured(build, browsed):
    chapters = [s for s in build["chapters"] if s[:2].isdigit()]
    missing = [s for s in chapters if s not in browsed["screens"]]
    assert not missing, f"no figure found on {missing}"
    for shot in browsed["screens"].values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000

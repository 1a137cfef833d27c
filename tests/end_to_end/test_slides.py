"""The lecture as slides (docs/instructor.md): the plan's slide types, and the export of every notebook.

The export is ``make slides`` without make: ``jupyter nbconvert --to slides`` on every notebook, with
the proxies pointed at a closed port so that any attempt to reach the network fails the export (the
export itself needs nothing from outside). With the Makefile's settings (``SLIDES_FLAGS``) the slides
load every script from ``build/slides/assets/`` (reveal.js and the rest, fetched from the npm registry
by ``make slides``), so they open offline: no address on the network is left in them.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from htd_tutorial.course.slides import LECTURE, apply_plan, heading_key, main, slide_types
from tests.conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
#: Notebooks whose stored cells must carry the plan's tags now (the others once the plan is applied).
TAGGED = ("00_data_and_teacher.ipynb", "01_capacity_gap.ipynb")
FIGURE = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})


def _toy():
    cells = [new_markdown_cell("# Title\n\n## Learning objectives\n\n1. x"),
             new_code_cell("import os"),
             new_markdown_cell("## 1. Setup"),
             new_code_cell("a = 1"),
             new_markdown_cell("## 2. The idea"),
             new_code_cell("plot()", outputs=[FIGURE]),
             new_markdown_cell("Some text."),
             new_code_cell("plot()", outputs=[FIGURE]),
             new_markdown_cell("### 2.1 A detail"),
             new_code_cell("b = 2"),
             new_markdown_cell("### 2.2 Another detail"),
             new_markdown_cell("Text of 2.2, then\n\n## 3. Next part"),
             new_markdown_cell("### 3.1 Shown alone"),
             new_markdown_cell("## Summary\n\n- x"),
             new_markdown_cell("## Exercises")]
    return new_notebook(cells=cells)


def test_heading_key_drops_marks_and_numbers():
    assert heading_key("### 2.1 A worked example") == "a worked example"
    assert heading_key("## 3. The gap as a curve") == "the gap as a curve"
    assert heading_key("Summary") == "summary"


def test_slide_types_by_hand():
    types = slide_types(_toy(), ["2. The idea", "2.1 A detail", "3.1 Shown alone", "Summary"])
    assert types == ["slide",      # the title always opens the deck
                     "skip", "skip", "skip",             # section 1 is not in the plan
                     "slide",      # a listed level-2 section
                     "-",          # its figure right after the heading stays on the slide
                     "-",
                     "subslide",   # a second figure on a full slide gets a slide of its own
                     "subslide",   # a listed level-3 section under a shown one
                     "-",
                     "skip",       # 2.2 is not listed
                     "skip",       # starts in 2.2, and section 3 is not listed either
                     "slide",      # a level-3 section after a skipped stretch opens a slide
                     "slide",      # Summary
                     "skip"]       # Exercises


def test_a_section_that_starts_inside_a_cell_opens_a_slide_there():
    types = slide_types(_toy(), ["3. Next part"])
    assert types[11] == "slide"
    assert types[12] == "skip"   # a subsection is shown only when the plan names it too


def test_unknown_or_ambiguous_sections_are_refused():
    with pytest.raises(ValueError, match="matches 0 headings"):
        slide_types(_toy(), ["4. Not there"])
    nb = _toy()
    nb.cells.append(new_markdown_cell("## Summary"))
    with pytest.raises(ValueError, match="matches 2 headings"):
        slide_types(nb, ["Summary"])


def test_apply_plan_is_idempotent():
    nb = _toy()
    assert apply_plan(nb, ["2. The idea"]) is True
    assert nb.cells[4].metadata["slideshow"] == {"slide_type": "slide"}
    assert apply_plan(nb, ["2. The idea"]) is False


@pytest.mark.parametrize("name", sorted(LECTURE))
def test_the_plan_names_headings_of_the_notebooks(name):
    slide_types(nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4), LECTURE[name])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_slide_tags_follow_the_plan(path):
    nb = nbformat.read(path, as_version=4)
    tagged = any("slideshow" in cell.metadata for cell in nb.cells)
    if path.name not in LECTURE:   # the appendix is not lectured: it has no slides
        assert not tagged, f"{path.name} has slide tags but no lecture plan"
        return
    if path.name not in TAGGED and not tagged:
        pytest.skip(f"{path.name} is not tagged yet (`python -m htd_tutorial.course.slides` tags it)")
    stored = [cell.metadata.get("slideshow", {}).get("slide_type") for cell in nb.cells]
    assert stored == slide_types(nb, LECTURE[path.name]), (
        f"{path.name}: slide tags differ from the lecture plan; run `python -m htd_tutorial.course.slides`")


def test_check_mode_reports_without_writing(tmp_path, capsys):
    path = tmp_path / "00_data_and_teacher.ipynb"
    nb = nbformat.read(REPO_ROOT / "notebooks" / path.name, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("slideshow", None)
    nbformat.write(nb, path)
    before = path.read_bytes()
    assert main(["--check", str(path)]) == 1
    assert path.read_bytes() == before and "out of date" in capsys.readouterr().out
    assert main([str(path)]) == 0
    assert main(["--check", str(path)]) == 0


@pytest.mark.slow
def test_every_notebook_exports_as_slides_without_network(tmp_path):
    env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}
    env.pop("MPLBACKEND", None)
    result = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "slides", "--output-dir", str(tmp_path),
                             "--SlidesExporter.reveal_scroll=True", *map(str, NOTEBOOKS)],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for path in NOTEBOOKS:
        html = (tmp_path / f"{path.stem}.slides.html").read_text(encoding="utf-8")
        assert "reveal" in html.lower() and "<section" in html, f"{path.name}: no reveal.js slides in the export"
        if path.name in TAGGED:
            nb = nbformat.read(path, as_version=4)
            opened = sum(cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for cell in nb.cells)
            assert len(re.findall(r"<section>", html)) >= opened
            assert "Exercise " + path.name[:2] + ".1" not in html, f"{path.name}: skipped cells were exported"


def makefile_slides_flags() -> list[str]:
    """``SLIDES_FLAGS`` of the Makefile, as the shell passes them to nbconvert."""
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^SLIDES_FLAGS := (.*)$", text, re.MULTILINE)
    assert match, "the Makefile sets no SLIDES_FLAGS"
    return shlex.split(match.group(1))


@pytest.mark.slow
def test_make_slides_loads_nothing_from_the_network(tmp_path):
    # the notebook with widgets (the renderer's address) and one with formulas (MathJax)
    notebooks = [REPO_ROOT / "notebooks" / "05_explorer.ipynb", REPO_ROOT / "notebooks" / "03_htd.ipynb"]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "slides", "--output-dir", str(tmp_path),
                             *makefile_slides_flags(), *map(str, notebooks)],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for path in notebooks:
        html = (tmp_path / f"{path.stem}.slides.html").read_text(encoding="utf-8")
        loaded = re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)""", html)
        loaded += re.findall(r"""\bimport\b[^;'"]*\bfrom\s*['"]([^'"]+)""", html)
        loaded += re.findall(r"""widgetRendererSrc = ['"]([^'"]+)""", html)
        assert loaded and all(src.startswith("assets/") for src in loaded), (path.name, loaded)
        assert not re.search(r"https?://(?:unpkg\.com|cdnjs\.cloudflare\.com|cdn\.jsdelivr\.net)", html), path.name
        assert "assets/reveal.js/dist/reveal.js" in html and "assets/mathjax/MathJax.js" in html

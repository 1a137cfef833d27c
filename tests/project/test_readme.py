"""README.md stays a README (issue 35): what the course is, its two commands, the notebooks, Colab and Binder,
the data, and where to read more. Reproduction, results, performance and testing live in docs/*.md.

Whether the README's (and every page's) relative links resolve is tests/end_to_end/test_notebook_policy.py's check; the
numbers of the results page are tests/paper/test_results.py's and tests/paper/test_ablation_results.py's.
"""
from __future__ import annotations

import re

from htd_tutorial.__main__ import fetchable
from htd_tutorial.paper.results import RESULTS_DOC
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT
README = REPO / "README.md"
#: the most lines the README may have
MAX_LINES = 200


def _text() -> str:
    return README.read_text(encoding="utf-8")


def test_the_readme_is_at_most_200_lines():
    lines = _text().count("\n") + (not _text().endswith("\n"))
    assert lines <= MAX_LINES, f"README.md has {lines} lines (at most {MAX_LINES}); move detail into docs/*.md"


def test_the_results_tables_live_on_the_results_page_only():
    # one owner: the table writers rewrite RESULTS_DOC, so no copy of a table may sit in the README
    assert "results-table" not in _text()
    page = (REPO / RESULTS_DOC).read_text(encoding="utf-8")
    names = re.findall(r"<!-- results-table: (\S+) -->\n", page)
    assert len(names) == len(set(names)) == page.count("<!-- /results-table -->")
    assert {f"{name}.json" for name in names} <= {p.name for p in (REPO / "results").glob("*.json")}


def test_the_readme_links_every_docs_page():
    links = set(re.findall(r"\]\((docs/[^)#\s]+\.md)", _text()))
    pages = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    assert pages <= links, sorted(pages - links)


def test_the_two_commands_are_the_makefiles():
    text = _text()
    assert re.search(r"^make lab +# ", text, re.M) and re.search(r"^make test +# ", text, re.M)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("lab", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"the Makefile has no '{target}' target"
        assert re.search(rf"^#   make {target} ", makefile, re.M), f"the Makefile's header does not describe make {target}"


def test_the_readme_says_how_to_fetch_citeulike():
    assert "python -m htd_tutorial fetch citeulike" in _text() and "citeulike" in fetchable()

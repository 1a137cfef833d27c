"""The 50-minute lecture of ``docs/instructor.md`` as slide metadata on the notebooks' cells.

``jupyter nbconvert --to slides`` (``make slides``) turns a notebook into reveal.js slides, reading
each cell's ``metadata.slideshow.slide_type``: ``"slide"`` starts a slide, ``"subslide"`` a slide
below it, ``"-"`` continues the current one and ``"skip"`` leaves the cell out. :data:`LECTURE`
names, per notebook, the sections the lecture shows; :func:`slide_types` derives every cell's type
from it, so the plan is written once, as section headings, and the tags follow the notebooks when
cells move:

- the title cell (the notebook's first) always opens the deck;
- a cell belongs to the section of the last heading above it (a heading inside a cell counts from
  that cell on); the cells of a listed section are shown, all others skipped (a subsection is a
  section of its own: listing "2." does not show "2.1");
- a shown cell that starts with a level-2 heading, or with any heading after a skipped stretch,
  opens a slide; one that starts with a deeper heading opens a subslide (below the section's
  slide); so does a shown code cell whose stored output holds a figure, unless it comes right after
  the cell that opened the current slide, so that a figure never lands at the bottom of a full one.

A heading in :data:`LECTURE` is matched against a notebook's headings without their ``#`` marks and
their numbers ("2.1 A worked example" matches ``### 2.1 A worked example``), case-insensitively,
and must match exactly one heading of the notebook. ``python -m htd_tutorial.course.slides``
rewrites the tags of the planned notebooks in ``notebooks/``; ``--check`` only reports which
notebooks are out of date (exit status 1).

Introduced in ``docs/instructor.md``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

__all__ = ["LECTURE", "heading_key", "slide_types", "apply_plan", "plan_notebook"]

#: The sections each notebook shows in the lecture (docs/instructor.md has the timings and why).
LECTURE: dict[str, tuple[str, ...]] = {
    "00_data_and_teacher.ipynb": (
        "2. How recommenders are evaluated: leave-one-out and full ranking",
        "2.1 A worked example",
        "2.2 A baseline: the most popular items",
        "Summary",
    ),
    "01_capacity_gap.ipynb": (
        "3. The gap as a curve",
        "4.2 The similarity structure a small space cannot keep",
        "4.3 The geometric why: how many directions a space keeps apart",
        "Summary",
    ),
    "02_topology_and_ftd.ipynb": (
        "2.1 Heat maps of the similarity matrix",
        "3. Point-wise vs relational distillation",
        "4. FTD on a roomy and on a tiny student",
    ),
    "03_htd.ipynb": (
        "1.1 Gumbel-softmax: a random expert choice for L_GA",
        "2. Prototypes and the two levels of topology",
        "3. HTD vs FTD vs the plain student",
        "4.3 The group level: (P, P) and (P, e)",
        "Summary",
    ),
    "04_analysis.ipynb": (
        "2. The capacity gap over seeds: where FTD and HTD cross",
        "3. Topology fidelity: what each student keeps of the teacher's structure",
        "4. When HTD wins: the evidence map",
    ),
    "05_explorer.ipynb": (
        "4.1 A tiny student: Student, FTD and HTD",
    ),
}

HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")


def heading_key(text: str) -> str:
    """A heading's text as :data:`LECTURE` names it: no ``#`` marks, no section number, lower case."""
    return NUMBER.sub("", text.strip().lstrip("#").strip()).strip().lower()


def _headings(cell) -> list[tuple[int, int, str]]:
    """``(line index, level, key)`` of each Markdown heading in a cell (none for code cells)."""
    if cell.cell_type != "markdown":
        return []
    found = []
    for index, line in enumerate(cell.source.splitlines()):
        match = HEADING.match(line)
        if match:
            found.append((index, len(match.group(1)), heading_key(match.group(2))))
    return found


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def slide_types(nb, sections) -> list[str]:
    """The slide type of every cell of ``nb`` when the lecture shows ``sections`` (headings, see the module doc).

    Raises
    ------
    ValueError
        A heading of ``sections`` matches no heading of the notebook, or more than one.
    """
    wanted = [heading_key(s) for s in sections]
    keys = [key for cell in nb.cells for _, _, key in _headings(cell)]
    for section, key in zip(sections, wanted):
        if keys.count(key) != 1:
            raise ValueError(f"the lecture's section {section!r} matches {keys.count(key)} headings of the notebook "
                             "(expected exactly one); update LECTURE in htd_tutorial/course/slides.py")
    wanted = set(wanted)
    types, current, shown_before, on_slide = [], None, False, 0
    for position, cell in enumerate(nb.cells):
        headings = _headings(cell)
        starts_with_heading = bool(headings) and headings[0][0] == 0
        shown_at_start = current in wanted and not starts_with_heading
        if headings:
            current = headings[-1][2]
        if position == 0:
            types.append("slide")
            shown_before, on_slide = True, 1
            continue
        shown = shown_at_start or any(key in wanted for _, _, key in headings)
        if not shown:
            types.append("skip")
            shown_before = False
            continue
        if starts_with_heading:
            level = headings[0][1]
            types.append("slide" if level <= 2 or not shown_before else "subslide")
        elif not shown_at_start:          # a listed section starts inside this cell
            types.append("slide")
        elif _has_figure(cell) and on_slide > 1:
            types.append("subslide")
        else:
            types.append("-")
        on_slide = 1 if types[-1] in ("slide", "subslide") else on_slide + 1
        shown_before = True
    return types


def apply_plan(nb, sections) -> bool:
    """Set ``metadata.slideshow.slide_type`` of every cell of ``nb`` from ``sections``; whether anything changed."""
    changed = False
    for cell, slide_type in zip(nb.cells, slide_types(nb, sections)):
        if cell.metadata.get("slideshow", {}).get("slide_type") != slide_type:
            cell.metadata["slideshow"] = {"slide_type": slide_type}
            changed = True
    return changed


def plan_notebook(path: str | Path, *, write: bool = True) -> bool:
    """Apply :data:`LECTURE` to the notebook at ``path``; whether its tags changed (written when ``write``)."""
    path = Path(path)
    if path.name not in LECTURE:
        raise ValueError(f"{path.name} is not in the lecture plan; planned: {sorted(LECTURE)}")
    nb = nbformat.read(path, as_version=4)
    changed = apply_plan(nb, LECTURE[path.name])
    if changed and write:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                nbformat.write(nb, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.slides",
                                     description="Tag the notebooks' cells with the lecture's slide types.")
    parser.add_argument("notebooks", nargs="*", help="notebooks to tag (default: every planned one in notebooks/)")
    parser.add_argument("--check", action="store_true", help="only report notebooks whose tags are out of date")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or [Path("notebooks") / name for name in LECTURE]
    stale = [path for path in paths if plan_notebook(path, write=not args.check)]
    for path in stale:
        print(f"{path}: slide tags {'out of date' if args.check else 'updated'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

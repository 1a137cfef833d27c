"""Which method wins where, read from the evidence map: the one function the course's words go through.

The evidence map (:mod:`htd_tutorial.course.evidence_map`, ``results/evidence_map.json``) holds, per
cell (setting × protocol × student dimension), the verdict of three paired comparisons: FTD vs the
plain student, HTD vs the plain student and HTD vs FTD. Every sentence of the course that says which
method wins in a map setting (notebook 04's "When HTD wins", the README's course summary, the
instructor page) is :func:`scope`'s phrase, or is checked against it by a test
(``tests/course/test_scope.py``): a changed number in the map changes the text or fails a test.

The verdicts and their numbers are the map's, made by :func:`htd_tutorial.stats.read_paired` when the
map was built; this module only words them (no statistics of its own). A verdict is one of
:data:`htd_tutorial.stats.VERDICTS`; "clear" means the rule of :mod:`htd_tutorial.stats`.

>>> scope("ml-100k", "fixed", 4, "htd-ftd").phrase   # doctest: +SKIP
'HTD is clearly ahead of FTD (+0.064 ± 0.013 Recall@50, 5 paired seeds)'
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import stored
from ..choices import METHOD_NAMES
from ..stats import VERDICTS, format_se

__all__ = ["MAP_NAME", "MAP_COMMAND", "NAMES", "SETTING_NAMES", "Scope", "load_map", "scope", "cells_where"]

#: The stored map, as :mod:`htd_tutorial.stored` names it.
MAP_NAME = "results/evidence_map.json"
#: The command that writes it.
MAP_COMMAND = "python -m htd_tutorial.course.evidence_map"
#: How the phrases name the methods of a comparison ``"a-b"`` (the plain student in words; the others by
#: :data:`htd_tutorial.choices.METHOD_NAMES`).
NAMES = {**METHOD_NAMES, "student": "the plain student"}
#: How the phrases name the map's settings.
SETTING_NAMES = {"synthetic": "the synthetic data", "ml-100k": "MovieLens-100K", "citeulike": "CiteULike",
                 "citeulike-lightgcn": "CiteULike (LightGCN)"}


@dataclass(frozen=True)
class Scope:
    """One comparison of one map cell: ``verdict`` (of :data:`htd_tutorial.stats.VERDICTS`), the paired
    ``mean`` and ``se`` of ``a − b`` (Recall@50) over ``n`` seeds, and ``phrase``, the sentence part the
    course prints (``str(scope)`` is the phrase)."""

    setting: str
    protocol: str
    dim: int
    comparison: str
    verdict: str
    mean: float
    se: float | None
    n: int
    phrase: str

    def __str__(self) -> str:
        return self.phrase


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_map(path: str | Path | None = None, *, verbose: bool = False) -> dict | None:
    """The evidence map's content (``cells``, ``runs``, ``settings``), or ``None`` when the file is missing
    (then, with ``verbose``, one line names it and the command that writes it)."""
    path = Path(path) if path is not None else stored.stored_file(MAP_NAME)
    if not path.is_file():
        if verbose:
            print(f"No evidence map: {MAP_NAME} is missing; `{MAP_COMMAND}` makes it (hours on a CPU).")
        return None
    payload = _read(str(path), path.stat().st_mtime)
    if verbose:
        print(f"Loaded the evidence map: {len(payload['cells'])} cells from {len(payload['runs'])} runs "
              f"({MAP_NAME})")
    return payload


def _number(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


def scope(setting: str, protocol: str, dim: int, comparison: str = "htd-ftd", *,
          payload: dict | None = None, numbers: bool = True) -> Scope:
    """The map's verdict on ``comparison`` (``"ftd-student"``, ``"htd-student"`` or ``"htd-ftd"``, read
    ``a − b``) in the cell ``setting`` × ``protocol`` × ``dim``, with a phrase that says it.

    The phrase names the winner only for a clear verdict (``"HTD is clearly ahead of FTD"``), says
    "level" for an unclear one and "not read" for one the rule does not read; with ``numbers`` it ends
    with the paired mean ± s.e. and the number of seeds (``"(+0.064 ± 0.013 Recall@50, 5 paired seeds)"``).
    ``payload``: a loaded map (default: the stored one). Raises ``KeyError`` for a cell or comparison
    the map does not hold, ``FileNotFoundError`` without a map.
    """
    payload = payload if payload is not None else load_map()
    if payload is None:
        raise FileNotFoundError(f"{MAP_NAME} is missing; `{MAP_COMMAND}` makes it")
    cells = [c for c in payload["cells"] if (c["setting"], c["protocol"], c["dim"]) == (setting, protocol, dim)]
    if len(cells) != 1:
        held = sorted({(c["setting"], c["protocol"], c["dim"]) for c in payload["cells"]})
        raise KeyError(f"the map has no cell {(setting, protocol, dim)}; it holds {held}")
    read = cells[0]["verdicts"].get(comparison)
    if read is None:
        raise KeyError(f"no comparison {comparison!r}; the map reads {sorted(cells[0]['verdicts'])}")
    verdict = read["verdict"]
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r} (htd_tutorial.stats.VERDICTS: {VERDICTS})")
    a, b = (NAMES[m] for m in comparison.split("-"))
    words = {"positive": f"{a} is clearly ahead of {b}", "negative": f"{a} is clearly behind {b}",
             "unclear": f"{a} and {b} are level within the noise",
             "not read": f"{a} − {b} is not read (no spread)"}[verdict]
    words = words[0].upper() + words[1:]
    if numbers:
        se = "" if read["se"] is None else f" ± {format_se(read['se'])}"
        words += f" ({_number(read['mean'])}{se} Recall@50, {read['n']} paired seeds)"
    return Scope(setting, protocol, dim, comparison, verdict, read["mean"], read["se"], read["n"], words)


def cells_where(payload: dict, verdicts: dict[str, str]) -> list[tuple[str, str, int]]:
    """The map's cells (setting, protocol, dim) whose comparisons have every verdict of ``verdicts``
    (e.g. ``{"ftd-student": "negative"}``), in the map's order."""
    return [(c["setting"], c["protocol"], c["dim"]) for c in payload["cells"]
            if all(c["verdicts"][k]["verdict"] == v for k, v in verdicts.items())]

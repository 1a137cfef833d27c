"""The repository's notebook policy, checked on every notebook in ``notebooks/``.

Output storage policy
---------------------
Notebooks are committed **with their outputs**, produced by one project command, ``make notebooks``
(a clean "restart kernel and run all" of every notebook with the shipped settings), so that a learner
browsing the repository on GitHub sees the figures and tables without running anything. Outputs are
never edited by hand and never come from a half-run session: every code cell must have been executed
once, in order (execution counts 1, 2, ..., n), with no error output. nbval re-executes every notebook
in CI (``make test``) and fails when a cell raises, so committed notebooks stay runnable; this file
checks that what is committed is a complete, clean run and that each notebook follows the course's
conventions (the developers' guide, issue 4):

- a title (first cell: markdown starting with ``# ``), "Learning objectives", numbered sections,
  "Summary", "Exercises" and "References" headings;
- the guarded Colab install cell (``%pip install`` only when ``google.colab`` is imported) near the top;
- a code cell tagged ``parameters`` within the first five cells that reads its settings with
  ``param(...)`` (environment variables ``HTD_<NAME>``);
- short code cells (none over 25 lines, median at most 8): the heavy lifting lives in ``htd_tutorial/``;
- 2 to 4 exercises, each checked with ``check("<id>", ...)`` against a registered exercise;
- at least one figure among the outputs, and a file size that keeps the repository light;
- clean stored outputs: no absolute path of the machine that ran the notebook (paths relative to
  the repository or with ``~``), no empty progress bar, no message that results or files were
  missing, no lesson claim that failed;
- no dead ends: every relative link in a notebook or a Markdown file of the repository points to a
  file that exists, and each notebook but the last links to the next one.
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import nbformat
import pytest

from htd_tutorial.course.exercises import all_exercises
from tests.conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))

MAX_CELL_LINES = 25
MAX_MEDIAN_LINES = 8
#: Code lines are projected in class: none longer than this many characters.
MAX_LINE_CHARS = 100
MAX_BYTES = 5 * 2**20
REQUIRED_HEADINGS = ("Learning objectives", "Summary", "Exercises", "References")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\d+\.\d+)["']""")


def _load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _headings(nb) -> list[str]:
    return [line.strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.lstrip().startswith("#")]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, _load(request.param)


def test_valid_nbformat(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    assert nb.nbformat == 4, f"{path.name}: nbformat {nb.nbformat}, expected 4"


def test_outputs_are_one_clean_run(notebook):
    """Every code cell executed exactly once, in order (execution counts 1..n), without errors."""
    path, nb = notebook
    cells = _code_cells(nb)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(cells)}; re-run the notebook with "
        "`make notebooks` (restart and run all) and commit the result")
    for index, cell in enumerate(cells, start=1):
        assert cell.source.strip(), f"{path.name}: code cell {index} is empty"
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"{path.name}: code cell {index} has an error output: {errors[0].get('ename')}"


#: Absolute paths of a machine in stored outputs (a learner's copy never has them): the repository that
#: ran the notebook, temporary folders, home folders, Windows drives. Not inside a longer path or a
#: URL ("data/work/x", "https://x.org/home/"), and not after "~" (a path shown with ``~`` is fine).
MACHINE_PATH = re.compile(r"(?<![\w.~/:-])(?:/tmp|/home|/root|/work|/Users|/private|/var/folders|/mnt)"
                          r"(?:[/\\][^\s'\"]{0,60}|(?=[\s'\",;:)]|$))"
                          r"|(?<![\w])[A-Za-z]:\\{1,2}[^\s'\"]{0,60}")
#: A stored progress bar that shows no progress: tqdm's widget keeps the text of its first frame
#: ("  0%|          | 0/40") as its stored form, whatever it later showed in a live session.
EMPTY_PROGRESS_BAR = re.compile(r"(?<![\d.])0%\|")
#: Messages that say a result or a file the notebook wanted was not there.
RESULTS_MISSING = re.compile(r"results? (?:files? )?(?:is |are )?missing|missing results?|not available|"
                             r"no such file|not found|could not (?:load|find|read)", re.IGNORECASE)
#: What :func:`htd_tutorial.course.claim` prints for a lesson that does not hold.
FAILED_CLAIM = "✗ This lesson does not hold"


def _output_text(nb) -> str:
    """Every stored output's text (streams, text/plain, HTML, errors), images left out."""
    parts = []
    for cell in _code_cells(nb):
        for out in cell.outputs:
            parts.append("".join(out.get("text", "")))
            parts.append(" ".join(str(part) for part in (out.get("ename"), out.get("evalue")) if part))
            for mime, value in out.get("data", {}).items():
                if not mime.startswith("image/"):
                    parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def test_stored_outputs_show_no_machine_paths(notebook):
    """Paths are printed relative to the repository or with ``~`` (``htd_tutorial.cache.shown_path``)."""
    path, nb = notebook
    text = _output_text(nb)
    leaks = sorted(set(MACHINE_PATH.findall(text)) | ({str(REPO_ROOT)} if str(REPO_ROOT) in text else set()))
    assert not leaks, f"{path.name}: stored outputs show paths of the machine that ran them: {leaks[:3]}"


def test_machine_path_pattern():
    assert MACHINE_PATH.findall("from /work/main/results/x.json.") == ["/work/main/results/x.json."]
    assert MACHINE_PATH.findall("Loaded cached teacher from /tmp/nbcache/t.pt") == ["/tmp/nbcache/t.pt"]
    assert MACHINE_PATH.findall("cache: /root/.cache/htd and /home/ada/x") == ["/root/.cache/htd", "/home/ada/x"]
    assert MACHINE_PATH.findall("in /tmp, then") == ["/tmp"]
    assert MACHINE_PATH.findall(r"saved to C:\Users\ada\x.npz") == [r"C:\Users\ada\x.npz"]
    assert MACHINE_PATH.findall(r'{"path": "D:\\data\\ml"}') == [r'D:\\data\\ml']
    assert MACHINE_PATH.findall("from results/citeulike_bpr.json and ~/.cache/htd-tutorial") == []
    assert MACHINE_PATH.findall("see https://example.org/home/x, data/work/y and ~/work/z") == []
    assert MACHINE_PATH.findall("/tmpfs is not /tmp/") == ["/tmp/"]


def test_stored_outputs_show_no_empty_progress_bar(notebook):
    """A progress bar is for the live run: clear it when the cell is done (``IPython.display.clear_output``)."""
    path, nb = notebook
    bars = sorted({line.strip()[:60] for line in _output_text(nb).splitlines() if EMPTY_PROGRESS_BAR.search(line)})
    assert not bars, f"{path.name}: stored outputs keep {len(bars)} empty progress bar(s), e.g. {bars[:2]}"


def test_stored_outputs_show_no_missing_results(notebook):
    path, nb = notebook
    found = sorted({line.strip()[:100] for line in _output_text(nb).splitlines() if RESULTS_MISSING.search(line)})
    assert not found, f"{path.name}: stored outputs say that something was missing: {found[:2]}"


def test_stored_outputs_show_no_failed_claim(notebook):
    path, nb = notebook
    failed = [line.strip()[:100] for line in _output_text(nb).splitlines() if FAILED_CLAIM in line]
    assert not failed, f"{path.name}: stored outputs show a lesson that does not hold: {failed[:2]}"


def test_output_patterns():
    assert EMPTY_PROGRESS_BAR.search("teacher bpr d=200:   0%|          | 0/40 [00:00<?, ?it/s]")
    assert not EMPTY_PROGRESS_BAR.search("teacher bpr d=200: 100%|██████████| 40/40 [00:24<00:00]")
    assert not EMPTY_PROGRESS_BAR.search("share 10%| of items, 2.0%|")
    assert RESULTS_MISSING.search("Stored results missing: running live instead")
    assert RESULTS_MISSING.search("umap-learn is not available: the maps below use PCA instead.")
    assert not RESULTS_MISSING.search("Loaded cached teacher from data/cache/teacher.pt")


def test_has_a_figure(notebook):
    path, nb = notebook
    images = [out for cell in _code_cells(nb) for out in cell.outputs
              if out.output_type in ("display_data", "execute_result") and "image/png" in out.get("data", {})]
    assert images, f"{path.name}: no figure among the outputs"


def test_file_size(notebook):
    path, _ = notebook
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name}: {size / 2**20:.1f} MiB, more than {MAX_BYTES / 2**20:.0f} MiB"


def test_title_and_sections(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), \
        f"{path.name}: the first cell must be markdown starting with '# ' (the title)"
    headings = _headings(nb)
    for name in REQUIRED_HEADINGS:
        assert any(name.lower() in h.lower() for h in headings), f"{path.name}: no '{name}' heading"
    numbered = [h for h in headings if re.match(r"^#{2,3}\s+\d+(\.\d+)*\.?\s", h)]
    assert len(numbered) >= 2, f"{path.name}: sections must be numbered ('## 1. ...'), found {numbered}"


def test_colab_install_cell(notebook):
    path, nb = notebook
    guarded = [i for i, cell in enumerate(nb.cells[:4]) if cell.cell_type == "code"
               and '"google.colab" in sys.modules' in cell.source and "%pip install" in cell.source]
    assert guarded, f"{path.name}: no guarded Colab install cell among the first cells"
    lines = nb.cells[guarded[0]].source.splitlines()
    pip_line = next(line for line in lines if "%pip install" in line)
    assert pip_line.startswith((" ", "\t")), f"{path.name}: the %pip install must sit inside the `if` block"


def test_parameters_cell(notebook):
    path, nb = notebook
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(tagged)}"
    index = tagged[0]
    assert index < 5, f"{path.name}: the parameters cell is cell {index}; it must be among the first five"
    cell = nb.cells[index]
    assert cell.cell_type == "code" and "param(" in cell.source, \
        f"{path.name}: the parameters cell must read its settings with htd_tutorial.param(...)"


def test_code_cells_are_short(notebook):
    path, nb = notebook
    lengths = [len(cell.source.strip().splitlines()) for cell in _code_cells(nb)]
    longest = max(lengths)
    assert longest <= MAX_CELL_LINES, f"{path.name}: a code cell has {longest} lines (max {MAX_CELL_LINES})"
    median = statistics.median(lengths)
    assert median <= MAX_MEDIAN_LINES, f"{path.name}: median code cell is {median} lines (max {MAX_MEDIAN_LINES})"


def test_code_lines_fit_a_projected_screen(notebook):
    path, nb = notebook
    long = [(index, len(line)) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > MAX_LINE_CHARS]
    assert not long, f"{path.name}: code lines over {MAX_LINE_CHARS} characters (cell, length): {long}"


def test_exercises_are_registered(notebook):
    path, nb = notebook
    ids = [m for cell in _code_cells(nb) for m in CHECK_CALL.findall(cell.source)]
    assert 2 <= len(set(ids)) <= 4, f"{path.name}: expected 2-4 exercises with check('<id>', ...), found {ids}"
    prefix = path.name[:2]
    for exercise_id in ids:
        assert exercise_id in all_exercises(), (
            f"{path.name}: exercise {exercise_id} is not registered (add it to NOTEBOOK_EXERCISES of the "
            "notebook's module in htd_tutorial/course/exercises/)")
        assert exercise_id.startswith(prefix + "."), f"{path.name}: exercise {exercise_id} belongs to another notebook"


MARKDOWN_FILES = sorted(p for p in REPO_ROOT.rglob("*.md")
                        if not any(part.startswith(".") or part in ("node_modules", "build") for part in
                                   p.relative_to(REPO_ROOT).parts) and "egg-info" not in str(p))
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _relative_links(text: str) -> list[str]:
    """Targets of Markdown links that point into the repository (no URL scheme, no bare anchor)."""
    return [target.split("#")[0] for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


@pytest.mark.parametrize("path", NOTEBOOKS + MARKDOWN_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(path):
    if path.suffix == ".ipynb":
        text = "\n".join(cell.source for cell in _load(path).cells if cell.cell_type == "markdown")
    else:
        text = path.read_text()
    dead = [target for target in _relative_links(text) if not (path.parent / target).exists()]
    assert not dead, f"{path.name} links to files that do not exist: {dead}"


def test_relative_link_pattern():
    text = "[a](b.ipynb) [c](https://x.org/d) [e](#f) [g](data/README.md#h) [i](mailto:j@k)"
    assert _relative_links(text) == ["b.ipynb", "data/README.md"]


@pytest.mark.parametrize("current, following", list(zip(NOTEBOOKS, NOTEBOOKS[1:])),
                         ids=[p.name for p in NOTEBOOKS[:-1]])
def test_each_notebook_links_to_the_next(current, following):
    text = "\n".join(cell.source for cell in _load(current).cells if cell.cell_type == "markdown")
    assert following.name in _relative_links(text), f"{current.name} never links to {following.name}"

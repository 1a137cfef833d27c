"""The stored files the notebooks read (``htd_tutorial.stored``), from a checkout and installed, and the
notebooks with one of them missing (issue 34, items 1 and 2).

- every stored file is found through :func:`htd_tutorial.stored.stored_file`: the checkout's copy here,
  the copy inside the package once installed (``tests/end_to_end/test_installed.py`` builds the wheel and runs
  notebooks from it), or ``HTD_STORED_DIR``'s; no module builds a path from its own location;
- the readers say in one line which file is missing and the command that makes it, and return an empty
  result instead of failing;
- notebooks 04 and 06 (the appendix that reads the paper-scale results), each run in one kernel with
  each stored file it reads hidden in turn (and all of them at once), and notebook 03's cells that read
  the stored loss traces with that file hidden, raise nothing and print that line.
"""
from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from htd_tutorial import stored
from htd_tutorial.course import evidence, lab, scope, seeds, traces
from htd_tutorial.data import citeulike_dir, default_data_dir
from htd_tutorial.data import movielens
from htd_tutorial.paper.results import load_results, results_path, writing_command
from tests.conftest import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"


# ------------------------------------------------------------------------------------------ resolving
def test_a_checkout_reads_its_own_copies():
    assert stored.checkout_root() == REPO_ROOT
    names = stored.stored_files(REPO_ROOT)
    assert {"data/lesson_seeds.json", "data/lab_results.json", "data/loss_traces.json",
            "results/citeulike_bpr.json"} <= set(names)
    for name in names:
        assert stored.stored_file(name) == REPO_ROOT / name and stored.stored_file(name).is_file()
        assert stored.output_file(name) == REPO_ROOT / name
    assert stored.shown(REPO_ROOT / "results" / "x.json") == "results/x.json"
    assert stored.shown(REPO_ROOT.parent / "elsewhere.json") is None
    assert default_data_dir() == REPO_ROOT / "data"


def test_every_pattern_matches_a_committed_file():
    for pattern in stored.STORED_PATTERNS:
        assert stored.stored_files(REPO_ROOT) and any(
            Path(name).match(pattern) for name in stored.stored_files(REPO_ROOT)), pattern


def test_the_readers_names_are_stored_files():
    # what the course reads by name, and the files notebook 06's parameters name, are in the wheel's list
    names = set(stored.stored_files(REPO_ROOT))
    assert {seeds.SEEDS_NAME, lab.LAB_NAME, traces.TRACES_NAME, scope.MAP_NAME} <= names
    nb = nbformat.read(NOTEBOOKS / "06_reproduction_lab.ipynb", as_version=4)
    params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    files = [node.args[1].value for node in ast.walk(ast.parse(params))
             if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "param"
             and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
             and str(node.args[1].value).endswith(".json")]
    assert len(files) >= 8 and {f"results/{name}" for name in files} <= names, files


def test_installed_reads_the_package_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(stored, "checkout_root", lambda: None)
    monkeypatch.delenv("HTD_STORED_DIR", raising=False)
    monkeypatch.delenv("HTD_DATA_DIR", raising=False)
    monkeypatch.delenv("HTD_CITEULIKE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert stored.stored_file("results/citeulike_bpr.json") == stored.INSTALLED_DIR / "results" / "citeulike_bpr.json"
    assert results_path("citeulike_bpr.json") == stored.INSTALLED_DIR / "results" / "citeulike_bpr.json"
    # the commands never write into site-packages: the working directory instead
    assert stored.output_file("data/lab_results.json") == tmp_path / "data" / "lab_results.json"
    assert stored.shown(stored.INSTALLED_DIR / "results" / "x.json") == "results/x.json"
    # the data folders are the user's, not beside site-packages
    for module in (movielens, __import__("htd_tutorial.data", fromlist=["x"])):
        monkeypatch.setattr(module, "checkout_root", lambda: None)
    assert default_data_dir() == stored.user_dir() / "data"
    assert citeulike_dir() == stored.user_dir() / "citeulike"


def test_stored_dir_replaces_both(monkeypatch, tmp_path):
    monkeypatch.setenv("HTD_STORED_DIR", str(tmp_path))
    assert stored.stored_file("data/loss_traces.json") == tmp_path / "data" / "loss_traces.json"
    assert stored.output_file("data/loss_traces.json") == tmp_path / "data" / "loss_traces.json"
    assert stored.shown(tmp_path / "results" / "a.json") == "results/a.json"


def test_no_module_assumes_a_checkout():
    # the folder above the package is site-packages once installed: only stored.py (which knows both
    # layouts) and cache.py (shown paths, and a cache folder with an installed default) may use it
    allowed = {"stored.py", "cache.py"}
    offenders = []
    for path in sorted((REPO_ROOT / "htd_tutorial").rglob("*.py")):
        rel = path.relative_to(REPO_ROOT / "htd_tutorial").as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if rel not in allowed and any(s in line for s in ("REPO_ROOT", "parents[", ".parent.parent")):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, ("paths built from the repository's location (read stored files through "
                           "htd_tutorial.stored.stored_file):\n" + "\n".join(offenders))


# ------------------------------------------------------------------------------------------ readers
def _one_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_readers_say_what_is_missing_and_the_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HTD_STORED_DIR", str(tmp_path))
    assert traces.load_traces(("student", "htd"), 32) == {}
    line = _one_line(capsys.readouterr().out)
    assert "data/loss_traces.json is missing" in line and "`python -m htd_tutorial.course.traces`" in line
    with pytest.raises(ValueError, match="data/loss_traces.json is missing; make it with"):
        traces.load_trace("htd", 32)

    for name in ("citeulike_bpr.json", "citeulike_bpr_ablation_d20.json", "citeulike_lightgcn_recipe.json"):
        assert load_results(results_path(name)) is None
        line = _one_line(capsys.readouterr().out)
        assert f"results/{name} does not exist yet" in line and f"`{writing_command(name)}`" in line
    assert writing_command("citeulike_bpr_ablation_d20_flushed.json") == "python -m htd_tutorial ablation --data citeulike"
    assert writing_command("x_lightgcn_recipe.json") == "python -m htd_tutorial recipe --data citeulike --model lightgcn"
    assert writing_command("citeulike_tuned_bpr.json") == "python -m htd_tutorial reproduce --data citeulike"

    with pytest.raises(FileNotFoundError, match=r"data/lesson_seeds.json not found: `python -m htd_tutorial.course.seeds"):
        evidence.load_seed_runs()


# ------------------------------------------------------------------------------------------ notebooks
def _copy_stored(target: Path, hidden: set[str]) -> Path:
    for name in stored.stored_files(REPO_ROOT):
        if name not in hidden:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO_ROOT / name, target / name)
    return target


class _Kernel:
    """One kernel that runs code cells given as text, in a folder without the repository's files."""

    def __init__(self, client):
        self.client, self.cells = client, client.nb.cells

    def run(self, source: str, label: str) -> str:
        from nbclient.exceptions import CellExecutionError

        cell = nbformat.v4.new_code_cell(source)
        self.cells.append(cell)
        try:
            self.client.execute_cell(cell, len(self.cells) - 1)
        except CellExecutionError as error:
            pytest.fail(f"{label} raised:\n{str(error)[-2000:]}", pytrace=False)
        return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.fixture
def kernel(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        k = _Kernel(client)
        k.run("%matplotlib agg\nimport matplotlib\nmatplotlib.set_loglevel('error')\n"
              "import warnings\nwarnings.filterwarnings('ignore', message='.*non-interactive')", "setup")
        yield k


def _code(name: str) -> list[tuple[int, str]]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _names(node: ast.AST) -> tuple[set[str], set[str]]:
    """The names ``node`` assigns (targets, loop variables, definitions, imports) and the names it reads."""
    assigned, used = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (assigned if isinstance(sub.ctx, (ast.Store, ast.Del)) else used).add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
            assigned.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            assigned.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return assigned, used


def _affected(cells: list[tuple[int, str]], reads: str) -> list[tuple[int, str]]:
    """The cells to run, in order, to see what the stored file read by the statement that mentions
    ``reads`` changes: that statement's cell and every cell with a statement that reads a name assigned
    by an affected statement (a statement's names are affected when it reads an affected name it does
    not assign itself, and no longer affected when a later statement assigns them otherwise), plus the
    cell that last assigned each other name those cells read (so a name a later section reuses, such as
    the lab's ``gcn``, has the value the cell had when the notebook ran in order)."""
    parsed = [(index, source, [_names(s) for s in ast.parse(source).body]) for index, source in cells]
    tainted: set[str] = set()
    chosen: set[int] = set()
    for position, (_, source, statements) in enumerate(parsed):
        for statement, (assigned, used) in zip(ast.parse(source).body, statements):
            if reads in ast.unparse(statement) or (used - assigned) & tainted:
                tainted |= assigned
                chosen.add(position)
            else:
                tainted -= assigned  # assigned afresh, from names the file does not change
    pending = sorted(chosen)
    while pending:  # the last earlier cell that assigns each name a chosen cell reads
        position = pending.pop()
        used = set().union(*(u - a for a, u in parsed[position][2]))  # (not loop or comprehension names)
        for name in used:
            for earlier in range(position - 1, -1, -1):
                if any(name in a for a, _ in parsed[earlier][2]):
                    if earlier not in chosen:
                        chosen.add(earlier)
                        pending.append(earlier)
                    break
    return [cells[position] for position in sorted(chosen)]


#: How notebooks 04 and 06 name each stored file they read: the parameter, or the reader's call.
READS = {"04_analysis.ipynb": {seeds.SEEDS_NAME: "lesson_runs(", scope.MAP_NAME: "load_map("},
         "06_reproduction_lab.ipynb": {
             "results/citeulike_bpr.json": "results_path(RESULTS)",
             "results/citeulike_lightgcn.json": "results_path(GCN_RESULTS)",
             "results/citeulike_lr1e-3_lightgcn.json": "results_path(GCN_SLOW)",
             "results/citeulike_lightgcn_recipe.json": "results_path(GCN_RECIPE)",
             "results/citeulike_tuned_bpr.json": "results_path(BPR_TUNED)",
             "results/citeulike_bpr_d20_recipe.json": "results_path(BPR_RECIPE)",
             "results/citeulike_search_lightgcn_recipe.json": "results_path(GCN_SEARCH)",
             "results/citeulike_bpr_ablation_d20.json": "results_path(ABLATION)",
             "results/citeulike_bpr_ablation_d20_flushed.json": "results_path(FLUSHED)"}}


def test_every_stored_result_is_read_by_a_notebook():
    """A new stored results file must be read by notebook 04 or 06, and so hidden below."""
    read = set().union(*READS.values())
    assert read == {seeds.SEEDS_NAME} | {n for n in stored.stored_files(REPO_ROOT) if n.startswith("results/")}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(READS))
def test_notebook_with_each_stored_file_hidden(kernel, tmp_path, notebook):
    """The notebook in one kernel: per stored file it reads, the cells that depend on it (and the cells
    that define what those read) with that file hidden; then every code cell but the install cell with
    all of them hidden. No cell may raise; each hidden file is named, with its command, in one line."""
    cells, reads_here = _code(notebook)[1:], READS[notebook]

    def run(chosen, folder, hidden):
        kernel.run(f"import os\nos.environ['HTD_STORED_DIR'] = {str(folder)!r}", "HTD_STORED_DIR")
        printed = "".join(kernel.run(source, f"{notebook} cell {i} with {sorted(hidden) or 'nothing'} missing")
                          for i, source in chosen)
        for name in hidden:
            mentions = [line for line in printed.splitlines() if name in line]
            assert mentions and all("python -m htd_tutorial" in line for line in mentions), (name, mentions)
        assert not hidden or "does not exist" in printed or "is missing" in printed

    for number, (name, reads) in enumerate(reads_here.items()):
        chosen = _affected(cells, reads)
        assert any(reads in source for _, source in chosen), name
        run(chosen, _copy_stored(tmp_path / f"without{number}", {name}), {name})
    run(cells, _copy_stored(tmp_path / "none", set(reads_here)), set(reads_here))


@pytest.mark.slow
def test_notebook_03_stored_traces_hidden(kernel, tmp_path):
    """Notebook 03's cells that read the stored loss traces, after its set-up cells, with the file hidden."""
    cells = _code("03_htd.ipynb")
    start = next(k for k, (_, source) in enumerate(cells) if "load_traces(" in source)
    setup = [(i, s) for i, s in cells[1:4]]   # parameters and imports (nothing trains there)
    folder = _copy_stored(tmp_path / "stored", {traces.TRACES_NAME})
    kernel.run(f"import os\nos.environ['HTD_STORED_DIR'] = {str(folder)!r}", "HTD_STORED_DIR")
    for i, source in setup:
        kernel.run(source, f"notebook 03 cell {i}")
    printed = "".join(kernel.run(source, f"notebook 03 cell {i} with the traces missing")
                      for i, source in cells[start:start + 2])
    assert _one_line(printed).startswith("No stored traces: data/loss_traces.json is missing")


def test_stored_json_files_are_json():
    for name in stored.stored_files(REPO_ROOT):
        assert isinstance(json.loads((REPO_ROOT / name).read_text()), dict), name

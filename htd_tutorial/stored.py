"""The files the course ships besides its code, and where they are: in a checkout or in the installed package.

The notebooks read *stored files*: the course's seed sweep, lab and loss traces (``data/*.json``) and the
paper-scale results (``results/*.json``), each made by a command that takes minutes to hours. There is one
copy of each, in the repository, where the command that makes it writes it. A wheel carries the same files
under ``htd_tutorial/_stored/`` (``setup.py`` copies :data:`STORED_PATTERNS` at build time; the sdist
holds them through ``MANIFEST.in``), so that ``pip install`` of the package is enough: on Colab, a notebook
opened alone reads what a checkout would.

- :func:`stored_file` turns a stored file's repository path (``"data/lesson_seeds.json"``) into the path
  to read: the checkout's copy when the package runs from a checkout, else the installed copy, else (the
  environment variable ``HTD_STORED_DIR``, a folder laid out like the repository) the copy there. The
  path may not exist: the readers say so in one line, with the command that makes the file.
- :func:`output_file` is where a command writes it by default: the checkout's copy, or
  ``HTD_STORED_DIR``'s, or (installed, neither) the same relative path under the working directory.
- :func:`checkout_root` says whether the package runs from a checkout; :func:`user_dir` is where an
  installed package keeps what it downloads and trains (``~/.cache/htd-tutorial``).
- :func:`shown` prints a stored file's path the same way in both cases (``results/citeulike_bpr.json``).

Standard library only, and no import of the rest of the package: ``setup.py`` loads this file by its path
while building the wheel, before anything is installed.
"""
from __future__ import annotations

import functools
import glob
import os
from pathlib import Path

__all__ = ["STORED_PATTERNS", "PACKAGE_DIR", "ABOVE_PACKAGE", "INSTALLED_DIR", "checkout_root", "stored_base",
           "stored_file", "output_file", "stored_files", "user_dir", "shown"]

#: The stored files, as repository paths (``glob`` patterns): what the notebooks read and the wheel carries.
#: ``data/`` holds the small files the course makes, ``results/`` the paper-scale results (their figures,
#: ``results/*.png``, are the README's and docs/results.md's and are not read by any notebook, so they stay out
#: of the wheel).
STORED_PATTERNS = ("data/lesson_seeds.json", "data/lab_results.json", "data/loss_traces.json", "results/*.json")
#: The package's folder.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The folder above the package: the repository's root in a checkout (:func:`checkout_root` says whether it is
#: one), ``site-packages`` when installed. The one place the package climbs from its own file to the root.
ABOVE_PACKAGE = PACKAGE_DIR.parent
#: Where an installed package holds its copy of the stored files (made by ``setup.py``; absent in a checkout).
INSTALLED_DIR = PACKAGE_DIR / "_stored"
#: The ``name`` of ``pyproject.toml`` that marks the folder above the package as this project's checkout.
PROJECT_NAME = 'name = "htd-tutorial"'


@functools.lru_cache(maxsize=None)
def _checkout_root(root: Path) -> Path | None:
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if PROJECT_NAME in text else None


def checkout_root() -> Path | None:
    """The repository's root folder when the package runs from a checkout (a source tree or an editable
    install: the folder above the package holds this project's ``pyproject.toml``), else ``None``."""
    return _checkout_root(ABOVE_PACKAGE)


def stored_base() -> Path:
    """The folder the stored files' repository paths are relative to: ``HTD_STORED_DIR`` when set, else the
    checkout's root, else the installed copy (:data:`INSTALLED_DIR`)."""
    env = os.environ.get("HTD_STORED_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return checkout_root() or INSTALLED_DIR


def stored_file(relative: str | os.PathLike) -> Path:
    """The path to read the stored file ``relative`` (a repository path such as ``"results/x.json"``) from.

    It may not exist (a file not made yet, or hidden by ``HTD_STORED_DIR``); the readers say so.
    """
    return stored_base() / Path(relative)


def output_file(relative: str | os.PathLike) -> Path:
    """Where a command writes the stored file ``relative`` unless told otherwise: where :func:`stored_file`
    reads it, except in an installed package without ``HTD_STORED_DIR`` (never into site-packages): then
    under the working directory. Point ``HTD_STORED_DIR`` at that folder for the notebooks to read it."""
    base = stored_base()
    return (Path.cwd() if base == INSTALLED_DIR else base) / Path(relative)


def stored_files(root: str | os.PathLike) -> list[str]:
    """The repository paths of the stored files present under ``root`` (sorted; ``setup.py`` and the
    tests list what a wheel must carry with it)."""
    root = Path(root)
    found = {Path(match).relative_to(root).as_posix()
             for pattern in STORED_PATTERNS for match in glob.glob(str(root / pattern))}
    return sorted(found)


def user_dir() -> Path:
    """Where a pip-installed package keeps what it downloads and trains: ``~/.cache/htd-tutorial``."""
    return Path.home() / ".cache" / "htd-tutorial"


def shown(path: str | os.PathLike) -> str | None:
    """A stored file's path as printed for a learner: its repository path (``results/x.json``) when it lies
    under :func:`stored_base` or the installed copy, so a notebook's output reads the same from a checkout
    and installed; ``None`` for any other path."""
    path = Path(path)
    for base in {stored_base(), INSTALLED_DIR}:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return None

"""Datasets for the course: one :class:`Interactions` type and the loaders that make one.

* :func:`make_synthetic` — seeded data with a planted two-level hierarchy (and its labels);
* :func:`load_movielens_100k` — MovieLens-100K as implicit feedback;
* :func:`load_interactions` — any ``user``/``item`` TSV/CSV file, or a ``train/valid/test.tsv`` folder
  such as the paper's CiteULike split (:func:`citeulike_dir`);
* :func:`leave_one_out` — the paper's split for data that comes without one;
* :func:`load_dataset` — any of these by name, optionally falling back to synthetic data.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from .files import MissingDataError, load_interactions
from .interactions import Interactions
from .movielens import default_data_dir, load_movielens_100k
from .._checks import integer
from .._env import env_flag
from ..stored import checkout_root, user_dir
from .split import leave_one_out
from .synthetic import make_synthetic

__all__ = ["Interactions", "make_synthetic", "load_movielens_100k", "load_interactions", "leave_one_out",
           "load_dataset", "citeulike_dir", "default_data_dir", "MissingDataError", "DATASETS"]

#: Names :func:`load_dataset` understands (besides a path), with their aliases.
DATASETS = {"synthetic": "synthetic", "movielens-100k": "movielens-100k", "ml-100k": "movielens-100k",
            "citeulike": "citeulike"}


def citeulike_dir() -> Path:
    """Folder of the paper's CiteULike split: env ``HTD_CITEULIKE_DIR``, else ``<repo>/../shared/data/citeulike``
    when the package runs from a checkout, else ``~/.cache/htd-tutorial/citeulike`` (pip-installed).

    The repository root is the parent of the ``htd_tutorial`` package folder
    (:func:`htd_tutorial.stored.checkout_root`). The folder holds ``train.tsv``, ``valid.tsv`` and
    ``test.tsv`` (it is never copied into the repository; ``python -m htd_tutorial fetch citeulike``
    writes them there).
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    env = os.environ.get("HTD_CITEULIKE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is None:
        return user_dir() / "citeulike"
    return (root / ".." / "shared" / "data" / "citeulike").resolve()


def load_dataset(name: str | os.PathLike, *, seed: int = 0, fallback: bool = False) -> Interactions:
    """Load a dataset by name or path: what every notebook and script calls.

    Parameters
    ----------
    name : str or os.PathLike
        ``"synthetic"``, ``"movielens-100k"`` (alias ``"ml-100k"``), ``"citeulike"`` (case-insensitive),
        or the path of an interaction file or split folder (see :func:`load_interactions`).
    seed : int
        Seed of the synthetic generator and of leave-one-out splits (CiteULike comes split).
    fallback : bool
        When the real data is not available (:class:`MissingDataError`: no file, no source),
        warn and return :func:`make_synthetic` data instead, so a notebook still runs. Malformed
        data still raises, and so does missing data when the environment variable
        ``HTD_REQUIRE_DATA`` says yes (what CI sets: a run that must check the lessons on the real
        data may not quietly use the synthetic stand-in).

    Returns
    -------
    Interactions

    Raises
    ------
    ValueError
        Unknown name (the message lists the choices), or bad data.
    MissingDataError
        The data is not available and ``fallback`` is false, or ``HTD_REQUIRE_DATA`` says yes.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    seed = integer("seed", seed, low=0)
    key = DATASETS.get(str(name).strip().lower()) if isinstance(name, str) else None
    if key is None:
        text = os.fspath(name) if isinstance(name, (str, os.PathLike)) else None
        if text is None or not (isinstance(name, os.PathLike) or os.sep in text or "/" in text
                                or Path(text).expanduser().exists()):
            raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)} or give the path of "
                             "an interaction file (TSV/CSV with 'user' and 'item' columns) or of a folder with "
                             "train.tsv, valid.tsv and test.tsv")
    try:
        if key == "synthetic":
            return make_synthetic(seed=seed)
        if key == "movielens-100k":
            return load_movielens_100k(seed=seed)
        if key == "citeulike":
            folder = citeulike_dir()
            if not folder.is_dir():
                raise MissingDataError(f"CiteULike folder {folder} not found; set the environment variable "
                                       "HTD_CITEULIKE_DIR to the folder holding its train.tsv, valid.tsv and test.tsv")
            return load_interactions(folder, name="citeulike")
        return load_interactions(name, seed=seed)
    except MissingDataError as exc:
        if not fallback:
            raise
        if env_flag("HTD_REQUIRE_DATA"):
            raise MissingDataError(f"dataset {name!r} is not available, and HTD_REQUIRE_DATA=1 forbids the synthetic "
                                   f"stand-in: {exc}") from exc
        warnings.warn(f"dataset {name!r} is not available, using the synthetic dataset instead "
                      f"(results will differ from the paper's). Reason: {exc}", stacklevel=2)
        return make_synthetic(seed=seed)

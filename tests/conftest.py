"""Shared pytest set-up for the htd-tutorial tests.

What lives here and why:

- matplotlib draws with the non-interactive Agg backend inside the pytest process. This is done with
  ``matplotlib.use`` and never through the ``MPLBACKEND`` environment variable: the notebook kernels that
  nbval starts inherit the environment, and ipykernel only selects its inline backend (the figures that
  learners see) when ``MPLBACKEND`` is unset.
- ``NUMBA_CACHE_DIR`` gets a writable default (``data/cache/numba``): umap-learn compiles with numba and
  caches the result, which fails where site-packages is read-only.
- The package's OpenMP thread policy (``htd_tutorial._threads``) is applied before any test imports
  torch, and is inherited by the notebook kernels; ``OMP_WAIT_POLICY``/``GOMP_SPINCOUNT`` set by the
  caller win.
- Fixtures: ``repo_root``, ``seed``/``rng``/``torch_generator`` (seeded randomness), ``citeulike_dir``
  (the paper's CiteULike split, skipped when absent; every test that reads the split must take it, and
  is marked ``data`` automatically), ``chromium_executable`` (Debian's Chromium for the
  browser test, skipped when absent) and ``artifacts_dir`` (where tests leave screenshots and the like).

Environment variables honoured:

- ``HTD_CITEULIKE_DIR``: folder with ``train.tsv``/``valid.tsv``/``test.tsv`` (default
  ``<repo>/../shared/data/citeulike``).
- ``HTD_REQUIRE_DATA=1``: a missing CiteULike folder fails the tests that need it instead of skipping them.
- ``HTD_CHROMIUM``: the Chromium executable for the browser test (default ``/usr/bin/chromium``).
- ``HTD_REQUIRE_BROWSER=1``: a missing Chromium or Playwright fails the browser test instead of skipping it.
- ``HTD_TEST_ARTIFACTS``: where tests write artefacts (default ``tests/artifacts``).
- ``NUMBA_CACHE_DIR``: kept when already set.
- ``HTD_STRICT_CLAIMS``: set to 1 (a failed lesson claim in a notebook fails it); kept when already set.

The markers (``slow``, ``browser``, ``data``) are registered in ``pyproject.toml`` so that they are known
however pytest is started.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from htd_tutorial._threads import apply_thread_policy

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / "data" / "cache" / "numba"))
# The notebooks' lesson claims (htd_tutorial.course.claim) stop a notebook only when this is set: CI runs
# the shipped settings, so a lesson that stops being true fails it; a learner's kernel just reports it.
os.environ.setdefault("HTD_STRICT_CLAIMS", "1")
# The package's OpenMP thread policy, before anything imports torch; the notebook kernels that nbval
# starts inherit it (the one owner is htd_tutorial/_threads.py; a user's own setting wins).
apply_thread_policy()

SPLIT_FILES = ("train.tsv", "valid.tsv", "test.tsv")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
TEST_SEED = 0


def _flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to a true value (1, true, yes, on).

    Raises ValueError for any other non-empty value, so a typo does not silently turn a check off.
    """
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={os.environ[name]!r} is not a yes/no value; use 1 or 0")


def _missing(reason: str, required_by: str) -> None:
    """Skip the current test with ``reason``, or fail it when the env flag ``required_by`` is set."""
    if _flag(required_by):
        pytest.fail(f"{reason} (and {required_by}=1 makes this an error)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the ``citeulike_dir`` fixture with ``data``.

    So ``-m data`` / ``-m "not data"`` select exactly the tests that need the split, even where a test
    module forgets the explicit mark.
    """
    for item in items:
        if "citeulike_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Path: the repository's root folder."""
    return REPO_ROOT


@pytest.fixture
def seed() -> int:
    """int: the seed every test uses unless it has a reason to pick another."""
    return TEST_SEED


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    """np.random.Generator: a fresh NumPy generator seeded with ``seed``."""
    return np.random.default_rng(seed)


@pytest.fixture
def torch_generator(seed: int):
    """torch.Generator: a fresh CPU generator seeded with ``seed`` (torch is imported only when used)."""
    import torch

    return torch.Generator().manual_seed(seed)


@pytest.fixture(autouse=True)
def _seed_global_state() -> Iterator[None]:
    """Seed Python's, NumPy's and (when already imported) torch's global generators before each test.

    Tests should still pass explicit seeds to the code under test; this only keeps stray global
    randomness from making a failure unrepeatable.
    """
    random.seed(TEST_SEED)
    np.random.seed(TEST_SEED)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(TEST_SEED)
    yield


@pytest.fixture(scope="session")
def citeulike_dir() -> Path:
    """Path: the folder with the paper's CiteULike split (``train.tsv``, ``valid.tsv``, ``test.tsv``).

    Taken from ``HTD_CITEULIKE_DIR``, else ``<repo>/../shared/data/citeulike``. When the folder or one
    of its files is missing, the test is skipped with the reason, or fails when ``HTD_REQUIRE_DATA=1``.
    """
    folder = Path(os.environ.get("HTD_CITEULIKE_DIR") or REPO_ROOT.parent / "shared" / "data" / "citeulike")
    missing = [name for name in SPLIT_FILES if not (folder / name).is_file()]
    if missing:
        _missing(
            f"CiteULike split not found: {folder} lacks {', '.join(missing)} "
            "(set HTD_CITEULIKE_DIR to the folder with train.tsv/valid.tsv/test.tsv)",
            "HTD_REQUIRE_DATA",
        )
    return folder


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """str: path of the Chromium that Playwright drives in the browser test (never a downloaded browser).

    Taken from ``HTD_CHROMIUM``, else ``/usr/bin/chromium`` (Debian's ``apt-get install chromium``).
    Skips when Chromium or the ``playwright`` package is missing, or fails when ``HTD_REQUIRE_BROWSER=1``.
    """
    path = os.environ.get("HTD_CHROMIUM") or DEFAULT_CHROMIUM
    if importlib.util.find_spec("playwright") is None:
        _missing("the playwright package is not installed (pip install -e '.[test]')", "HTD_REQUIRE_BROWSER")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _missing(
            f"no Chromium at {path} (apt-get install chromium, or set HTD_CHROMIUM)",
            "HTD_REQUIRE_BROWSER",
        )
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Path: folder for test artefacts such as the browser test's screenshot (created, git-ignored).

    ``HTD_TEST_ARTIFACTS`` overrides the default ``tests/artifacts``.
    """
    folder = Path(os.environ.get("HTD_TEST_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder

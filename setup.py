"""Build hook: the wheel carries the stored files the notebooks read (``htd_tutorial/_stored/``).

Everything else about the package is declared in ``pyproject.toml``. The stored files (the course's seed
sweep, lab and loss traces in ``data/``, the paper-scale results in ``results/``) stay where the commands
that make them write them, in the repository; at build time they are copied into the package as
``htd_tutorial/_stored/<repository path>``, where :func:`htd_tutorial.stored.stored_file` finds them once
installed. Which files: :data:`htd_tutorial.stored.STORED_PATTERNS`, read from that file (it needs nothing
but the standard library), so the list has one owner. The sdist carries them too (``MANIFEST.in``), so a
wheel built from it holds the same files; a build that finds none of them stops with an error.
"""
import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _stored_module():
    spec = importlib.util.spec_from_file_location("_htd_stored", ROOT / "htd_tutorial" / "stored.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithStoredFiles(build_py):
    """``build_py`` that also copies the stored files into ``htd_tutorial/_stored/`` of the build."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own copies
        stored = _stored_module()
        names = stored.stored_files(ROOT)
        missing = [p for p in stored.STORED_PATTERNS if "*" not in p and p not in names]
        if missing or not any(name.startswith("results/") for name in names):
            raise SystemExit(f"setup.py: the stored files {missing or ['results/*.json']} are missing from "
                             f"{ROOT}; build the wheel from a checkout or from an sdist that holds them")
        target = Path(self.build_lib) / "htd_tutorial" / "_stored"
        for name in names:
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, dest)


setup(cmdclass={"build_py": BuildWithStoredFiles})

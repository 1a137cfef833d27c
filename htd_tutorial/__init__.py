"""htd-tutorial: a hands-on course on *Topology Distillation for Recommender System* (KDD 2021).

The notebooks in ``notebooks/`` teach; this package does the work, in layers that each import only
the ones below them (``tests/project/test_layering.py`` checks it):

- the library: ``data/`` (datasets, splits), ``losses/`` (BPR, FTD, DE/FitNet, HTD as the paper's
  Section 4.2, its fast machinery in ``losses/_fast``), and the modules ``models``, ``sampling``,
  ``optim``, ``training``, ``evaluation``, ``topology``, ``distill``, ``experiments`` (``run_method``)
  and ``cache``; ``choices`` owns the accepted names and the paper's defaults, ``config`` the typed
  settings built from them (``TrainConfig``, ``TeacherConfig``, ``RunConfig``, checked once),
  ``modes`` what the library-wide "authors" vs "clean" setting changes in each loss, ``_checks``
  the input checks (one rule each) that the entry points validate with;
- ``paper/``: the paper's commands (``python -m htd_tutorial reproduce`` / ``ablation``);
- ``plots/``: pictures only (colours and labels in ``plots.style``);
- ``course/``: what only the notebooks use (shared defaults, lesson helpers, the explorer, exercises).
"""
from ._threads import apply_thread_policy

# First, before any module of the package imports torch: the OpenMP thread policy (how torch's idle
# threads wait) is read once, when torch loads. It is chosen and documented in ``_threads.py``; a
# user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT wins.
apply_thread_policy()

from .params import param  # noqa: E402

__version__ = "0.1.0"
from .install import PROJECT_URL  # noqa: E402  (the one place that names the repository)

__all__ = ["param", "__version__", "PROJECT_URL"]

"""htd-tutorial: a hands-on course on *Topology Distillation for Recommender System* (KDD 2021).

The notebooks in ``notebooks/`` teach; this package does the work, one concept per module:
data -> models -> losses -> training -> evaluation -> topology / plots -> widgets.
"""
from ._threads import apply_thread_policy

# First, before any module of the package imports torch: the OpenMP thread policy (how torch's idle
# threads wait) is read once, when torch loads. It is chosen and documented in ``_threads.py``; a
# user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT wins.
apply_thread_policy()

from .params import param  # noqa: E402

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/htd-tutorial/htd-tutorial"

__all__ = ["param", "__version__", "PROJECT_URL"]

"""htd-tutorial: a hands-on course on *Topology Distillation for Recommender System* (KDD 2021).

The notebooks in ``notebooks/`` teach; this package does the work, one concept per module:
data -> models -> losses -> training -> evaluation -> topology / plots -> widgets.
"""
import os

# OpenMP threads that spin while waiting make torch 10-100x slower as soon as another process
# wants the same cores (a second notebook, a browser, CI's other jobs). Sleeping threads cost
# almost nothing when the machine is idle. This only takes effect if torch is not imported yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .params import param  # noqa: E402

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/htd-tutorial/htd-tutorial"

__all__ = ["param", "__version__", "PROJECT_URL"]

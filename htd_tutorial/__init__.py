"""htd-tutorial: a hands-on course on *Topology Distillation for Recommender System* (KDD 2021).

The notebooks in ``notebooks/`` teach; this package does the work, one concept per module:
data -> models -> losses -> training -> evaluation -> topology / plots -> widgets.
"""
from .params import param

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/htd-tutorial/htd-tutorial"

__all__ = ["param", "__version__", "PROJECT_URL"]

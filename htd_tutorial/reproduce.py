"""Moved to :mod:`htd_tutorial.paper.reproduce`; this alias keeps old imports (a learner's saved notebook) working for one release."""
import sys; from .paper import reproduce as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

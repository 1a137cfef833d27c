"""Moved to :mod:`htd_tutorial.plots.topology`; this alias keeps old imports (a learner's saved notebook) working for one release."""
import sys; from .plots import topology as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

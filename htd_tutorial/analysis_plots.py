"""Moved to :mod:`htd_tutorial.plots.analysis`; this alias keeps old imports (a learner's saved notebook) working for one release."""
import sys; from .plots import analysis as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

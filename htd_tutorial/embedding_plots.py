"""Moved to :mod:`htd_tutorial.plots.maps`; this alias keeps old imports (a learner's saved notebook) working for one release."""
import sys; from .plots import maps as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

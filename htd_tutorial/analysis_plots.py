"""Moved to :mod:`htd_tutorial.plots.analysis`: an alias for one release, so a saved notebook still runs."""
import sys; from .plots import analysis as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

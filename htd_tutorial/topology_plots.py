"""Moved to :mod:`htd_tutorial.plots.topology`: an alias for one release, so a saved notebook still runs."""
import sys; from .plots import topology as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

"""Moved to :mod:`htd_tutorial.paper.reproduce`: an alias for one release, so a saved notebook still runs."""
import sys; from .paper import reproduce as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

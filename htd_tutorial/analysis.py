"""Moved to :mod:`htd_tutorial.course.analysis`: an alias for one release, so a saved notebook still runs."""
import sys; from .course import analysis as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

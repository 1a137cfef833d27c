"""Moved to :mod:`htd_tutorial.course.explorer`: an alias for one release, so a saved notebook still runs."""
import sys; from .course import explorer as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

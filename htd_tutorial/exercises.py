"""Moved to :mod:`htd_tutorial.course.exercises`: an alias for one release, so a saved notebook still runs."""
import sys; from .course import exercises as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

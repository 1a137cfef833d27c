"""Moved to :mod:`htd_tutorial.course.lessons`; this alias keeps old imports (a learner's saved notebook) working for one release."""
import sys; from .course import lessons as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401

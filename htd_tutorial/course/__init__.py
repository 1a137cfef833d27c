"""The course layer: what the notebooks use on top of the library, and nothing the library needs.

``recipes`` owns the course's recipes (teacher, students, distillation, lesson sizes and seeds),
``common`` the shared helpers of every notebook (datasets, teacher, ``claim``), ``seeds`` the seed
sweep command and ``evidence`` its statistics and the lessons (each stated once), ``lab`` and
``traces`` the other stored runs (notebook 06's lab, the loss traces no notebook trains live),
``geometry`` notebook 01's random directions, ``lessons`` the helpers of notebooks 02-03 (the by-hand
FTD and HTD among them), ``analysis`` those of notebooks 04 and 06, ``scope`` the evidence map's verdicts in words
(every sentence on which method wins where), ``explorer/`` the interactive explorer of
notebook 05 (one module a role: settings, compute, picture, widget, and ``page``, its kernel-free
HTML copy), ``warm_up`` the cache warm-up for Binder and classrooms, ``slides`` the lecture plan
as slide tags, and ``exercises`` the self-checks (the engine and one module per notebook). Nothing
outside this folder imports it.
``from htd_tutorial.course import claim, course_teacher, ...`` reads the names of ``common``.
"""
from .common import *  # noqa: F401,F403  (the notebooks' shared names, as before the move)
from .common import __all__  # noqa: F401

"""The course's self-check exercises: the engine (:mod:`.engine`) and one module per notebook.

``from htd_tutorial.course.exercises import check, hint, solution`` is all a notebook needs. Each
notebook module lists its exercises in ``NOTEBOOK_EXERCISES``; they are registered here, explicitly
and in notebook order, so that every exercise exists as soon as this package is imported (no module
registers anything by being imported, and none is found through an import string).
"""
from __future__ import annotations

from . import analysis, capacity_gap, data_and_teacher, explorer, htd, reproduction, topology_and_ftd
from .engine import (EXERCISES, Exercise, all_exercises, as_int, as_number, as_numbers, check, close, hint,
                     is_correct, question, register, solution)

__all__ = ["Exercise", "EXERCISES", "all_exercises", "register", "check", "is_correct", "hint", "solution", "question",
           "as_number", "as_int", "as_numbers", "close", "NOTEBOOKS"]

#: The exercise module of each notebook, in course order.
NOTEBOOKS = (data_and_teacher, capacity_gap, topology_and_ftd, htd, analysis, explorer, reproduction)

for _notebook in NOTEBOOKS:
    for _exercise in _notebook.NOTEBOOK_EXERCISES:
        if _exercise.exercise_id not in EXERCISES:   # a reload of this package must not fail
            register(_exercise)

"""The exercise engine: a learner computes an answer, :func:`check` says "Correct!" or gives a hint.

Each exercise is registered under an id ``"<notebook>.<number>"`` (``"00.1"`` is the first exercise
of ``notebooks/00_data_and_teacher.ipynb``). An exercise knows

- ``question``: the task, as the notebook states it;
- ``inputs``: names of the objects the check needs besides the answer (e.g. ``("data",)``), passed
  positionally: ``check("00.1", answer, data)``;
- ``solve(*inputs)``: the reference solution. It lives in the notebook's exercise module, out of the
  learner's way; :func:`solution` prints its source code when the learner asks for it;
- ``judge(answer, expected, *inputs)``: ``None`` when the answer is right, else a hint (str).
  It only runs on a well-formed answer: ``parse(answer)`` first turns the answer into the expected
  form and raises :class:`ValueError` when it cannot (a string where a number is expected, a wrong
  number of values).

A wrong answer never raises (a notebook keeps running); a malformed one raises ``ValueError``; an
unanswered one (``None``) prints a reminder. The exercises themselves live one module per notebook
(``data_and_teacher.py`` for 00.x, ...), each listing them in ``NOTEBOOK_EXERCISES``;
:mod:`htd_tutorial.course.exercises` registers those lists explicitly, so a new notebook's exercises
need a new module and one line there. ``tests/course/test_exercises.py`` checks that every registered reference
solution passes its own check, and that each check accepts right answers and rejects plausible wrong
ones with a hint: a new exercise needs its inputs and such answers there.
"""
from __future__ import annotations

import inspect
import math
import textwrap
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Exercise", "EXERCISES", "all_exercises", "register", "check", "is_correct", "hint", "solution", "question",
           "as_number", "as_int", "as_numbers", "as_choice", "as_function", "close", "within_factor"]


@dataclass(frozen=True)
class Exercise:
    """One self-check exercise (see the module docstring for the meaning of each field).

    Attributes
    ----------
    exercise_id : str
        ``"<notebook>.<number>"``, e.g. ``"00.1"``.
    question : str
        The task as the notebook states it.
    inputs : tuple of str
        Names of the extra objects :func:`check` needs, in order.
    parse : callable
        ``parse(answer) -> normalised answer``; raises ValueError for a malformed answer.
    solve : callable
        ``solve(*inputs) -> expected answer`` (already in the parsed form).
    judge : callable
        ``judge(answer, expected, *inputs) -> None | str``: None when correct, else a hint.
    hint : str
        A general hint, shown by :func:`hint`.
    explain : str or callable
        What the answer means, printed after "Correct!" (a learner who got it right should still
        learn why): a text, or ``explain(answer, *inputs) -> str`` for one with the learner's numbers.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    exercise_id: str
    question: str
    inputs: tuple[str, ...]
    parse: Callable
    solve: Callable
    judge: Callable
    hint: str
    explain: str | Callable = ""


#: All registered exercises by id.
EXERCISES: dict[str, Exercise] = {}

def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise by id (all of them once :mod:`htd_tutorial.course.exercises` is imported).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    return EXERCISES


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`EXERCISES`; ValueError if its id is taken or malformed.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    parts = exercise.exercise_id.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"exercise id must look like '00.1' (notebook.number), got {exercise.exercise_id!r}")
    if exercise.exercise_id in EXERCISES:
        raise ValueError(f"exercise {exercise.exercise_id!r} is already registered")
    n_params = len(inspect.signature(exercise.solve).parameters)
    if n_params != len(exercise.inputs):
        raise ValueError(f"exercise {exercise.exercise_id!r}: solve() takes {n_params} argument(s) "
                         f"but inputs names {len(exercise.inputs)}")
    EXERCISES[exercise.exercise_id] = exercise
    return exercise


def _get(exercise_id: str) -> Exercise:
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}")
    return EXERCISES[exercise_id]


def _verdict(exercise_id: str, answer, inputs: tuple) -> str | None:
    """``None`` when ``answer`` is correct, else the hint to show; ValueError when it is malformed."""
    exercise = _get(exercise_id)
    if len(inputs) != len(exercise.inputs):
        names = ", ".join(exercise.inputs) or "nothing"
        raise ValueError(f"exercise {exercise_id} needs the answer and then: {names} "
                         f"(got {len(inputs)} extra argument(s))")
    given = exercise.parse(answer)
    expected = exercise.parse(exercise.solve(*inputs))
    return exercise.judge(given, expected, *inputs)


def check(exercise_id: str, answer, *inputs) -> None:
    """Check a learner's ``answer`` to exercise ``exercise_id``: print "Correct!" or a hint.

    Parameters
    ----------
    exercise_id : str
        E.g. ``"00.1"``.
    answer
        The learner's answer; ``None`` means "not answered yet" (prints a reminder).
    *inputs
        The objects the exercise needs, in the order its question names them (e.g. ``data``).

    Raises
    ------
    ValueError
        Unknown exercise, wrong number of inputs, or a malformed answer (wrong type or shape).
        A merely wrong answer never raises. (:func:`is_correct` is the silent, boolean variant.)

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    _get(exercise_id)
    if answer is None:
        print(f"Exercise {exercise_id}: no answer yet. Replace None with your answer and run the cell again.")
        return
    verdict = _verdict(exercise_id, answer, inputs)
    if verdict is not None:
        print(f"Exercise {exercise_id}: not quite. {verdict}")
        return
    explain = _get(exercise_id).explain
    why = explain(answer, *inputs) if callable(explain) else explain
    print(f"Exercise {exercise_id}: Correct! {why}".rstrip())


def is_correct(exercise_id: str, answer, *inputs) -> bool:
    """Whether ``answer`` solves exercise ``exercise_id`` (no printing; ``None`` is not correct).

    Same arguments and errors as :func:`check`. Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    _get(exercise_id)
    return answer is not None and _verdict(exercise_id, answer, inputs) is None


def hint(exercise_id: str) -> None:
    """Print the general hint of an exercise. Introduced in ``notebooks/00_data_and_teacher.ipynb``."""
    print(f"Hint for exercise {exercise_id}: {_get(exercise_id).hint}")


def question(exercise_id: str) -> str:
    """The question of an exercise (as stated in its notebook). Introduced in ``notebooks/00_data_and_teacher.ipynb``."""
    return _get(exercise_id).question


def solution(exercise_id: str) -> None:
    """Print the reference solution of an exercise (its source code). Try first!

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    source = textwrap.dedent(inspect.getsource(_get(exercise_id).solve))
    print(f"Solution of exercise {exercise_id}:\n\n{source}")


# ------------------------------------------------------------------ answer parsers and comparisons
def as_number(answer) -> float:
    """A single finite real number (int, float, NumPy or 0-d tensor); ValueError otherwise.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if hasattr(answer, "item") and getattr(answer, "ndim", 0) == 0:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise ValueError(f"expected a number, got {type(answer).__name__} {answer!r}")
    value = float(answer)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def as_int(answer) -> int:
    """A whole number (a float like ``21000.0`` is accepted); ValueError otherwise.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    value = as_number(answer)
    if value != int(value):
        raise ValueError(f"expected a whole number, got {value}")
    return int(value)


def as_numbers(length: int | None = None) -> Callable:
    """A parser for a sequence of numbers (list, tuple, set or 1-D array), of ``length`` if given.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    def parse(answer) -> tuple[float, ...]:
        if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
            raise ValueError(f"expected a sequence of numbers, got {type(answer).__name__} {answer!r}")
        values = tuple(as_number(v) for v in answer)
        if length is not None and len(values) != length:
            raise ValueError(f"expected {length} numbers, got {len(values)}")
        return values
    return parse


def as_choice(*options: str) -> Callable:
    """A parser for one of ``options`` (case and surrounding spaces ignored), for predict-then-run questions.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if not options:
        raise ValueError("as_choice needs at least one option")

    def parse(answer) -> str:
        if not isinstance(answer, str) or answer.strip().lower() not in options:
            raise ValueError(f"expected one of {', '.join(repr(o) for o in options)}, got {answer!r}")
        return answer.strip().lower()
    return parse


def as_function(answer) -> Callable:
    """A function written by the learner (the exercise calls it); ValueError for anything not callable.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    if not callable(answer):
        raise ValueError(f"expected a function (def ...), got {type(answer).__name__} {answer!r}")
    return answer


def within_factor(answer: float, expected: float, factor: float) -> bool:
    """Whether two positive numbers agree within a factor (a guess of an order of magnitude).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    if not (answer > 0 and expected > 0 and factor >= 1):
        return False
    return max(answer / expected, expected / answer) <= factor


def close(answer: float, expected: float, *, rel: float = 1e-3, abs_tol: float = 1e-6) -> bool:
    """Whether two numbers agree within a relative tolerance (for answers computed in floating point).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    return math.isclose(answer, expected, rel_tol=rel, abs_tol=abs_tol)

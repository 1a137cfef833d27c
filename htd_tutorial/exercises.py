"""Self-check exercises: a learner computes an answer, :func:`check` says "Correct!" or gives a hint.

Each exercise is registered under an id ``"<notebook>.<number>"`` (``"00.1"`` is the first exercise
of ``notebooks/00_data_and_teacher.ipynb``). An exercise knows

- ``question``: the task, as the notebook states it;
- ``inputs``: names of the objects the check needs besides the answer (e.g. ``("data",)``), passed
  positionally: ``check("00.1", answer, data)``;
- ``solve(*inputs)``: the reference solution. It lives here, out of the learner's way;
  :func:`solution` prints its source code when the learner asks for it;
- ``judge(answer, expected, *inputs)``: ``None`` when the answer is right, else a hint (str).
  It only runs on a well-formed answer: ``parse(answer)`` first turns the answer into the expected
  form and raises :class:`ValueError` when it cannot (a string where a number is expected, a wrong
  number of values).

A wrong answer never raises (a notebook keeps running); a malformed one raises ``ValueError``; an
unanswered one (``None``) prints a reminder. Authors of later notebooks add their exercises with
:func:`register`, either in this file (see the ``00.x`` and ``01.x`` exercises below for the pattern)
or in their own module, whose name they then add to :data:`PROVIDERS` so that :func:`all_exercises`
(and :func:`check`, for an id it does not know yet) imports it. ``tests/test_exercises.py`` checks
that every registered reference solution passes its own check.
"""
from __future__ import annotations

import importlib
import inspect
import math
import textwrap
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Exercise", "EXERCISES", "PROVIDERS", "all_exercises", "register", "check", "is_correct", "hint", "solution", "question",
           "as_number", "as_int", "as_numbers", "close"]


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

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    exercise_id: str
    question: str
    inputs: tuple[str, ...]
    parse: Callable
    solve: Callable
    judge: Callable
    hint: str


#: All registered exercises by id.
EXERCISES: dict[str, Exercise] = {}

#: Modules outside this file that register exercises when imported (imported by :func:`all_exercises`).
PROVIDERS: tuple[str, ...] = ("htd_tutorial.explorer",)


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course: this file's and those of the :data:`PROVIDERS` modules.

    A provider module that does not exist (yet) is skipped; any other import error propagates.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    for module in PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
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
        all_exercises()
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
    print(f"Exercise {exercise_id}: Correct!" if verdict is None else f"Exercise {exercise_id}: not quite. {verdict}")


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


def close(answer: float, expected: float, *, rel: float = 1e-3, abs_tol: float = 1e-6) -> bool:
    """Whether two numbers agree within a relative tolerance (for answers computed in floating point).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    return math.isclose(answer, expected, rel_tol=rel, abs_tol=abs_tol)


# ================================================================== notebook 00: data and teacher
def _solve_00_1(data):
    counts = np.sort(data.item_counts())[::-1]              # training interactions per item, most popular first
    top = int(np.ceil(0.2 * data.n_items))                  # the 20% most popular items
    return counts[:top].sum() / counts.sum()


def _judge_00_1(answer, expected, data):
    if close(answer, expected, rel=0.02):
        return None
    if answer > 1:
        return "Give a share between 0 and 1 (not a percentage or a count)."
    if close(answer, 0.2, rel=0.05):
        return "That is the share of *items*; the question asks for the share of *interactions* they receive."
    return "Sort data.item_counts() from most to least popular and sum the first 20% of entries."


register(Exercise(
    exercise_id="00.1",
    question="What share of all training interactions goes to the 20% most popular items? (a number in [0, 1])",
    inputs=("data",), parse=as_number, solve=_solve_00_1, judge=_judge_00_1,
    hint="data.item_counts() gives each item's number of training interactions; sort it in decreasing "
         "order (np.sort(...)[::-1]), take the first ceil(0.2 * n_items) entries and divide their sum by the total."))


def _solve_00_2():
    rank = 7                                                # the held-out item's rank among the candidates
    recall_5 = 1.0 if rank <= 5 else 0.0                    # one held-out item: Recall@K is a hit or a miss
    recall_10 = 1.0 if rank <= 10 else 0.0
    ndcg_10 = 1 / np.log2(rank + 1) if rank <= 10 else 0.0  # ideal DCG is 1/log2(2) = 1
    return recall_5, recall_10, ndcg_10


def _judge_00_2(answer, expected):
    r5, r10, ndcg = answer
    if (r5, r10) != expected[:2]:
        return "With one held-out item, Recall@K is 1 when its rank is at most K, else 0."
    if close(ndcg, 1 / math.log2(7), rel=1e-3) or close(ndcg, 1 / math.log(8), rel=1e-3):
        return "Check the discount: it is 1 / log2(rank + 1), with a base-2 logarithm and rank starting at 1."
    if not close(ndcg, expected[2], rel=1e-3):
        return "NDCG@10 = 1 / log2(rank + 1) when rank <= 10 (the ideal DCG is 1)."
    return None


register(Exercise(
    exercise_id="00.2",
    question="A user's test item is ranked 7th among the candidate items (training items and the validation "
             "item excluded). Give (Recall@5, Recall@10, NDCG@10) for this user.",
    inputs=(), parse=as_numbers(3), solve=_solve_00_2, judge=_judge_00_2,
    hint="One held-out item per user: Recall@K is 1 if rank <= K else 0; NDCG@K is 1 / log2(rank + 1) if "
         "rank <= K else 0."))


def _solve_00_3(data):
    n_train = data.user_counts()                            # training items per user
    candidates = data.n_items - n_train - 1                 # minus the other held-out item
    return float(np.mean(np.minimum(1.0, 50 / candidates)))


def _judge_00_3(answer, expected, data):
    if close(answer, expected, rel=0.01):
        return None
    if close(answer, 50 / data.n_items, rel=0.01):
        return "Close, but a user's candidates are not all items: training items and the other held-out item " \
               "are removed first, and that number differs per user."
    return "For one user with c candidates, a random ranking puts the held-out item in the top 50 with " \
           "probability min(1, 50 / c). Average that over users."


register(Exercise(
    exercise_id="00.3",
    question="What test Recall@50 does a recommender that ranks items at random reach on average? "
             "Compute it exactly from the data (no simulation needed).",
    inputs=("data",), parse=as_number, solve=_solve_00_3, judge=_judge_00_3,
    hint="A user's candidates are n_items minus their training items (data.user_counts()) minus the other "
         "held-out item; the chance of a hit is min(1, 50 / candidates)."))


# ================================================================== notebook 01: the capacity gap
def _solve_01_1(data):
    dim = 8
    return (data.n_users + data.n_items) * dim              # one dim-vector per user and per item


def _judge_01_1(answer, expected, data):
    if answer == expected:
        return None
    if answer == 200 * (data.n_users + data.n_items):
        return "That is the teacher (dimension 200); the question asks about the dimension-8 student."
    if answer in (8 * data.n_users, 8 * data.n_items):
        return "Both users and items have an embedding table."
    if answer == 8 * data.n_users * data.n_items:
        return "A factorisation model does not store one number per user-item pair: one vector per user and per item."
    return "BPR-MF stores one vector of length dim for each user and for each item."


register(Exercise(
    exercise_id="01.1",
    question="How many trainable numbers (parameters) does a BPR-MF student of dimension 8 have on this data?",
    inputs=("data",), parse=as_int, solve=_solve_01_1, judge=_judge_01_1,
    hint="Count the entries of the user table (n_users x dim) and of the item table (n_items x dim)."))


def _solve_01_2(table):
    teacher = table.loc[table["model"] == "teacher", "Recall@50"].item()
    students = table[table["model"] != "teacher"].sort_values("dim")
    good = students[students["Recall@50"] >= 0.8 * teacher]   # within 20% of the teacher
    return int(good["dim"].min()) if len(good) else 0


def _judge_01_2(answer, expected, table):
    if answer == expected:
        return None
    if expected == 0:
        return "No student of this run reaches 80% of the teacher's Recall@50; the answer is 0."
    row = table[(table["dim"] == answer) & (table["model"] != "teacher")]
    if row.empty:
        return f"{answer} is not one of the student dimensions in the table: {sorted(table['dim'])[:-1]}."
    teacher = table.loc[table["model"] == "teacher", "Recall@50"].item()
    ratio = row["Recall@50"].item() / teacher
    if ratio < 0.8:
        return f"The dim-{answer} student reaches only {ratio:.0%} of the teacher's Recall@50."
    return f"The dim-{answer} student qualifies ({ratio:.0%}), but is there a smaller one that does?"


register(Exercise(
    exercise_id="01.2",
    question="Using the capacity table, what is the smallest student dimension whose test Recall@50 is at least "
             "80% of the teacher's? (0 if none)",
    inputs=("table",), parse=as_int, solve=_solve_01_2, judge=_judge_01_2,
    hint="Divide each student's Recall@50 by the teacher's and keep the dimensions where the ratio is >= 0.8."))


def _solve_01_3():
    return (-1.0, 1.0)  # in one dimension every vector points left or right: cos = sign(a) * sign(b)


def _judge_01_3(answer, expected):
    values = sorted(set(answer))
    if values == sorted(expected):
        return None
    if any(abs(v) > 1 for v in values):
        return "A cosine similarity always lies in [-1, 1]."
    if len(values) > 2:
        return "In one dimension a non-zero vector is a positive or a negative number; the angle between two " \
               "of them is 0 or 180 degrees."
    return "Think of two non-zero numbers a and b: cos = a*b / (|a| |b|). Which values can that take?"


register(Exercise(
    exercise_id="01.3",
    question="In a dimension-1 embedding space, which values can the cosine similarity of two (non-zero) "
             "item embeddings take? Give them as a list.",
    inputs=(), parse=as_numbers(), solve=_solve_01_3, judge=_judge_01_3,
    hint="cos(a, b) = a*b / (|a| |b|) for numbers a, b != 0."))

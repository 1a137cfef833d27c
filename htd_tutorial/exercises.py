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
that every registered reference solution passes its own check, and that each check accepts right answers
and rejects plausible wrong ones with a hint: a new exercise needs its inputs and such answers there.
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


# --- notebook 04
# ================================================================== notebook 04: analysis
def _solve_04_1(sweep, teacher_r50):
    dim = sweep["dim"].min()                                # the smallest student of the sweep
    at = sweep[sweep["dim"] == dim].set_index("method")["Recall@50"]
    return (at["htd"] - at["student"]) / (teacher_r50 - at["student"])   # share of the gap HTD closes


def _judge_04_1(answer, expected, sweep, teacher_r50):
    if close(answer, expected, rel=1e-3, abs_tol=1e-4):
        return None
    dim = sweep["dim"].min()
    at = sweep[sweep["dim"] == dim].set_index("method")["Recall@50"]
    if "ftd" in at and close(answer, (at["ftd"] - at["student"]) / (teacher_r50 - at["student"]), rel=1e-3):
        return "That is FTD's share; the question asks about HTD."
    if close(answer, at["htd"] / teacher_r50, rel=1e-3):
        return "That is HTD's share of the teacher's Recall@50; the question asks for the share of the *gap* " \
               "between the plain student and the teacher."
    if answer > 1:
        return "Give a share (HTD closing the whole gap would be 1), not a percentage."
    return f"At d={dim}: (HTD's Recall@50 − the student's) / (the teacher's − the student's)."


register(Exercise(
    exercise_id="04.1",
    question="What share of the gap between the plain student and the teacher (test Recall@50) does HTD close "
             "at the smallest dimension of the sweep? (a number; 1 = the whole gap)",
    inputs=("sweep", "teacher_r50"), parse=as_number, solve=_solve_04_1, judge=_judge_04_1,
    hint="Select the rows of the smallest dimension in `sweep`, then compute "
         "(htd − student) / (teacher_r50 − student) with their Recall@50."))


def _as_text(answer) -> str:
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"expected a variant name (a string), got {type(answer).__name__} {answer!r}")
    return answer.strip()


def _solve_04_2(ablation):
    singles = ablation.drop(index=[v for v in ablation.index if " + " not in v and " - " not in v])
    return singles["Δ Recall@50"].abs().idxmax()            # the single switch with the largest effect


def _judge_04_2(answer, expected, ablation):
    if answer == expected:
        return None
    if answer not in ablation.index:
        return f"Give one of the table's variant names (its index), e.g. {list(ablation.index)[1]!r}."
    if " + " not in answer and " - " not in answer:
        return "That row is not a single switch (the two presets flip none or all of them; baselines are " \
               "other methods). Look at the rows whose name has ' + ' (or ' - ')."
    if ablation.loc[answer, "Δ Recall@50"] == ablation["Δ Recall@50"].max():
        return "That switch helps the most; the question asks for the largest change in either direction " \
               "(absolute value)."
    return "Compare the absolute values of the 'Δ Recall@50' column over the single-switch rows."


register(Exercise(
    exercise_id="04.2",
    question="In the ablation table, which single switch changes HTD's test Recall@50 the most (in absolute "
             "value) compared with the authors' code? Give its variant name as in the table's index.",
    inputs=("ablation",), parse=_as_text, solve=_solve_04_2, judge=_judge_04_2,
    hint="Keep the rows whose index contains ' + ', take the absolute value of 'Δ Recall@50' and find the "
         "index of its largest entry (.abs().idxmax())."))


def _as_two_bools(answer) -> tuple[bool, bool]:
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise ValueError(f"expected two booleans, e.g. (True, False), got {type(answer).__name__} {answer!r}")
    values = tuple(answer)
    if len(values) != 2 or not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise ValueError(f"expected two booleans, e.g. (True, False), got {answer!r}")
    return bool(values[0]), bool(values[1])


def _solve_04_3():
    import torch

    from .losses.htd import group_topology
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(12, 4, generator=gen, requires_grad=True)       # a batch of 12 entities, d_s = 4
    teacher = torch.randn(12, 16, generator=gen)                           # d_t = 16
    groups, is_item = torch.arange(12) % 3, torch.zeros(12, dtype=torch.bool)   # 3 groups of users
    gets_gradient = []
    for proto_grad in (False, True):                                       # authors' code, then clean
        loss = group_topology(student, teacher, groups, is_item, kind="PP", proto_grad=proto_grad)
        gets_gradient.append(loss.requires_grad)                           # False: a constant for the student
    return tuple(gets_gradient)


def _judge_04_3(answer, expected):
    if answer == expected:
        return None
    if answer == (True, True):
        return "Look at where the student's prototypes come from in the authors' code: a group mean computed " \
               "under torch.no_grad(). With (P,P) the term contains nothing else of the student."
    if answer == (False, False):
        return "With proto_grad=True the prototypes are ordinary means of the student's embeddings, and " \
               "gradients flow through a mean."
    return "Build the term with group_topology(..., kind='PP', proto_grad=False) and with proto_grad=True " \
           "and look at loss.requires_grad."


register(Exercise(
    exercise_id="04.3",
    question="Does HTD's (P,P) group-level term give the student any gradient (a) with the authors' prototypes "
             "(proto_grad=False) and (b) with the clean ones (proto_grad=True)? Answer with two booleans.",
    inputs=(), parse=_as_two_bools, solve=_solve_04_3, judge=_judge_04_3,
    hint="Call htd_tutorial.losses.group_topology(student, teacher, groups, is_item, kind='PP', proto_grad=...) "
         "on a small random batch whose `student` requires grad, and check the result's .requires_grad."))


# --- notebook 02
# ================================================================== notebook 02: topology and FTD
def _solve_02_1(users, items):
    n = len(users) + len(items)                            # users and items form one set of entities
    return n * n                                           # every ordered pair (i, j), i = j included


def _judge_02_1(answer, expected, users, items):
    n_users, n_items = len(users), len(items)
    n = n_users + n_items
    if answer == expected:
        return None
    if answer in (n * (n - 1) // 2, n * (n - 1), n * (n + 1) // 2):
        return "The loss sums over i and over j independently: ordered pairs, and i = j included (n * n terms)."
    if answer == n_users * n_items:
        return "FTD does not only relate users with items: users with users and items with items count too."
    if answer == n_users ** 2 + n_items ** 2:
        return "Users and items are one set of entities: user-item pairs count too."
    return "Count the entities n = (unique users) + (unique items); the double sum has n * n terms."


register(Exercise(
    exercise_id="02.1",
    question="A batch has len(users) unique users and len(items) unique items. How many terms (i, j) does L_FTD "
             "sum over (ordered pairs, i = j included)?",
    inputs=("users", "items"), parse=as_int, solve=_solve_02_1, judge=_judge_02_1,
    hint="E is the batch's users and items together; the loss is a double sum over i in E and j in E."))


def _solve_02_2(toy_student, toy_teacher):
    from .losses.ftd import cosine_similarity_matrix   # noqa: PLC0415 (torch is heavy; only when asked)

    return float(((cosine_similarity_matrix(toy_teacher) - cosine_similarity_matrix(toy_student)) ** 2).sum())


def _judge_02_2(answer, expected, toy_student, toy_teacher):
    if close(answer, expected, rel=1e-3):
        return None
    if close(answer, expected / 2, rel=1e-3):
        return "That counts each pair once; the loss sums over ordered pairs, so (i, j) and (j, i) both count."
    return "In one dimension the cosine of two non-zero numbers is +1 or -1 (same or opposite sign). Compute " \
           "both 3 x 3 cosine matrices and sum the squared differences of all entries."


register(Exercise(
    exercise_id="02.2",
    question="Compute L_FTD for three entities with teacher embeddings toy_teacher (3 x 2) and one-dimensional "
             "student embeddings toy_student (3 x 1).",
    inputs=("toy_student", "toy_teacher"), parse=as_number, solve=_solve_02_2, judge=_judge_02_2,
    hint="Normalise the rows to unit length; the cosine matrix is then x @ x.T. L_FTD is the sum of the squared "
         "entries of (teacher matrix - student matrix)."))


def _solve_02_3(results):
    recall = results.pivot(index="dim", columns="method", values="Recall@50")
    change = recall["ftd"] - recall["student"]             # FTD minus the plain student, per dimension
    return (float(change.iloc[0]), float(change.iloc[-1]))  # smallest dimension first


def _judge_02_3(answer, expected, results):
    if all(close(a, e, rel=1e-2, abs_tol=1e-3) for a, e in zip(answer, expected)):
        return None
    if all(close(a, e, rel=1e-2, abs_tol=1e-3) for a, e in zip(answer, expected[::-1])):
        return "Right numbers, wrong order: the small student first."
    if all(close(a, -e, rel=1e-2, abs_tol=1e-3) for a, e in zip(answer, expected)):
        return "Signs: give FTD's Recall@50 minus the plain student's (positive = FTD helps)."
    return "For each dimension subtract the 'student' row's Recall@50 from the 'ftd' row's " \
           "(table.pivot(index='dim', columns='method', values='Recall@50') helps)."


register(Exercise(
    exercise_id="02.3",
    question="From the results table, by how much does FTD change each student's test Recall@50 compared with "
             "the plain student of the same dimension? Give [change at the small dim, change at the large dim].",
    inputs=("results",), parse=as_numbers(2), solve=_solve_02_3, judge=_judge_02_3,
    hint="table.pivot(index='dim', columns='method', values='Recall@50') gives one row per dimension; subtract "
         "the 'student' column from the 'ftd' column."))


# --- notebook 03
# ================================================================== notebook 03: HTD
def _solve_03_1():
    epoch, epochs = 5, 20
    return 1e-10 ** (epoch / epochs)                       # tau = (1e-10)^(epoch / epochs), 1 at epoch 0


def _judge_03_1(answer, expected):
    if close(answer, expected, rel=1e-3, abs_tol=1e-9):
        return None
    if close(answer, 1e-10 ** (4 / 20), rel=1e-3):
        return "That is the authors' lagged value (the temperature of the previous epoch); the formula uses the " \
               "epoch itself."
    if close(answer, 1e-10 ** (5 / 19), rel=1e-3) or close(answer, 1e-10 ** (6 / 20), rel=1e-3):
        return "Epochs count from 0, and the exponent is epoch / (number of epochs) = 5 / 20."
    return "tau = (1e-10) ** (epoch / epochs); htd_tutorial.losses.gumbel_temperature computes it."


register(Exercise(
    exercise_id="03.1",
    question="At which Gumbel-softmax temperature does the paper's schedule (clean mode) run epoch 5 (0-based) of "
             "a 20-epoch training?",
    inputs=(), parse=as_number, solve=_solve_03_1, judge=_judge_03_1,
    hint="tau = (1e-10) ** (epoch / epochs): 1 at epoch 0, 1e-10 at the end."))


def _group_labels(user_groups, item_groups) -> np.ndarray:
    users = np.asarray(user_groups.detach().cpu() if hasattr(user_groups, "detach") else user_groups)
    items = np.asarray(item_groups.detach().cpu() if hasattr(item_groups, "detach") else item_groups)
    offset = int(max(users.max(initial=-1), items.max(initial=-1))) + 1
    return np.concatenate([users, items + offset])          # user group k and item group k are different groups


def _solve_03_2(user_groups, item_groups):
    labels = _group_labels(user_groups, item_groups)
    sizes = np.unique(labels, return_counts=True)[1]
    return int((sizes.astype(np.int64) ** 2).sum())         # every ordered pair inside each group


def _judge_03_2(answer, expected, user_groups, item_groups):
    if answer == expected:
        return None
    labels = _group_labels(user_groups, item_groups)
    n = len(labels)
    sizes = np.unique(labels, return_counts=True)[1].astype(np.int64)
    if answer == n * n:
        return "That is FTD's count (every pair); the entity level keeps only pairs inside one group."
    if answer in (int((sizes * (sizes - 1) // 2).sum()), int((sizes * (sizes - 1)).sum())):
        return "Count ordered pairs with i = j included: a group of m entities gives m * m pairs."
    merged = np.unique(np.concatenate([np.asarray(user_groups), np.asarray(item_groups)]), return_counts=True)[1]
    if answer == int((merged.astype(np.int64) ** 2).sum()):
        return "User group k and item group k are different groups: count them separately."
    return "For each group (users' and items' apart) take its size m in this batch and add up m * m."


register(Exercise(
    exercise_id="03.2",
    question="user_groups and item_groups are the HTD groups of one batch's users and items. How many ordered pairs "
             "(i, j), i = j included, does the entity-level term sum over (before the authors' filter)?",
    inputs=("user_groups", "item_groups"), parse=as_int, solve=_solve_03_2, judge=_judge_03_2,
    hint="np.bincount(user_groups) and np.bincount(item_groups) give the group sizes m; sum m * m over both."))


def _solve_03_3(data, teacher, small_dim):
    from htd_tutorial.lessons import distill_run            # noqa: PLC0415 (trains a model: import when asked)

    run = distill_run(data, teacher, "student", small_dim, lr=5e-3, epochs=40, progress=False)
    return run.history.final("Recall@50")                   # test Recall@50 after the last epoch


def _judge_03_3(answer, expected, data, teacher, small_dim):
    if close(answer, expected, rel=1e-3, abs_tol=1e-4):
        return None
    if answer > 1:
        return "Give Recall@50 as a share between 0 and 1."
    return "Use run = distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40) and " \
           "run.history.final('Recall@50')."


register(Exercise(
    exercise_id="03.3",
    question="Train the plain student of dimension SMALL_DIM with lr=5e-3 for 40 epochs "
             "(distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40)). What is its test Recall@50?",
    inputs=("data", "teacher", "small_dim"), parse=as_number, solve=_solve_03_3, judge=_judge_03_3,
    hint="run.history.final('Recall@50') of the returned run gives the test Recall@50 after the last epoch."))

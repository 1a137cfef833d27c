"""Self-check exercises of ``notebooks/01_capacity_gap.ipynb`` (01.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

from .engine import Exercise, as_int, as_numbers

NOTEBOOK_EXERCISES: list[Exercise] = []


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


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="01.3",
    question="In a dimension-1 embedding space, which values can the cosine similarity of two (non-zero) "
             "item embeddings take? Give them as a list.",
    inputs=(), parse=as_numbers(), solve=_solve_01_3, judge=_judge_01_3,
    hint="cos(a, b) = a*b / (|a| |b|) for numbers a, b != 0."))

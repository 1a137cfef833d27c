"""Self-check exercises of ``notebooks/02_topology_and_ftd.ipynb`` (02.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

from .engine import Exercise, as_choice, as_int, as_number, as_numbers, close

NOTEBOOK_EXERCISES: list[Exercise] = []


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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="02.1",
    question="A batch has len(users) unique users and len(items) unique items. How many terms (i, j) does L_FTD "
             "sum over (ordered pairs, i = j included)?",
    inputs=("users", "items"), parse=as_int, solve=_solve_02_1, judge=_judge_02_1,
    hint="E is the batch's users and items together; the loss is a double sum over i in E and j in E."))


def _solve_02_2(toy_student, toy_teacher):
    from ...losses.ftd import cosine_similarity_matrix   # noqa: PLC0415 (torch is heavy; only when asked)

    return float(((cosine_similarity_matrix(toy_teacher) - cosine_similarity_matrix(toy_student)) ** 2).sum())


def _judge_02_2(answer, expected, toy_student, toy_teacher):
    if close(answer, expected, rel=1e-3):
        return None
    if close(answer, expected / 2, rel=1e-3):
        return "That counts each pair once; the loss sums over ordered pairs, so (i, j) and (j, i) both count."
    return "In one dimension the cosine of two non-zero numbers is +1 or -1 (same or opposite sign). Compute " \
           "both 3 x 3 cosine matrices and sum the squared differences of all entries."


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="02.3",
    question="From the results table, by how much does FTD change each student's test Recall@50 compared with "
             "the plain student of the same dimension? Give [change at the small dim, change at the large dim].",
    inputs=("results",), parse=as_numbers(2), solve=_solve_02_3, judge=_judge_02_3,
    hint="table.pivot(index='dim', columns='method', values='Recall@50') gives one row per dimension; subtract "
         "the 'student' column from the 'ftd' column."))


def _ftd_share(history) -> float:
    """lambda L_FTD's share of the student's loss in the last epoch (means per batch, from the loss trace)."""
    last = history.loss_trace[-1]
    return last["ftd"] / last["loss"]


def _solve_02_4(ftd_small, ftd_large):
    small, large = _ftd_share(ftd_small), _ftd_share(ftd_large)    # the last epoch of each run's loss trace
    return "small" if small > large else "large"


def _why_02_4(ftd_small, ftd_large) -> str:
    first_s, last_s = ftd_small.loss_trace[0], ftd_small.loss_trace[-1]
    first_l, last_l = ftd_large.loss_trace[0], ftd_large.loss_trace[-1]
    return (f"In the last epoch λ·L_FTD is {_ftd_share(ftd_small):.0%} of the tiny student's loss and "
            f"{_ftd_share(ftd_large):.0%} of the roomy one's. The roomy student brings its term from "
            f"{first_l['ftd']:.0f} to {last_l['ftd']:.0f} per batch; the tiny one only from {first_s['ftd']:.0f} to "
            f"{last_s['ftd']:.0f}: its few dimensions cannot hold the teacher's topology, so the term stays, "
            "and keeps pulling against the ranking loss, for the whole training.")


def _judge_02_4(answer, expected, ftd_small, ftd_large):
    if answer == expected:
        return None
    return f"Not what happened. {_why_02_4(ftd_small, ftd_large)}"


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="02.4",
    question="Predict, then run: in the last epoch, for which student is λ·L_FTD the larger share of its loss, the "
             "tiny one ('small') or the roomy one ('large')?",
    inputs=("ftd_small", "ftd_large"), parse=as_choice("small", "large"), solve=_solve_02_4, judge=_judge_02_4,
    hint="history.loss_trace[-1] holds the last epoch's means per batch: 'ftd' (already times λ) and 'loss'.",
    explain=lambda answer, ftd_small, ftd_large: _why_02_4(ftd_small, ftd_large)))

"""Self-check exercises of ``notebooks/03_htd.ipynb`` (03.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

import numpy as np

from .engine import Exercise, as_number, as_int, close

NOTEBOOK_EXERCISES: list[Exercise] = []


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


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.2",
    question="user_groups and item_groups are the HTD groups of one batch's users and items. How many ordered pairs "
             "(i, j), i = j included, does the entity-level term sum over (before the authors' filter)?",
    inputs=("user_groups", "item_groups"), parse=as_int, solve=_solve_03_2, judge=_judge_03_2,
    hint="np.bincount(user_groups) and np.bincount(item_groups) give the group sizes m; sum m * m over both."))


def _solve_03_3(data, teacher, small_dim):
    from ..lessons import distill_run            # noqa: PLC0415 (trains a model: import when asked)

    run = distill_run(data, teacher, "student", small_dim, lr=5e-3, epochs=40, progress=False)
    return run.history.final("Recall@50")                   # test Recall@50 after the last epoch


def _judge_03_3(answer, expected, data, teacher, small_dim):
    if close(answer, expected, rel=1e-3, abs_tol=1e-4):
        return None
    if answer > 1:
        return "Give Recall@50 as a share between 0 and 1."
    return "Use run = distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40) and " \
           "run.history.final('Recall@50')."


def _explain_03_3(answer, data, teacher, small_dim):
    from ..lessons import distill_run            # noqa: PLC0415 (loads a cached run: import when asked)

    fixed = distill_run(data, teacher, "student", small_dim, progress=False).history.final("Recall@50")
    return (f"Trained faster and twice as long, the plain student reaches {answer:.3f} against {fixed:.3f} "
            "at the course's fixed budget (same seed). At that budget it was far from trained, so part of "
            "any method's lead over it there can be training speed rather than knowledge from the teacher. "
            "Section 3.2 gives every method the same learning-rate search to tell the two apart.")


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.3",
    question="Train the plain student of dimension SMALL_DIM with lr=5e-3 for 40 epochs "
             "(distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40)). What is its test Recall@50?",
    inputs=("data", "teacher", "small_dim"), parse=as_number, solve=_solve_03_3, judge=_judge_03_3,
    hint="run.history.final('Recall@50') of the returned run gives the test Recall@50 after the last epoch.",
    explain=_explain_03_3))

"""Self-check exercises of ``notebooks/00_data_and_teacher.ipynb`` (00.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

import math

import numpy as np

from .engine import Exercise, as_number, as_numbers, close

NOTEBOOK_EXERCISES: list[Exercise] = []


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


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="00.3",
    question="What test Recall@50 does a recommender that ranks items at random reach on average? "
             "Compute it exactly from the data (no simulation needed).",
    inputs=("data",), parse=as_number, solve=_solve_00_3, judge=_judge_00_3,
    hint="A user's candidates are n_items minus their training items (data.user_counts()) minus the other "
         "held-out item; the chance of a hit is min(1, 50 / candidates)."))

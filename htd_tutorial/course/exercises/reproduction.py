"""Self-check exercises of ``notebooks/06_reproduction_lab.ipynb`` (06.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

import numpy as np

from .engine import Exercise

NOTEBOOK_EXERCISES: list[Exercise] = []


def _as_text(answer) -> str:
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"expected a variant name (a string), got {type(answer).__name__} {answer!r}")
    return answer.strip()


def _solve_06_1(ablation):
    singles = ablation.drop(index=[v for v in ablation.index if " + " not in v and " - " not in v])
    return singles["Δ Recall@50"].abs().idxmax()            # the single switch with the largest effect


def _judge_06_1(answer, expected, ablation):
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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="06.1",
    question="In the ablation table, which single switch changes HTD's test Recall@50 the most (in absolute "
             "value) compared with the authors' code? Give its variant name as in the table's index.",
    inputs=("ablation",), parse=_as_text, solve=_solve_06_1, judge=_judge_06_1,
    hint="Keep the rows whose index contains ' + ', take the absolute value of 'Δ Recall@50' and find the "
         "index of its largest entry (.abs().idxmax())."))


def _as_two_bools(answer) -> tuple[bool, bool]:
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise ValueError(f"expected two booleans, e.g. (True, False), got {type(answer).__name__} {answer!r}")
    values = tuple(answer)
    if len(values) != 2 or not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise ValueError(f"expected two booleans, e.g. (True, False), got {answer!r}")
    return bool(values[0]), bool(values[1])


def _solve_06_2():
    import torch

    from ...losses.htd import group_level_topology
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(12, 4, generator=gen, requires_grad=True)       # a batch of 12 entities, d_s = 4
    teacher = torch.randn(12, 16, generator=gen)                           # d_t = 16
    groups, is_item = torch.arange(12) % 3, torch.zeros(12, dtype=torch.bool)   # 3 groups of users
    gets_gradient = []
    for proto_grad in (False, True):                                       # authors' code, then clean
        loss = group_level_topology(student, teacher, groups, is_item, group_topology="PP",
                                    proto_grad=proto_grad)
        gets_gradient.append(loss.requires_grad)                           # False: a constant for the student
    return tuple(gets_gradient)


def _judge_06_2(answer, expected):
    if answer == expected:
        return None
    if answer == (True, True):
        return "Look at where the student's prototypes come from in the authors' code: a group mean computed " \
               "under torch.no_grad(). With (P,P) the term contains nothing else of the student."
    if answer == (False, False):
        return "With proto_grad=True the prototypes are ordinary means of the student's embeddings, and " \
               "gradients flow through a mean."
    return "Build the term with group_level_topology(..., group_topology='PP', proto_grad=False) and with " \
           "proto_grad=True and look at loss.requires_grad."


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="06.2",
    question="Does HTD's (P,P) group-level term give the student any gradient (a) with the authors' prototypes "
             "(proto_grad=False) and (b) with the clean ones (proto_grad=True)? Answer with two booleans.",
    inputs=(), parse=_as_two_bools, solve=_solve_06_2, judge=_judge_06_2,
    hint="Call htd_tutorial.losses.group_level_topology(student, teacher, groups, is_item, group_topology='PP', "
         "proto_grad=...) on a small random batch whose `student` requires grad, and check the result's "
         ".requires_grad."))

"""Self-check exercises of ``notebooks/05_explorer.ipynb`` (05.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them. The
explorer's methods are named here (not imported) so that loading the exercises does not load the
widgets.
"""
from __future__ import annotations

from .engine import Exercise, as_int, as_number

#: The methods the explorer offers (:data:`htd_tutorial.course.explorer.EXPLORER_METHODS`; a test checks they agree).
EXPLORER_METHODS = ("student", "ftd", "htd")


def _parse_method(answer) -> str:
    if not isinstance(answer, str):
        raise ValueError(f"expected a method name ('student', 'ftd' or 'htd'), got {answer!r}")
    value = answer.strip().lower()
    if value.startswith("student"):
        value = "student"
    if value not in EXPLORER_METHODS:
        raise ValueError(f"expected one of 'student', 'ftd', 'htd', got {answer!r}")
    return value


def _solve_05_1():
    return 2  # K user groups and K item groups, numbered apart: with K = 1, one of each


def _judge_05_1(answer, expected):
    if answer == expected:
        return None
    if answer == 1:
        return "Users and items are never put in the same group: HTD groups each type separately."
    return "K is the number of groups *per entity type*."


def _solve_05_2(explorer):
    dim, K = explorer.settings.dim, explorer.settings.K
    recall = {m: explorer.compute(m, dim, K).metrics["Recall@50"] for m in EXPLORER_METHODS}
    return max(recall, key=recall.get)


def _judge_05_2(answer, expected, explorer):
    if answer == expected:
        return None
    return (f"Set the dimension slider to {explorer.settings.dim} and K to {explorer.settings.K}, then "
            "switch the method between Student, FTD and HTD and compare the Recall@50 row.")


def _solve_05_3(explorer):
    tiny, roomy = (explorer.metrics("student", d) for d in (explorer.settings.dim, explorer.settings.dims[-1]))
    return roomy["knn_overlap"] - tiny["knn_overlap"]


def _judge_05_3(answer, expected, explorer):
    if abs(answer - expected) <= 0.011:
        return None
    if abs(answer + expected) <= 0.011:
        return "Check the sign: the roomy student's overlap minus the tiny one's."
    return (f"Method Student: read the 10-NN overlap at dimension {explorer.settings.dims[-1]} and at "
            f"{explorer.settings.dim} and subtract (two decimals are enough).")


_ITEMS = [
    ("05.1", "With the K slider at 1, how many groups does HTD use in total (users and items together)?", (),
     as_int, _solve_05_1, _judge_05_1,
     "Read Section 1 of the notebook: how are user groups and item groups numbered?"),
    ("05.2", "At the lessons' tiny dimension (and the shipped K), which method gives the most accurate "
             "student (test Recall@50): 'student', 'ftd' or 'htd'?", ("explorer",),
     _parse_method, _solve_05_2, _judge_05_2, "Use the explorer: the Recall@50 row of the metrics table."),
    ("05.3", "For the Student (no distillation), by how much does the 10-NN overlap grow from the tiny to the "
             "roomy lesson size? (roomy minus tiny, two decimals)", ("explorer",),
     as_number, _solve_05_3, _judge_05_3,
     "explorer.metrics('student', dim)['knn_overlap'] gives the number for one dimension."),
]

NOTEBOOK_EXERCISES: list[Exercise] = [
    Exercise(exercise_id=exercise_id, question=text, inputs=inputs, parse=parse, solve=solve, judge=judge, hint=tip)
    for exercise_id, text, inputs, parse, solve, judge, tip in _ITEMS]

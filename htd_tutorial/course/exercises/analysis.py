"""Self-check exercises of ``notebooks/04_analysis.ipynb`` (04.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

from .engine import Exercise, as_int, as_number, close

NOTEBOOK_EXERCISES: list[Exercise] = []


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


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="04.1",
    question="What share of the gap between the plain student and the teacher (test Recall@50) does HTD close "
             "at the smallest dimension of the sweep? (a number; 1 = the whole gap)",
    inputs=("sweep", "teacher_r50"), parse=as_number, solve=_solve_04_1, judge=_judge_04_1,
    hint="Select the rows of the smallest dimension in `sweep`, then compute "
         "(htd − student) / (teacher_r50 − student) with their Recall@50."))



def _count(payload, comparison, verdict):
    return sum(c["verdicts"][comparison]["verdict"] == verdict for c in payload["cells"])


def _solve_04_2(evidence):
    return _count(evidence, "ftd-student", "negative")      # cells where FTD clearly hurts the student


def _judge_04_2(answer, expected, evidence):
    if answer == expected:
        return None
    if answer == _count(evidence, "ftd-student", "positive"):
        return "That counts the cells where FTD clearly *helps*; the question asks where it hurts."
    if answer == _count(evidence, "htd-ftd", "positive"):
        return "That counts HTD vs FTD; the question asks about FTD vs the plain student."
    return "Count the cells whose verdicts['ftd-student']['verdict'] is 'negative'."


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="04.2",
    question="In how many cells of the evidence map does FTD clearly hurt the plain student (the verdict of "
             "'ftd-student' is 'negative')? (a whole number)",
    inputs=("evidence",), parse=as_int, solve=_solve_04_2, judge=_judge_04_2,
    hint="Loop over evidence['cells'] and count those whose cell['verdicts']['ftd-student']['verdict'] is "
         "'negative' (scope.cells_where does it too)."))


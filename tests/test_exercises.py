"""Self-check exercises: every reference solution passes its own check; wrong answers get hints, never errors."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from htd_tutorial import exercises
from htd_tutorial.data import make_synthetic
from htd_tutorial.exercises import EXERCISES, Exercise, all_exercises, as_number, as_numbers, check, is_correct, register

OWN = ("00.", "01.")  # exercises defined in htd_tutorial/exercises.py itself


@pytest.fixture(scope="module")
def small_data():
    return make_synthetic(n_users=60, n_items=90, interactions_per_user=12, seed=0)


def _capacity_table() -> pd.DataFrame:
    """A capacity table as :func:`htd_tutorial.course.capacity_table` returns it (values made up)."""
    return pd.DataFrame({"model": ["student d=2", "student d=8", "student d=32", "student d=64", "teacher"],
                         "dim": [2, 8, 32, 64, 200], "parameters": [300, 1200, 4800, 9600, 30000],
                         "Recall@50": [0.30, 0.45, 0.55, 0.58, 0.60], "NDCG@50": [0.1, 0.15, 0.2, 0.21, 0.22],
                         "knn_overlap": [0.05, 0.2, 0.4, 0.5, 1.0], "spearman": [0.7, 0.85, 0.95, 0.97, 1.0]})


@pytest.fixture
def inputs(small_data):
    """Objects an exercise may need, by the names in ``Exercise.inputs``. Add one here for a new input name."""
    return {"data": small_data, "table": _capacity_table()}


def _args(exercise_id: str, inputs: dict) -> list:
    """The exercise's inputs from the fixture; an exercise of another module whose inputs are not here
    (e.g. a trained explorer) is skipped: its own module's tests cover it."""
    missing = [name for name in EXERCISES[exercise_id].inputs if name not in inputs]
    if missing and not exercise_id.startswith(OWN):
        pytest.skip(f"exercise {exercise_id} needs {missing}; tested with its provider module")
    assert not missing, f"exercise {exercise_id} needs {missing}: add them to the `inputs` fixture"
    return [inputs[name] for name in EXERCISES[exercise_id].inputs]


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_reference_solution_is_correct(exercise_id, inputs, capsys):
    exercise = EXERCISES[exercise_id]
    args = _args(exercise_id, inputs)
    answer = exercise.solve(*args)
    assert is_correct(exercise_id, answer, *args)
    check(exercise_id, answer, *args)
    assert "Correct!" in capsys.readouterr().out
    assert exercise.question and exercise.hint


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_unanswered_prints_a_reminder(exercise_id, inputs, capsys):
    args = _args(exercise_id, inputs)
    assert check(exercise_id, None, *args) is None
    assert "no answer yet" in capsys.readouterr().out
    assert not is_correct(exercise_id, None, *args)


def test_wrong_answers_give_hints_not_errors(small_data, capsys):
    cases = [("00.1", 0.2, [small_data]), ("00.1", 42.0, [small_data]), ("00.2", (0, 1, 1 / math.log2(7)), []),
             ("00.2", (1, 1, 0.5), []), ("00.3", 50 / small_data.n_items, [small_data]), ("00.3", 0.9, [small_data]),
             ("01.1", 200 * (small_data.n_users + small_data.n_items), [small_data]), ("01.1", 8, [small_data]),
             ("01.2", 8, [_capacity_table()]), ("01.2", 64, [_capacity_table()]), ("01.2", 5, [_capacity_table()]),
             ("01.3", [0, 1], []), ("01.3", [-1, 0, 1], []), ("01.3", [2], [])]
    for exercise_id, answer, args in cases:
        check(exercise_id, answer, *args)
        out = capsys.readouterr().out
        assert "not quite" in out and "Correct" not in out, (exercise_id, answer, out)
        assert not is_correct(exercise_id, answer, *args)


def test_targeted_hints(small_data, capsys):
    check("00.2", (0, 1, 1 / math.log2(7)))
    assert "log2(rank + 1)" in capsys.readouterr().out
    check("01.1", 200 * (small_data.n_users + small_data.n_items), small_data)
    assert "teacher" in capsys.readouterr().out
    check("00.1", 0.2, small_data)
    assert "share of *items*" in capsys.readouterr().out
    check("01.2", 64, _capacity_table())
    assert "smaller one" in capsys.readouterr().out
    check("01.2", 8, _capacity_table())
    assert "only 75%" in capsys.readouterr().out


def test_equivalent_forms_are_accepted(small_data):
    assert is_correct("01.3", [1, -1])
    assert is_correct("01.3", np.array([1.0, -1.0, 1.0]))
    assert is_correct("00.2", [0, 1, 1 / np.log2(8)])
    assert is_correct("01.1", float((small_data.n_users + small_data.n_items) * 8), small_data)
    assert is_correct("00.1", np.float32(exercises._solve_00_1(small_data)), small_data)


@pytest.mark.parametrize("exercise_id, answer, args, message", [
    ("00.1", "0.4", "data", "expected a number"),
    ("00.1", [0.4], "data", "expected a number"),
    ("00.1", float("nan"), "data", "finite"),
    ("00.2", (0, 1), None, "expected 3 numbers"),
    ("00.2", "0,1,0.3", None, "sequence of numbers"),
    ("01.1", 21000.5, "data", "whole number"),
    ("01.3", "1,-1", None, "sequence of numbers"),
])
def test_malformed_answers_raise(exercise_id, answer, args, message, small_data):
    extra = [small_data] if args == "data" else []
    with pytest.raises(ValueError, match=message):
        check(exercise_id, answer, *extra)


def test_bad_calls_raise(small_data):
    with pytest.raises(ValueError, match="unknown exercise"):
        check("99.9", 1)
    with pytest.raises(ValueError, match="needs the answer and then: data"):
        check("00.1", 0.5)
    with pytest.raises(ValueError, match="needs the answer and then: nothing"):
        check("00.2", (0, 1, 0.3), small_data)
    with pytest.raises(ValueError, match="unknown exercise"):
        exercises.hint("nope")


def test_hint_and_solution_print(capsys):
    exercises.hint("00.3")
    assert "Hint for exercise 00.3" in capsys.readouterr().out
    exercises.solution("00.3")
    out = capsys.readouterr().out
    assert "Solution of exercise 00.3" in out and "def _solve_00_3(data)" in out
    assert "random" in exercises.question("00.3")


def test_register_validates(monkeypatch):
    monkeypatch.setattr(exercises, "EXERCISES", dict(EXERCISES))

    def make(exercise_id, solve=lambda: 1.0, inputs=()):
        return Exercise(exercise_id=exercise_id, question="q", inputs=inputs, parse=as_number, solve=solve,
                        judge=lambda answer, expected: None if answer == expected else "no", hint="h")

    register(make("98.1"))
    assert "98.1" in exercises.EXERCISES
    with pytest.raises(ValueError, match="already registered"):
        register(make("98.1"))
    with pytest.raises(ValueError, match="look like"):
        register(make("ex1"))
    with pytest.raises(ValueError, match="solve\\(\\) takes 0"):
        register(make("98.2", inputs=("data",)))
    assert "98.1" not in EXERCISES  # the real registry is untouched


def test_parsers():
    assert as_number(np.int64(3)) == 3.0
    assert as_numbers(2)([1, 2.5]) == (1.0, 2.5)
    with pytest.raises(ValueError):
        as_number(True)

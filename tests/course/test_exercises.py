"""Self-check exercises: each check accepts right answers and rejects plausible wrong ones with a hint, never an error.

Every exercise's inputs are built here, small and seeded (a synthetic dataset, hand-made tables and tensors, a
stand-in for the explorer), so no exercise is skipped. The right answers are literals or independent naive
computations, not the reference solutions (those are checked against their own check as well).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from htd_tutorial.course import exercises
from htd_tutorial.data import make_synthetic
from htd_tutorial.course.exercises import (EXERCISES, Exercise, all_exercises, as_number, as_numbers, check, is_correct,
                                    register)
from htd_tutorial.course.lessons import group_level_pe_by_hand, group_level_pp_by_hand, prototypes_by_hand
from htd_tutorial.models import make_model
from htd_tutorial.training import History

SMALL_DIM = 2


def _trace(*epochs) -> History:
    """A History whose loss trace holds the given epochs (means per batch, weights included; numbers made up)."""
    return History(loss_trace=[{"epoch": e, **values} for e, values in enumerate(epochs, start=1)])


def _pe_batch():
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(14, 3, generator=gen, dtype=torch.float64)
    teacher = torch.randn(14, 8, generator=gen, dtype=torch.float64)
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 5, 5, 5])      # users 0-2, items 3 + k
    return student, teacher, groups


def _pe_masked(student, teacher, groups):
    """(P, e) without each prototype's own members: the clean reading, not the recipe."""
    labels = groups.unique()
    p_t, p_s = prototypes_by_hand(teacher, groups), prototypes_by_hand(student.detach(), groups)
    unit = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731
    outside = labels[:, None] != groups[None, :]
    return (((unit(p_t) @ unit(teacher).T - unit(p_s) @ unit(student).T) ** 2) * outside).sum()


def _pe_with_prototype_gradient(student, teacher, groups):
    labels = groups.unique()
    p_t = torch.stack([teacher[groups == g].mean(0) for g in labels])
    p_s = torch.stack([student[groups == g].mean(0) for g in labels])       # not detached
    unit = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731
    return ((unit(p_t) @ unit(teacher).T - unit(p_s) @ unit(student).T) ** 2).sum()


def _raises(student, teacher, groups):
    raise IndexError("index 99 is out of bounds")


@pytest.fixture(scope="module")
def small_data():
    return make_synthetic(n_users=60, n_items=90, interactions_per_user=12, seed=0)


def _capacity_table() -> pd.DataFrame:
    """A capacity table as :func:`htd_tutorial.course.capacity_table` returns it (values made up)."""
    return pd.DataFrame({"model": ["student d=2", "student d=8", "student d=32", "student d=64", "teacher"],
                         "dim": [2, 8, 32, 64, 200], "parameters": [300, 1200, 4800, 9600, 30000],
                         "Recall@50": [0.30, 0.45, 0.55, 0.58, 0.60], "NDCG@50": [0.1, 0.15, 0.2, 0.21, 0.22],
                         "knn_overlap": [0.05, 0.2, 0.4, 0.5, 1.0], "spearman": [0.7, 0.85, 0.95, 0.97, 1.0]})


class ExplorerStandIn:
    """What exercises 05.2 and 05.3 read from a TopologyExplorer: ``settings.dim``, ``settings.dims``,
    ``settings.K``, ``compute(method, dim, K).metrics`` and ``metrics(method, dim)`` (numbers made up; the
    real explorer trains students, and tests/course/explorer/test_explorer.py checks the reference solutions
    on one). FTD, not HTD, is the most accurate here, so a solution that always answers 'htd' fails; the
    first dimension shown is not the smallest, so a solution that reads ``dims[0]`` fails too."""

    settings = SimpleNamespace(dims=(2, 4, 16), dim=4, K=3)
    METRICS = {("student", 4): {"Recall@50": 0.30, "knn_overlap": 0.12}, ("ftd", 4): {"Recall@50": 0.36},
               ("htd", 4): {"Recall@50": 0.33}, ("student", 16): {"knn_overlap": 0.47}}

    def compute(self, method, dim, K):
        assert K == self.settings.K, K
        return SimpleNamespace(metrics=self.METRICS[(method, dim)])

    def metrics(self, method, dim):
        return self.METRICS[(method, dim)]


def _map_cell(ftd_student: str, htd_ftd: str) -> dict:
    """An evidence-map cell with these two verdicts (04.2)."""
    return {"verdicts": {"ftd-student": {"verdict": ftd_student}, "htd-student": {"verdict": "unclear"},
                         "htd-ftd": {"verdict": htd_ftd}}}


@pytest.fixture(scope="module")
def inputs(small_data, tmp_path_factory):
    """Objects an exercise may need, by the names in ``Exercise.inputs``. Add one here for a new input name."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HTD_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))  # 03.3 trains (and caches) a student
        teacher = make_model("bpr", small_data, 16, seed=0).eval()  # 03.3's plain student does not use it
        yield {
            "data": small_data, "table": _capacity_table(),
            "users": torch.tensor([3, 7, 9, 12, 20]), "items": torch.arange(7),                      # 02.1
            "toy_teacher": torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]),                       # 02.2, as in
            "toy_student": torch.tensor([[2.0], [0.5], [-1.0]]),                                     # notebook 02
            "results": pd.DataFrame({"method": ["student", "ftd", "htd"] * 2, "dim": [4, 4, 4, 32, 32, 32],
                                     "Recall@50": [0.40, 0.43, 0.45, 0.55, 0.54, 0.56]}),            # 02.3
            "user_groups": torch.tensor([0, 0, 1, 2, 2, 2]), "item_groups": torch.tensor([0, 1, 1]),  # 03.2
            "teacher": teacher, "small_dim": SMALL_DIM,                                              # 03.3
            "sweep": pd.DataFrame({"method": ["student", "ftd", "htd"] * 2, "dim": [8, 8, 8, 64, 64, 64],
                                   "Recall@50": [0.20, 0.25, 0.28, 0.35, 0.37, 0.36]}),              # 04.1
            "teacher_r50": 0.40,
            "evidence": {"cells": [_map_cell("negative", "unclear"), _map_cell("negative", "positive"),  # 04.2
                                   _map_cell("positive", "positive"), _map_cell("unclear", "positive"),
                                   _map_cell("unclear", "positive")]},
            "ablation": pd.DataFrame({"Δ Recall@50": [0.0, -0.05, 0.01, -0.03, 0.02, -0.04]},        # 06.1
                                     index=["authors", "clean", "authors + proto_grad", "authors + mask_pe",
                                            "authors + lag_tau", "student"]),
            "explorer": ExplorerStandIn(),                                                           # 05.2, 05.3
            # 02.4: lambda L_FTD's share of the loss in the last epoch: 200/600 (small) vs 6/116 (large)
            "ftd_small": _trace({"bpr": 700.0, "ftd": 300.0, "loss": 1000.0}, {"bpr": 400.0, "ftd": 200.0, "loss": 600.0}),
            "ftd_large": _trace({"bpr": 700.0, "ftd": 34.0, "loss": 734.0}, {"bpr": 110.0, "ftd": 6.0, "loss": 116.0}),
            # 03.1: first epoch 300 / (20 + 10) = 10
            "ftd_history": _trace({"bpr": 700.0, "ftd": 300.0, "loss": 1000.0}, {"bpr": 400.0, "ftd": 200.0, "loss": 600.0}),
            "htd_history": _trace({"bpr": 700.0, "entity": 20.0, "group": 10.0, "ga": 5.0, "loss": 735.0},
                                  {"bpr": 300.0, "entity": 8.0, "group": 2.0, "ga": 1.0, "loss": 311.0}),
            **dict(zip(("student", "teacher_emb", "groups"), _pe_batch())),                           # 03.4
        }


def _args(exercise_id: str, inputs: dict) -> list:
    """The exercise's inputs from the fixture (an input name the fixture lacks is an error, never a skip)."""
    missing = [name for name in EXERCISES[exercise_id].inputs if name not in inputs]
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


# ------------------------------------------------------------------ right answers in, wrong answers out
def _top20_share(data, most_popular=True) -> float:
    """Exercise 00.1 the naive way: training interactions per item counted with bincount, not item_counts()."""
    counts = sorted(np.bincount(data.train[:, 1], minlength=data.n_items).tolist(), reverse=most_popular)
    return sum(counts[:math.ceil(0.2 * data.n_items)]) / len(data.train)


def _random_recall50(data, per_user_candidates=True) -> float:
    """Exercise 00.3 with a loop over users: a random ranking hits the test item with chance min(1, 50 / c)."""
    chances = []
    for user in range(data.n_users):
        seen = int((data.train[:, 0] == user).sum())
        candidates = data.n_items - seen - 1 if per_user_candidates else data.n_items
        chances.append(min(1.0, 50 / candidates))
    return sum(chances) / len(chances)


def _cases(exercise_id: str, inputs: dict) -> tuple[list, list]:
    """``(right answers, [(wrong answer, words of the hint it must get), ...])`` of one exercise."""
    data = inputs["data"]
    if exercise_id == "00.1":
        share = _top20_share(data)
        return [share, np.float32(share)], [(0.2, "share of *items*"), (100 * share, "not a percentage"),
                                            (_top20_share(data, most_popular=False), "most to least popular")]
    if exercise_id == "00.2":  # rank 7: outside the top 5, inside the top 10, discount 1 / log2(8) = 1/3
        return [(0, 1, 1 / 3), [0.0, 1.0, 0.33333]], [((0, 1, 1 / math.log2(7)), "discount"),
                                                        ((0, 1, 1 / math.log(8)), "discount"),
                                                        ((1, 1, 1 / 3), "Recall@K is 1"), ((0, 1, 1 / 7), "NDCG@10 =")]
    if exercise_id == "00.3":
        return [_random_recall50(data)], [(_random_recall50(data, per_user_candidates=False), "not all items"),
                                          (0.5, "min(1, 50 / c)")]
    if exercise_id == "01.1":  # (60 users + 90 items) x 8
        return [1200, 1200.0], [(30000, "teacher"), (480, "Both users and items"), (43200, "one vector per user"),
                                (150, "one vector of length dim")]
    if exercise_id == "01.2":  # 80% of the teacher's 0.60 is 0.48: d=32 (0.55) is the first to reach it
        return [32], [(8, "only 75%"), (64, "smaller one"), (5, "not one of the student dimensions")]
    if exercise_id == "01.3":
        return [[-1, 1], (1.0, -1.0, 1.0)], [([0, 1], "Think of two"), ([-1, 0, 1], "180 degrees"),
                                             ([2], "[-1, 1]")]
    if exercise_id == "02.1":  # 5 users + 7 items = 12 entities
        return [144], [(66, "ordered pairs"), (132, "ordered pairs"), (35, "users with users"),
                       (74, "user-item pairs"), (12, "n * n")]
    if exercise_id == "02.2":
        # teacher cosines (0,1) 0.6, (0,2) 0, (1,2) 0.8; student signs +, +, -: cosines 1, -1, -1;
        # (0.6 - 1)^2 + (0 + 1)^2 + (0.8 + 1)^2 = 0.16 + 1 + 3.24 = 4.4 per pair, both orders: 8.8
        return [8.8], [(4.4, "each pair once"), (0.0, "+1 or -1"), (-8.8, "+1 or -1")]
    if exercise_id == "02.3":  # FTD - student at d=4 and d=32
        return [(0.03, -0.01), [0.0302, -0.0099]], [((-0.01, 0.03), "wrong order"), ((-0.03, 0.01), "Signs"),
                                                     ((0.05, 0.01), "subtract")]
    if exercise_id == "02.4":
        return ["small", " Small "], [("large", "33% of the tiny student's loss and 5% of the roomy")]
    if exercise_id == "03.1":  # 300 / (20 + 10) = 10, within a factor of 2 counts
        return [10, 6.0, 19.5], [(4.0, "factor of 2"), (25, "is 10.0 times as large (20.0 times in the last"),
                                 (-3, "positive number")]
    if exercise_id == "03.4":
        student, teacher, groups = _pe_batch()
        assert not torch.allclose(_pe_masked(student, teacher, groups),
                                  group_level_pe_by_hand(student, teacher, groups))
        return [group_level_pe_by_hand], [(_pe_masked, "own members"), (_pe_with_prototype_gradient, "no_grad"),
                                          (group_level_pp_by_hand, "one prototype per group"),
                                          (_raises, "raised IndexError"),
                                          (lambda s, t, g: 1.5, "torch scalar")]
    if exercise_id == "03.2":  # user groups of sizes 2, 1, 3 and item groups of sizes 1, 2: 4 + 1 + 9 + 1 + 4
        return [19], [(81, "FTD's count"), (5, "ordered pairs"), (10, "ordered pairs"), (27, "different groups"),
                      (9, "m * m")]
    if exercise_id == "03.3":
        from htd_tutorial.course.lessons import distill_run

        history = distill_run(data, inputs["teacher"], "student", SMALL_DIM, lr=5e-3, epochs=40,
                              progress=False).history
        right = history.final("Recall@50")
        wrong = [(100 * right, "share between 0 and 1"), (history.final("NDCG@50"), "run.history.final"),
                 (history.final("Recall@50", split="valid"), "run.history.final")]
        assert all(abs(w - right) > 0.01 for w, _ in wrong), (right, wrong)  # wrong by far more than the tolerance
        return [right], wrong
    if exercise_id == "04.1":  # at d=8: (0.28 - 0.20) / (0.40 - 0.20)
        return [0.4], [(0.25, "FTD's share"), (0.7, "share of the teacher"), (40.0, "not a percentage"),
                       (0.2, "At d=8")]
    if exercise_id == "04.2":  # two cells where FTD hurts; one where it helps; four where HTD beats FTD
        return [2], [(1, "clearly *helps*"), (4, "HTD vs FTD"), (3, "Count the cells")]
    if exercise_id == "06.1":  # the largest |Δ| among the single switches (clean and student flip none or all)
        return ["authors + mask_pe", " authors + mask_pe "], [("authors + lag_tau", "helps the most"),
                                                               ("clean", "not a single switch"),
                                                               ("mask_pe", "variant names")]
    if exercise_id == "06.2":  # the authors' prototypes are computed under no_grad: no gradient with (P,P)
        return [(False, True), [np.False_, np.True_]], [((True, True), "torch.no_grad()"),
                                                         ((False, False), "gradients flow through a mean"),
                                                         ((True, False), "requires_grad")]
    if exercise_id == "05.1":
        return [2, 2.0], [(1, "never put in the same group"), (4, "per entity type")]
    if exercise_id == "05.2":
        return ["ftd", " FTD "], [("htd", "compare the Recall@50"), ("Student", "compare the Recall@50")]
    if exercise_id == "05.3":  # 0.47 - 0.12 at dims 16 and 4, two decimals are enough
        return [0.35, 0.345], [(-0.35, "sign"), (0.47, "subtract"), (0.33, "subtract")]
    raise AssertionError(f"exercise {exercise_id} has no right and wrong answers in _cases: add them")


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_right_answers_are_accepted(exercise_id, inputs, capsys):
    args = _args(exercise_id, inputs)
    right, _ = _cases(exercise_id, inputs)
    for answer in right:
        assert is_correct(exercise_id, answer, *args), (exercise_id, answer)
        check(exercise_id, answer, *args)
        assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_wrong_answers_are_rejected_with_a_hint(exercise_id, inputs, capsys):
    args = _args(exercise_id, inputs)
    _, wrong = _cases(exercise_id, inputs)
    for answer, words in wrong:
        assert not is_correct(exercise_id, answer, *args), (exercise_id, answer)
        check(exercise_id, answer, *args)
        out = capsys.readouterr().out
        assert "not quite" in out and words in out and "Correct" not in out, (exercise_id, answer, out)


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
    assert is_correct("00.1", np.float32(exercises.data_and_teacher._solve_00_1(small_data)), small_data)


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
    monkeypatch.setattr(exercises.engine, "EXERCISES", dict(EXERCISES))

    def make(exercise_id, solve=lambda: 1.0, inputs=()):
        return Exercise(exercise_id=exercise_id, question="q", inputs=inputs, parse=as_number, solve=solve,
                        judge=lambda answer, expected: None if answer == expected else "no", hint="h")

    register(make("98.1"))
    assert "98.1" in exercises.engine.EXERCISES
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

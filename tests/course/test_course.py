"""The course's shared defaults and notebook helpers (htd_tutorial.course), on tiny data so they run in seconds."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from htd_tutorial.course import common as course
from htd_tutorial.course import (STUDENT_DIMS, TEACHER, capacity_table, course_teacher, dims_param, explain_ranking,
                                 load_course_data, parameter_count, popularity_baseline, similarity_pairs,
                                 train_student, train_students)
from htd_tutorial.data import Interactions, make_synthetic
from htd_tutorial.evaluation import evaluate, evaluate_embeddings
from htd_tutorial.models import make_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_defaults_are_consistent():
    assert course.DEFAULT_DATASET in course.COURSE_DATASETS
    assert TEACHER.dim == 200 and TEACHER.kind == "bpr"
    assert TEACHER.eval_every and TEACHER.epochs % TEACHER.eval_every == 0
    assert list(STUDENT_DIMS) == sorted(STUDENT_DIMS) and max(STUDENT_DIMS) < TEACHER.dim
    assert TEACHER.training.replace(eval_every=None) == course.STUDENT   # the teacher's training


def test_load_course_data_reports_the_dataset(capsys):
    data = load_course_data("synthetic")
    out = capsys.readouterr().out
    assert out.startswith("Using the synthetic dataset") and f"{data.n_users:,} users" in out


def test_load_course_data_says_why_it_fell_back(monkeypatch, capsys):
    def missing(name, *, seed, fallback):
        assert fallback
        warnings.warn(f"dataset {name!r} is not available, using the synthetic dataset instead. "
                      "Reason: no copy found", stacklevel=2)
        return make_synthetic(n_users=30, n_items=40, interactions_per_user=5, seed=seed)

    monkeypatch.setattr(course, "load_dataset", missing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback warning is turned into the printed line, not re-raised
        data = load_course_data("movielens-100k")
    out = capsys.readouterr().out
    assert data.n_users == 30
    assert "SYNTHETIC" in out and "'movielens-100k'" in out and "no copy found" in out


def test_load_course_data_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_course_data("netflix")


def test_course_teacher_trains_once_then_loads(tiny, cache, capsys):
    teacher, history = course_teacher(tiny, epochs=2, progress=False)
    assert teacher.dim == TEACHER.dim and history.config["epochs"] == 2
    assert "Trained teacher" in capsys.readouterr().out
    again, history2 = course_teacher(tiny, epochs=2, progress=False)
    assert "Loaded cached teacher" in capsys.readouterr().out
    assert torch.equal(again.all_embeddings()[1], teacher.all_embeddings()[1])
    assert history2.metrics == history.metrics
    assert len(list(cache.glob("teacher-*.pt"))) == 1


def test_train_student_and_students(tiny):
    model, history = train_student(tiny, 4, epochs=1, progress=False)
    assert model.dim == 4 and history.config["epochs"] == 1
    # the history is the returned model's ("0 <= Recall@50 <= 1" held for any number it could report)
    assert history.final() == pytest.approx(evaluate(model, tiny)["test"]["Recall@50"])
    students = train_students(tiny, [8, 2, 8], epochs=1, progress=False)
    assert list(students) == [2, 8]
    with pytest.raises(ValueError, match="dimension"):
        train_student(tiny, 0, epochs=1, progress=False)


def test_dims_param(monkeypatch):
    monkeypatch.delenv("HTD_STUDENT_DIMS", raising=False)
    assert dims_param("student_dims", STUDENT_DIMS) == tuple(STUDENT_DIMS)
    assert dims_param("student_dims", "8,2") == (2, 8)
    monkeypatch.setenv("HTD_STUDENT_DIMS", " 16, 4,4 ")
    assert dims_param("student_dims", STUDENT_DIMS) == (4, 16)
    for bad in ["0,4", "abc", "", "4,,x", "2000", "-2"]:
        monkeypatch.setenv("HTD_STUDENT_DIMS", bad)
        with pytest.raises(ValueError, match=r"HTD_STUDENT_DIMS.*integers from 1 to 199"):
            dims_param("student_dims", STUDENT_DIMS, high=199)


def test_explain_ranking_worked_example():
    scores = [0.9, 0.2, 0.7, 0.8, 0.1, 0.95, 0.6, 0.3]
    table = explain_ranking(scores, train_items=[0, 3], other_heldout=5, heldout=6)
    assert list(table["item"]) == [5, 0, 3, 2, 6, 7, 1, 4]
    assert table.loc[table["status"] == "held-out", "rank"].item() == 2
    assert table["rank"].isna().sum() == 3
    # the package's evaluator agrees with the table
    tiny = Interactions("tiny", n_users=1, n_items=8, train=[[0, 0], [0, 3]], valid=[[0, 5]], test=[[0, 6]])
    result = evaluate_embeddings(torch.ones(1, 1), torch.tensor(scores)[:, None], tiny, ks=(1, 3))["test"]
    assert result["Recall@1"] == 0 and result["Recall@3"] == 1 and np.isclose(result["NDCG@3"], 1 / np.log2(3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(scores=[], train_items=[], other_heldout=0, heldout=1), "non-empty"),
    (dict(scores=[1, 2, 3], train_items=[5], other_heldout=0, heldout=1), "training item 5"),
    (dict(scores=[1, 2, 3], train_items=[0], other_heldout=0, heldout=1), "must all differ"),
    (dict(scores=[1, 2, 3], train_items=[], other_heldout=1, heldout=1), "must all differ"),
    (dict(scores=[1, 2, 3], train_items=[], other_heldout=0, heldout=3), "held-out item 3"),
])
def test_explain_ranking_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain_ranking(**kwargs)


def test_popularity_baseline_recommends_popular_items():
    # training counts: items 0 and 1 twice, items 2 and 3 never. User 0's only candidate is its test item 3
    # (hit); user 1 ranks item 1 above its test item 3 (miss); user 2 ranks its test item 0 first (hit).
    data = Interactions("pop", n_users=3, n_items=4,
                        train=[[0, 0], [1, 0], [0, 1], [2, 1]], valid=[[0, 2], [1, 2], [2, 2]],
                        test=[[0, 3], [1, 3], [2, 0]])
    result = popularity_baseline(data, ks=(1,))["test"]
    assert result["Recall@1"] == pytest.approx(2 / 3)


def test_parameter_count(tiny):
    model = make_model("bpr", tiny, 8)
    assert parameter_count(model) == (tiny.n_users + tiny.n_items) * 8


def test_capacity_table(tiny):
    teacher = make_model("bpr", tiny, 16, seed=1)
    students = {dim: (make_model("bpr", tiny, dim), None) for dim in (4, 2)}
    table = capacity_table(teacher, students, tiny, k=5)
    assert list(table["model"]) == ["student d=2", "student d=4", "teacher"]
    assert list(table.columns) == ["model", "dim", "parameters", "Recall@50", "NDCG@50", "knn_overlap", "spearman"]
    teacher_row = table.iloc[-1]
    assert teacher_row["knn_overlap"] == pytest.approx(1.0) and teacher_row["spearman"] == pytest.approx(1.0)
    assert isinstance(table, pd.DataFrame) and table["parameters"].tolist()[0] == 2 * (tiny.n_users + tiny.n_items)


def test_similarity_pairs():
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(30, 5, generator=gen)
    t, s = similarity_pairs(emb, emb * 3.0, n_pairs=200)
    assert t.shape == s.shape == (200,) and np.allclose(t, s)
    # values, not only the range: each (teacher, student) value is the cosine of one pair i != j in both spaces,
    # recomputed here in NumPy (a student sampled on other pairs, or an unnormalised dot product, fails)
    t, s = similarity_pairs(emb, emb[:, :2], n_pairs=200)
    x = emb.double().numpy()
    cos_t = (x @ x.T) / np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1))
    cos_s = (x[:, :2] @ x[:, :2].T) / np.outer(np.linalg.norm(x[:, :2], axis=1), np.linalg.norm(x[:, :2], axis=1))
    np.fill_diagonal(cos_t, np.nan)
    for a, b in zip(t, s):
        assert (np.isclose(cos_t, a, rtol=0, atol=1e-12) & np.isclose(cos_s, b, rtol=0, atol=1e-12)).sum() == 2, (a, b)
    assert len(np.unique(t)) > 150  # 200 draws among 435 pairs: most distinct
    orthogonal, _ = similarity_pairs(torch.eye(30), torch.eye(30), n_pairs=500)
    assert np.allclose(orthogonal, 0.0)  # never a row paired with itself
    t1, _ = similarity_pairs(emb, emb[:, :2], n_pairs=50, seed=3)
    t2, _ = similarity_pairs(emb.numpy(), emb[:, :2].numpy(), n_pairs=50, seed=3)
    assert np.allclose(t1, t2)
    with pytest.raises(ValueError, match="rows"):
        similarity_pairs(emb, emb[:10])
    with pytest.raises(ValueError, match="n_pairs"):
        similarity_pairs(emb, emb, n_pairs=0)
    with pytest.raises(ValueError, match="2-D"):
        similarity_pairs(emb[0], emb[0])


def test_claim_prints_what_it_checked_and_fails_under_the_strict_flag(tiny, capsys, monkeypatch):
    course_data = Interactions(course.DEFAULT_DATASET, n_users=1, n_items=3, train=[[0, 0]], valid=[[0, 1]],
                               test=[[0, 2]])
    monkeypatch.setenv("HTD_STRICT_CLAIMS", "1")
    verdict = course.claim(True, "it holds", course_data, evidence="0.5 > 0.4")
    assert verdict.holds is True and bool(verdict)
    assert verdict._ipython_display_() is None  # a cell ending with a claim shows no stray "True"
    assert capsys.readouterr().out == "✓ it holds — 0.5 > 0.4\n"
    with pytest.raises(AssertionError, match="does not hold with the shipped settings: it fails — 0.3 < 0.4"):
        course.claim(False, "it fails", course_data, evidence="0.3 < 0.4")
    assert capsys.readouterr().out == "✗ This lesson does not hold with these settings: it fails — 0.3 < 0.4\n"
    # without data (21 of the notebooks' claims), on other data (the synthetic fallback) or told it does not
    # apply: the strict run still fails, since the flag means the shipped settings, where every lesson holds
    other = " (checked on the synthetic data; the text describes movielens-100k)"
    changed = " (the settings differ from the ones the text describes)"
    for args, options, note in [((), {}, ""), ((tiny,), {}, other), ((course_data,), {"applies": False}, changed),
                                ((tiny,), {"applies": False}, other)]:
        with pytest.raises(AssertionError, match=re.escape(f"does not hold{note or ' with the shipped settings'}: "
                                                           "it fails (HTD_STRICT_CLAIMS=1")):
            course.claim(np.bool_(False), "it fails", *args, **options)
        assert capsys.readouterr().out == f"✗ This lesson does not hold with these settings: it fails{note}\n"
    # a learner's kernel (no HTD_STRICT_CLAIMS, or 0): the notebook goes on, whatever the arguments
    for value in (None, "0", "no", ""):
        if value is None:
            monkeypatch.delenv("HTD_STRICT_CLAIMS")
        else:
            monkeypatch.setenv("HTD_STRICT_CLAIMS", value)
        assert course.claim(False, "it fails", course_data).holds is False
        assert not course.claim(False, "it fails")
        assert course.claim(False, "it fails", tiny, applies=False).holds is False
    assert capsys.readouterr().out.count("✗ This lesson does not hold with these settings: it fails") == 12
    # the text may name its dataset by an alias: the course's data is then not "other data"
    course.claim(False, "it fails", course_data, reference="ml-100k")
    assert capsys.readouterr().out == "✗ This lesson does not hold with these settings: it fails\n"


@pytest.mark.parametrize("value", ["2", "maybe", "strict"])
def test_claim_rejects_a_strict_flag_that_is_neither_yes_nor_no(value, monkeypatch):
    # a typo must not quietly turn the checks off: an error naming the variable and the accepted values, also
    # for a claim that holds (so a run whose claims all hold still stops on it)
    monkeypatch.setenv("HTD_STRICT_CLAIMS", value)
    for holds in (True, False):
        with pytest.raises(ValueError, match=re.escape(f"HTD_STRICT_CLAIMS={value!r} is not a yes/no value: use one "
                                                       "of 1, true, yes, on (yes) or 0, false, no, off (no)")):
            course.claim(holds, "it holds")

"""The course's lessons, checked on seeds no lesson was written with, and the stored seed sweep checked
against the code that made it.

``data/lesson_seeds.json`` (``python -m htd_tutorial.course.seeds``) holds every run the lessons rest
on: seeds ``LESSON_SEEDS`` (what the notebooks show) and ``CHECK_SEEDS`` (never looked at when the
lessons were written). Here each lesson of ``evidence.LESSONS`` must point the same way on every check
seed, and a lesson that says "within the noise" must stay within the noise with the check seeds added.
A few cheap runs are trained again and must give the stored numbers, so the JSON is what the code makes.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from htd_tutorial.course import recipes
from htd_tutorial.course.evidence import LESSONS, lesson_difference, load_seed_runs
from htd_tutorial.course.seeds import SEEDS_FILE, STORED_METRICS, sweep_runs

SMALL, LARGE = recipes.SMALL_DIM, recipes.LARGE_DIM


@pytest.fixture(scope="module")
def runs():
    return load_seed_runs()


def test_the_sweep_file_holds_every_run_the_lessons_rest_on(runs):
    payload = json.loads(SEEDS_FILE.read_text())
    assert payload["dataset"]["dataset"] == "movielens-100k" and payload["dataset"]["users"] == 943
    assert payload["recipe"] == dataclasses.asdict(recipes.DISTILL)
    have = {(r["method"], r["dim"], r["seed"], r["lr"]) for r in payload["runs"]}
    needed = {(r.method, r.dim, r.seed, r.lr) for r in sweep_runs() if r.group in ("lessons", "check")}
    assert needed <= have, sorted(needed - have)
    for row in payload["runs"]:
        assert all(0.0 <= row[m] <= 1.0 for m in STORED_METRICS), row
        assert row["Recall@10"] <= row["Recall@20"] <= row["Recall@50"], row
    assert (runs["seconds"] > 0).all()


@pytest.mark.parametrize("key", sorted(LESSONS))
def test_each_lesson_holds_on_the_check_seeds(runs, key):
    lesson = LESSONS[key]
    # as the notebooks read them (check_lesson): the step of the metric over the sweep's test users
    n_users = json.loads(SEEDS_FILE.read_text())["dataset"]["test"]
    shown = lesson_difference(runs, key, small=SMALL, large=LARGE, seeds=recipes.LESSON_SEEDS, n_users=n_users)
    check = lesson_difference(runs, key, small=SMALL, large=LARGE, seeds=recipes.CHECK_SEEDS, n_users=n_users)
    both = lesson_difference(runs, key, small=SMALL, large=LARGE,
                             seeds=recipes.LESSON_SEEDS + recipes.CHECK_SEEDS, n_users=n_users)
    assert check.seeds == recipes.CHECK_SEEDS
    if lesson.expect == "positive":
        assert shown.clearly_positive and min(check.values) > 0, (str(shown), str(check))
    elif lesson.expect == "negative":
        assert shown.clearly_negative and max(check.values) < 0, (str(shown), str(check))
    else:
        assert shown.unclear and both.unclear, (str(shown), str(both))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["student", "ftd"])
def test_the_stored_runs_are_what_the_code_trains(runs, method):
    """Student and FTD train deterministically on one CPU thread: retrain a check-seed run from
    scratch (no cache) and compare with the stored numbers to the last digits."""
    from htd_tutorial.course import course_teacher, load_course_data
    from htd_tutorial.course.lessons import distill_run

    data = load_course_data(verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)
    seed = recipes.CHECK_SEEDS[0]
    fresh = distill_run(data, teacher, method, SMALL, seed=seed, use_cache=False, progress=False)
    stored = runs[(runs["method"] == method) & (runs["dim"] == SMALL) & (runs["seed"] == seed)
                  & (runs["lr"] == recipes.DISTILL.lr)].iloc[0]
    for metric in ("Recall@50", "NDCG@50"):
        assert fresh.history.final(metric) == pytest.approx(stored[metric], abs=1e-9), metric

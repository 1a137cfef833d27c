"""The stored loss traces of notebook 03, Section 5 (``data/loss_traces.json``, :mod:`htd_tutorial.course.traces`)."""
from __future__ import annotations

import dataclasses
import json

import pytest

from htd_tutorial.course import recipes
from htd_tutorial.course.traces import STORED_TRACES, TRACES_FILE, load_trace

#: HTD's weighted terms: they add up, with L_BPR, to the training loss (float32 sums: to 1e-6; the
#: smallest term is over 1e-4 of the loss).
HTD_TERMS = ("bpr", "entity", "group", "ga")


def test_every_stored_trace_covers_the_recipe():
    payload = json.loads(TRACES_FILE.read_text())
    assert payload["recipe"] == dataclasses.asdict(recipes.DISTILL)
    assert [(run["method"], run["dim"]) for run in payload["runs"]] == list(STORED_TRACES)
    for method, dim in STORED_TRACES:
        trace = load_trace(method, dim)
        assert list(trace.index) == list(range(1, recipes.DISTILL.epochs + 1))
        assert (trace > 0).all(axis=None), (method, dim)


def test_htd_terms_add_up_to_the_loss():
    trace = load_trace("htd", recipes.LARGE_DIM)
    assert trace[list(HTD_TERMS)].sum(axis=1).to_numpy() == pytest.approx(trace["loss"].to_numpy(), rel=1e-6)  # float32 sums


def test_unknown_run_or_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no stored trace for ftd at d=3"):
        load_trace("ftd", 3)
    bad = tmp_path / "traces.json"
    bad.write_text("[]")
    with pytest.raises(ValueError, match="holds no stored traces"):
        load_trace("htd", recipes.LARGE_DIM, path=bad)


@pytest.mark.slow
def test_plain_student_trace_is_reproduced(tmp_path, monkeypatch):
    """Retrain the stored plain student from an empty cache: the same trace (its runs are bitwise repeatable)."""
    from htd_tutorial.course import course_teacher, load_course_data
    from htd_tutorial.course.lessons import distill_run

    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path))
    data = load_course_data(verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)
    result = distill_run(data, teacher, "student", recipes.LARGE_DIM, seed=0, progress=False)
    assert not result.from_cache
    stored = load_trace("student", recipes.LARGE_DIM)
    assert result.history.trace_frame()["bpr"].to_numpy() == pytest.approx(stored["bpr"].to_numpy(), rel=1e-9)

"""Resumable runs: a run stopped after an epoch and started again gives the numbers of an unbroken run.

Each test stops a run by raising from the snapshot store right after it kept a snapshot (what a
killed process leaves behind), starts the run again from a freshly built model, and compares every
weight and every logged number with a run that went straight through. The evaluation counter checks
that the second start really resumed (it trains only the remaining epochs) rather than starting over.
"""
import copy

import pytest
import torch

from htd_tutorial import cache, training
from htd_tutorial.distill import make_distiller
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.models import make_model
from htd_tutorial.training import train

EPOCHS, STOP_AFTER = 5, 2


class Stopped(Exception):
    """Stands for the process being killed."""


class MemorySnapshots:
    """A store that keeps snapshots in memory and stops the run after ``stop_after`` of them."""

    every = 0.0

    def __init__(self, stop_after=None):
        self.kept, self.stop_after, self.saved = None, stop_after, 0

    def load(self):
        return copy.deepcopy(self.kept)

    def save(self, state, meta):
        self.kept = copy.deepcopy((state, meta))
        self.saved += 1
        if self.saved == self.stop_after:
            raise Stopped


#: The synthetic dataset of the ``data`` fixture (tests/conftest.py).
SYNTHETIC = dict(n_users=80, n_items=100, interactions_per_user=15, seed=3)


@pytest.fixture(scope="module")
def one_thread_teacher(data):
    """A dimension-12 BPR-MF (seed 1) trained 2 epochs on one thread (conftest's ``teacher`` is 16, seed 0)."""
    model = make_model("bpr", data, 12, seed=1)
    train(model, data, epochs=2, batch_size=256, lr=0.01, progress=False, threads=1)
    return model


@pytest.fixture(scope="module")
def teacher_tables(one_thread_teacher):
    with torch.no_grad():
        return tuple(t.detach().clone() for t in one_thread_teacher.all_embeddings())


def build(data, teacher_tables, kind, method):
    model = make_model(kind, data, 6, seed=2)
    distiller = None if method == "student" else make_distiller(
        method, *teacher_tables, 6, K=3, seed=2, n_users=data.n_users, n_items=data.n_items)
    return model, distiller


def fit(data, model, distiller, optimizer, snapshots=None, lr=0.01):
    return train(model, data, epochs=EPOCHS, batch_size=256, lr=lr, optimizer=optimizer, distiller=distiller,
                 seed=4, eval_every=1, progress=False, threads=1, snapshots=snapshots)


def same_numbers(a, b):
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    return a.metrics == b.metrics and strip(a.losses) == strip(b.losses) and a.loss_trace == b.loss_trace


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def count_evaluations(monkeypatch):
    calls = []
    original = training.evaluate

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    monkeypatch.setattr(training, "evaluate", counting)
    return calls


@pytest.mark.parametrize("kind,method,optimizer", [("bpr", "student", "adam"), ("bpr", "student", "lazy_adam"),
                                                   ("lightgcn", "student", "adam"), ("bpr", "ftd", "adam"),
                                                   ("bpr", "de", "adam"), ("bpr", "htd", "adam")])
def test_stopped_and_resumed_run_equals_an_unbroken_one(data, teacher_tables, monkeypatch, kind, method,
                                                        optimizer):
    straight_model, straight_distiller = build(data, teacher_tables, kind, method)
    straight = fit(data, straight_model, straight_distiller, optimizer)

    store = MemorySnapshots(stop_after=STOP_AFTER)
    with pytest.raises(Stopped):
        fit(data, *build(data, teacher_tables, kind, method), optimizer, store)
    assert store.kept[1]["epochs_done"] == STOP_AFTER
    model, distiller = build(data, teacher_tables, kind, method)   # a new process: everything rebuilt
    torch.manual_seed(123)                                         # and the global generators elsewhere
    calls = count_evaluations(monkeypatch)
    resumed = fit(data, model, distiller, optimizer, store)
    assert len(calls) == EPOCHS - STOP_AFTER      # it resumed: only the remaining epochs trained
    assert same_numbers(resumed, straight)
    assert [r["epoch"] for r in resumed.losses] == list(range(1, EPOCHS + 1))
    assert same_weights(model.state_dict(), straight_model.state_dict())
    if distiller is not None:
        assert same_weights(distiller.state_dict(), straight_distiller.state_dict())


def test_the_snapshot_carries_the_random_state(data, teacher_tables):
    # the check above can fail: a resumed HTD run whose Gumbel noise starts from another state differs
    store = MemorySnapshots(stop_after=STOP_AFTER)
    with pytest.raises(Stopped):
        fit(data, *build(data, teacher_tables, "bpr", "htd"), "adam", store)
    store.kept[0]["rng.torch"] = torch.manual_seed(999).get_state()
    straight = fit(data, *build(data, teacher_tables, "bpr", "htd"), "adam")
    assert not same_numbers(fit(data, *build(data, teacher_tables, "bpr", "htd"), "adam", store), straight)


def test_snapshot_of_another_run_is_ignored_with_a_warning(data, teacher_tables, monkeypatch):
    store = MemorySnapshots(stop_after=STOP_AFTER)
    with pytest.raises(Stopped):
        fit(data, *build(data, teacher_tables, "bpr", "student"), "adam", store, lr=0.02)
    straight = fit(data, *build(data, teacher_tables, "bpr", "student"), "adam")
    calls = count_evaluations(monkeypatch)
    with pytest.warns(RuntimeWarning, match="starting from epoch 0: it was taken from another run"):
        again = fit(data, *build(data, teacher_tables, "bpr", "student"), "adam", store)
    assert len(calls) == EPOCHS and same_numbers(again, straight)


def test_no_snapshot_after_the_last_epoch(data, teacher_tables):
    store = MemorySnapshots()
    fit(data, *build(data, teacher_tables, "bpr", "student"), "adam", store)
    assert store.saved == EPOCHS - 1 and store.kept[1]["epochs_done"] == EPOCHS - 1


# ---------------------------------------------------------------- the snapshot file of a cached run
def stop_on_second_snapshot(monkeypatch):
    monkeypatch.setattr(cache, "SNAPSHOT_SECONDS", 0.0)
    original, saved = cache.PartialRun.save, []

    def save(self, state, meta):
        original(self, state, meta)
        saved.append(meta["epochs_done"])
        if len(saved) == STOP_AFTER:
            raise Stopped
    monkeypatch.setattr(cache.PartialRun, "save", save)


def straight_and_stopped(data, one_thread_teacher, config, tmp_path, monkeypatch):
    """The run gone straight through (in another folder), and the snapshot file of the stopped one."""
    straight = run_method(data, one_thread_teacher, config, directory=tmp_path / "straight", progress=False, threads=1)
    with monkeypatch.context() as patch:
        stop_on_second_snapshot(patch)
        with pytest.raises(Stopped):
            run_method(data, one_thread_teacher, config, directory=tmp_path, progress=False, threads=1)
    (partial,) = tmp_path.glob("run-*.partial.pt")
    return straight, partial


def test_run_method_resumes_from_its_snapshot_file(data, one_thread_teacher, tmp_path, monkeypatch):
    config = RunConfig(method="htd", dim=6, epochs=EPOCHS, batch_size=256, K=3, eval_every=1, seed=1)
    straight, partial = straight_and_stopped(data, one_thread_teacher, config, tmp_path, monkeypatch)
    assert not list(tmp_path.glob("run-*-????????????????.pt"))   # no finished run stored
    calls = count_evaluations(monkeypatch)
    resumed = run_method(data, one_thread_teacher, config, directory=tmp_path, progress=False, threads=1)
    assert len(calls) == EPOCHS - STOP_AFTER and not resumed.from_cache
    assert same_numbers(resumed.history, straight.history)
    assert same_weights(resumed.student.state_dict(), straight.student.state_dict())
    assert not partial.exists() and len(list(tmp_path.glob("run-*.pt"))) == 1   # the snapshot is gone


def test_corrupt_snapshot_file_is_ignored_with_a_warning(data, one_thread_teacher, tmp_path, monkeypatch):
    config = RunConfig(method="student", dim=6, epochs=EPOCHS, batch_size=256, eval_every=1, seed=1)
    straight, partial = straight_and_stopped(data, one_thread_teacher, config, tmp_path, monkeypatch)
    partial.write_bytes(partial.read_bytes()[:200])
    with pytest.warns(RuntimeWarning, match="ignoring the cached unfinished run Student d=6"):
        again = run_method(data, one_thread_teacher, config, directory=tmp_path, progress=False, threads=1)
    assert same_numbers(again.history, straight.history) and not partial.exists()


def test_teacher_training_resumes_from_its_snapshot_file(data, tmp_path, monkeypatch):
    settings = dict(epochs=EPOCHS, batch_size=256, lr=0.01, eval_every=1, progress=False, verbose=False, threads=1)
    straight, _ = cache.get_teacher(data, dim=8, directory=tmp_path / "straight", **settings)
    with monkeypatch.context() as patch:
        stop_on_second_snapshot(patch)
        with pytest.raises(Stopped):
            cache.get_teacher(data, dim=8, directory=tmp_path, **settings)
    calls = count_evaluations(monkeypatch)
    resumed, _ = cache.get_teacher(data, dim=8, directory=tmp_path, **settings)
    assert len(calls) == EPOCHS - STOP_AFTER
    assert same_weights(resumed.state_dict(), straight.state_dict())
    assert not list(tmp_path.glob("*.partial.pt"))

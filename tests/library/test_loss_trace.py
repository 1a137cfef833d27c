"""The loss trace (History.loss_trace): per epoch, the mean per batch of L_BPR and of each weighted
distillation term, recorded by the trainer without changing any number of the run, and its plot."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from htd_tutorial.distill import make_distiller
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.models import make_model
from htd_tutorial.plots.training import TERM_LABELS, plot_loss_trace, trace_table
from htd_tutorial.sampling import TripleSampler
from htd_tutorial.training import History, loss_weights, train

LAM, GAMMA = 1e-3, 0.5
EPOCHS, BATCH = 2, 256


#: The synthetic dataset of the ``data`` fixture (tests/conftest.py).
SYNTHETIC = dict(n_users=50, n_items=80, interactions_per_user=10, seed=0)


@pytest.fixture(scope="module")
def untrained_teacher(data):
    """conftest's ``teacher`` before training: the trace only needs its tables, not their quality."""
    return make_model("bpr", data, 16, seed=0).eval()


def _run(data, untrained_teacher, method, **kwargs):
    with torch.no_grad():
        t_users, t_items = untrained_teacher.all_embeddings()
    distiller = make_distiller(method, t_users, t_items, 3, lam=LAM, K=3, gamma=GAMMA, **kwargs)
    history = train(make_model("bpr", data, 3, seed=0), data, epochs=EPOCHS, batch_size=BATCH,
                    distiller=distiller, eval_every=0, progress=False)
    return history, distiller


def test_weights_say_how_each_term_enters_the_loss(data, untrained_teacher):
    with torch.no_grad():
        tables = untrained_teacher.all_embeddings()
    assert loss_weights(None) == {}
    assert loss_weights(make_distiller("ftd", *tables, 3, lam=LAM)) == {"ftd": LAM}
    assert loss_weights(make_distiller("htd", *tables, 3, lam=LAM, K=3, gamma=0.25)) == pytest.approx(
        {"entity": 0.00025, "group": 0.00025, "ga": 0.00075})
    assert loss_weights(make_distiller("de", *tables, 3, lam=LAM, K=3)) == {"ga": LAM}
    assert loss_weights(make_distiller("fitnet", *tables, 3, lam=LAM)) == {"hint": LAM}
    assert loss_weights(torch.nn.Identity()) == {}       # a distiller without weights: BPR and the total only


@pytest.mark.parametrize("method, terms", [("ftd", ["ftd"]), ("htd", ["entity", "group", "ga"]),
                                           ("de", ["ga"]), ("fitnet", ["hint"])])
def test_trace_is_the_weighted_mean_per_batch(data, untrained_teacher, method, terms):
    history, distiller = _run(data, untrained_teacher, method)
    steps = len(TripleSampler(data, BATCH, seed=0))
    assert steps > 1
    assert [r["epoch"] for r in history.loss_trace] == list(range(1, EPOCHS + 1))
    for sums, mean in zip(history.losses, history.loss_trace):
        assert set(mean) == {"epoch", "bpr", "loss", *terms}
        assert mean["bpr"] == pytest.approx(sums["bpr"] / steps, rel=1e-12)
        for term in terms:
            assert mean[term] == pytest.approx(distiller.loss_weights[term] * sums[term] / steps, rel=1e-12)
            assert mean[term] > 0
        # the weighted terms add up to the loss the student minimised
        assert mean["bpr"] + sum(mean[t] for t in terms) == pytest.approx(mean["loss"], rel=1e-6)
    if method == "htd":   # gamma = 0.5: the entity and group levels carry lambda / 2, as does L_GA
        first = history.losses[0]
        assert history.loss_trace[0]["entity"] == pytest.approx(5e-4 * first["entity"] / steps, rel=1e-12)


def test_plain_student_trace_is_bpr_only(data):
    history = train(make_model("bpr", data, 3, seed=0), data, epochs=EPOCHS, batch_size=BATCH, eval_every=0,
                    progress=False)
    for record in history.loss_trace:
        assert set(record) == {"epoch", "bpr", "loss"} and record["bpr"] == pytest.approx(record["loss"])


def test_recording_changes_no_number(data, untrained_teacher):
    """Two runs give the same trace and metrics; the trace is the losses' sums divided by the steps, so the
    training itself is untouched (tests/course/test_lesson_seeds.py retrains stored runs to 1e-9)."""
    first, _ = _run(data, untrained_teacher, "htd")
    again, _ = _run(data, untrained_teacher, "htd")
    assert first.loss_trace == again.loss_trace
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in first.losses] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in again.losses]


def test_round_trip_and_old_histories(data, untrained_teacher):
    history, _ = _run(data, untrained_teacher, "ftd")
    again = History.from_dict(history.to_dict())
    assert again.loss_trace == history.loss_trace
    frame = again.trace_frame()
    assert list(frame.index) == [1, 2] and list(frame.columns) == ["bpr", "ftd", "loss"]
    old = {k: v for k, v in history.to_dict().items() if k != "loss_trace"}
    assert History.from_dict(old).loss_trace == []
    with pytest.raises(ValueError, match="no loss trace"):
        History.from_dict(old).trace_frame()


def test_cached_runs_keep_their_trace(data, untrained_teacher, tmp_path):
    config = RunConfig(method="ftd", dim=3, epochs=1, K=3, batch_size=BATCH, eval_every=0)
    trained = run_method(data, untrained_teacher, config, directory=tmp_path, progress=False)
    loaded = run_method(data, untrained_teacher, config, directory=tmp_path, progress=False)
    assert loaded.from_cache and loaded.history.loss_trace == trained.history.loss_trace
    assert loaded.history.loss_trace[0]["ftd"] > 0


def test_plot_loss_trace(data, untrained_teacher):
    history, _ = _run(data, untrained_teacher, "htd")
    fig = plot_loss_trace(history, title="HTD d=3")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [TERM_LABELS[t] for t in
                                                                    ("bpr", "entity", "group", "ga")]
    assert ax.get_yscale() == "log" and all(float(x).is_integer() for x in ax.get_xticks())
    plain = train(make_model("bpr", data, 3, seed=0), data, epochs=EPOCHS, batch_size=BATCH, eval_every=0,
                  progress=False)
    with_plain = plot_loss_trace(history, baseline=plain)
    assert with_plain.axes[0].get_legend().get_texts()[-1].get_text() == "L_BPR, plain student"
    fig2, axes = plt.subplots(1, 2)
    assert plot_loss_trace(trace_table(history), terms=("bpr", "entity"), ax=axes[1], log=False) is fig2
    plt.close("all")


def test_plot_rejects_bad_input():
    with pytest.raises(ValueError, match="History or a DataFrame"):
        plot_loss_trace([1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        trace_table(pd.DataFrame())
    with pytest.raises(ValueError, match="no column"):
        plot_loss_trace(pd.DataFrame({"bpr": [1.0, 0.5]}, index=[1, 2]), terms=("bpr", "ftd"))

"""The plotting helpers draw, label and return a figure (Agg backend; no pixels compared)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from htd_tutorial import plots
from htd_tutorial.training import History

#: every figure a test draws is closed after it (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("close_figures")


def _labelled(fig):
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None
    return ax


def test_count_histogram_and_long_tail(rng):
    counts = rng.zipf(2.0, size=200)
    counts[:3] = 0
    ax = _labelled(plots.plot_count_histogram(counts, entity="item"))
    assert "3 with none" in ax.get_legend().get_texts()[1].get_text() + ax.get_legend().get_texts()[0].get_text()
    ax = _labelled(plots.plot_long_tail(counts, mark=0.1))
    assert any("top 10% of items" in t.get_text() for t in ax.get_legend().get_texts())


def test_interaction_matrix(rng):
    pairs = np.stack([rng.integers(0, 20, 100), rng.integers(0, 30, 100)], axis=1)
    _labelled(plots.plot_interaction_matrix(pairs, 20, 30))


def test_training_curves_with_baseline():
    history = History(metrics=[{"epoch": e, "split": "test", "Recall@50": 0.1 * e} for e in (1, 2, 3)])
    fig, ax = plt.subplots()
    assert plots.plot_training_curves({"teacher": history}, ax=ax, baselines={"popular": 0.2}) is fig
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["teacher", "popular"]


def test_by_dim_and_capacity_gap_label_only_the_dimensions():
    table = pd.DataFrame({"dim": [8, 2, 32], "a": [0.2, 0.1, 0.3], "b": [0.5, 0.4, 0.6]})
    ax = _labelled(plots.plot_by_dim(table, {"a": "A", "b": "B"}, teacher={"a": 0.4}))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "8", "32"]
    assert all(not t.get_text() for t in ax.get_xminorticklabels())
    runs = [{"method": "student", "dim": d, "Recall@50": v} for d, v in zip(table["dim"], table["a"])]
    _labelled(plots.plot_capacity_gap(runs, teacher=0.4))


def test_similarity_scatter(rng):
    _labelled(plots.plot_similarity_scatter(rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50), label="student d=2"))


def test_evidence_map_rows_follow_the_names_and_say_them():
    from htd_tutorial.plots.evidence import plot_evidence_map
    verdicts = {k: {"verdict": "unclear"} for k in ("ftd-student", "htd-student", "htd-ftd")}
    cells = [{"setting": s, "protocol": p, "dim": 4, "n_seeds": 3, "verdicts": verdicts}
             for s, p in (("zeta", "fixed"), ("big", "tuned"), ("big", "fixed"), ("small", "fixed"))]
    ax = plot_evidence_map(cells, names={"small": "the small data", "big": "Big data"}).axes[0]
    # the names' order, then what they leave out by name; every label starts with a capital
    assert [t.get_text() for t in ax.get_yticklabels()] == ["The small data · fixed", "Big data · fixed",
                                                           "Big data · tuned", "Zeta · fixed"]

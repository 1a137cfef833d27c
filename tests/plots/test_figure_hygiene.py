"""Figure hygiene (issue 12): whole-epoch ticks, validation next to test, bars from 0, baselines drawn."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from htd_tutorial import plots
from htd_tutorial.plots import topology as topology_plots
from htd_tutorial.training import History

#: every figure a test draws is closed after it (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("close_figures")


def _history():
    return History(metrics=[{"epoch": e, "split": split, "Recall@50": 0.1 * e + (0.01 if split == "test" else 0)}
                            for e in (5, 10, 15) for split in ("valid", "test")])


def _whole(ticks) -> bool:
    return all(float(t).is_integer() for t in ticks)


def test_training_curves_draw_validation_and_test_with_whole_epoch_ticks():
    fig, ax = plt.subplots()
    plots.plot_training_curves({"teacher": _history()}, ax=ax, baselines={"popular": 0.2})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["teacher, validation", "teacher, test", "popular"]
    valid, test = ax.get_lines()[:2]
    assert valid.get_linestyle() == "--" and test.get_linestyle() == "-"
    assert valid.get_color() == test.get_color()
    assert list(valid.get_ydata()) == pytest.approx([0.5, 1.0, 1.5])
    assert _whole(ax.get_xticks())


def test_training_curves_one_split_keeps_the_run_label():
    fig, ax = plt.subplots()
    plots.plot_training_curves({"teacher": _history()}, splits="test", ax=ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["teacher"]
    with pytest.raises(ValueError, match="splits must name"):
        plots.plot_training_curves({"teacher": _history()}, splits=("train",))


def test_every_epoch_axis_has_whole_ticks():
    # three epochs 0..2 would get ticks at 0.25 steps without the integer locator
    fig = topology_plots.plot_temperature_schedule([0, 1, 2], {"τ": [1.0, 0.5, 0.25]})
    assert _whole(fig.axes[0].get_xticks())


def test_capacity_gap_draws_the_baselines():
    runs = [{"method": "student", "dim": d, "Recall@50": v} for d, v in [(2, 0.29), (8, 0.47)]]
    ax = plots.plot_capacity_gap(runs, teacher=0.63, baselines={"most popular items": 0.30}).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Student (no KD)", "Teacher", "most popular items"]
    assert [line.get_ydata()[0] for line in ax.get_lines() if line.get_label() == "most popular items"] == [0.30]


def test_bars_start_at_zero():
    table = pd.DataFrame({"method": ["student", "ftd", "htd"], "dim": [4, 4, 4], "Recall@50": [0.55, 0.58, 0.6]})
    assert topology_plots.plot_method_bars(table).axes[0].get_ylim()[0] == 0
    fig = topology_plots.plot_gumbel_samples([0.2, 0.8], {"τ = 1": [0.3, 0.7]})
    assert fig.axes[0].get_ylim()[0] == 0


def test_horizontal_bars_start_at_zero_unless_they_are_differences():
    from htd_tutorial.plots import analysis as analysis_plots

    lengths = pd.DataFrame({"label": ["a", "b"], "Recall@50": [0.40, 0.42], "Recall@50 std": [0.01, 0.02]})
    assert analysis_plots.plot_bars(lengths, error="Recall@50 std").axes[0].get_xlim()[0] == 0
    differences = pd.DataFrame({"label": ["a", "b"], "Recall@50": [-0.02, 0.03]})
    left, right = analysis_plots.plot_bars(differences).axes[0].get_xlim()
    assert left < -0.02 and right > 0.03
    plt.close("all")


def test_toy_panel_counts_relations_like_the_course():
    """18 entities in 3 groups of 6: 18² = 324 ordered pairs for FTD, 3 x 6² = 108 inside the groups,
    3 x 18 = 54 prototype-entity relations (the counts notebook 03 prints under the panel)."""
    import numpy as np

    points = np.random.default_rng(0).normal(size=(18, 2))
    groups = np.repeat(np.arange(3), 6)
    for level, expected in (("full", "324 ordered pairs"), ("entity", "108 ordered pairs"), ("group", ": 54")):
        fig = topology_plots.plot_toy_topology(points, groups, level=level)
        labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        assert any("relations matched" in label and expected in label for label in labels), (level, labels)
        plt.close(fig)

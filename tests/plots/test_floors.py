"""The capacity floors' pictures draw what they are given, and nothing they are not (Agg backend)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from htd_tutorial.capacity import capacity_floors
from htd_tutorial.plots.floors import plot_capacity_floors, plot_loss_floors

pytestmark = pytest.mark.usefixtures("close_figures")


def _labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_floors_without_groups_or_fit_draw_ftds_lines_only():
    teacher = torch.randn(40, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fig = plot_capacity_floors(capacity_floors(teacher, (1, 2, 4, 8), fit_steps=None))
    labels = _labels(fig)
    assert labels[0].startswith("FTD: floor") and not any("HTD" in label or "fitted" in label for label in labels)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8"]
    assert ax.get_ylim()[0] == 0


def test_loss_floors_need_matching_epochs():
    trace = {"epoch": np.arange(1, 4), "loss": np.array([3.0, 2.0, 1.5]), "floor": np.array([1.0, 1.0])}
    with pytest.raises(ValueError, match="3 epochs of loss but 2 of floor"):
        plot_loss_floors({2: trace})
    trace["floor"] = np.ones(3)
    assert plot_loss_floors({2: trace}).axes[0].get_yscale() == "log"

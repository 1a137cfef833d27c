"""The look shared by every picture: one colour and one label per method, axes helpers.

Every ``plot_*`` module of :mod:`htd_tutorial.plots` takes its colours and labels from here, so a
method looks the same in every notebook, in the reproduction figure and in the explorer.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullFormatter

from ..choices import METHOD_NAMES

__all__ = ["get_ax", "dimension_axis", "epoch_axis", "finish_axes", "METHOD_COLORS", "METHOD_LABELS"]

METHOD_COLORS = {"teacher": "black", "student": "tab:gray", "fitnet": "tab:olive", "de": "tab:purple",
                 "ftd": "tab:blue", "htd": "tab:red"}
#: A legend's names: the methods' (:data:`htd_tutorial.choices.METHOD_NAMES`, their one owner), the teacher,
#: and the plain student said to be without distillation.
METHOD_LABELS = {"teacher": "Teacher", **METHOD_NAMES, "student": "Student (no KD)"}


def get_ax(ax=None, figsize=(6, 4)):
    """``(figure, axes)``: the given axes and its figure, or a new figure with one axes.

    Every one-axes chart of :mod:`htd_tutorial.plots` takes ``ax=None`` and draws through this, so
    a chart can be a panel of the caller's figure; the chart returns the figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def dimension_axis(ax, dims) -> None:
    """Log-scale x axis labelled at exactly the embedding dimensions ``dims`` (no minor labels).

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    dims = sorted(int(d) for d in dims)
    ax.set_xscale("log")
    ax.set_xticks(dims)
    ax.set_xticklabels([str(d) for d in dims])
    ax.xaxis.set_minor_formatter(NullFormatter())


def epoch_axis(ax) -> None:
    """Ticks at whole epochs only on the x axis (an epoch 2.5 does not exist).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def finish_axes(ax, xlabel: str, ylabel: str, title: str, **legend) -> None:
    """The finish every line and bar chart of the course shares: axis labels, title, a small legend, a light grid.

    ``legend`` goes to ``ax.legend`` (e.g. ``loc="lower right"``), after ``fontsize="small"``. An x
    axis labelled ``"epoch"`` gets whole-epoch ticks (:func:`epoch_axis`), in every chart alike.
    """
    if xlabel == "epoch":
        epoch_axis(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(**{"fontsize": "small", **legend})
    ax.grid(alpha=0.3)

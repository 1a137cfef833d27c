"""Pictures for the course. Each ``plot_*`` function draws on ``ax`` (or a new figure) and returns the figure.

They only draw: what they show is computed elsewhere (training, evaluation, topology), so the
same function serves the notebooks, the reproduction command and the explorer.
"""
from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["get_ax", "plot_capacity_gap", "plot_training_curves", "METHOD_COLORS"]

METHOD_COLORS = {"teacher": "black", "student": "tab:gray", "fitnet": "tab:olive", "de": "tab:purple",
                 "ftd": "tab:blue", "htd": "tab:red"}
METHOD_LABELS = {"teacher": "Teacher", "student": "Student (no KD)", "fitnet": "FitNet", "de": "DE",
                 "ftd": "FTD", "htd": "HTD"}


def get_ax(ax=None, figsize=(6, 4)):
    """``(figure, axes)``: the given axes and its figure, or a new figure with one axes."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_capacity_gap(runs: list[dict], *, metric: str = "Recall@50", teacher: float | None = None,
                      reference: dict | None = None, ax=None, title: str | None = None):
    """The capacity-gap figure: test ``metric`` against student dimension, one line per method.

    Parameters
    ----------
    runs : list of dict
        Records with keys ``"method"``, ``"dim"`` and ``metric`` (as written by
        :func:`htd_tutorial.reproduce.reproduce`).
    metric : str
        Which metric to plot.
    teacher : float, optional
        The teacher's value, drawn as a horizontal line.
    reference : dict, optional
        ``{method: {dim: value}}`` published numbers, drawn as hollow markers for comparison.
    ax : matplotlib axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    fig, ax = get_ax(ax)
    methods = [m for m in METHOD_COLORS if any(r["method"] == m for r in runs)]
    for method in methods:
        rows = sorted((r for r in runs if r["method"] == method), key=lambda r: r["dim"])
        ax.plot([r["dim"] for r in rows], [r[metric] for r in rows], marker="o", color=METHOD_COLORS[method],
                label=METHOD_LABELS[method])
        if reference and method in reference:
            ref = sorted(reference[method].items())
            ax.plot([int(d) for d, _ in ref], [v for _, v in ref], linestyle=":", marker="o", mfc="none",
                    color=METHOD_COLORS[method], label=f"{METHOD_LABELS[method]} (authors' log)")
    if teacher is not None:
        ax.axhline(teacher, color="black", linestyle="--", label="Teacher")
    dims = sorted({r["dim"] for r in runs})
    ax.set_xscale("log")
    ax.set_xticks(dims)
    ax.set_xticklabels([str(d) for d in dims])
    ax.set_xlabel("student embedding dimension")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title or "Capacity gap: accuracy vs student size")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def plot_training_curves(histories: dict, *, metric: str = "Recall@50", split: str = "test", ax=None,
                         title: str | None = None):
    """``metric`` over epochs for several runs, e.g. ``{"Teacher d=200": history, ...}``.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    fig, ax = get_ax(ax)
    for label, history in histories.items():
        epochs, values = history.curve(metric, split)
        ax.plot(epochs, values, marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{split} {metric}")
    ax.set_title(title or f"{split} {metric} during training")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig

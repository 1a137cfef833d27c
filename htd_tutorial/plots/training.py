"""What the losses do during training: L_BPR and each weighted distillation term, epoch by epoch.

Draws :attr:`htd_tutorial.training.History.loss_trace` (notebooks 02 and 03): per-batch means of
L_BPR and of what each distillation term adds to the loss (lambda L_FTD; lambda gamma L_entity,
lambda gamma L_group and lambda (1 - gamma) L_GA for HTD), on a log scale, since they differ by
orders of magnitude.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.ticker import MaxNLocator

from .style import METHOD_COLORS, finish_axes, get_ax

__all__ = ["TERM_LABELS", "TERM_STYLES", "trace_table", "plot_loss_trace"]

#: How each term of a loss trace is labelled: the quantity it is, weight included.
TERM_LABELS = {"bpr": "L_BPR", "ftd": "λ·L_FTD", "entity": "λγ·L_entity", "group": "λγ·L_group",
               "ga": "λ(1−γ)·L_GA", "hint": "λ·L_hint", "loss": "total loss"}
#: Colour and line style of each term (BPR is the student's own task, drawn black).
TERM_STYLES = {"bpr": dict(color="black", ls="-"), "ftd": dict(color=METHOD_COLORS["ftd"], ls="-"),
               "entity": dict(color=METHOD_COLORS["htd"], ls="-"), "group": dict(color="tab:orange", ls="--"),
               "ga": dict(color=METHOD_COLORS["de"], ls=":"), "hint": dict(color=METHOD_COLORS["fitnet"], ls="-"),
               "loss": dict(color="0.6", ls="-.")}


def trace_table(history) -> pd.DataFrame:
    """A loss trace as a DataFrame indexed by epoch: a History's :meth:`~htd_tutorial.training.History.trace_frame`,
    or a DataFrame already (returned as it is). ValueError for anything else or an empty trace.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if isinstance(history, pd.DataFrame):
        table = history
    elif hasattr(history, "trace_frame"):
        table = history.trace_frame()
    else:
        raise ValueError(f"expected a History or a DataFrame, got {type(history).__name__}")
    if table.empty or "bpr" not in table:
        raise ValueError("the loss trace is empty or has no 'bpr' column")
    return table


def plot_loss_trace(history, *, terms: tuple[str, ...] | None = None, baseline=None, ax=None,
                    title: str = "Loss terms per batch", log: bool = True):
    """L_BPR and each weighted distillation term over the epochs of one run.

    Parameters
    ----------
    history : History or DataFrame
        The run's history (or its :func:`trace_table`).
    terms : tuple of str, optional
        Columns to draw (default: every term but the total, BPR first).
    baseline : History or DataFrame, optional
        A run without distillation (the plain student): its L_BPR is drawn as a grey dashed line,
        to see whether the distillation term slows the student's own task.
    log : bool
        Log-scale y axis (the terms differ by orders of magnitude; a term that is 0, e.g. a level
        with no pairs, is left out of a log plot).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    table = trace_table(history)
    if terms is None:
        terms = tuple(c for c in table.columns if c != "loss")
    missing = [t for t in terms if t not in table]
    if missing:
        raise ValueError(f"the loss trace has no column(s) {missing}; it has {list(table.columns)}")
    fig, ax = get_ax(ax, figsize=(6, 4))
    for term in terms:
        values = table[term]
        if log:
            values = values.where(values > 0)
        ax.plot(table.index, values, marker="o", ms=3, label=TERM_LABELS.get(term, term),
                **TERM_STYLES.get(term, {}))
    if baseline is not None:
        plain = trace_table(baseline)
        ax.plot(plain.index, plain["bpr"], color="0.5", ls="--", lw=1.2, label="L_BPR, plain student")
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    finish_axes(ax, "epoch", "mean per batch (as it enters the loss)", title)
    return fig

"""Pictures of the analysis notebook: gains over the student, design choices, sweeps, fidelity, ablation.

Each ``plot_*`` function only draws what was computed elsewhere (runs, topology reports, the
ablation table), on ``ax`` or on a new figure, and returns the figure, like :mod:`htd_tutorial.plots`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from ..choices import HEADLINE
from .capacity import plot_capacity_gap
from .style import METHOD_COLORS, METHOD_LABELS, dimension_axis, finish_axes, get_ax

__all__ = ["plot_stored_capacity_gap", "plot_gain_over_student", "plot_bars", "plot_sweep", "plot_topology_fidelity", "plot_ablation"]


def _frame(rows, needed: tuple[str, ...], what: str) -> pd.DataFrame:
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in needed if c not in frame.columns]
    if frame.empty or missing:
        raise ValueError(f"{what} needs records with the columns {list(needed)}; missing {missing or 'all rows'}")
    return frame


def plot_stored_capacity_gap(payload: dict, *, metric: str = HEADLINE, ax=None, title: str | None = None):
    """The capacity-gap figure of a stored reproduction, with the authors' published numbers.

    Parameters
    ----------
    payload : dict
        A ``python -m htd_tutorial reproduce`` JSON (``"runs"``, ``"teacher"``, optional
        ``"reference"`` as ``{method: {dim: value}}``).
    metric : str
        The reference holds test Recall@50; for another metric no reference is drawn.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Our runs as solid lines, the authors' log as dotted lines with hollow markers, every
        dimension of either labelled on the (log) x axis.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    runs = payload.get("summary") or payload.get("runs") or []  # seed means ± s.e. where the file has them
    if not runs:
        raise ValueError("the stored results hold no runs")
    stored = payload.get("reference") or {}
    methods = {r["method"] for r in runs}
    reference = {m: {int(d): float(v) for d, v in table.items()} for m, table in stored.items()
                 if m in methods and isinstance(table, dict)} if metric == HEADLINE else None
    teacher = (payload.get("teacher") or {}).get(metric)
    data = (payload.get("dataset") or {}).get("dataset", "stored results")
    # plot_capacity_gap labels every dimension of the runs and of the reference on the x axis
    return plot_capacity_gap(runs, metric=metric, teacher=teacher, reference=reference or None, ax=ax,
                             title=title or f"{data}: our runs and the authors' log")


def plot_gain_over_student(runs, *, metric: str = HEADLINE, ax=None, title: str | None = None):
    """Each distillation method's gain over the plain student at the same dimension, against dimension.

    A point below zero means the distillation *hurt* the student: the capacity-gap crossover of
    the paper is where FTD's curve dips under zero while HTD's stays above it.

    Parameters
    ----------
    runs : list of dict or pandas.DataFrame
        Records with ``"method"``, ``"dim"`` and ``metric``; must include ``"student"`` rows.
    metric : str
    title : str, optional

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    frame = _frame(runs, ("method", "dim", metric), "plot_gain_over_student")
    student = frame[frame["method"] == "student"].groupby("dim")[metric].mean()
    if student.empty:
        raise ValueError("plot_gain_over_student needs the plain student's runs (method 'student')")
    fig, ax = get_ax(ax)
    for method in [m for m in METHOD_COLORS if m not in ("student", "teacher") and (frame["method"] == m).any()]:
        values = frame[frame["method"] == method].groupby("dim")[metric].mean()
        dims = [d for d in values.index if d in student.index]
        ax.plot(dims, [values[d] - student[d] for d in dims], marker="o", color=METHOD_COLORS[method],
                label=METHOD_LABELS[method])
    ax.axhline(0, color=METHOD_COLORS["student"], linestyle="--", label="Student (no KD)")
    dimension_axis(ax, student.index)
    finish_axes(ax, "student embedding dimension", f"test {metric} minus the student's",
                title or "Gain of distillation over the plain student")
    return fig


def plot_bars(table, *, metric: str = HEADLINE, label: str = "label", error: str | None = None,
              reference: float | None = None, reference_label: str = "reference", colors=None, ax=None,
              title: str | None = None, xlabel: str | None = None, ylabel: str | None = None):
    """Horizontal bars of ``metric``, one per row of ``table`` (labelled by the column ``label``).

    Parameters
    ----------
    table : pandas.DataFrame or list of dict
    metric : str
        The column drawn.
    label : str
        The column naming each bar.
    error : str, optional
        A column of error-bar half-widths (e.g. the standard deviation over seeds).
    reference : float, optional
        A value drawn as a dashed vertical line (e.g. the plain student).
    reference_label : str
    colors : list, optional
        One colour per row.
    title, xlabel, ylabel : str, optional
        Default x label ``"test <metric>"``, y label the ``label`` column's name.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    frame = _frame(table, (label, metric), "plot_bars")
    fig, ax = get_ax(ax, figsize=(6, 0.45 * len(frame) + 1.5))
    y = np.arange(len(frame))[::-1]
    values = frame[metric].to_numpy(dtype=float)
    spread = np.nan_to_num(frame[error].to_numpy(dtype=float)) if error else np.zeros(len(frame))
    ax.barh(y, values, xerr=spread if error else None, color=colors or "tab:red", alpha=0.8, capsize=3)
    for yi, value, err in zip(y, values, spread):
        sign = -1 if value < 0 else 1
        ax.text(value + sign * err, yi, f" {value:+.4f} " if values.min() < 0 else f" {value:.4f}", va="center",
                ha="right" if value < 0 else "left", fontsize="small")
    if reference is not None:
        ax.axvline(reference, color="black", linestyle="--", label=reference_label)
        ax.legend(fontsize="small", loc="lower right")
    ax.set_yticks(y)
    ax.set_yticklabels(frame[label].astype(str))
    low, high = float(np.nanmin(values - spread)), float(np.nanmax(values + spread))
    if reference is not None:
        low, high = min(low, reference), max(high, reference)
    if low >= 0:   # bars of lengths start at 0, so their lengths compare; room on the right for the labels
        ax.set_xlim(0.0, 1.3 * max(high, 1e-3))
    else:          # differences: both signs, zero inside
        span = max(high - low, 1e-3)
        ax.set_xlim(low - 0.35 * span, max(high, 0.0) + 0.35 * span)
    ax.set_xlabel(xlabel or f"test {metric}")
    ax.set_ylabel(ylabel or label)
    ax.set_title(title or f"test {metric}")
    ax.grid(alpha=0.3, axis="x")
    return fig


def plot_sweep(table, x: str, *, metric: str = HEADLINE, references: dict | None = None, log_x: bool = False,
               ax=None, title: str | None = None, xlabel: str | None = None):
    """``metric`` of HTD against one hyper-parameter (``x``), with other methods as horizontal lines.

    Parameters
    ----------
    table : pandas.DataFrame or list of dict
        Records with the columns ``x`` and ``metric`` (e.g. one per value of gamma).
    x : str
        The swept setting, e.g. ``"gamma"`` or ``"K"``.
    metric : str
    references : dict, optional
        ``{method: value}``, e.g. ``{"ftd": 0.41, "student": 0.38}``, drawn as dashed lines in the
        method's colour.
    log_x : bool
        Logarithmic x axis (for K).
    title, xlabel : str, optional

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    frame = _frame(table, (x, metric), "plot_sweep").sort_values(x)
    fig, ax = get_ax(ax)
    ax.plot(frame[x], frame[metric], marker="o", color=METHOD_COLORS["htd"], label=METHOD_LABELS["htd"])
    for (method, value), style in zip((references or {}).items(), ("--", ":", "-.") * 5):
        ax.axhline(value, color=METHOD_COLORS.get(method, "gray"), linestyle=style,
                   label=METHOD_LABELS.get(method, method))
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(list(frame[x]))
    ax.set_xticklabels([f"{v:g}" for v in frame[x]])
    finish_axes(ax, xlabel or x, f"test {metric}", title or f"HTD: test {metric} against {x}")
    return fig


def plot_topology_fidelity(table, metrics: dict, *, ax=None, title: str | None = None):
    """One panel per topology-fidelity metric, one bar per method (in the method's colour).

    The metrics have different scales (a KL divergence, a share of neighbours, a correlation),
    so each gets its own panel and y axis.

    Parameters
    ----------
    table : pandas.DataFrame or list of dict
        One record per method with a ``"method"`` column (a key of
        :data:`htd_tutorial.plots.METHOD_COLORS`) and the metric columns.
    metrics : dict
        ``{column: panel label}``, e.g. ``{"kl_topk": "KL, top-10 neighbours (lower is better)"}``.
    ax : sequence of matplotlib axes, optional
        One per metric (default: a new figure with a row of panels).
    title : str, optional
        The figure's title.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    import matplotlib.pyplot as plt

    frame = _frame(table, ("method", *metrics), "plot_topology_fidelity")
    if ax is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.6), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != len(metrics):
            raise ValueError(f"need one axes per metric ({len(metrics)}), got {len(axes)}")
        fig = axes[0].figure
    labels = [METHOD_LABELS.get(m, m) for m in frame["method"]]
    colors = [METHOD_COLORS.get(m, "gray") for m in frame["method"]]
    for panel, (column, label) in zip(axes, metrics.items()):
        panel.bar(labels, frame[column], color=colors)
        for x, value in enumerate(frame[column]):
            panel.text(x, value, f"{value:.3g}", ha="center", va="bottom", fontsize="small")
        panel.set_ylim(0, 1.18 * max(float(frame[column].max()), 1e-12))
        panel.set_title(label, fontsize="medium")
        panel.set_xlabel("method")
        panel.set_ylabel(column)
        panel.grid(alpha=0.3, axis="y")
        panel.tick_params(axis="x", labelsize="small")
    fig.suptitle(title or "Topology fidelity to the teacher")
    fig.tight_layout()
    return fig


def plot_ablation(table, *, metric: str = HEADLINE, ax=None, title: str | None = None):
    """The ablation as bars: each variant's paired difference to the authors' code (± its standard error).

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`htd_tutorial.paper.ablation.ablation_table` (index = variant, columns
        ``"Δ <metric>"``, optionally ``"Δ <metric> se"`` and ``"label"``), or its records with a
        ``"variant"`` column. Rows that are not HTD variants (e.g. ``"ftd"``) are drawn in their
        method's colour.
    metric : str
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        The authors' code is the line at 0. With several seeds each bar carries the standard error
        of its paired difference (seed s minus the authors' seed s): a bar whose error bar crosses
        0 is not told apart from the authors' code by these seeds.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    frame = table.reset_index() if isinstance(table, pd.DataFrame) and "variant" not in table.columns else table
    frame = _frame(frame, ("variant", f"Δ {metric}"), "plot_ablation")
    se = f"Δ {metric} se"
    error = se if se in frame.columns and (frame[se].fillna(0) > 0).any() else None
    if error is not None:
        frame = frame.assign(**{se: frame[se].fillna(0.0)})
    colors = [METHOD_COLORS.get(v, "tab:red" if v in ("authors", "clean") else "salmon") for v in frame["variant"]]
    fig = plot_bars(frame, metric=f"Δ {metric}", label="label" if "label" in frame.columns else "variant",
                    error=error, reference=0.0, reference_label="authors' code", colors=colors, ax=ax,
                    ylabel="variant", xlabel=f"test {metric} minus the authors' code's"
                    + (" (paired over seeds, ± s.e.)" if error else ""),
                    title=title or f"HTD ablation: test {metric}")
    return fig

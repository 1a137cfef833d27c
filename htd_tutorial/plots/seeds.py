"""Pictures of results over seeds: a metric against the student size with error bars, and paired
differences with their spread (the evidence behind the course's lesson claims).

Both take plain tables (a pandas DataFrame with one row per run), never course objects, so the
plotting layer stays below the course layer.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..choices import HEADLINE
from ..stats import mean_and_se, read_paired
from .style import METHOD_COLORS, METHOD_LABELS, dimension_axis, finish_axes, get_ax

__all__ = ["plot_seed_curve", "plot_paired_differences"]


def plot_seed_curve(runs: pd.DataFrame, *, metric: str = HEADLINE, methods=None, teacher: float | None = None,
                    ax=None, title: str | None = None):
    """``metric`` against the student dimension: one line per method through the mean over seeds,
    error bars of ± one standard error, and every seed as a faint dot.

    Parameters
    ----------
    runs : DataFrame
        One row per run, with columns ``method``, ``dim``, ``seed`` and ``metric``.
    methods : sequence of str, optional
        Methods to draw, in this order (default: those in ``runs``).
    teacher : float, optional
        The teacher's value, drawn as a dashed line.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    missing = {"method", "dim", "seed", metric} - set(runs.columns)
    if missing:
        raise ValueError(f"runs lack the column(s) {sorted(missing)}")
    if runs.empty:
        raise ValueError("no runs to plot")
    fig, ax = get_ax(ax, figsize=(6.5, 4.2))
    methods = list(dict.fromkeys(runs["method"])) if methods is None else list(methods)
    for method in methods:
        rows = runs[runs["method"] == method]
        if rows.empty:
            continue
        by_dim = {dim: mean_and_se(group[metric]) for dim, group in rows.groupby("dim")}
        means = [mean for mean, _ in by_dim.values()]
        errors = [0.0 if se is None else se for _, se in by_dim.values()]  # one seed: no bar
        color = METHOD_COLORS.get(method, None)
        n = int(rows.groupby("dim")[metric].count().min())
        ax.errorbar(list(by_dim), means, yerr=errors, color=color, marker="o", capsize=3,
                    label=f"{METHOD_LABELS.get(method, method)} (≥{n} seeds)" if n > 1 else METHOD_LABELS.get(method, method))
        jitter = {m: i for i, m in enumerate(methods)}[method] - (len(methods) - 1) / 2
        ax.scatter(rows["dim"] * 2 ** (0.03 * jitter), rows[metric], color=color, alpha=0.25, s=12, linewidths=0)
    if teacher is not None:
        ax.axhline(teacher, color=METHOD_COLORS["teacher"], linestyle="--", linewidth=1,
                   label=f"{METHOD_LABELS['teacher']} ({teacher:.3f})")
    dimension_axis(ax, sorted(runs["dim"].unique()))
    finish_axes(ax, "student dimension", f"test {metric}", title or f"Test {metric}: mean ± s.e. over seeds")
    return fig


def plot_paired_differences(differences: dict, *, step=None, ax=None, title: str | None = None,
                            xlabel: str = "difference"):
    """Each paired difference as its per-seed values (dots) and mean ± 2 standard errors (a bar).

    A difference that :mod:`htd_tutorial.stats`' rule calls *clear* is green: its bar stays clear of
    the zero line and every dot is on one side (the bar's standard error is the one the rule uses,
    never below the metric's step); a grey bar is within the seed noise, or not read (one seed, or
    the same difference on every seed: no bar).

    Parameters
    ----------
    differences : dict
        ``{label: per-seed values}`` (each a sequence of numbers, one per paired seed).
    step : float or dict, optional
        The metric's step (:func:`htd_tutorial.stats.metric_step`) for every difference, or
        ``{label: step}`` for some of them; ``None`` (default, or a label left out): not known, no floor.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if not differences:
        raise ValueError("no differences to plot")
    steps = dict(step) if isinstance(step, dict) else {label: step for label in differences}
    unknown = set(steps) - set(differences)
    if unknown:
        raise ValueError(f"step names labels that are not among the differences: {sorted(unknown)}")
    fig, ax = get_ax(ax, figsize=(6.5, 0.55 * len(differences) + 1.4))
    for row, (label, values) in enumerate(reversed(list(differences.items()))):
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
            raise ValueError(f"differences[{label!r}] must be a non-empty list of finite numbers")
        reading = read_paired(values, step=steps.get(label))
        mean, half = reading.mean, 2 * (reading.se_used or 0.0)
        color = "tab:green" if reading.clear else "tab:gray"
        ax.plot([mean - half, mean + half], [row, row], color=color, linewidth=5, alpha=0.45,
                solid_capstyle="butt")
        ax.scatter(values, np.full(values.size, row), color="black", s=14, zorder=3)
        ax.plot([mean], [row], marker="|", color=color, markersize=16, markeredgewidth=2)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(differences)))
    ax.set_yticklabels(list(reversed(list(differences))))
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Paired differences over seeds (bar: mean ± 2 s.e.; green: clear)")
    ax.grid(alpha=0.3, axis="x")
    return fig

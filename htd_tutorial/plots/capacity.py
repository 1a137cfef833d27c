"""Pictures of notebooks 00-01 and of the reproduction: data counts, training curves, the capacity gap,
and the geometry of random directions behind it.

Each ``plot_*`` function draws on ``ax`` (or a new figure) and returns the figure. They only draw:
what they show is computed elsewhere (training, evaluation, topology), so the same function serves
the notebooks, the reproduction command and the explorer.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..choices import HEADLINE
from .style import METHOD_COLORS, METHOD_LABELS, dimension_axis, finish_axes, get_ax

__all__ = ["plot_capacity_gap", "plot_training_curves", "plot_count_histogram",
           "plot_long_tail", "plot_interaction_matrix", "plot_by_dim", "plot_similarity_scatter",
           "plot_cosine_histograms", "plot_cosine_spread", "plot_direction_count"]


def plot_capacity_gap(runs: list[dict], *, metric: str = HEADLINE, teacher: float | None = None,
                      reference: dict | None = None, baselines: dict | None = None, ax=None,
                      title: str | None = None):
    """The capacity-gap figure: test ``metric`` against student dimension, one line per method.

    Parameters
    ----------
    runs : list of dict
        Records with keys ``"method"``, ``"dim"`` and ``metric``, one per (method, dim): runs, or the
        seed summary of a results file (``"summary"``, :func:`htd_tutorial.paper.results.summarise`), whose
        ``"<metric> se"`` (standard error over seeds; ``None`` for one seed) is drawn as an error bar.
    metric : str
        Which metric to plot.
    teacher : float, optional
        The teacher's value, drawn as a horizontal line.
    reference : dict, optional
        ``{method: {dim: value}}`` published numbers, drawn as hollow markers for comparison.
    baselines : dict, optional
        ``{label: value}`` of models without a dimension, drawn as gray horizontal lines, e.g.
        ``{"most popular items": 0.30}`` (:func:`htd_tutorial.course.popularity_baseline`).
    title : str, optional

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    cells = [(r["method"], r["dim"]) for r in runs]
    twice = sorted({cell for cell in cells if cells.count(cell) > 1})
    if twice:
        raise ValueError(f"one record per (method, dim) is drawn, got several for {twice}: "
                         "pass the seed summary (mean ± s.e.) instead of the runs")
    fig, ax = get_ax(ax)
    methods = [m for m in METHOD_COLORS if any(r["method"] == m for r in runs)]
    for method in methods:
        rows = sorted((r for r in runs if r["method"] == method), key=lambda r: r["dim"])
        ax.plot([r["dim"] for r in rows], [r[metric] for r in rows], marker="o", color=METHOD_COLORS[method],
                label=METHOD_LABELS[method])
        bars = [r for r in rows if r.get(f"{metric} se") is not None]
        if bars:  # standard error over seeds, where there are at least two
            ax.errorbar([r["dim"] for r in bars], [r[metric] for r in bars], yerr=[r[f"{metric} se"] for r in bars],
                        fmt="none", ecolor=METHOD_COLORS[method], capsize=4, elinewidth=1.2)
        if reference and method in reference:
            ref = sorted(reference[method].items())
            ax.plot([int(d) for d, _ in ref], [v for _, v in ref], linestyle=":", marker="o", mfc="none",
                    color=METHOD_COLORS[method], label=f"{METHOD_LABELS[method]} (authors' log)")
    if teacher is not None:
        ax.axhline(teacher, color="black", linestyle="--", label="Teacher")
    _baseline_lines(ax, baselines)
    dims = {r["dim"] for r in runs}
    for method in methods:  # the published points are drawn too, so their dimensions get ticks
        dims |= {int(d) for d in (reference or {}).get(method, {})}
    dims = sorted(dims)
    dimension_axis(ax, dims)
    finish_axes(ax, "student embedding dimension", f"test {metric}", title or "Capacity gap: accuracy vs student size")
    return fig


def _baseline_lines(ax, baselines: dict | None) -> None:
    """``{label: value}`` as gray horizontal lines, one line style each."""
    for (label, value), style in zip((baselines or {}).items(), ("-.", ":", (0, (5, 2, 1, 2))) * 10):
        ax.axhline(value, color="gray", linestyle=style, label=label)


#: Line style and name of each evaluation split in :func:`plot_training_curves`.
SPLIT_STYLES = {"valid": "--", "test": "-"}
SPLIT_NAMES = {"valid": "validation", "test": "test"}


def plot_training_curves(histories: dict, *, metric: str = HEADLINE, splits=None, ax=None,
                         title: str | None = None, baselines: dict | None = None):
    """``metric`` over epochs for several runs, e.g. ``{"Teacher d=200": history, ...}``, one line per split.

    ``splits`` is a split name or a sequence of them (``"valid"``, ``"test"``); by default every
    split the histories recorded. A run's splits share its colour, the validation curve dashed.
    ``baselines`` (optional) maps a label to a constant value drawn as a gray horizontal line, e.g.
    ``{"most popular items": 0.30}``. The x axis has ticks at whole epochs.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if splits is None:
        recorded = {r["split"] for history in histories.values() for r in history.metrics}
        splits = [s for s in SPLIT_STYLES if s in recorded] or ["test"]
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    unknown = [s for s in splits if s not in SPLIT_STYLES]
    if not splits or unknown:
        raise ValueError(f"splits must name one or more of {list(SPLIT_STYLES)}, got {list(splits)}")
    fig, ax = get_ax(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, history), color in zip(histories.items(), colors * 10):
        for split in splits:
            epochs, values = history.curve(metric, split)
            ax.plot(epochs, values, marker=".", color=color, linestyle=SPLIT_STYLES[split],
                    label=f"{label}, {SPLIT_NAMES[split]}" if len(splits) > 1 else label)
    _baseline_lines(ax, baselines)
    what = " and ".join(SPLIT_NAMES[s] for s in splits)
    finish_axes(ax, "epoch", f"{metric} ({what})" if len(splits) > 1 else f"{what} {metric}",
                title or f"{what} {metric} during training")
    return fig


def plot_count_histogram(counts, *, entity: str = "user", ax=None, title: str | None = None):
    """Histogram of interactions per user (or item) on log-spaced bins, with the median marked.

    Parameters
    ----------
    counts : array of int
        Interactions per entity, e.g. ``data.user_counts()``.
    entity : str
        ``"user"`` or ``"item"`` (axis labels).

    Entities with no interaction cannot sit on a log axis; the legend counts them instead.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    fig, ax = get_ax(ax)
    counts = np.asarray(counts)
    bins = np.unique(np.geomspace(1, max(2, counts.max() + 1), 30).astype(int))
    zeros = int((counts == 0).sum())
    label = f"{entity}s" + (f" ({zeros} with none, not shown)" if zeros else "")
    ax.hist(counts[counts > 0], bins=bins, color="tab:blue" if entity == "user" else "tab:orange",
            edgecolor="white", label=label)
    median = float(np.median(counts))
    ax.axvline(median, color="black", linestyle="--", label=f"median = {median:g}")
    ax.set_xscale("log")
    finish_axes(ax, f"training interactions per {entity} (log scale)", f"number of {entity}s",
                title or f"Interactions per {entity}")
    return fig


def plot_long_tail(item_counts, *, mark: float = 0.2, ax=None, title: str | None = None):
    """The long tail: cumulative share of interactions against share of items, most popular first.

    A dot marks the share of interactions that the top ``mark`` fraction of items receive; the
    diagonal is what equally popular items would give.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    fig, ax = get_ax(ax)
    counts = np.sort(np.asarray(item_counts))[::-1]
    x = np.arange(1, len(counts) + 1) / len(counts)
    y = np.cumsum(counts) / counts.sum()
    ax.plot(x, y, color="tab:orange", label="items, most popular first")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="all items equally popular")
    top = int(np.ceil(mark * len(counts)))
    ax.plot([x[top - 1]], [y[top - 1]], "o", color="black",
            label=f"top {mark:.0%} of items: {y[top - 1]:.0%} of interactions")
    finish_axes(ax, "share of items", "share of training interactions",
                title or "Long tail of item popularity", loc="lower right")
    return fig


def plot_interaction_matrix(pairs, n_users: int, n_items: int, *, ax=None, title: str | None = None):
    """The user x item matrix as dots (one per interaction), users and items sorted by activity.

    Sorting puts the active users at the top and the popular items on the left, so the dense
    corner and the sparse rest are visible at a glance.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    fig, ax = get_ax(ax)
    pairs = np.asarray(pairs)
    user_rank = np.argsort(np.argsort(-np.bincount(pairs[:, 0], minlength=n_users), kind="stable"))
    item_rank = np.argsort(np.argsort(-np.bincount(pairs[:, 1], minlength=n_items), kind="stable"))
    ax.scatter(item_rank[pairs[:, 1]], user_rank[pairs[:, 0]], s=0.05, color="tab:blue", alpha=0.5, linewidths=0,
               label=f"{len(pairs):,} interactions", rasterized=True)
    ax.set_xlim(0, n_items)
    ax.set_ylim(n_users, 0)
    ax.set_xlabel("items, most popular first")
    ax.set_ylabel("users, most active first")
    ax.set_title(title or "User x item matrix: one dot per interaction")
    ax.legend(fontsize="small", loc="lower right", markerscale=40)
    ax.grid(False)
    return fig


def plot_by_dim(table, columns: dict, *, teacher=None, ax=None, title: str | None = None,
                ylabel: str = "value"):
    """Some columns of a per-dimension table against the embedding dimension (log scale).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model with a ``dim`` column (e.g. the student rows of
        :func:`htd_tutorial.course.capacity_table`).
    columns : dict
        ``{column: legend label}`` of the columns to draw.
    teacher : dict, optional
        ``{column: value}`` of the teacher, drawn as dashed lines in the same colours.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    fig, ax = get_ax(ax)
    rows = table.sort_values("dim")
    for (column, label), color in zip(columns.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        ax.plot(rows["dim"], rows[column], marker="o", color=color, label=label)
        if teacher is not None and column in teacher:
            ax.axhline(teacher[column], color=color, linestyle="--", alpha=0.7, label=f"{label}: teacher")
    dims = [int(d) for d in rows["dim"]]
    dimension_axis(ax, dims)
    finish_axes(ax, "embedding dimension", ylabel, title or "By embedding dimension")
    return fig


def plot_similarity_scatter(teacher_sims, student_sims, *, label: str = "student", ax=None,
                            title: str | None = None):
    """Each dot is a pair of items: its cosine similarity in the teacher's space (x) and a student's (y).

    A student that kept the teacher's similarity structure puts the dots near the diagonal; a
    small space squeezes them (in one dimension, every similarity is -1 or +1).

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    fig, ax = get_ax(ax)
    teacher_sims, student_sims = np.asarray(teacher_sims), np.asarray(student_sims)
    ax.scatter(teacher_sims, student_sims, s=2, alpha=0.3, color="tab:blue", linewidths=0, label="item pairs",
               rasterized=True)
    ax.plot([-1, 1], [-1, 1], color="black", linestyle=":", label="same as teacher")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1.05, 1.05)
    finish_axes(ax, "cosine similarity, teacher (d=200)", f"cosine similarity, {label}",
                title or f"Item-item similarity: {label} vs teacher", loc="lower right", markerscale=4)
    return fig


def plot_cosine_histograms(samples: dict, *, ax=None, title: str | None = None):
    """How the cosine similarity of two random directions is spread, one histogram per dimension.

    ``samples`` maps a dimension to cosines of random pairs in it
    (:func:`htd_tutorial.course.geometry.cosine_samples`). Drawn as densities on ``[-1, 1]``: in a
    small space they cover the whole range, in a large one they crowd around 0 (nearly orthogonal).

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    if not samples:
        raise ValueError("samples is empty: give the cosines of at least one dimension")
    fig, ax = get_ax(ax)
    bins = np.linspace(-1, 1, 41)
    for dim, cosines in sorted(samples.items()):
        ax.hist(np.asarray(cosines), bins=bins, density=True, histtype="step", linewidth=1.8, label=f"d = {dim}")
    ax.set_xlim(-1, 1)
    finish_axes(ax, "cosine similarity of two random directions", "density",
                title or "Random directions: cosine similarity by dimension")
    return fig


def plot_cosine_spread(table, *, marks: dict | None = None, ax=None, title: str | None = None):
    """The spread of random cosines against the dimension: measured, its exact ``1/sqrt(d)``, and the closest pair.

    ``table`` is :func:`htd_tutorial.course.geometry.direction_table`; ``marks`` (optional) maps a
    label to a dimension marked with a vertical line, e.g. ``{"student": 4, "teacher": 200}``.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    fig, ax = get_ax(ax)
    rows = table.sort_values("dim")
    ax.plot(rows["dim"], rows["cosine std"], "o", color="tab:blue", label="std of cos (measured)")
    ax.plot(rows["dim"], rows["1/sqrt(dim)"], "--", color="tab:blue", label="1/√d (exact)")
    ax.plot(rows["dim"], rows["max |cos|"], "s-", color="tab:red", markersize=4,
            label="closest pair: max |cos|")
    _dimension_marks(ax, marks)
    ax.set_ylim(0, 1.05)
    dimension_axis(ax, rows["dim"])
    finish_axes(ax, "dimension d", "cosine similarity", title or "Random directions spread less as d grows",
                loc="upper right")
    return fig


def plot_direction_count(table, *, n_directions: int, threshold: float, marks: dict | None = None, ax=None,
                         title: str | None = None):
    """How many random directions a space of each dimension keeps pairwise near-orthogonal (log scale).

    ``table`` is :func:`htd_tutorial.course.geometry.direction_table` made with ``n_directions``
    candidates and ``threshold``; a dotted line marks ``n_directions`` (every candidate kept).

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    fig, ax = get_ax(ax)
    rows = table.sort_values("dim")
    ax.plot(rows["dim"], rows["near-orthogonal"], "o-", color="tab:green",
            label=f"kept with every pair at |cos| < {threshold:g}")
    ax.axhline(n_directions, color="gray", linestyle=":", label=f"all {n_directions} candidates")
    _dimension_marks(ax, marks)
    ax.set_yscale("log")
    dimension_axis(ax, rows["dim"])
    finish_axes(ax, "dimension d", "directions kept (log scale)",
                title or "Room for near-orthogonal directions", loc="upper left")
    return fig


def _dimension_marks(ax, marks: dict | None) -> None:
    """``{label: dimension}`` as thin vertical lines, each labelled beside it (not in the legend)."""
    from matplotlib.transforms import blended_transform_factory

    at_x_on_axes = blended_transform_factory(ax.transData, ax.transAxes)
    for label, dim in (marks or {}).items():
        ax.axvline(dim, color="0.35", linewidth=1, alpha=0.6, zorder=0)
        ax.text(dim, 0.03, f" {label}", transform=at_x_on_axes, rotation=90, va="bottom", ha="right",
                fontsize="small", color="0.3")

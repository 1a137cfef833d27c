"""Pictures of topology and of topology distillation (notebooks 02 and 03).

Like :mod:`htd_tutorial.plots`, every ``plot_*`` function draws on ``ax`` (or on a new figure),
gives its picture a title, axis labels and, where several things are drawn, a legend, and returns
the figure. The functions only draw: similarity matrices, run results, temperatures and groups are
computed elsewhere (:mod:`htd_tutorial.course.lessons`, :mod:`htd_tutorial.topology`, the losses). Maps of
whole embedding spaces (UMAP) are drawn with :mod:`htd_tutorial.plots.maps`.
"""
from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from ..choices import HEADLINE
from .._checks import one_of
from .style import METHOD_COLORS, METHOD_LABELS, finish_axes, get_ax

__all__ = ["plot_similarity_heatmap", "plot_method_bars", "plot_temperature_schedule", "plot_gumbel_samples",
           "plot_toy_topology", "plot_group_sizes"]


def _matrix(name: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {values.shape}")
    return values


def plot_similarity_heatmap(similarity, *, title: str = "Cosine similarity", entity: str = "item",
                            ax=None, colorbar: bool = True):
    """A square matrix of cosine similarities as a heat map (red = alike, blue = opposite).

    Parameters
    ----------
    similarity : array (n, n)
        Pairwise cosine similarities of n entities, already in the order to show (e.g. sorted
        so that the teacher's clusters form blocks, see :func:`htd_tutorial.course.lessons.cluster_order`).
    title : str
    entity : str
        What the rows are ("item", "user"), for the axis labels.
    colorbar : bool
        Draw the colour scale (-1 to 1) next to the map.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    similarity = _matrix("similarity", similarity)
    fig, ax = get_ax(ax, figsize=(4.6, 4))
    image = ax.imshow(similarity, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel(f"{entity} (same order)")
    ax.set_ylabel(entity)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    return fig


def plot_method_bars(table, *, metric: str = HEADLINE, ax=None, title: str | None = None,
                     ylabel: str | None = None, teacher: float | None = None, fmt: str = ".3f"):
    """Grouped bars: one group per student dimension, one bar per method, the value on each bar.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run with columns ``method`` (``"student"``, ``"fitnet"``, ``"de"``, ``"ftd"``,
        ``"htd"``), ``dim`` and ``metric`` (see :func:`htd_tutorial.course.lessons.results_table`).
    metric : str
        Column to draw.
    title, ylabel : str, optional
    teacher : float, optional
        The teacher's value, drawn as a dashed line.
    fmt : str
        Number format of the labels on the bars.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    missing = {"method", "dim", metric} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the column(s) {sorted(missing)}")
    if len(table) == 0:
        raise ValueError("table has no rows")
    fig, ax = get_ax(ax, figsize=(6.5, 4))
    dims = sorted({int(d) for d in table["dim"]})
    methods = [m for m in METHOD_COLORS if m in set(table["method"])]
    unknown = set(table["method"]) - set(methods)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; known: {list(METHOD_COLORS)}")
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        rows = table[table["method"] == method].set_index("dim")[metric]
        xs = [i + (j - (len(methods) - 1) / 2) * width for i, d in enumerate(dims) if d in rows.index]
        ys = [float(rows.loc[d]) for d in dims if d in rows.index]
        bars = ax.bar(xs, ys, width=width * 0.95, color=METHOD_COLORS[method], label=METHOD_LABELS[method])
        ax.bar_label(bars, labels=[format(y, fmt) for y in ys], fontsize="x-small", padding=2)
    top = float(table[metric].max())
    if teacher is not None:
        ax.axhline(teacher, color="black", linestyle="--", label="Teacher (d=200)")
        top = max(top, float(teacher))
    ax.set_ylim(0, top * 1.35 if top > 0 else 1.0)   # room for the labels and the legend above the bars
    ax.set_xticks(range(len(dims)))
    ax.set_xticklabels([f"d = {d}" for d in dims])
    ax.set_xlabel("student embedding dimension")
    ax.set_ylabel(ylabel or f"test {metric}")
    ax.set_title(title or f"test {metric} by method and student size")
    ax.legend(fontsize="small", loc="upper left", ncol=2)
    ax.grid(False, axis="x")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_temperature_schedule(epochs, temperatures: dict, *, ax=None, title: str | None = None):
    """The Gumbel-softmax temperature over training, on a log scale, one line per schedule.

    Parameters
    ----------
    epochs : sequence of int
        0-based epochs (x axis).
    temperatures : dict
        ``{label: sequence of temperatures}``, one value per epoch (e.g. from
        :func:`htd_tutorial.losses.gumbel_temperature`).
    title : str, optional

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    epochs = np.asarray(epochs)
    if not temperatures:
        raise ValueError("temperatures is empty: give at least one schedule")
    fig, ax = get_ax(ax, figsize=(6, 3.8))
    for (label, taus), style in zip(temperatures.items(), ("-o", "--s", ":^") * 5):
        taus = np.asarray(taus, dtype=float)
        if taus.shape != epochs.shape:
            raise ValueError(f"schedule {label!r} has {taus.size} values for {epochs.size} epochs")
        ax.plot(epochs, taus, style, markersize=3, label=label)
    ax.set_yscale("log")
    finish_axes(ax, "epoch", "temperature τ (log scale)", title or "Gumbel-softmax temperature during training")
    return fig


def plot_gumbel_samples(alpha, samples: dict, *, ax=None, title: str | None = None):
    """Group probabilities alpha next to Gumbel-softmax samples drawn at several temperatures.

    Parameters
    ----------
    alpha : sequence of float (K,)
        One entity's group probabilities.
    samples : dict
        ``{label: sequence of K weights}``, e.g. ``{"τ = 1": z1, "τ = 0.01": z2}``.
    title : str, optional

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    alpha = np.asarray(alpha, dtype=float)
    if alpha.ndim != 1 or alpha.size == 0:
        raise ValueError(f"alpha must be a non-empty 1-D vector, got shape {alpha.shape}")
    fig, ax = get_ax(ax, figsize=(6.5, 3.8))
    series = {"α (group probabilities)": alpha, **{k: np.asarray(v, dtype=float) for k, v in samples.items()}}
    width = 0.8 / len(series)
    groups = np.arange(alpha.size)
    for j, (label, values) in enumerate(series.items()):
        if values.shape != alpha.shape:
            raise ValueError(f"sample {label!r} has {values.size} weights, alpha has {alpha.size}")
        ax.bar(groups + (j - (len(series) - 1) / 2) * width, values, width=width * 0.95, label=label,
               color="0.6" if j == 0 else None)
    ax.set_xticks(groups)
    ax.set_xticklabels([str(k) for k in groups])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("group / expert k")
    ax.set_ylabel("weight")
    ax.set_title(title or "Gumbel-softmax: a soft mixture at high τ, one group at low τ")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_toy_topology(points, groups, *, level: str = "full", ax=None, title: str | None = None):
    """Toy 2-D entities coloured by group, with the relations one distillation term matches drawn as lines.

    Parameters
    ----------
    points : array (n, 2)
        Positions of the entities (a toy "teacher space").
    groups : int array (n,)
        Group of each entity.
    level : {"full", "entity", "group"}
        ``"full"``: every pair (FTD); ``"entity"``: pairs inside a group (HTD's entity level);
        ``"group"``: each group's prototype (its mean, drawn as a star) with every entity, its own
        members included (HTD's group level, prototype-entity design, as the course's recipe, the
        authors' code, has it). The legend counts the relations as the course does everywhere:
        ordered pairs, i = j included.
    title : str, optional

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    points = np.asarray(points, dtype=float)
    groups = np.asarray(groups)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"points must be an (n, 2) array with n >= 2, got shape {points.shape}")
    if groups.shape != (len(points),) or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must be {len(points)} integer labels, got shape {groups.shape}")
    one_of("level", level, ("full", "entity", "group"))
    fig, ax = get_ax(ax, figsize=(4.2, 4))
    labels = np.unique(groups)
    colors = dict(zip(labels, plt.get_cmap("tab10")(np.arange(len(labels)) % 10)))
    prototypes = {g: points[groups == g].mean(axis=0) for g in labels}
    # Counted as the course counts them everywhere: ordered pairs, i = j included (a drawn line between
    # two entities stands for two ordered pairs); the group level as the recipe has it (the authors'
    # code): every prototype with every entity, its own members too.
    if level in ("full", "entity"):
        for i in range(len(points)):
            for j in range(i + 1, len(points)):
                if level == "full" or groups[i] == groups[j]:
                    color = "0.6" if level == "full" else colors[groups[i]]
                    ax.plot(*zip(points[i], points[j]), color=color, lw=0.6, alpha=0.5, zorder=1)
        sizes = np.unique(groups, return_counts=True)[1]
        n_relations = len(points) ** 2 if level == "full" else int((sizes ** 2).sum())
    else:
        for g, proto in prototypes.items():
            for e in range(len(points)):
                ax.plot(*zip(proto, points[e]), color=colors[g], lw=0.6, alpha=0.45, zorder=1)
        n_relations = len(prototypes) * len(points)
    for g in labels:
        ax.scatter(*points[groups == g].T, color=colors[g], s=40, edgecolor="white", zorder=3,
                   label=f"group {g}")
    if level == "group":
        for g, proto in prototypes.items():
            ax.scatter(*proto, marker="*", s=260, color=colors[g], edgecolor="black", zorder=4)
    handles, names = ax.get_legend_handles_labels()
    if level == "group":
        handles.append(Line2D([], [], marker="*", linestyle="", markersize=12, color="0.5",
                              markeredgecolor="black"))
        names.append("prototype (group mean)")
    handles.append(Line2D([], [], color="0.4", lw=1))
    names.append(f"relations matched: {n_relations}" + (" ordered pairs" if level != "group" else ""))
    ax.legend(handles, names, fontsize="x-small", loc="best")
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    ax.set_aspect("equal", adjustable="datalim")
    default = {"full": "FTD: every pair", "entity": "HTD entity level: pairs inside a group",
               "group": "HTD group level: prototype ↔ every entity"}[level]
    ax.set_title(title or default, fontsize="medium")
    return fig


def plot_group_sizes(sizes: dict, *, ax=None, title: str | None = None):
    """Sizes of the groups of one or more groupings, largest first (a bar per group, side by side).

    Parameters
    ----------
    sizes : dict
        ``{label: sequence of group sizes}``, e.g. ``{"users": np.bincount(user_groups), ...}``.
    title : str, optional

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    if not sizes:
        raise ValueError("sizes is empty: give at least one grouping")
    fig, ax = get_ax(ax, figsize=(6, 3.5))
    for label, values in sizes.items():
        values = np.sort(np.asarray(values))[::-1]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    finish_axes(ax, "group, largest first", "members", title or "Group sizes")
    return fig

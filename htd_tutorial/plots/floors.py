"""The picture of :mod:`htd_tutorial.capacity`: what a d-dimensional student can hold of FTD's and HTD's targets.

:func:`plot_capacity_floors` draws a :class:`~htd_tutorial.capacity.CapacityFloors` (read by its fields)
and, when given, the errors trained students reached on the same batch; :func:`plot_loss_floors` an FTD
student's loss trace against the floor of each epoch's batches (:func:`htd_tutorial.capacity.epoch_floors`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import METHOD_COLORS, METHOD_LABELS, dimension_axis, finish_axes, get_ax

__all__ = ["plot_capacity_floors", "plot_loss_floors"]


def plot_capacity_floors(floors, *, by_K: dict | None = None, students: dict | None = None, dim: int | None = None,
                         ax=None, title: str | None = None):
    """Relative error vs student dimension: FTD's floor and the error reached, HTD's two floors.

    Parameters
    ----------
    floors : CapacityFloors
        From :func:`htd_tutorial.capacity.capacity_floors` (with groups for HTD's lines; with
        ``fit_steps`` for the band between FTD's floor and the error a fitted student reaches).
    by_K : dict, optional
        ``{K: CapacityFloors}`` of other groupings of the same batch: HTD's two floors drawn thin for
        each, to show how K moves them.
    students : dict, optional
        ``{method: relative FTD error}`` that trained students reached on the same batch, drawn as
        points at ``dim`` (e.g. ``{"ftd": 1.31, "student": 1.52}``).
    dim : int, optional
        The students' dimension (needed with ``students``).
    title : str, optional

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if students and dim is None:
        raise ValueError("students' errors need their dimension: pass dim")
    fig, ax = get_ax(ax, figsize=(10, 4.2))
    dims = np.asarray(floors.dims)
    ftd, htd = METHOD_COLORS["ftd"], METHOD_COLORS["htd"]
    ax.plot(dims, floors.ftd, color=ftd, marker="o", label="FTD: floor (no d-dim student below)")
    if floors.ftd_reached is not None:
        ax.fill_between(dims, floors.ftd, floors.ftd_reached, color=ftd, alpha=0.2,
                        label="FTD: best student lies here (floor .. fitted)")
    ax.plot(dims, floors.ftd_rank, color=ftd, linestyle=":", label="FTD: best rank-d matrix (any diagonal)")
    for K, other in sorted((by_K or {}).items()):
        for values in (other.group, other.entity):
            ax.plot(dims, values, color=htd, linewidth=0.8, alpha=0.35)
        ax.annotate(f"K={K}", (dims[0], other.entity[0]), fontsize="x-small", color=htd, alpha=0.7,
                    xytext=(-4, 0), textcoords="offset points", ha="right", va="center")
    if floors.entity is not None:
        ax.plot(dims, floors.entity, color=htd, marker="^", label="HTD: entity level (within groups)")
        ax.plot(dims, floors.group, color=htd, marker="s", linestyle="--",
                label=f"HTD: group level ({floors.group_topology}, {floors.n_groups} groups)")
    for method, value in (students or {}).items():
        ax.scatter([dim], [value], s=70, color=METHOD_COLORS.get(method, "black"), edgecolor="black", zorder=5,
                   label=f"{METHOD_LABELS.get(method, method)} trained, d={dim}: its FTD error")
    ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="-.", label="all similarities 0")
    dimension_axis(ax, dims)
    ax.set_ylim(bottom=0)
    finish_axes(ax, "student dimension d", "relative error  ||target - student|| / ||target||",
                title or f"What a d-dimensional student can hold ({floors.n_entities} entities of a batch)",
                loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_loss_floors(traces: dict, *, ax=None, title: str | None = None):
    """FTD students' loss traces against their floors, one colour per dimension (log scale).

    Parameters
    ----------
    traces : dict
        ``{dim: {"epoch": [...], "loss": [...], "floor": [...]}}``: each epoch's mean L_FTD per batch
        and the mean floor of its batches (e.g. :meth:`TopologyExplorer.ftd_trace
        <htd_tutorial.course.explorer.TopologyExplorer.ftd_trace>`).
    title : str, optional

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if not traces:
        raise ValueError("traces is empty: pass {dim: trace} for at least one dimension")
    fig, ax = get_ax(ax, figsize=(7, 4.2))
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(traces)))
    for color, (dim, trace) in zip(colors, sorted(traces.items())):
        if len(trace["loss"]) != len(trace["floor"]):
            raise ValueError(f"d={dim}: {len(trace['loss'])} epochs of loss but {len(trace['floor'])} of floor")
        ax.plot(trace["epoch"], trace["loss"], color=color, marker=".", label=f"d={dim}: L_FTD, mean per batch")
        ax.plot(trace["epoch"], trace["floor"], color=color, linestyle="--", label=f"d={dim}: floor")
    ax.set_yscale("log")
    finish_axes(ax, "epoch", "L_FTD (summed over a batch's pairs)",
                title or "FTD's loss in training and the least any student of that size could reach",
                loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig

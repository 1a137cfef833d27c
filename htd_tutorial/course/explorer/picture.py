"""How one explorer result looks: its two maps as a figure, the figure's titles and the metrics table.

One owner for the widget (:mod:`.widget`) and the kernel-free page (:mod:`.page`), so both show the
same texts and numbers. The drawing itself is :func:`htd_tutorial.plots.maps.plot_space_pair`;
what is drawn is an :class:`~htd_tutorial.course.explorer.compute.ExplorerResult` (read by its
fields, so this module needs nothing of the compute layer).
"""
from __future__ import annotations

import html

import numpy as np

from ...choices import HEADLINE
from ...plots.maps import plot_space_pair
from .settings import METHOD_LABELS

__all__ = ["metrics_html", "capacity_html", "plot_result", "result_titles", "provenance"]


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def provenance(result: "ExplorerResult") -> str:
    """How a result came about, in words: shown before, trained now, or its runs loaded from disk."""
    if result.cached:
        return "from the cache"
    return "trained" if result.trained else "loaded from the disk cache"


def metrics_html(result: "ExplorerResult", *, k: int = 10, timing: bool = True) -> str:
    """The metrics panel: accuracy and topology fidelity of the student, as a small HTML table.

    ``timing``: add the line saying how the result came about and how long it took (the widget's; the
    kernel-free page, :mod:`htd_tutorial.course.explorer.page`, leaves it out).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    m, t = result.metrics, result.teacher_metrics
    label = f"{METHOD_LABELS.get(result.method, result.method)} d={result.dim}"
    rows = [("<b>Accuracy</b> (test)", "", ""),
            (f"{HEADLINE} &uarr;", _fmt(m.get(HEADLINE)), _fmt(t.get(HEADLINE))),
            ("NDCG@50 &uarr;", _fmt(m.get("NDCG@50")), _fmt(t.get("NDCG@50"))),
            ("<b>Topology kept</b> (shown entities)", "", ""),
            (f"KL, top-{k} neighbours &darr;", _fmt(m.get("kl_topk")), "0"),
            (f"KL, {k} random &darr;", _fmt(m.get("kl_random")), "0"),
            (f"{k}-NN overlap &uarr;", _fmt(m.get("knn_overlap")), "1"),
            ("Spearman of similarities &uarr;", _fmt(m.get("spearman")), "1")]
    if "ari_users" in m:
        rows += [("<b>HTD groups vs planted sub-groups</b> (ARI)", "", "super-groups only"),
                 ("users &uarr;", _fmt(m.get("ari_users")), _fmt(t.get("ari_users"))),
                 ("items &uarr;", _fmt(m.get("ari_items")), _fmt(t.get("ari_items")))]
    body = "".join(f"<tr><td style='text-align:left;padding:1px 6px;white-space:nowrap'>{a}</td>"
                   f"<td style='text-align:right;padding:1px 6px'>{b}</td>"
                   f"<td style='text-align:right;padding:1px 6px;color:#666'>{c}</td></tr>" for a, b, c in rows)
    how = f"{provenance(result)} in {result.seconds:.2f} s"
    if result.trained:
        how += f" (trained: {html.escape(', '.join(result.trained))})"
    footer = f"<div style='font-size:80%;color:#666;margin-top:4px'>{how}</div>" if timing else ""
    return (f"<table class='htd-explorer-metrics' style='border-collapse:collapse;font-size:90%'>"
            f"<tr><th style='text-align:left;padding:1px 6px'></th><th style='padding:1px 6px'>{html.escape(label)}"
            f"</th><th style='padding:1px 6px;color:#666'>teacher</th></tr>{body}</table>{footer}")


def capacity_html(view: "CapacityView") -> str:
    """What d dimensions can hold of one batch (a :class:`~.compute.CapacityView`), as a small HTML table.

    One row a target: the floor no d-dimensional student goes below, and the errors the students
    trained at this setting reached (relative errors; lower is closer to the teacher).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    methods = [m for m in METHOD_LABELS if m in view.errors]
    head = "".join(f"<th style='padding:1px 6px'>{html.escape(METHOD_LABELS[m])}</th>" for m in methods)
    rows = [(f"FTD: all pairs (fitted student: {_fmt(view.ftd_reached)})", view.ftd_floor, view.errors),
            ("HTD: pairs within groups", view.entity_floor, view.entity_errors),
            ("HTD: group level", view.group_floor, {})]
    cell = "text-align:right;padding:1px 6px"
    body = "".join(f"<tr><td style='text-align:left;padding:1px 6px'>{name}</td><td style='{cell}'>{_fmt(floor)}</td>"
                   + "".join(f"<td style='{cell}'>{_fmt(errors.get(m)) if errors else ''}</td>" for m in methods)
                   + "</tr>"
                   for name, floor, errors in rows)
    return (f"<div class='htd-explorer-capacity-table' style='font-size:90%'><b>What d={view.dim} can hold</b> "
            f"of one training batch ({view.n_entities} users and items; HTD's K={view.K} groups); relative error "
            f"&darr;, 1 = all similarities 0<table style='border-collapse:collapse'><tr><th></th>"
            f"<th style='padding:1px 6px'>floor</th>{head}</tr>{body}</table></div>")


def plot_result(result: "ExplorerResult", *, teacher_dim: int | None = None, axes=None):
    """The two maps of ``result`` side by side (see :func:`htd_tutorial.plots.maps.plot_space_pair`).

    Returns the matplotlib figure. Introduced in ``notebooks/05_explorer.ipynb``.
    """
    titles = result_titles(result, teacher_dim=teacher_dim)
    return plot_space_pair(
        result.teacher_xy, result.student_xy, result.is_item, result.groups, n_groups=result.K,
        teacher_title=titles["teacher"], student_title=titles["student"],
        projection=result.projection, axes=axes, student_projection=result.student_projection,
        suptitle=titles["suptitle"])


def result_titles(result: "ExplorerResult", *, teacher_dim: int | None = None) -> dict[str, str]:
    """The picture's texts: ``"teacher"`` and ``"student"`` panel titles and the ``"suptitle"`` above both.

    One owner for :func:`plot_result` and the kernel-free page (:mod:`htd_tutorial.course.explorer.page`).
    """
    name = METHOD_LABELS.get(result.method, result.method)
    teacher = "Teacher" + (f" (d={teacher_dim})" if teacher_dim else "")
    n_users = int((~result.is_item).sum())
    student = "Student space" if result.method == "student" else f"{name} student space"   # not "Student student"
    return {"teacher": f"{teacher} space", "student": f"{student} (d={result.dim})",
            "suptitle": (f"The same {n_users} users (o) and {len(result.is_item) - n_users} items (^) in both "
                         f"spaces; colour = HTD group (K={result.K}, learned at d={result.dim})")}

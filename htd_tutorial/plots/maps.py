"""Maps of embedding spaces: project users and items to 2-D (UMAP or PCA), align two maps, draw them.

Used by the interactive explorer (:mod:`htd_tutorial.course.explorer`) and by notebooks 02-03 to
draw the teacher's and a student's space side by side. :func:`project_2d` and :func:`align_to`
compute the coordinates; each ``plot_*`` function only draws them, on ``ax`` (or on a new figure),
and returns the figure.
"""
from __future__ import annotations

import io
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from .._checks import one_of, positive_int
from ..cache import cache_dir
from ..topology import embedding_array

__all__ = ["Projection", "load_umap", "pca_2d", "unit_directions", "project_2d", "align_to", "group_colors", "plot_embedding_map",
           "plot_space_pair", "figure_png", "USER_MARKER", "ITEM_MARKER"]

#: Marker of users and of items in every map (filled circles and triangles).
USER_MARKER = "o"
ITEM_MARKER = "^"


def group_colors(n_groups: int) -> np.ndarray:
    """RGBA colours for groups ``0 .. n_groups - 1``, shape ``(n_groups, 4)``.

    Qualitative palettes while they have enough colours (``tab10`` up to 10 groups, ``tab20`` up
    to 20), evenly spaced hues of ``hsv`` beyond that, so neighbouring group numbers stay
    distinguishable.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    n_groups = positive_int("n_groups", n_groups)
    for name, size in (("tab10", 10), ("tab20", 20)):
        if n_groups <= size:
            rgb = np.asarray(plt.get_cmap(name).colors)[:n_groups]
            return np.c_[rgb, np.ones(n_groups)]
    return plt.get_cmap("hsv")(np.linspace(0, 1, n_groups, endpoint=False))


def _check_map_inputs(xy, is_item, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise ValueError(f"xy must be a non-empty (n, 2) array of 2-D coordinates, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ValueError("xy contains NaN or infinite coordinates")
    is_item = np.asarray(is_item, dtype=bool)
    groups = np.asarray(groups)
    for name, values in (("is_item", is_item), ("groups", groups)):
        if values.shape != (len(xy),):
            raise ValueError(f"{name} must have one entry per point ({len(xy)}), got shape {values.shape}")
    if not np.issubdtype(groups.dtype, np.integer) or (groups < 0).any():
        raise ValueError("groups must be non-negative integer group numbers")
    return xy, is_item, groups.astype(np.int64)


def plot_embedding_map(xy, is_item, groups, *, n_groups: int | None = None, title: str | None = None,
                       legend: bool = True, ax=None, point_size: float = 16.0):
    """One embedding space as a 2-D map: users as circles, items as triangles, coloured by group.

    Parameters
    ----------
    xy : array (n, 2)
        2-D coordinates of the points (e.g. a UMAP of the embeddings).
    is_item : bool array (n,)
        True for items, False for users.
    groups : int array (n,)
        Group of each point *within its type* (user group k and item group k share a colour but
        are different groups: the marker tells them apart).
    n_groups : int, optional
        Number of groups the palette is made for (default ``groups.max() + 1``); pass it so that
        two maps of the same grouping use the same colours.
    title : str, optional
    legend : bool
        Add a small legend explaining the markers.
    point_size : float

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    xy, is_item, groups = _check_map_inputs(xy, is_item, groups)
    n_groups = int(groups.max()) + 1 if n_groups is None else n_groups
    if groups.max() >= n_groups:
        raise ValueError(f"groups go up to {groups.max()} but n_groups is {n_groups}")
    colors = group_colors(n_groups)[groups]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    for mask, marker in ((~is_item, USER_MARKER), (is_item, ITEM_MARKER)):
        if mask.any():
            ax.scatter(xy[mask, 0], xy[mask, 1], c=colors[mask], marker=marker, s=point_size, alpha=0.8,
                       linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title, fontsize="medium")
    if legend:
        handles = [Line2D([], [], linestyle="", marker=USER_MARKER, color="0.35", label="user"),
                   Line2D([], [], linestyle="", marker=ITEM_MARKER, color="0.35", label="item")]
        ax.legend(handles=handles, loc="lower right", fontsize="small", framealpha=0.7)
    return fig


def plot_space_pair(teacher_xy, student_xy, is_item, groups, *, n_groups: int | None = None,
                    teacher_title: str = "Teacher space", student_title: str = "Student space",
                    projection: str = "UMAP", suptitle: str | None = None, axes=None,
                    student_projection: str | None = None):
    """The teacher's and a student's space side by side, same points, same colours.

    Parameters
    ----------
    teacher_xy, student_xy : arrays (n, 2)
        2-D maps of the same n entities (row i is the same user or item in both).
    is_item, groups, n_groups
        As in :func:`plot_embedding_map`.
    teacher_title, student_title : str
        Panel titles.
    projection : str
        Name of the 2-D projection, shown on the axes (e.g. ``"UMAP"`` or ``"PCA"``).
    suptitle : str, optional
        Title above both panels.
    axes : pair of matplotlib axes, optional
        Where to draw (default: a new figure with two panels).
    student_projection : str, optional
        Name of the student map's projection when it differs from ``projection`` (e.g. a 2-D student
        drawn with its own directions); default: ``projection``.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    teacher_xy = np.asarray(teacher_xy, dtype=float)
    student_xy = np.asarray(student_xy, dtype=float)
    if teacher_xy.shape != student_xy.shape:
        raise ValueError(f"teacher and student maps must show the same points, got shapes {teacher_xy.shape} "
                         f"and {student_xy.shape}")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be a pair of axes, got {len(axes)}")
        fig = axes[0].figure
    groups = np.asarray(groups)
    n_groups = int(groups.max()) + 1 if n_groups is None and groups.size else n_groups
    plot_embedding_map(teacher_xy, is_item, groups, n_groups=n_groups, title=teacher_title, ax=axes[0],
                       legend=True)
    plot_embedding_map(student_xy, is_item, groups, n_groups=n_groups, title=student_title, ax=axes[1],
                       legend=False)
    for ax, name in zip(axes, (projection, student_projection or projection)):
        ax.set_xlabel(f"{name} 1", fontsize="small")
        ax.set_ylabel(f"{name} 2", fontsize="small")
    if suptitle:
        fig.suptitle(suptitle, fontsize="medium")
    fig.tight_layout()
    return fig


def figure_png(fig, *, dpi: int = 80, close: bool = True) -> bytes:
    """The figure rendered as PNG bytes (what the explorer's image widget shows).

    ``close`` closes the figure afterwards, so that figures made in a widget callback do not pile up
    (nor get drawn a second time by the notebook's inline backend).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# 2-D maps
# ----------------------------------------------------------------------------------------------

@dataclass
class Projection:
    """A 2-D map of some entities.

    Attributes
    ----------
    coords : np.ndarray (n, 2)
    method : str
        ``"UMAP"`` or ``"PCA"``.
    seconds : float
        Time the projection took (for the first UMAP this includes numba's compilation).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    coords: np.ndarray
    method: str
    seconds: float


def load_umap():
    """Import umap-learn, or return None when it is not installed.

    Before the import, ``NUMBA_CACHE_DIR`` gets a writable default (``<cache>/numba``, see
    :func:`htd_tutorial.cache.cache_dir`) when unset: numba, which umap-learn compiles with, caches
    compiled code next to the package by default, which fails where site-packages is read-only.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if not os.environ.get("NUMBA_CACHE_DIR"):
        folder = Path(cache_dir()) / "numba"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(folder)
        except OSError:
            pass  # numba then falls back to its own default; compiling still works, caching may not
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap  # noqa: PLC0415 (imported lazily: it takes seconds)
    except ImportError:
        return None
    return umap


def pca_2d(embeddings) -> np.ndarray:
    """The first two principal components of the row-normalised embeddings, shape (n, 2).

    Rows are scaled to unit length first, so that, like the cosine UMAP, the map reflects
    directions (the topology) rather than lengths. A 1-D space gets a zero second coordinate.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    from sklearn.decomposition import PCA

    x = embedding_array("embeddings", embeddings, min_rows=3)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n_components = min(2, x.shape[1])
    coords = PCA(n_components=n_components, svd_solver="full").fit_transform(x)
    if n_components < 2:
        coords = np.c_[coords, np.zeros(len(coords))]
    return coords


def unit_directions(embeddings) -> np.ndarray:
    """A 2-D space's own map: each row scaled to unit length, shape (n, 2) (no projection).

    Cosine similarity only sees directions, so a 2-D embedding's topology is its angle on the unit
    circle; a zero row stays at the origin.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    x = embedding_array("embeddings", embeddings, min_rows=1)
    if x.shape[1] != 2:
        raise ValueError(f"unit_directions draws 2-D embeddings as they are, got {x.shape[1]} dimensions")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def project_2d(embeddings, *, method: str = "auto", seed: int = 0, n_neighbors: int = 15,
               n_epochs: int | None = None) -> Projection:
    """Map embeddings to 2-D: UMAP with the cosine metric, or PCA.

    Parameters
    ----------
    embeddings : Tensor or array (n, d)
    method : {"auto", "umap", "pca"}
        ``"auto"``: UMAP when umap-learn can be imported, else PCA. ``"umap"`` raises ValueError
        when it cannot.
    seed : int
        UMAP's ``random_state`` (makes the map repeatable; UMAP then runs on one thread).
    n_neighbors : int
        UMAP's neighbourhood size (capped at n - 1).
    n_epochs : int, optional
        UMAP's optimisation epochs (default: umap-learn's choice).

    Returns
    -------
    Projection

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    one_of("method", method, ("auto", "umap", "pca"))
    x = embedding_array("embeddings", embeddings, min_rows=3)
    started = time.perf_counter()
    umap = load_umap() if method in ("auto", "umap") else None
    if umap is None:
        if method == "umap":
            raise ValueError("umap-learn is not installed (pip install umap-learn); use method='pca' or 'auto'")
        return Projection(pca_2d(x), "PCA", time.perf_counter() - started)
    reducer = umap.UMAP(n_neighbors=max(2, min(int(n_neighbors), x.shape[0] - 1)), min_dist=0.1, metric="cosine",
                        n_epochs=n_epochs, random_state=int(seed), n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba / sklearn chatter that a learner cannot act on
        coords = reducer.fit_transform(x.astype(np.float32))
    return Projection(np.asarray(coords, dtype=np.float64), "UMAP", time.perf_counter() - started)


def align_to(coords, reference) -> np.ndarray:
    """Rotate, reflect, scale and shift ``coords`` to best match ``reference`` (orthogonal Procrustes).

    A UMAP map's orientation is arbitrary; aligning the student's map to the teacher's makes the
    two pictures comparable without changing the student map's shape (only a similarity transform
    is applied: distances keep their ratios).

    Parameters
    ----------
    coords, reference : arrays (n, 2)
        Row i of both is the same entity.

    Returns
    -------
    np.ndarray (n, 2)

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    coords = np.asarray(coords, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if coords.shape != reference.shape or coords.ndim != 2:
        raise ValueError(f"coords and reference must have the same (n, d) shape, got {coords.shape} and "
                         f"{reference.shape}")
    a = coords - coords.mean(axis=0)
    b = reference - reference.mean(axis=0)
    norm = float((a ** 2).sum())
    if norm == 0:
        return np.broadcast_to(reference.mean(axis=0), coords.shape).copy()
    u, sigma, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    scale = float(sigma.sum()) / norm
    return scale * a @ rotation + reference.mean(axis=0)

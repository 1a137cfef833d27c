"""The geometric why of the capacity gap: how many directions a d-dimensional space keeps apart.

An embedding model's topology is the cosine similarity of every pair of its vectors. How fine a
web of similarities a space can hold depends on its dimension ``d``, and random directions show it
without any training:

- the cosine similarity of two independent random directions has mean 0 and variance exactly
  ``1/d`` (by symmetry, ``E[cos²] = E[x_1²] = 1/d`` for a uniform unit vector ``x``), so its
  spread shrinks like ``1/sqrt(d)``: in 200 dimensions almost every pair is nearly orthogonal, in 2
  dimensions the cosine of a random pair is spread over all of ``[-1, 1]`` (most mass near ±1);
- hence a large space has room for many directions that are all far from each other (the number
  grows exponentially with ``d``), a small one for only a handful: put more vectors in a small
  space and some of them must nearly coincide.

:func:`direction_table` measures both on random unit vectors (seeded, a fraction of a second);
:func:`cosine_samples` gives the raw cosines for a histogram. The pictures are
:func:`htd_tutorial.plots.plot_cosine_histograms`, :func:`htd_tutorial.plots.plot_cosine_spread` and
:func:`htd_tutorial.plots.plot_direction_count`.

Introduced in ``notebooks/01_capacity_gap.ipynb``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import positive_int

__all__ = ["random_directions", "cosine_samples", "max_abs_cosine", "near_orthogonal_count", "direction_table"]


def random_directions(n: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """``n`` random unit vectors in ``dim`` dimensions, uniform on the sphere, as rows of an ``(n, dim)`` array.

    A standard normal vector divided by its length is uniform on the sphere (the normal law is
    rotation invariant).
    """
    n, dim = positive_int("n", n), positive_int("dim", dim)
    vectors = np.random.default_rng(seed).standard_normal((n, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def cosine_samples(dim: int, n_pairs: int = 5000, *, seed: int = 0) -> np.ndarray:
    """Cosine similarities of ``n_pairs`` independent pairs of random directions in ``dim`` dimensions."""
    n_pairs = positive_int("n_pairs", n_pairs)
    both = random_directions(2 * n_pairs, dim, seed=seed)
    return np.einsum("ij,ij->i", both[:n_pairs], both[n_pairs:])


def _unit_rows(directions, at_least: int) -> np.ndarray:
    directions = np.asarray(directions, dtype=float)
    if directions.ndim != 2 or len(directions) < at_least:
        raise ValueError(f"need at least {at_least} direction(s) as rows of a 2-D array, got shape {directions.shape}")
    return directions


def _max_abs_cosine(abs_gram: np.ndarray) -> float:
    off_diagonal = abs_gram.copy()
    np.fill_diagonal(off_diagonal, 0.0)
    return float(off_diagonal.max())


def _greedy_count(abs_gram: np.ndarray, threshold: float) -> int:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie strictly between 0 and 1, got {threshold}")
    close = abs_gram >= threshold
    open_ = np.ones(len(abs_gram), dtype=bool)      # still compatible with every row kept so far
    kept = 0
    while open_.any():
        i = int(np.argmax(open_))                   # the first such row, in order, is kept
        kept += 1
        open_ &= ~close[i]                          # |cos| >= threshold with row i: out
        open_[i] = False
    return kept


def max_abs_cosine(directions: np.ndarray) -> float:
    """The largest ``|cos|`` between two different rows of ``directions`` (unit rows): how close the closest pair is."""
    directions = _unit_rows(directions, 2)
    return _max_abs_cosine(np.abs(directions @ directions.T))


def near_orthogonal_count(directions: np.ndarray, threshold: float) -> int:
    """How many of ``directions`` (unit rows) a greedy pass keeps with every kept pair at ``|cos| < threshold``.

    The rows are visited in order; a row is kept when its ``|cos|`` with every row kept so far is
    below ``threshold``. The count is a lower bound on how many directions the space can hold that
    far apart (a cleverer choice than random candidates keeps more), and it is at most the number
    of candidates.
    """
    directions = _unit_rows(directions, 1)
    return _greedy_count(np.abs(directions @ directions.T), threshold)


def direction_table(dims, *, n_directions: int = 1000, threshold: float = 0.3, n_pairs: int = 5000,
                    seed: int = 0) -> pd.DataFrame:
    """How roomy a space of each dimension is, measured on random directions; one row per dimension.

    Columns: ``dim``; ``cosine std``: the standard deviation of the cosine of ``n_pairs`` random
    pairs; ``1/sqrt(dim)``: its exact value; ``max |cos|``: the closest pair among ``n_directions``
    random directions; ``near-orthogonal``: how many of those directions a greedy pass keeps with
    every pair at ``|cos| < threshold`` (:func:`near_orthogonal_count`, at most ``n_directions``).

    Each dimension draws its own vectors from ``seed`` (the same seed gives the same table).
    """
    dims = [positive_int("dim", d) for d in dims]
    if not dims:
        raise ValueError("dims is empty: give at least one dimension")
    n_directions = positive_int("n_directions", n_directions)
    if n_directions < 2:
        raise ValueError(f"n_directions must be at least 2 (a closest pair needs two), got {n_directions}")
    rows = []
    for dim in dims:
        cosines = cosine_samples(dim, n_pairs, seed=seed)
        directions = random_directions(n_directions, dim, seed=seed + 1).astype(np.float32)  # 2x faster, ample
        abs_gram = np.abs(directions @ directions.T)
        rows.append({"dim": dim, "cosine std": float(cosines.std()), "1/sqrt(dim)": 1 / np.sqrt(dim),
                     "max |cos|": _max_abs_cosine(abs_gram), "near-orthogonal": _greedy_count(abs_gram, threshold)})
    return pd.DataFrame(rows)

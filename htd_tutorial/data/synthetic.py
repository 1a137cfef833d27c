"""A seeded synthetic dataset with a planted two-level hierarchy of users and items.

Users and items each belong to one of ``n_super`` super-groups and, inside it, to one of ``n_sub``
sub-groups. A user picks items with a weight that depends on how close the item's groups are to
the user's (same sub-group >> same super-group, other sub-group >> other super-group), times an
item popularity that follows a power law, as in real data. Because the groups are known, later
notebooks can check whether a model (or a distillation method) has recovered the hierarchy.
"""
from __future__ import annotations

import math

import numpy as np

from .interactions import Interactions
from .._checks import finite_number, integer
from .split import leave_one_out

__all__ = ["make_synthetic", "DEFAULT_AFFINITY"]

#: Relative weight of an item in the user's own sub-group, in the same super-group but another
#: sub-group, and in another super-group (before popularity).
DEFAULT_AFFINITY = (1.0, 0.2, 0.02)


def _check_affinity(affinity: object) -> tuple[float, float, float]:
    """Validate ``affinity``: three finite positive, non-increasing weights.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    try:
        values = tuple(float(a) for a in affinity)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"affinity must be three numbers (same sub-group, same super-group, other), "
                         f"got {affinity!r}") from None
    if len(values) != 3 or not all(math.isfinite(a) and a > 0 for a in values):
        raise ValueError(f"affinity must be three finite positive numbers (same sub-group, same super-group, "
                         f"other), got {affinity!r}")
    if not values[0] >= values[1] >= values[2]:
        raise ValueError(f"affinity must be non-increasing (same sub-group >= same super-group >= other) "
                         f"for a planted hierarchy, got {values}")
    return values


def make_synthetic(n_users: int = 600, n_items: int = 900, n_super: int = 3, n_sub: int = 3,
                   interactions_per_user: int = 30, affinity: tuple[float, float, float] = DEFAULT_AFFINITY,
                   popularity: float = 0.7, seed: int = 0) -> Interactions:
    """Generate implicit feedback with a planted two-level hierarchy, split leave-one-out.

    Every user and item gets a super-group and a sub-group inside it (balanced sizes, random
    assignment). Each user interacts with exactly ``interactions_per_user`` distinct items, drawn
    without replacement with weight ``affinity[level] * popularity_weight`` where ``level`` is 0
    if the item is in the user's sub-group, 1 if it is in the user's super-group but another
    sub-group, and 2 otherwise; ``popularity_weight = rank ** -popularity`` for a random rank
    ``1..n_items`` of each item (a Zipf-like long tail). Deterministic for a given ``seed``.

    Parameters
    ----------
    n_users, n_items : int
        Sizes; each must be at least the number of sub-groups ``n_super * n_sub``.
    n_super, n_sub : int
        Number of super-groups and of sub-groups inside each super-group (positive).
    interactions_per_user : int
        Interactions per user, at least 3 (leave-one-out holds out two) and at most ``n_items``.
    affinity : tuple of three floats
        Relative weights for same sub-group, same super-group (other sub-group), other
        super-group; finite, positive, non-increasing. Default :data:`DEFAULT_AFFINITY`.
    popularity : float
        Exponent of the popularity power law (``0`` = all items equally popular).
    seed : int
        Seed for the groups, the interactions and the leave-one-out split.

    Returns
    -------
    Interactions
        Named ``"synthetic"``, with ``user_groups`` / ``item_groups`` of shape ``(n, 2)``:
        column 0 the super-group ``0..n_super-1``, column 1 the globally unique sub-group
        ``super * n_sub + sub`` in ``0..n_super*n_sub-1``. Sort by these labels to see the blocks.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    n_super = integer("n_super", n_super, low=1)
    n_sub = integer("n_sub", n_sub, low=1)
    n_groups = n_super * n_sub
    n_users = integer("n_users", n_users, low=1)
    n_items = integer("n_items", n_items, low=1)
    if n_users < n_groups or n_items < n_groups:
        raise ValueError(f"n_users ({n_users}) and n_items ({n_items}) must each be at least the number of "
                         f"sub-groups n_super * n_sub = {n_groups}, so that every sub-group has members")
    k = integer("interactions_per_user", interactions_per_user, low=3)
    if k > n_items:
        raise ValueError(f"interactions_per_user ({k}) must be at most n_items ({n_items}): each user interacts "
                         "with distinct items")
    weights = _check_affinity(affinity)
    finite_number("popularity", popularity, low=0.0)
    seed = integer("seed", seed, low=0)

    rng = np.random.default_rng(seed)
    user_sub = rng.permutation(np.arange(n_users) % n_groups)
    item_sub = rng.permutation(np.arange(n_items) % n_groups)
    rank = rng.permutation(n_items) + 1
    log_pop = -float(popularity) * np.log(rank)

    # log-weight of every item for a user of each sub-group: (n_groups, n_items)
    groups = np.arange(n_groups)[:, None]
    level = np.where(item_sub[None, :] == groups, 0, np.where(item_sub[None, :] // n_sub == groups // n_sub, 1, 2))
    base = np.log(np.asarray(weights))[level] + log_pop[None, :]

    # sampling without replacement proportional to the weights: Gumbel top-k, in chunks of users
    chunk = max(1, 4_000_000 // n_items)
    items = np.empty((n_users, k), dtype=np.int64)
    for start in range(0, n_users, chunk):
        stop = min(start + chunk, n_users)
        keys = base[user_sub[start:stop]] + rng.gumbel(size=(stop - start, n_items))
        items[start:stop] = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    pairs = np.stack([np.repeat(np.arange(n_users), k), items.ravel()], axis=1)
    train, valid, test = leave_one_out(pairs, seed=seed)

    def labels(sub: np.ndarray) -> np.ndarray:
        return np.stack([sub // n_sub, sub], axis=1).astype(np.int64)

    return Interactions(name="synthetic", n_users=n_users, n_items=n_items, train=train, valid=valid, test=test,
                        user_groups=labels(user_sub), item_groups=labels(item_sub))

"""Leave-one-out splitting: the paper's evaluation protocol for data that comes without a split.

For every user one interaction is held out for validation and one for test, chosen at random
(seeded); the rest is training. Everything is vectorised with numpy: one sort puts each user's
interactions in a random order, and the first two of each user are held out.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._checks import cutoffs as _check_ks  # noqa: F401  (course.common imports it from here, one release)
from .._checks import integer

__all__ = ["leave_one_out"]


def _check_pairs(pairs: np.ndarray) -> np.ndarray:
    """Validate an ``(n, 2)`` array of non-negative integer ``(user, item)`` pairs; return it as int64.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"expected an array of shape (n, 2) of (user, item) pairs, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("no interactions to split: the array of (user, item) pairs is empty")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"user and item indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0:
        row = int(np.argmax((arr < 0).any(axis=1)))
        raise ValueError(f"user and item indices must be non-negative, got row {row}: {arr[row].tolist()}")
    return arr


def _sorted_unique_pairs(pairs: np.ndarray) -> tuple[np.ndarray, int]:
    """Sort ``(user, item)`` pairs by user then item and drop repeats; return ``(pairs, n_dropped)``.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    ordered = pairs[order]
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    return ordered[keep], int((~keep).sum())


def short_users(users: np.ndarray, min_interactions: int) -> tuple[np.ndarray, np.ndarray]:
    """Users with fewer than ``min_interactions`` interactions, and their counts.

    Parameters
    ----------
    users : np.ndarray of int, shape (n,)
        The user of every (deduplicated) interaction.
    min_interactions : int
        The least number of interactions a user needs.

    Returns
    -------
    (np.ndarray, np.ndarray)
        The offending users (sorted) and how many interactions each has.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    uniq, counts = np.unique(np.asarray(users), return_counts=True)
    bad = counts < min_interactions
    return uniq[bad], counts[bad]


def leave_one_out(pairs: np.ndarray, *, seed: int = 0, min_interactions: int = 3,
                  drop_short_users: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split interactions into train / valid / test with one random held-out item per user for each.

    This is the paper's protocol: for every user one interaction is the validation item, one the
    test item, and the rest is training. The result depends only on the *set* of pairs and the
    seed (the input order does not matter), so the same data and seed always give the same split.

    Parameters
    ----------
    pairs : np.ndarray of int, shape (n, 2)
        ``(user, item)`` pairs (non-negative integers). Repeated pairs are dropped with a warning,
        so that a held-out item can never also be a training item.
    seed : int
        Seed of the random choice of held-out items.
    min_interactions : int
        Users need at least this many interactions (at least 3: one validation, one test and one
        training interaction).
    drop_short_users : bool
        What to do with users below ``min_interactions``: ``False`` (default) raises a
        ``ValueError`` naming how many there are and an example; ``True`` drops them with a warning.

    Returns
    -------
    (train, valid, test) : tuple of np.ndarray of int64, shape (n, 2)
        ``train`` is sorted by user then item; ``valid`` and ``test`` hold one pair per user,
        sorted by user. Indices are those of the input (no remapping).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    seed = integer("seed", seed, low=0)
    min_interactions = integer("min_interactions", min_interactions, low=3)
    pairs, n_dup = _sorted_unique_pairs(_check_pairs(pairs))
    if n_dup:
        warnings.warn(f"leave_one_out: dropped {n_dup} duplicated interaction(s)", stacklevel=2)
    bad_users, bad_counts = short_users(pairs[:, 0], min_interactions)
    if len(bad_users):
        if not drop_short_users:
            raise ValueError(
                f"{len(bad_users)} user(s) have fewer than {min_interactions} interactions, e.g. user "
                f"{bad_users[0]} has {bad_counts[0]}; leave-one-out holds out one validation and one test item "
                f"per user and keeps at least {min_interactions - 2} for training. Remove these users or pass "
                "drop_short_users=True")
        warnings.warn(f"leave_one_out: dropped {len(bad_users)} user(s) with fewer than {min_interactions} "
                      f"interactions ({int(bad_counts.sum())} interactions), e.g. user {bad_users[0]}", stacklevel=2)
        pairs = pairs[~np.isin(pairs[:, 0], bad_users)]
        if len(pairs) == 0:
            raise ValueError(f"no user has at least {min_interactions} interactions; nothing left to split")
    users = pairs[:, 0]
    # pairs are sorted by user: starts of each user's run, and each row's rank in a random order
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    rng = np.random.default_rng(seed)
    perm = np.lexsort((rng.random(len(pairs)), users))  # users stay sorted, random order inside each user
    rank = np.arange(len(pairs)) - np.repeat(starts, counts)
    valid = pairs[perm[rank == 0]]
    test = pairs[perm[rank == 1]]
    train = pairs[np.sort(perm[rank >= 2])]
    return train, valid, test

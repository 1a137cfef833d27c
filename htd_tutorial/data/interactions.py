"""The one interactions type used everywhere in the course.

An :class:`Interactions` holds implicit feedback already split into training, validation and test
pairs, with users and items remapped to contiguous indices ``0..n-1``. Every loader in
:mod:`htd_tutorial.data` returns one, every model, trainer and evaluator takes one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Interactions"]


def _as_pairs(name: str, pairs: np.ndarray) -> np.ndarray:
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}: expected an array of shape (n, 2) of (user, item) pairs, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: user and item indices must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Implicit feedback split into train / valid / test, with contiguous indices.

    Attributes
    ----------
    name : str
        Human-readable dataset name (shown in plots and progress bars).
    n_users, n_items : int
        Number of users and items; indices run over ``range(n_users)`` / ``range(n_items)``.
    train, valid, test : np.ndarray of int64, shape (n, 2)
        ``(user, item)`` pairs. The paper's protocol holds out one validation and one test item
        per user (leave-one-out); held-out pairs never appear in ``train``.
    user_ids, item_ids : np.ndarray
        Raw ID of each index (``user_ids[u]`` is the original ID of user ``u``), so results can be
        mapped back to the source file.
    user_groups, item_groups : np.ndarray of int64, shape (n, levels), optional
        Ground-truth groups where the data has them (the synthetic generator plants a two-level
        hierarchy: column 0 is the super-group, column 1 the sub-group). ``None`` for real data.

    The constructor checks every invariant and raises :class:`ValueError` naming the problem:
    indices in range, no pair twice in a split, held-out pairs that are neither training pairs nor
    both validation and test pairs, and for every user at least one item outside their training
    items (the BPR sampler draws its negatives there; a user who has every item in training would
    leave it nothing to draw).
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    name: str
    n_users: int
    n_items: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    user_groups: np.ndarray | None = None
    item_groups: np.ndarray | None = None
    _fingerprint: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if int(self.n_users) <= 0 or int(self.n_items) <= 0:
            raise ValueError(f"{self.name}: n_users and n_items must be positive, got {self.n_users}, {self.n_items}")
        object.__setattr__(self, "n_users", int(self.n_users))
        object.__setattr__(self, "n_items", int(self.n_items))
        for split in ("train", "valid", "test"):
            pairs = _as_pairs(f"{self.name} {split}", getattr(self, split))
            if pairs.size:
                if pairs.min() < 0:
                    raise ValueError(f"{self.name} {split}: negative user or item index")
                if pairs[:, 0].max() >= self.n_users:
                    raise ValueError(f"{self.name} {split}: user index {pairs[:, 0].max()} >= n_users={self.n_users}")
                if pairs[:, 1].max() >= self.n_items:
                    raise ValueError(f"{self.name} {split}: item index {pairs[:, 1].max()} >= n_items={self.n_items}")
            pairs.setflags(write=False)
            object.__setattr__(self, split, pairs)
        if len(self.train) == 0:
            raise ValueError(f"{self.name}: the training split is empty")
        sorted_keys = {}
        for split in ("train", "valid", "test"):
            keys = np.sort(self.keys(getattr(self, split)))
            repeated = keys[1:] == keys[:-1]
            if repeated.any():
                u, i = divmod(int(keys[1:][repeated][0]), self.n_items)
                raise ValueError(f"{self.name} {split}: {int(repeated.sum())} repeated pair(s), e.g. user {u}, "
                                 f"item {i}; each interaction must appear once")
            sorted_keys[split] = keys
        for held, other in (("valid", "train"), ("test", "train"), ("test", "valid")):
            keys, pool = sorted_keys[held], sorted_keys[other]
            if not len(pool):
                continue
            at = np.minimum(np.searchsorted(pool, keys), len(pool) - 1)
            overlap = pool[at] == keys
            if overlap.any():
                u, i = divmod(int(keys[np.argmax(overlap)]), self.n_items)
                what = "training" if other == "train" else "validation"
                raise ValueError(
                    f"{self.name}: {overlap.sum()} {held} pair(s) are also {what} pairs, e.g. user {u}, item {i}; "
                    "held-out items must not be training items (nor both validation and test items)")
        per_user = np.bincount(self.train[:, 0], minlength=self.n_users)
        full = np.flatnonzero(per_user >= self.n_items)
        for attr, n in (("user_ids", self.n_users), ("item_ids", self.n_items)):
            ids = getattr(self, attr)
            if ids is None:
                ids = np.arange(n)
            ids = np.asarray(ids)
            if len(ids) != n:
                raise ValueError(f"{self.name}: {attr} has {len(ids)} entries, expected {n}")
            object.__setattr__(self, attr, ids)
        if len(full):
            raise ValueError(
                f"{self.name}: user {self.user_ids[full[0]]} has every one of the {self.n_items} items in training "
                f"({len(full)} such user(s)), so BPR has no item left to draw as their negative; remove such users")
        for attr, n in (("user_groups", self.n_users), ("item_groups", self.n_items)):
            groups = getattr(self, attr)
            if groups is not None:
                groups = np.asarray(groups, dtype=np.int64)
                if groups.ndim == 1:
                    groups = groups[:, None]
                if len(groups) != n:
                    raise ValueError(f"{self.name}: {attr} has {len(groups)} rows, expected {n}")
                object.__setattr__(self, attr, groups)

    # ------------------------------------------------------------------ helpers
    def keys(self, pairs: np.ndarray) -> np.ndarray:
        """Encode ``(user, item)`` pairs as single int64 keys ``user * n_items + item`` (for fast set tests)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0] * self.n_items + pairs[:, 1]

    @property
    def n_interactions(self) -> int:
        """Total number of interactions over the three splits."""
        return len(self.train) + len(self.valid) + len(self.test)

    @property
    def density(self) -> float:
        """Fraction of the user x item matrix that holds an interaction (1 - sparsity)."""
        return self.n_interactions / (self.n_users * self.n_items)

    def user_counts(self) -> np.ndarray:
        """Training interactions per user, shape ``(n_users,)``."""
        return np.bincount(self.train[:, 0], minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Training interactions per item, shape ``(n_items,)``."""
        return np.bincount(self.train[:, 1], minlength=self.n_items)

    def summary(self) -> dict:
        """Sizes and sparsity as a plain dict (what notebook 00 prints in its first table)."""
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
            "density": self.density,
            "sparsity": 1.0 - self.density,
        }

    def fingerprint(self) -> str:
        """SHA-256 over sizes and all three splits: the data part of a cache key."""
        if not self._fingerprint:
            h = hashlib.sha256(f"{self.n_users}:{self.n_items}".encode())
            for split in (self.train, self.valid, self.test):
                h.update(np.int64(len(split)).tobytes())
                h.update(split.tobytes())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]

    def __repr__(self) -> str:
        return (f"Interactions({self.name!r}: {self.n_users} users, {self.n_items} items, "
                f"{len(self.train)}/{len(self.valid)}/{len(self.test)} train/valid/test)")

"""Vectorised sampling of BPR training triples ``(user, positive item, negative item)``."""
from __future__ import annotations

import torch

from .choices import DEFAULT_BATCH_SIZE
from .data import Interactions

__all__ = ["TripleSampler"]


class TripleSampler:
    """One epoch = every training pair once, in random order, each with one uniform negative.

    Negatives are drawn uniformly from the items the user has *not* interacted with in training.
    Everything is tensor code: candidates are drawn for all pairs at once, and the few that hit a
    training item (tested with a binary search over sorted ``user * n_items + item`` keys) are
    redrawn, again all at once, until none is left. That loop ends because every user has at least one
    item outside their training items: :class:`~htd_tutorial.data.Interactions` rejects a user who has
    every item in training. A held-out (validation or test) item is not a training item, so it can be
    drawn as a negative (the sampler knows only the training pairs); a user with all items but
    one in training always gets that one.

    Parameters
    ----------
    data : Interactions
        Source of the training pairs.
    batch_size : int
        Triples per batch (default :data:`htd_tutorial.choices.DEFAULT_BATCH_SIZE`, the paper's).
    seed : int
        Seed of the sampler's own generator: the same seed gives the same batches.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    def __init__(self, data: Interactions, batch_size: int = DEFAULT_BATCH_SIZE, *, seed: int = 0):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.n_items = data.n_items
        self.batch_size = int(batch_size)
        self.pairs = torch.from_numpy(data.train.copy())
        self.sorted_keys = torch.sort(torch.from_numpy(data.keys(data.train))).values
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return (len(self.pairs) + self.batch_size - 1) // self.batch_size

    def is_train_pair(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Boolean mask: which ``(users[k], items[k])`` are training interactions."""
        keys = users * self.n_items + items
        pos = torch.searchsorted(self.sorted_keys, keys).clamp(max=len(self.sorted_keys) - 1)
        return self.sorted_keys[pos] == keys

    def sample_negatives(self, users: torch.Tensor) -> torch.Tensor:
        """One uniform non-interacted item for each entry of ``users``."""
        negatives = torch.randint(self.n_items, users.shape, generator=self.generator)
        bad = self.is_train_pair(users, negatives).nonzero().squeeze(1)
        while len(bad):
            negatives[bad] = torch.randint(self.n_items, bad.shape, generator=self.generator)
            bad = bad[self.is_train_pair(users[bad], negatives[bad])]
        return negatives

    def __iter__(self):
        order = torch.randperm(len(self.pairs), generator=self.generator)
        pairs = self.pairs[order]
        negatives = self.sample_negatives(pairs[:, 0])
        for start in range(0, len(pairs), self.batch_size):
            stop = start + self.batch_size
            yield pairs[start:stop, 0], pairs[start:stop, 1], negatives[start:stop]

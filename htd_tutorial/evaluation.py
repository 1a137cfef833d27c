"""Full-ranking evaluation exactly as in the paper: Recall@K and NDCG@K over all items.

For each user, every item is scored; the user's training items and the *other* held-out item
(the test item when validating, the validation item when testing) are excluded; the held-out
item's position in the ranking gives the metrics. Users are processed in chunks, so extra memory
is bounded whatever the dataset size, and each chunk's score matrix serves both splits.
"""
from __future__ import annotations

import numpy as np
import torch

from .data import Interactions

__all__ = ["evaluate", "evaluate_embeddings", "DEFAULT_KS"]

DEFAULT_KS = (10, 20, 50)
SPLITS = ("valid", "test")


def _user_index(pairs: np.ndarray, n_users: int) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR-like ``(indptr, items)`` of ``pairs`` sorted by user."""
    order = np.argsort(pairs[:, 0], kind="stable")
    users, items = pairs[order, 0], pairs[order, 1]
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return torch.from_numpy(indptr), torch.from_numpy(np.ascontiguousarray(items))


def _chunk_pairs(indptr: torch.Tensor, items: torch.Tensor, start: int, stop: int):
    """Row offsets (relative to ``start``) and items of users ``start..stop-1``."""
    lo, hi = int(indptr[start]), int(indptr[stop])
    counts = indptr[start + 1: stop + 1] - indptr[start:stop]
    rows = torch.repeat_interleave(torch.arange(stop - start), counts)
    return rows, items[lo:hi], counts


def _rank_within_user(rows: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """For each held-out item: how many held-out items of the same user score higher (0 with one item)."""
    order = torch.argsort(scores, descending=True, stable=True)
    order = order[torch.argsort(rows[order], stable=True)]
    sorted_rows = rows[order]
    first = torch.searchsorted(sorted_rows, sorted_rows, side="left")
    within = torch.empty_like(rows)
    within[order] = torch.arange(len(rows)) - first
    return within


@torch.no_grad()
def evaluate_embeddings(user_emb: torch.Tensor, item_emb: torch.Tensor, data: Interactions, *,
                        splits: tuple[str, ...] = SPLITS, ks: tuple[int, ...] = DEFAULT_KS,
                        max_chunk_bytes: int = 256 * 2**20) -> dict[str, dict[str, float]]:
    """Recall@K and NDCG@K of dot-product scores ``user_emb @ item_emb.T``.

    Parameters
    ----------
    user_emb, item_emb : Tensor, shapes (n_users, d) and (n_items, d)
        Embedding tables (any device).
    data : Interactions
        Provides training items to exclude and the held-out items.
    splits : tuple of str
        Any of ``"valid"``, ``"test"``.
    ks : tuple of int
        Cut-offs, e.g. ``(10, 20, 50)``.
    max_chunk_bytes : int
        Size of one chunk's score matrix; chunks of users are sized to fit it, which bounds the
        extra memory (a few chunk-sized buffers).

    Returns
    -------
    dict
        ``{"test": {"Recall@10": ..., "NDCG@10": ..., ...}, ...}``, averaged over the users that
        have a held-out item in that split. With several held-out items per user, Recall@K is the
        fraction of them in the top K and NDCG@K is normalised by the ideal DCG.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) <= 0 or max(ks) > data.n_items:
        raise ValueError(f"cut-offs must lie in 1..n_items={data.n_items}, got {ks}")
    if user_emb.shape[0] != data.n_users or item_emb.shape[0] != data.n_items:
        raise ValueError(f"embedding tables of shape {tuple(user_emb.shape)}, {tuple(item_emb.shape)} do not "
                         f"match the data ({data.n_users} users, {data.n_items} items)")
    device = user_emb.device
    item_emb = item_emb.float()
    max_k = max(ks)
    train_idx = _user_index(data.train, data.n_users)
    held = {split: _user_index(getattr(data, split), data.n_users) for split in SPLITS}
    discounts = 1.0 / torch.log2(torch.arange(2, max_k + 2, dtype=torch.float64))
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), discounts.cumsum(0)])
    sums = {split: {f"{m}@{k}": 0.0 for k in ks for m in ("Recall", "NDCG")} for split in splits}
    n_eval = {split: 0 for split in splits}
    chunk = max(1, int(max_chunk_bytes // (4 * data.n_items)))

    for start in range(0, data.n_users, chunk):
        stop = min(start + chunk, data.n_users)
        scores = user_emb[start:stop].float() @ item_emb.T
        rows, items, _ = _chunk_pairs(*train_idx, start, stop)
        scores[rows.to(device), items.to(device)] = -torch.inf
        # Scores of the held-out items, then rank everything else once: the "rest" excludes
        # training items and both held-out items, so one top-k serves both splits.
        targets = {}
        for split in SPLITS:
            h_rows, h_items, h_counts = _chunk_pairs(*held[split], start, stop)
            h_rows, h_items = h_rows.to(device), h_items.to(device)
            targets[split] = (h_rows, h_items, scores[h_rows, h_items].clone(), h_counts)
        for h_rows, h_items, _, _ in targets.values():
            scores[h_rows, h_items] = -torch.inf
        top_values = torch.topk(scores, max_k, dim=1).values
        for split in splits:
            h_rows, _, h_scores, h_counts = targets[split]
            if len(h_rows) == 0:
                continue
            # rank of a held-out item = rest items scored higher (capped at max_k by the top-k)
            #                         + held-out items of the same user and split scored higher
            rank = (top_values[h_rows] > h_scores[:, None]).sum(1).cpu()
            rank += _rank_within_user(h_rows.cpu(), h_scores.cpu())
            has = h_counts > 0
            n_held = h_counts[has].double()
            h_rows_cpu = h_rows.cpu()
            for k in ks:
                hit = (rank < k).double()
                recall = torch.zeros(stop - start, dtype=torch.float64).index_add_(0, h_rows_cpu, hit)
                gain = torch.zeros(stop - start, dtype=torch.float64).index_add_(
                    0, h_rows_cpu, hit / torch.log2(rank.double() + 2))
                sums[split][f"Recall@{k}"] += float((recall[has] / n_held).sum())
                sums[split][f"NDCG@{k}"] += float((gain[has] / ideal[n_held.clamp(max=k).long()]).sum())
            n_eval[split] += int(has.sum())
    return {split: {name: total / max(n_eval[split], 1) for name, total in sums[split].items()}
            for split in splits}


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Interactions, *, splits: tuple[str, ...] = SPLITS,
             ks: tuple[int, ...] = DEFAULT_KS, max_chunk_bytes: int = 256 * 2**20) -> dict[str, dict[str, float]]:
    """Evaluate a :class:`~htd_tutorial.models.Recommender` (see :func:`evaluate_embeddings`).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    was_training = model.training
    model.eval()
    try:
        user_emb, item_emb = model.all_embeddings()
        return evaluate_embeddings(user_emb, item_emb, data, splits=splits, ks=ks,
                                   max_chunk_bytes=max_chunk_bytes)
    finally:
        model.train(was_training)

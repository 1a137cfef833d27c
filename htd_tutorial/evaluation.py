"""Full-ranking evaluation exactly as in the paper: Recall@K and NDCG@K over all items.

For each user, every item is scored; the user's training items and the *other* held-out item
(the test item when validating, the validation item when testing) are excluded; the held-out
item's position in the ranking gives the metrics. Users are processed in chunks, so extra memory
is bounded whatever the dataset size, and each chunk's score matrix serves both splits.

Ties are broken uniformly at random, in expectation and exactly: an item with ``g`` candidates scored
strictly higher and ``t`` others scored the same is equally likely to sit at any rank ``g … g + t``
(0-based), and its hit and gain are averaged over those ranks. So a collapsed model (all scores
equal) scores the chance value, never a perfect one, and NaN or infinite scores raise ``ValueError``.
"""
from __future__ import annotations

import numpy as np
import torch

from ._threads import busy_aware_threads
from .data import Interactions
from ._checks import cutoffs, known
from .choices import DEFAULT_KS, HEADLINE

__all__ = ["evaluate", "evaluate_embeddings", "DEFAULT_KS", "HEADLINE"]

# DEFAULT_KS (the cut-offs) and HEADLINE (the headline metric's name, "Recall@50") are owned by choices.py,
# which the modules that must not load torch (the command line, the results tables) read them from.
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


def _within_user_ranks(rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each held-out item: how many held-out items of the same user score strictly higher, and how
    many others of them tie with it (both 0 for a user with one held-out item)."""
    order = np.lexsort((-scores, rows))
    r, s = rows[order], scores[order]
    index = np.arange(len(r))
    new_user = np.r_[True, r[1:] != r[:-1]]
    new_score = new_user | np.r_[True, s[1:] != s[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, index, 0))
    run_start = np.maximum.accumulate(np.where(new_score, index, 0))
    run_id = np.cumsum(new_score) - 1
    above, tied = np.empty_like(index), np.empty_like(index)
    above[order] = run_start - user_start
    tied[order] = np.bincount(run_id)[run_id] - 1
    return above, tied


def _expected_hits_and_gains(above: torch.Tensor, tied: torch.Tensor, k: int,
                             cumulative_discount: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected hit@k and discounted gain@k of an item with ``above`` items scored strictly higher and
    ``tied`` others scored the same, under uniform random tie-breaking: its rank (0-based) is equally
    likely to be any of ``above, ..., above + tied``, so both are averages over those ranks.
    ``cumulative_discount[n]`` is the sum of ``1 / log2(r + 2)`` over ranks ``r < n``."""
    first = above.clamp(max=k)
    last = (above + tied + 1).clamp(max=k)          # ranks first..last-1 fall inside the top k
    n_ranks = (tied + 1).double()
    return (last - first).double() / n_ranks, (cumulative_discount[last] - cumulative_discount[first]) / n_ranks


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
        fraction of them in the top K and NDCG@K is normalised by the ideal DCG. Tied scores count
        as the expectation under uniform random tie-breaking (see the module docstring).

    Raises
    ------
    ValueError
        Unknown split; ``ks`` empty, not integers, or outside ``1..n_items``; tables whose shapes do
        not match the data; NaN or infinite embeddings or scores.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    for split in splits:
        known("split", split, SPLITS)
    ks = cutoffs(ks, data.n_items)
    if user_emb.shape[0] != data.n_users or item_emb.shape[0] != data.n_items:
        raise ValueError(f"embedding tables of shape {tuple(user_emb.shape)}, {tuple(item_emb.shape)} do not "
                         f"match the data ({data.n_users} users, {data.n_items} items)")
    for name, table in (("user", user_emb), ("item", item_emb)):
        if not bool(torch.isfinite(table).all()):
            raise ValueError(f"the {name} embeddings contain NaN or infinite values: a diverged model "
                             "cannot be ranked")
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

    with busy_aware_threads():  # one thread while other processes keep a core busy (_threads.py)
        for start in range(0, data.n_users, chunk):
            stop = min(start + chunk, data.n_users)
            scores = user_emb[start:stop].float() @ item_emb.T
            if not bool(torch.isfinite(scores).all()):
                raise ValueError(f"scores of users {start}..{stop - 1} overflow float32 (embeddings too large)")
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
                # The rest: items scored strictly higher (exact below max_k: the top-k holds them all)
                # and items tied with the held-out one. Ties are counted over the whole row only where
                # the top-k shows one (trained float embeddings almost never tie; constant ones always do).
                top = top_values[h_rows]
                above = (top > h_scores[:, None]).sum(1)
                tied = (top == h_scores[:, None]).sum(1)
                needs_row = (tied > 0).nonzero().flatten()
                if len(needs_row):
                    tied[needs_row] = (scores[h_rows[needs_row]] == h_scores[needs_row, None]).sum(1)
                # plus the other held-out items of the same user and split
                h_rows_cpu = h_rows.cpu()
                within_above, within_tied = _within_user_ranks(h_rows_cpu.numpy(), h_scores.cpu().numpy())
                above = above.cpu() + torch.from_numpy(within_above)
                tied = tied.cpu() + torch.from_numpy(within_tied)
                has = h_counts > 0
                n_held = h_counts[has].double()
                for k in ks:
                    hit, gain = _expected_hits_and_gains(above, tied, k, ideal)
                    recall = torch.zeros(stop - start, dtype=torch.float64).index_add_(0, h_rows_cpu, hit)
                    dcg = torch.zeros(stop - start, dtype=torch.float64).index_add_(0, h_rows_cpu, gain)
                    sums[split][f"Recall@{k}"] += float((recall[has] / n_held).sum())
                    sums[split][f"NDCG@{k}"] += float((dcg[has] / ideal[n_held.clamp(max=k).long()]).sum())
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

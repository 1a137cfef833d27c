"""The fast machinery behind :mod:`htd_tutorial.losses.htd`: same numbers as the formulas, less work.

:mod:`~htd_tutorial.losses.htd` reads as the paper's Section 4.2; what makes it fast on a CPU lives
here, so that the formulas there stay short. Each piece is exact (values and the gradients the
student, the experts and the assignment layer receive) and is checked against the naive twins in
``htd.py`` by ``tests/library/test_losses.py``:

- :class:`DenseMixture`: the K experts' mixture ``sum_k z_k f_k(s)`` as one matrix product over the
  stacked expert weights, with a hand-written backward;
- :func:`sparse_mixture`: the same mixture over only the (entity, expert) pairs with ``z > 0``
  (the annealed Gumbel-softmax is numerically one-hot after a fifth of the epochs);
- :func:`group_buckets`: entities sorted by group and padded to a few common widths, so per-group
  work runs as a handful of batched products;
- :func:`same_group_distance`: the entity-level sum over same-group pairs from those buckets, with
  per-group similarity blocks or, for large groups, the Gram identity of :mod:`.ftd`.
"""
from __future__ import annotations

import torch

from .ftd import gram_topology_distance

__all__ = ["BUCKET_RATIO", "EXPERT_BUCKET_RATIO", "DenseMixture", "sparse_mixture", "group_buckets",
           "same_group_distance"]

BUCKET_RATIO = 1.25
"""A size bucket holds groups with at least 1/BUCKET_RATIO of its widest group's size."""
EXPERT_BUCKET_RATIO = 2.0
"""The same for the experts' loads in :func:`sparse_mixture` (fewer, wider buckets: each costs a few
more operations than a block of the entity-level term)."""


class DenseMixture(torch.autograd.Function):
    """``sum_k z_k (relu(s W1_k + b1_k) W2_k + b2_k)`` for all experts at once, with a hand-written backward.

    The two big products are one (n x K*h) @ (K*h x d_t) GEMM each way; the backward is written out
    so that the element-wise work on the (n x K*h) hidden activations takes as few passes over
    memory as possible (autograd would add several more). Checked against a loop over experts and
    with ``gradcheck`` in the tests. Arguments: ``student`` (n, d_s), ``z`` (n, K), ``w1`` (d_s, K*h),
    ``b1`` (K*h,), ``w2`` (K*h, d_t), ``b2`` (K, d_t).
    """

    @staticmethod
    def forward(ctx, student, z, w1, b1, w2, b2):
        n, k = z.shape
        active = torch.addmm(b1, student, w1).clamp_min_(0)                     # relu(s W1 + b1), (n, K*h)
        weighted = (active.view(n, k, -1) * z.unsqueeze(-1)).view(n, -1)       # z_k * hidden_k
        ctx.save_for_backward(student, z, w1, w2, b2, active, weighted)
        return torch.addmm(z @ b2, weighted, w2)

    @staticmethod
    def backward(ctx, grad_out):
        student, z, w1, w2, b2, active, weighted = ctx.saved_tensors
        n, k = z.shape
        need = ctx.needs_input_grad
        grad_s = grad_z = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need[4]:
            grad_w2 = weighted.T @ grad_out
        if need[5]:
            grad_b2 = z.T @ grad_out
        if need[0] or need[1] or need[2] or need[3]:
            grad_weighted = (grad_out @ w2.T).view(n, k, -1)                   # dL/d(z_k hidden_k)
            if need[1]:
                grad_z = torch.einsum("nkh,nkh->nk", grad_weighted, active.view(n, k, -1)) + grad_out @ b2.T
            grad_hidden = grad_weighted.mul_(z.unsqueeze(-1)).view(n, -1)
            grad_hidden = torch.ops.aten.threshold_backward(grad_hidden, active, 0)   # relu'
            if need[0]:
                grad_s = grad_hidden @ w1.T
            if need[2]:
                grad_w1 = student.T @ grad_hidden
            if need[3]:
                grad_b1 = grad_hidden.sum(0)
        return grad_s, grad_z, grad_w1, grad_b1, grad_w2, grad_b2


def sparse_mixture(student: torch.Tensor, z: torch.Tensor, nonzero: torch.Tensor, w1: torch.Tensor,
                   b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """The expert mixture over the non-zero (entity, expert) pairs only, shape (n, d_t).

    ``nonzero`` is ``z > 0``; the weights are stacked per expert as in
    :class:`~htd_tutorial.losses.htd.GroupAssignment` (``w1`` (d_s, K, h), ``b1`` (K, h), ``w2``
    (K, h, d_t), ``b2`` (K, d_t)). Experts with similar loads share one padded ``bmm`` (a bucket is
    at most :data:`EXPERT_BUCKET_RATIO` times wider than its smallest expert's load), so uneven loads
    (one expert with a third of the batch, others with a few entities) waste little work.
    """
    teacher_dim = w2.shape[-1]
    with torch.no_grad():
        expert, entity = nonzero.T.nonzero(as_tuple=True)        # sorted by expert, then entity
    out = student.new_zeros(student.shape[0], teacher_dim)
    for index, valid in group_buckets(expert, EXPERT_BUCKET_RATIO):
        rows = expert[index[:, 0]]                                      # (B,) the bucket's experts
        members = entity[index]                                         # (B, m), padded slots: weight 0
        weight = z[members, rows.unsqueeze(1)] * valid                  # differentiable in z
        hidden = torch.relu(torch.baddbmm(b1[rows].unsqueeze(1), student[members], w1[:, rows].transpose(0, 1)))
        experts_out = torch.baddbmm(b2[rows].unsqueeze(1), hidden, w2[rows])
        out = out.index_add(0, members.reshape(-1), (experts_out * weight.unsqueeze(-1)).reshape(-1, teacher_dim))
    return out


def group_buckets(groups: torch.Tensor, ratio: float = BUCKET_RATIO):
    """Yield ``(index, valid)`` per size bucket: the entities of each group, padded to a common width.

    ``index`` (B, m) holds entity positions (0 where padded), ``valid`` (B, m) marks real slots.
    Groups are taken from the largest down; a bucket is as wide as its largest group and takes
    every group of at least 1/``ratio`` of that size, so each block is at most ``ratio`` times its
    real size (1.25^2 ~ 1.6 times the area of a square block), and there are only a few buckets
    (about log(n) / log(ratio) at worst).
    """
    order = torch.argsort(groups, stable=True)
    _, counts = torch.unique_consecutive(groups[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    sizes = counts.tolist()
    by_size = sorted(range(len(sizes)), key=lambda g: -sizes[g])
    first = 0
    while first < len(by_size):
        width = sizes[by_size[first]]
        last = first
        while last < len(by_size) and sizes[by_size[last]] * ratio >= width:
            last += 1
        chosen = torch.tensor(by_size[first:last], device=groups.device)
        first = last
        slots = torch.arange(width, device=groups.device)
        valid = slots.unsqueeze(0) < counts[chosen].unsqueeze(1)
        position = torch.where(valid, starts[chosen].unsqueeze(1) + slots.unsqueeze(0), 0)
        yield order[position], valid


def same_group_distance(s_hat: torch.Tensor, t_hat: torch.Tensor, groups: torch.Tensor, *,
                        positive_teacher_pairs_only: bool, method: str) -> torch.Tensor:
    """``sum_{i, j: g_i = g_j} (<t_i, t_j> - <s_i, s_j>)^2`` for row-normalised ``s_hat``, ``t_hat``; float64.

    ``t_hat`` is a constant. ``positive_teacher_pairs_only`` keeps only pairs with ``<t_i, t_j> > 0``
    (possible with blocks only). ``method``: ``"blocks"`` (per-group similarity blocks, padded
    ``bmm``), ``"gram"`` (per-group Gram identity) or ``"auto"`` (Gram for groups wider than
    2 (d_s + d_t) when the mask allows, blocks otherwise). The caller checks the arguments.
    """
    gram_from = 2 * (s_hat.shape[1] + t_hat.shape[1])
    total = s_hat.new_zeros((), dtype=torch.float64)
    for index, valid in group_buckets(groups):
        width = index.shape[1]
        use_gram = method == "gram" or (method == "auto" and not positive_teacher_pairs_only and width > gram_from)
        if use_gram:
            keep = valid.unsqueeze(-1)
            total = total + gram_topology_distance(s_hat[index] * keep, t_hat[index] * keep)
            continue
        s_block = s_hat[index]
        with torch.no_grad():
            t_block = t_hat[index]
            t_sim = torch.bmm(t_block, t_block.transpose(1, 2))
            pairs = valid.unsqueeze(2) & valid.unsqueeze(1)
            if positive_teacher_pairs_only:
                pairs &= t_sim > 0
        s_sim = torch.bmm(s_block, s_block.transpose(1, 2))
        total = total + torch.where(pairs, (t_sim - s_sim).square(), 0.0).sum().double()
    return total

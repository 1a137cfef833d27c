"""The fast machinery behind :mod:`htd_tutorial.losses.htd`: same numbers as the formulas, less work.

:mod:`~htd_tutorial.losses.htd` reads as the paper's Section 4.2; what makes it fast on a CPU lives
here, so that the formulas there stay short. Each piece is exact (values and the gradients the
student, the experts and the assignment layer receive) and is checked against the naive twins in
``htd.py`` by ``tests/library/test_losses.py``:

- :class:`DenseMixture`: the K experts' mixture ``sum_k z_k f_k(s)`` as one matrix product over the
  stacked expert weights, with a hand-written backward;
- :func:`sparse_mixture` (:class:`SparseMixture`): the same mixture over only the (entity, expert)
  pairs whose weight is not negligible (:data:`NEGLIGIBLE_WEIGHT`; the annealed Gumbel-softmax is
  numerically one-hot after about a tenth of the epochs), with a hand-written backward that adds
  each bucket's gradients into one buffer;
- :func:`group_buckets`: entities sorted by group and padded to common widths, cut where
  :func:`bucket_split` finds the padded work plus each bucket's fixed cost cheapest, so per-group
  work runs as a handful of batched products (every operation on a CPU costs tens of microseconds
  whatever its size: fewer, wider products beat many tight ones);
- :func:`same_group_distance`: the entity-level sum over same-group pairs from those buckets, with
  per-group similarity blocks or, for large groups, the Gram identity of :mod:`.ftd`.
"""
from __future__ import annotations

import numpy as np
import torch

from .ftd import gram_topology_distance

__all__ = ["BLOCK_OVERHEAD", "EXPERT_OVERHEAD", "NEGLIGIBLE_WEIGHT", "DenseMixture", "SparseMixture",
           "sparse_mixture", "bucket_split", "group_buckets", "same_group_distance"]

BLOCK_OVERHEAD = 40_000.0
"""What one bucket of similarity blocks costs beyond its pairs, in pairs (:func:`same_group_distance`)."""
NEGLIGIBLE_WEIGHT = 2.0 ** -40
"""An expert weight below this fraction of its row's largest, ``z_k < 2^-40 max_j z_j``, counts as zero in
:func:`sparse_mixture`. What it leaves out is below float32's resolution in the values and the experts'
gradients: in the mixture, K such terms move a value by at most ``K * 2^-40`` of it (half an ulp is
``2^-24``); in an expert's weight gradient, summed over a batch of n entities, by at most ``n * 2^-40``
(about ``2e-9`` for n = 2,000); an expert that only such weights reach gets a gradient below ``1e-12`` of
the others', under weight decay's term and Adam's ``eps``, so its update is the same to float32. Through
the softmax a left-out weight changes its logit's gradient by at most ``2 z_k |<dL/dout, f_k>|`` (the
test bounds it so), and the assignment layer receives that divided by the temperature: below ``2^-39 /
tau`` of the others, and a weight between exact zero and 2^-40 needs two logits within ``87 tau`` of each
other, rarer the colder the softmax. What it buys: the annealed Gumbel-softmax's weights reach this size
(``(l_k - l_max) / tau < -27.7``) at three times the temperature at which they underflow to exact zeros
(``-87.3`` with subnormals flushed), so the one-hot (sparse) phase of a 100-epoch run starts about five
epochs earlier."""
EXPERT_OVERHEAD = 400.0
"""What one bucket of :func:`sparse_mixture` costs beyond its rows, in (entity, expert) rows."""


class DenseMixture(torch.autograd.Function):
    """``sum_k z_k (relu(s W1_k + b1_k) W2_k + b2_k)`` for all experts at once, with a hand-written backward.

    The two big products are one (n x K*h) @ (K*h x d_t) GEMM each way; the backward is written out
    so that the element-wise work on the (n x K*h) hidden activations takes as few passes over
    memory as possible (autograd would add several more): the hidden bias rides in the first product
    as a column of ones (no pass to copy it in), the weighting by ``z`` is done in place, and only the
    weighted activations are kept for the backward. There ``z_k relu(.) > 0`` exactly where the ReLU
    passes a gradient and ``z_k > 0``, and ``dL/dz_k`` is ``<dL/d(z_k hidden_k), z_k hidden_k> / z_k``;
    for ``z_k = 0`` (an underflowed weight) that gradient is returned as 0 instead of
    ``<dL/dout, f_k(s)>``, as :func:`sparse_mixture` does for negligible weights: through the softmax that
    made ``z``, a zero weight passes zero to its logit either way. Checked against a loop over experts and
    with ``gradcheck`` in the tests. Arguments: ``student`` (n, d_s), ``z`` (n, K), ``w1`` (d_s, K*h),
    ``b1`` (K*h,), ``w2`` (K*h, d_t), ``b2`` (K, d_t).
    """

    @staticmethod
    def forward(ctx, student, z, w1, b1, w2, b2):
        n, k = z.shape
        s1 = torch.cat([student, student.new_ones(n, 1)], 1)                    # [s, 1]
        weighted = s1 @ torch.cat([w1, b1.unsqueeze(0)])                       # s W1 + b1, (n, K*h)
        weighted.clamp_min_(0).view(n, k, -1).mul_(z.unsqueeze(-1))              # z_k * relu(.), in place
        ctx.save_for_backward(s1, z, w1, w2, b2, weighted)
        return torch.addmm(z @ b2, weighted, w2)

    @staticmethod
    def backward(ctx, grad_out):
        s1, z, w1, w2, b2, weighted = ctx.saved_tensors
        n, k = z.shape
        need = ctx.needs_input_grad
        grad_s = grad_z = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
        if need[4]:
            grad_w2 = weighted.T @ grad_out
        if need[5]:
            grad_b2 = z.T @ grad_out
        if need[0] or need[1] or need[2] or need[3]:
            # dL/d(z_k hidden_k); against a contiguous copy of w2.T: the transposed operand runs at half the
            # speed in this product's shape (measured: 2,000 x 200 @ 200 x 3,300, 2 threads)
            grad_weighted = (grad_out @ w2.T.contiguous()).view(n, k, -1)
            if need[1]:
                scaled = torch.einsum("nkh,nkh->nk", grad_weighted, weighted.view(n, k, -1))   # z_k <., hidden_k>
                grad_z = torch.where(z > 0, scaled / z, 0.0) + grad_out @ b2.T
            grad_hidden = grad_weighted.mul_(z.unsqueeze(-1)).view(n, -1)
            torch.ops.aten.threshold_backward.grad_input(grad_hidden, weighted, 0, grad_input=grad_hidden)  # relu'
            if need[0]:
                grad_s = grad_hidden @ w1.T
            if need[2] or need[3]:
                grad_w1b1 = s1.T @ grad_hidden                                     # [dL/dW1; dL/db1]
                grad_w1, grad_b1 = grad_w1b1[:-1], grad_w1b1[-1]
        return grad_s, grad_z, grad_w1, grad_b1, grad_w2, grad_b2


class SparseMixture(torch.autograd.Function):
    """``sum_k z_k f_k(s)`` over the listed (entity, expert) pairs only, with a hand-written backward.

    Arguments: ``student`` (n, d_s), ``z`` (n, K), the stacked expert weights ``w1`` (d_s, K, h),
    ``b1`` (K, h), ``w2`` (K, h, d_t), ``b2`` (K, d_t), and ``buckets``: a list of ``(rows, members,
    valid)``, the experts (B,) of one padded ``bmm`` and their entities (B, m), padded slots marked
    invalid (each (entity, expert) pair in exactly one slot). The backward reuses each bucket's
    gathered inputs and adds its gradients into one buffer per input (autograd would allocate and
    zero a full-size gradient for every gather of every bucket). Checked against a loop over
    experts and with ``gradcheck`` in the tests.
    """

    @staticmethod
    def forward(ctx, student, z, w1, b1, w2, b2, buckets):
        out = student.new_zeros(student.shape[0], w2.shape[-1])
        saved = []
        for rows, members, valid in buckets:
            flat = members.reshape(-1)
            weight = z[members, rows.unsqueeze(1)] * valid                           # (B, m), padded: 0
            s_block = student.index_select(0, flat).view(*members.shape, -1)
            w1_block, w2_block = _experts(w1, 1, rows).transpose(0, 1), _experts(w2, 0, rows)
            hidden = torch.baddbmm(_experts(b1, 0, rows).unsqueeze(1), s_block, w1_block).clamp_min_(0)
            expert_out = torch.baddbmm(_experts(b2, 0, rows).unsqueeze(1), hidden, w2_block)  # f_k(s)
            out.index_add_(0, flat, (expert_out * weight.unsqueeze(-1)).flatten(0, 1))
            saved.append((s_block, w1_block, w2_block, hidden, expert_out, weight))
        ctx.buckets, ctx.saved, ctx.z_shape = buckets, saved, z.shape
        ctx.save_for_backward(student, w1, w2)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        student, w1, w2 = ctx.saved_tensors
        grad_s = torch.zeros_like(student)
        grad_z = grad_out.new_zeros(ctx.z_shape)
        grad_w1, grad_w2 = torch.zeros_like(w1), torch.zeros_like(w2)
        grad_b1 = grad_w1.new_zeros(w1.shape[1], w1.shape[2])
        grad_b2 = grad_w2.new_zeros(w2.shape[0], w2.shape[2])
        for (rows, members, valid), (s_block, w1_block, w2_block, hidden, expert_out, weight) in zip(ctx.buckets,
                                                                                                  ctx.saved):
            flat = members.reshape(-1)
            grad_b = grad_out.index_select(0, flat).view(*members.shape, -1)         # dL/d out, (B, m, d_t)
            grad_z.index_put_((members, rows.unsqueeze(1).expand_as(members)),
                              (grad_b * expert_out).sum(-1) * valid, accumulate=True)
            grad_f = grad_b.mul_(weight.unsqueeze(-1))                                # dL/d f_k(s)
            grad_b2.index_add_(0, rows, grad_f.sum(1))
            grad_w2.index_add_(0, rows, torch.bmm(hidden.transpose(1, 2), grad_f))
            grad_h = torch.bmm(grad_f, w2_block.transpose(1, 2))
            grad_h = torch.ops.aten.threshold_backward(grad_h, hidden, 0)             # relu'
            grad_b1.index_add_(0, rows, grad_h.sum(1))
            grad_w1.index_add_(1, rows, torch.bmm(s_block.transpose(1, 2), grad_h).transpose(0, 1))
            grad_s.index_add_(0, flat, torch.bmm(grad_h, w1_block.transpose(1, 2)).flatten(0, 1))
        return grad_s, grad_z, grad_w1, grad_b1, grad_w2, grad_b2, None


def _experts(weight: torch.Tensor, dim: int, rows: torch.Tensor) -> torch.Tensor:
    """The experts ``rows`` (ascending) of a stacked weight along ``dim``: a view when they are all of them."""
    if len(rows) == weight.shape[dim] and int(rows[-1]) == len(rows) - 1:
        return weight
    return weight.index_select(dim, rows)


def sparse_mixture(student: torch.Tensor, z: torch.Tensor, nonzero: torch.Tensor, w1: torch.Tensor,
                   b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """The expert mixture over the (entity, expert) pairs marked in ``nonzero`` only, shape (n, d_t).

    ``nonzero`` marks the pairs that count (``z`` not negligible, :data:`NEGLIGIBLE_WEIGHT`); the
    weights are stacked per expert as in :class:`~htd_tutorial.losses.htd.GroupAssignment` (``w1``
    (d_s, K, h), ``b1`` (K, h), ``w2`` (K, h, d_t), ``b2`` (K, d_t)). Experts share padded ``bmm`` calls in the buckets
    :func:`bucket_split` finds cheapest (:data:`EXPERT_OVERHEAD`), so uneven loads (one expert with
    a third of the batch, others with a few entities) waste little work and take few operations.
    """
    with torch.no_grad():
        expert, entity = nonzero.T.nonzero(as_tuple=True)        # sorted by expert, then entity
        buckets = []
        for index, valid in group_buckets(expert, EXPERT_OVERHEAD, square=False):
            rows, order = expert[index[:, 0]].sort()                  # ascending: all experts need no copy
            buckets.append((rows, entity[index[order]], valid[order]))
    return SparseMixture.apply(student, z, w1, b1, w2, b2, buckets)


def bucket_split(sizes: list[int], overhead: float, *, square: bool) -> list[int]:
    """Where to cut ``sizes`` (sorted largest first) into buckets so that the padded work is cheapest.

    A bucket of the groups ``sizes[i:j]`` is padded to its widest group, ``sizes[i]``, and costs
    ``overhead + (j - i) * area(sizes[i])`` with ``area(w) = w * w`` (``square``: similarity blocks)
    or ``w`` (rows through an expert); ``overhead`` is what one bucket's fixed operations cost, in
    the same units of area. Returns the end (exclusive) of each bucket, found by dynamic programming
    over the ``G`` sizes (``G^2 / 2`` cheap steps, vectorised: ``G`` is at most ``2K``).
    """
    area = np.asarray(sizes, dtype=np.float64) ** (2 if square else 1)
    count = len(sizes)
    best = np.zeros(count + 1)
    start = np.zeros(count + 1, dtype=np.int64)
    for end in range(1, count + 1):
        first = np.arange(end)
        cost = best[:end] + overhead + (end - first) * area[:end]
        start[end] = int(np.argmin(cost))
        best[end] = cost[start[end]]
    ends, end = [], count
    while end > 0:
        ends.append(end)
        end = int(start[end])
    return ends[::-1]


def group_buckets(groups: torch.Tensor, overhead: float, *, square: bool):
    """Yield ``(index, valid)`` per bucket: the entities of each group, padded to a common width.

    ``index`` (B, m) holds entity positions (0 where padded), ``valid`` (B, m) marks real slots.
    Groups are sorted from the largest down and cut into the buckets :func:`bucket_split` finds
    cheapest for this ``overhead`` (a bucket's fixed cost, in units of padded area; ``square`` as
    there): many small groups share one bucket, large groups of different sizes do not.
    """
    order = torch.argsort(groups, stable=True)
    _, counts = torch.unique_consecutive(groups[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    sizes = counts.tolist()
    by_size = sorted(range(len(sizes)), key=lambda g: -sizes[g])
    first = 0
    for last in bucket_split([sizes[g] for g in by_size], overhead, square=square):
        width = sizes[by_size[first]]
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
    for index, valid in group_buckets(groups, BLOCK_OVERHEAD, square=True):
        width = index.shape[1]
        rows = index.reshape(-1)
        use_gram = method == "gram" or (method == "auto" and not positive_teacher_pairs_only and width > gram_from)
        if use_gram:
            keep = valid.unsqueeze(-1)
            total = total + gram_topology_distance(_rows(s_hat, rows, index) * keep, _rows(t_hat, rows, index) * keep)
            continue
        s_block = _rows(s_hat, rows, index)
        with torch.no_grad():
            t_block = _rows(t_hat, rows, index)
            t_sim = torch.bmm(t_block, t_block.transpose(1, 2))
            pairs = valid.unsqueeze(2) & valid.unsqueeze(1)
            if positive_teacher_pairs_only:
                pairs &= t_sim > 0
        s_sim = torch.bmm(s_block, s_block.transpose(1, 2))
        total = total + torch.where(pairs, (t_sim - s_sim).square(), 0.0).sum().double()
    return total


def _rows(x: torch.Tensor, rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[index]`` for a 2-D ``index`` of rows, by ``index_select`` (several times faster than indexing here)."""
    return x.index_select(0, rows).view(*index.shape, x.shape[-1])

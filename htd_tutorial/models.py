"""Base recommenders used as teacher and student: BPR matrix factorisation and LightGCN.

Both expose the same small interface, so every distillation method works with either:

- ``embed(users, items)`` -> the user and item embeddings that scores are made of (for LightGCN,
  after graph propagation); distillation losses compare exactly these;
- ``all_embeddings()`` -> the full user and item tables;
- ``score(users)`` -> scores of the given users against every item (dot product).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ._checks import known, positive_int
from .choices import LIGHTGCN_DEPTH, MODEL_KINDS
from .data import Interactions

__all__ = ["Recommender", "BPRMF", "LightGCN", "make_model", "MODEL_KINDS"]



class Recommender(nn.Module):
    """Common interface of the course's base models (a dot-product scorer over embeddings).

    Subclasses implement :meth:`all_embeddings`; :meth:`embed` and :meth:`score` follow from it
    (subclasses may override them for speed).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    n_users: int
    n_items: int
    dim: int

    def all_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full ``(n_users, dim)`` and ``(n_items, dim)`` tables used for scoring."""
        raise NotImplementedError

    def embed(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of the given user and item indices, shapes ``(len(users), dim)``, ``(len(items), dim)``."""
        user_table, item_table = self.all_embeddings()
        return user_table[users], item_table[items]

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` against all items, shape ``(len(users), n_items)``."""
        user_table, item_table = self.all_embeddings()
        return user_table[users] @ item_table.T

    def extra_repr(self) -> str:
        return f"n_users={self.n_users}, n_items={self.n_items}, dim={self.dim}"


class BPRMF(Recommender):
    """Matrix factorisation trained with BPR: ``score(u, i) = <e_u, e_i>`` (Rendle et al., 2009).

    The paper's base model. Embeddings are initialised from N(0, 0.01^2) (std 0.01) as in the
    authors' code. The tables use sparse gradients so an optimizer may update only the rows a batch
    touched (:class:`htd_tutorial.optim.LazyAdam`); the dense paper optimizer densifies them.

    Parameters
    ----------
    n_users, n_items : int
        Table sizes.
    dim : int
        Embedding dimension (teacher 200, students 10-100 in the paper).
    generator : torch.Generator, optional
        Source of the initial values (for seeded, reproducible models).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, *, generator: torch.Generator | None = None):
        super().__init__()
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), positive_int("embedding dimension", dim)
        self.user_emb = nn.Embedding(self.n_users, self.dim, sparse=True)
        self.item_emb = nn.Embedding(self.n_items, self.dim, sparse=True)
        with torch.no_grad():
            for table in (self.user_emb, self.item_emb):
                table.weight.copy_(torch.randn(table.weight.shape, generator=generator) * 0.01)

    def all_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb.weight, self.item_emb.weight

    def embed(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb(users), self.item_emb(items)


def normalized_adjacency(data: Interactions) -> torch.Tensor:
    """Symmetrically normalised user-item graph ``D^-1/2 A D^-1/2`` as a coalesced sparse COO tensor.

    Nodes are users ``0..n_users-1`` followed by items; edges are the training interactions
    (both directions). Introduced in ``notebooks/04_analysis.ipynb``.
    """
    n = data.n_users + data.n_items
    u = torch.tensor(data.train[:, 0])
    i = torch.tensor(data.train[:, 1]) + data.n_users
    rows = torch.cat([u, i])
    cols = torch.cat([i, u])
    deg = torch.bincount(rows, minlength=n).float()
    inv_sqrt = deg.clamp(min=1).pow(-0.5)
    vals = inv_sqrt[rows] * inv_sqrt[cols]
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (n, n), check_invariants=True).coalesce()


#: Column block of LightGCN's propagation: an embedding wider than this is propagated through every
#: layer one block of columns at a time (the columns never mix in ``Â x``), so each block's layers stay
#: in the processor's cache. On CiteULike, one thread, one ``Â x`` with the CSR copy took 6.5 ms at
#: width 20, 18 ms at 64 and 90 ms at 200 (COO: 81 ms), while five blocks of 40 took 32 ms together
#: (``benchmarks/bench_lightgcn.py`` times the whole propagation, forward and backward). Narrower than two
#: blocks, the embedding goes through whole: at width 20, blocks of 16 and 4 made a LightGCN epoch 1.28x
#: slower than one product (2.94 s against 2.30 s, ``benchmarks/bench_commits.py``, 2026-12-07).
PROPAGATION_BLOCK = 16


class _LayerMean(torch.autograd.Function):
    """``(x + Â x + Â² x + ... + Â^L x) / (L + 1)`` for a symmetric sparse ``Â`` (CSR), in one step.

    The backward needs no stored layer: since ``Âᵀ = Â`` the gradient is ``(I + Â + ... + Â^L) g / (L + 1)``,
    computed as ``g' + Â (g' + Â (... + Â g'))`` with ``g' = g / (L + 1)``: the same products and sums,
    in the same order, as autograd's backward of the layer-by-layer loop, so the numbers are those of
    that loop (``tests/library/test_training.py``). Columns are propagated in blocks of
    :data:`PROPAGATION_BLOCK` (they never mix), which keeps each block's layers in the cache.
    """

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor, n_layers: int) -> torch.Tensor:
        ctx.adjacency, ctx.n_layers = adjacency, n_layers   # constants, never differentiated
        return _blockwise(x, lambda block: _layer_mean(adjacency, block, n_layers))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        adjacency, n_layers = ctx.adjacency, ctx.n_layers
        return None, _blockwise(grad, lambda block: _layer_mean_grad(adjacency, block, n_layers)), None


def _blockwise(x: torch.Tensor, propagate) -> torch.Tensor:
    """``propagate`` applied to blocks of :data:`PROPAGATION_BLOCK` columns of ``x``, put back together
    (``x`` whole when it is narrower than two blocks)."""
    if x.shape[1] < 2 * PROPAGATION_BLOCK:
        return propagate(x.contiguous())   # (a broadcast gradient has stride 0)
    return torch.cat([propagate(block.contiguous()) for block in x.split(PROPAGATION_BLOCK, dim=1)], dim=1)


def _layer_mean(adjacency: torch.Tensor, x: torch.Tensor, n_layers: int) -> torch.Tensor:
    total = layer = x
    for _ in range(n_layers):
        layer = adjacency @ layer
        total = total + layer
    return total / (n_layers + 1)


def _layer_mean_grad(adjacency: torch.Tensor, grad: torch.Tensor, n_layers: int) -> torch.Tensor:
    scaled = grad / (n_layers + 1)
    total = scaled
    for _ in range(n_layers):
        total = scaled + adjacency @ total
    return total


class LightGCN(Recommender):
    """LightGCN (He et al., SIGIR 2020): embeddings smoothed over the user-item graph.

    ``E^(l+1) = Â E^(l)`` with the normalised adjacency ``Â``; the final embedding is the mean of
    layers ``0..n_layers``. Scores are dot products of final embeddings, so distillation losses see
    the propagated embeddings. The topology-distillation paper's figures use it as a second base model.

    Parameters
    ----------
    data : Interactions
        Its training pairs define the graph.
    dim : int
        Embedding dimension.
    n_layers : int
        Propagation depth (3 in the LightGCN paper).
    generator : torch.Generator, optional
        Source of the initial values.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """

    def __init__(self, data: Interactions, dim: int, *, n_layers: int = 3,
                 generator: torch.Generator | None = None):
        super().__init__()
        if n_layers < 0:
            raise ValueError(f"n_layers must be >= 0, got {n_layers}")
        self.n_users, self.n_items, self.dim = data.n_users, data.n_items, positive_int("embedding dimension", dim)
        self.n_layers = int(n_layers)
        self.user_weight = nn.Parameter(torch.randn(self.n_users, self.dim, generator=generator) * 0.01)
        self.item_weight = nn.Parameter(torch.randn(self.n_items, self.dim, generator=generator) * 0.01)
        with warnings.catch_warnings():  # torch calls its CSR layout "beta"; Â @ x is all we use of it
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            self.register_buffer("adjacency", normalized_adjacency(data).to_sparse_csr(), persistent=False)

    def all_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        final = _LayerMean.apply(self.adjacency, torch.cat([self.user_weight, self.item_weight]), self.n_layers)
        return final[: self.n_users], final[self.n_users:]


def make_model(kind: str, data: Interactions, dim: int, *, seed: int = 0, depth: int | None = None) -> Recommender:
    """Build a seeded base model of the given kind (``"bpr"`` or ``"lightgcn"``) for ``data``; ``depth`` is
    LightGCN's number of layers (None: :data:`~htd_tutorial.choices.LIGHTGCN_DEPTH`; BPR takes none).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    known("model kind", kind, MODEL_KINDS)
    generator = torch.Generator().manual_seed(int(seed))
    if kind == "bpr":
        if depth is not None:
            raise ValueError(f"depth is LightGCN's number of layers; a BPR model has none (got depth={depth!r})")
        return BPRMF(data.n_users, data.n_items, dim, generator=generator)
    return LightGCN(data, dim, n_layers=LIGHTGCN_DEPTH if depth is None else depth, generator=generator)

"""Hierarchical Topology Distillation (HTD): groups first, then relations inside and between groups.

Kang, Hwang, Kweon, Yu, *Topology Distillation for Recommender System*, KDD 2021 (arXiv:2106.08700),
Section 4.2 "Hierarchical Topology Distillation". HTD runs separately for users and for items:

1. **Group assignment** (the paper's adaptive group assignment; it is the "DE" reconstruction of
   Kang et al., CIKM 2020). A linear layer on the teacher embedding gives the group probabilities
   ``alpha = softmax(W t_e + b)`` in R^K; a Gumbel-softmax sample ``z = softmax((log(alpha + 1e-10)
   + g) / tau)`` picks an expert; K expert MLPs ``f_k: d_s -> (d_s + d_t)//2 -> d_t`` (ReLU) map the
   student embedding into the teacher space, and ``L_GA = sum_e ||t_e - sum_k z_k f_k(s_e)||^2``.
   ``tau`` is annealed from 1 towards 1e-10 over training (:func:`gumbel_temperature`).
2. **Hard groups**: ``argmax_k alpha`` (no noise). User groups and item groups are distinct
   (item group k is numbered ``K + k``, see :func:`joint_groups`), so there are 2K groups.
3. **Prototypes**: the mean teacher and the mean student embedding of each group present in the batch.
4. **Entity-level topology**: the FTD term restricted to pairs of entities in the same group.
5. **Group-level topology**, two design choices: ``"PP"`` (relations among the prototypes) and
   ``"Pe"`` (relations between prototypes and entities; the paper's default).
6. ``L_HTD = gamma * (L_entity + L_group) + (1 - gamma) * L_GA``; the student minimises
   ``L_BPR + lambda * L_HTD`` (defaults K = 30, lambda = 1e-3, gamma = 0.5, "Pe").

The authors' code and the paper's text differ in a few places. :class:`HTDOptions` names each
difference as one switch, so an ablation can flip them one at a time (:meth:`HTDOptions.ablation`);
``HTDOptions.preset("authors")`` reproduces the authors' code (github.com/SeongKu-Kang/
Topology_Distillation_KDD21, ``model.py`` and ``run.py``), ``HTDOptions.preset("clean")`` is our
reading of the paper (as the project's methods issue summarises it):

- prototypes carry gradients (they are defined as group means of the student's representations;
  nothing in the definition makes them constants);
- the entity level uses the plain same-group mask (the authors' extra ``teacher similarity > 0``
  filter is not in the paper's definition);
- cosine similarity with an epsilon guard;
- the group level runs per entity type, as HTD is presented separately for users and items:
  user prototypes relate to users and user prototypes, item prototypes to items and item
  prototypes (the authors put both types in one set, so a user prototype is also compared with
  items);
- ``"Pe"`` relates each prototype to the entities *outside* its group: the relations inside a
  group are already the entity level's job. The authors' code compares every prototype with
  every entity, including its own members, but keeps, commented out next to it, a variant that
  multiplies the (prototype, entity) similarities by ``1 - membership``, i.e. exactly this mask;
  we take that line as the authors' own statement of the definition. (The paper's PDF could not
  be opened from the environment this was written in; this reading should be re-checked against
  its Section 4.2 by whoever has it at hand.)

The presets' values are the table of :mod:`htd_tutorial.modes`: the mode is a library-wide
setting, and two of these switches (``eps``, ``tau_lag``) also reach FTD and DE.

The file follows the section: options, the temperature, group assignment (:class:`GroupAssignment`),
hard groups (:func:`joint_groups`), the entity level (:func:`entity_topology`), the group level
(:func:`group_level_topology`) and :class:`HTDLoss`, each formula with its naive twin
(``*_naive``: the straightforward formula the tests compare against).

Speed lives in :mod:`htd_tutorial.losses._fast`: the K experts run as one matrix product over
stacked weights, or, once the annealed Gumbel-softmax is (numerically) one-hot, over only the
(entity, expert) pairs with non-zero weight; the entity-level term never builds the n x n matrix
(entities are sorted by group and per-group blocks computed with a few padded ``bmm`` calls, or with
the Gram identity of :mod:`htd_tutorial.losses.ftd`). All of it is exact, values and gradients.

Section names are the paper's; equation numbers are not given because they could not be checked
against the PDF here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import integer, one_of, positive_int
from ..config import HTDOptions
from ..choices import DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K, DEFAULT_MODE, GROUP_TOPOLOGIES, HTD_MODES
from ..modes import CLEAN_EPS
from ._fast import NEGLIGIBLE_WEIGHT, DenseMixture, same_group_distance, sparse_mixture
from .ftd import _check_pair, _check_rows, cosine_normalize, cosine_similarity_matrix

__all__ = [
    "HTD_MODES", "GROUP_TOPOLOGIES", "HTDOptions", "gumbel_temperature", "GroupAssignment", "HTDLoss",
    "expert_mixture_naive", "joint_groups", "is_item_group", "entity_topology", "entity_topology_naive",
    "group_prototypes", "group_level_topology", "group_level_topology_naive",
]

ALPHA_EPS = 1e-10
"""Added to alpha before the log in the Gumbel-softmax, as in the paper."""
TAU_END = 1e-10
"""Final Gumbel-softmax temperature of the annealing schedule."""
# CLEAN_EPS (the clean mode's cosine guard) is imported from htd_tutorial.modes, its home.


# ----------------------------------------------------------------------------------------------
# Options: the authors' code vs the paper's text
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# Group assignment (L_GA) and its temperature
# ----------------------------------------------------------------------------------------------

def gumbel_temperature(epoch: int, max_epoch: int, *, lag: bool = False, end: float = TAU_END) -> float:
    """Annealed Gumbel-softmax temperature ``tau = end ** (epoch / max_epoch)`` (1 at epoch 0).

    Parameters
    ----------
    epoch : int
        0-based epoch index.
    max_epoch : int
        Number of epochs of the run (> 0).
    lag : bool
        Use the previous epoch's value (the authors' loop updates tau at the end of each epoch, so
        epoch e runs with the value for e - 1 and epochs 0 and 1 both use 1).
    end : float
        Final temperature, 1e-10 as in the authors' code.

    Returns
    -------
    float
        In ``[end, 1]``.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    max_epoch, epoch = positive_int("max_epoch", max_epoch), integer("epoch", epoch, low=0)
    if not 0 < end <= 1:
        raise ValueError(f"end temperature must be in (0, 1], got {end!r}")
    step = max(epoch - 1, 0) if lag else epoch
    return max(end ** (step / max_epoch), end)


def _check_batch(student: torch.Tensor, teacher: torch.Tensor, *, what: str = "", student_dim: int | None = None,
                 teacher_dim: int | None = None, groups: torch.Tensor | None = None) -> None:
    """Raise ValueError naming the problem unless the shapes fit together (see :func:`~.ftd._check_pair`).

    Student and teacher must be 2-D with the same rows; their widths must be ``student_dim`` and
    ``teacher_dim`` when given (the sizes a module was built for), and ``groups`` must hold one
    group per row. Only shapes are read, so the check costs nothing per training step.
    """
    _check_pair(student, teacher, what)
    for name, x, dim in (("student_dim", student, student_dim), ("teacher_dim", teacher, teacher_dim)):
        if dim is not None and x.shape[1] != dim:
            raise ValueError(f"{what}{name.split('_')[0]} embeddings have dimension {x.shape[1]}, but this module "
                             f"was built for {name}={dim}")
    if groups is not None and tuple(groups.shape) != (student.shape[0],):
        raise ValueError(f"{what}groups must hold one group per entity, shape ({student.shape[0]},), got "
                         f"{tuple(groups.shape)}")


def _uniform_(tensor: torch.Tensor, fan_in: int, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` like ``nn.Linear``'s default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * (2 * bound) - bound)


class GroupAssignment(nn.Module):
    """Group assignment + K experts for one entity type (users or items): the L_GA term.

    Parameters
    ----------
    teacher_dim, student_dim : int
        d_t and d_s.
    K : int
        Number of groups (= experts).
    generator : torch.Generator, optional
        Source of the initial weights (default: torch's global generator). Initialisation follows
        ``nn.Linear``: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.

    Parameters of the module
    ------------------------
    assign_weight (K, d_t), assign_bias (K,) : the group-assignment layer ``alpha = softmax(W t + b)``.
    w1 (d_s, K, h), b1 (K, h), w2 (K, h, d_t), b2 (K, d_t) : the K experts stacked, h = (d_s+d_t)//2.

    Introduced in ``notebooks/03_htd.ipynb``.
    """

    def __init__(self, teacher_dim: int, student_dim: int, K: int, *, generator: torch.Generator | None = None):
        super().__init__()
        # trusted: checked once where they were chosen (RunConfig, or HTDLoss/DELoss's caller)
        self.teacher_dim, self.student_dim, self.K = int(teacher_dim), int(student_dim), int(K)
        self.hidden_dim = (self.student_dim + self.teacher_dim) // 2
        d_s, d_t, h, k = self.student_dim, self.teacher_dim, self.hidden_dim, self.K
        self.assign_weight = nn.Parameter(torch.empty(k, d_t))
        self.assign_bias = nn.Parameter(torch.empty(k))
        self.w1 = nn.Parameter(torch.empty(d_s, k, h))
        self.b1 = nn.Parameter(torch.empty(k, h))
        self.w2 = nn.Parameter(torch.empty(k, h, d_t))
        self.b2 = nn.Parameter(torch.empty(k, d_t))
        for param, fan_in in ((self.assign_weight, d_t), (self.assign_bias, d_t), (self.w1, d_s),
                              (self.b1, d_s), (self.w2, h), (self.b2, h)):
            _uniform_(param, fan_in, generator)

    def extra_repr(self) -> str:
        return (f"K={self.K}, experts: {self.student_dim} -> {self.hidden_dim} -> {self.teacher_dim}, "
                f"assignment: {self.teacher_dim} -> {self.K}")

    def alpha(self, teacher: torch.Tensor) -> torch.Tensor:
        """Group probabilities ``softmax(W t + b)``, shape (n, K)."""
        return torch.softmax(F.linear(teacher, self.assign_weight, self.assign_bias), dim=-1)

    @torch.no_grad()
    def hard_groups(self, teacher: torch.Tensor, *, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """Each entity's group ``argmax_k alpha_k`` (no Gumbel noise), LongTensor (n,), in [0, K).

        ``alpha``: precomputed ``self.alpha(teacher)`` (saves recomputing it).
        """
        return (self.alpha(teacher) if alpha is None else alpha).argmax(dim=-1)

    @staticmethod
    def sample_z(alpha: torch.Tensor, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """Gumbel-softmax sample ``softmax((log(alpha + 1e-10) + g) / tau)``, g ~ Gumbel(0, 1).

        The noise comes from ``generator`` if given, else from torch's global generator (which the
        trainer seeds), so runs are reproducible.
        """
        if not tau > 0:
            raise ValueError(f"temperature must be > 0, got {tau!r}")
        gumbel = -torch.empty_like(alpha).exponential_(generator=generator).log()
        return torch.softmax(((alpha + ALPHA_EPS).log() + gumbel) / tau, dim=-1)

    def expert_outputs(self, student: torch.Tensor) -> torch.Tensor:
        """Every expert applied to every entity, shape (n, K, d_t) (for inspection and tests)."""
        n = student.shape[0]
        hidden = torch.relu(student @ self.w1.reshape(self.student_dim, -1) + self.b1.reshape(-1))
        hidden = hidden.view(n, self.K, self.hidden_dim)
        return torch.einsum("nkh,khd->nkd", hidden, self.w2) + self.b2

    def mixture(self, student: torch.Tensor, z: torch.Tensor, *, path: str = "auto") -> torch.Tensor:
        """``sum_k z_k f_k(s)``, shape (n, d_t), all experts in one batched operation.

        Parameters
        ----------
        student : Tensor (n, d_s)
        z : Tensor (n, K)
            Expert weights (rows of a Gumbel-softmax sample).
        path : {"auto", "dense", "sparse"}
            ``"dense"``: one (n x K*h) @ (K*h x d_t) product over all (entity, expert) pairs
            (:class:`~._fast.DenseMixture`).
            ``"sparse"``: padded ``bmm`` over the pairs whose weight is not negligible only
            (``z_k >= 2^-40 max_j z_j``, :data:`~._fast.NEGLIGIBLE_WEIGHT`), experts of similar
            load batched together (:func:`~._fast.sparse_mixture`). The same in float32 for the
            value and for every gradient upstream of a softmax that produced ``z`` (the student,
            the experts, the assignment layer): a weight that small passes a gradient that small
            through the softmax. Only the gradient w.r.t. ``z`` itself differs there (0 instead of
            ``<dL/dout, f_k(s)>``). ``"auto"`` picks
            sparse when under half of the (entity, expert) pairs count (measured crossover
            on MovieLens-100K and CiteULike shapes, one and two threads; the annealed
            Gumbel-softmax is numerically one-hot after about a tenth of the epochs).
        """
        one_of("path", path, ("auto", "dense", "sparse"))
        n = student.shape[0]
        if n == 0:
            return student.new_zeros(0, self.teacher_dim)
        if path != "dense":
            with torch.no_grad():
                nonzero = z >= z.amax(1, keepdim=True) * NEGLIGIBLE_WEIGHT
                pairs = int(nonzero.sum())
            if path == "sparse" or 2 * pairs < n * self.K:
                return sparse_mixture(student, z, nonzero, self.w1, self.b1, self.w2, self.b2)
        return DenseMixture.apply(student, z, self.w1.reshape(self.student_dim, -1), self.b1.reshape(-1),
                                  self.w2.reshape(-1, self.teacher_dim), self.b2)

    def reconstruction_loss(self, student: torch.Tensor, teacher: torch.Tensor, tau: float, *,
                            alpha: torch.Tensor | None = None, generator: torch.Generator | None = None,
                            path: str = "auto") -> torch.Tensor:
        """``L_GA = sum_e ||t_e - sum_k z_k f_k(s_e)||^2`` (paper Sec. 4.2, adaptive group assignment).

        Parameters
        ----------
        student : Tensor (n, d_s)
        teacher : Tensor (n, d_t)
            Constants (no gradient reaches the teacher).
        tau : float
            Gumbel-softmax temperature.
        alpha : Tensor (n, K), optional
            Precomputed ``self.alpha(teacher)`` (saves recomputing it).
        generator : torch.Generator, optional
            Gumbel noise source (default: torch's global generator).
        path : str
            See :meth:`mixture`.
        """
        _check_batch(student, teacher, student_dim=self.student_dim, teacher_dim=self.teacher_dim)
        teacher = teacher.detach()
        if alpha is None:
            alpha = self.alpha(teacher)
        z = self.sample_z(alpha, tau, generator)
        return (teacher - self.mixture(student, z, path=path)).square().sum()

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, tau: float, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
        return self.reconstruction_loss(student, teacher, tau, generator=generator)


def expert_mixture_naive(module: GroupAssignment, student: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Reference ``sum_k z_k f_k(s)`` with a Python loop over the experts, one ``nn.Linear`` pair each.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    out = student.new_zeros(student.shape[0], module.teacher_dim)
    for k in range(module.K):
        hidden = torch.relu(F.linear(student, module.w1[:, k, :].T, module.b1[k]))
        out = out + z[:, k:k + 1] * F.linear(hidden, module.w2[k].T, module.b2[k])
    return out


# ----------------------------------------------------------------------------------------------
# Hard groups: users' and items' groups in one numbering
# ----------------------------------------------------------------------------------------------

def joint_groups(user_groups: torch.Tensor, item_groups: torch.Tensor, K: int) -> torch.Tensor:
    """Users' and items' hard groups in one numbering: user group k is ``k``, item group k is ``K + k``.

    The convention that keeps the two entity types' groups apart (2K groups in all), written once;
    :func:`is_item_group` reads it back. Returns the users' groups then the items', LongTensor
    (n_u + n_i,).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return torch.cat([user_groups, item_groups + K])


def is_item_group(groups: torch.Tensor, K: int) -> torch.Tensor:
    """Which groups of :func:`joint_groups`'s numbering are item groups (BoolTensor, same shape)."""
    return groups >= K


# ----------------------------------------------------------------------------------------------
# Entity-level topology
# ----------------------------------------------------------------------------------------------

def entity_topology(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor, *,
                    positive_teacher_pairs_only: bool = True, eps: float = 0.0,
                    method: str = "auto") -> torch.Tensor:
    """Entity-level topology: the FTD term over same-group pairs only (paper Sec. 4.2).

    ``sum_{i, j: g_i = g_j} (rho(t_i, t_j) - rho(s_i, s_j))^2`` (diagonal included, where it is 0),
    optionally only over pairs with ``rho(t_i, t_j) > 0`` (the authors' code).

    Parameters
    ----------
    student : Tensor (n, d_s)
    teacher : Tensor (n, d_t)
    groups : LongTensor (n,)
        Hard group of each entity (users' and items' numbered apart, :func:`joint_groups`).
    positive_teacher_pairs_only : bool
        See :class:`HTDOptions`.
    eps : float
        Cosine guard.
    method : {"auto", "blocks", "gram"}
        How :func:`~._fast.same_group_distance` computes it. ``"blocks"``: per-group similarity
        blocks (padded ``bmm``), works with either mask.
        ``"gram"``: per-group Gram identity in float64 (needs ``positive_teacher_pairs_only=False``).
        ``"auto"``: Gram for groups wider than 2 (d_s + d_t) when allowed, blocks otherwise.

    Returns
    -------
    Tensor
        Scalar in ``student.dtype``.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    one_of("method", method, ("auto", "blocks", "gram"))
    _check_batch(student, teacher, groups=groups)
    if method == "gram" and positive_teacher_pairs_only:
        raise ValueError("the Gram identity cannot apply the element-wise teacher mask; "
                         "use method='blocks' with positive_teacher_pairs_only=True")
    with torch.no_grad():
        t_hat = cosine_normalize(teacher.detach(), eps)
    s_hat = cosine_normalize(student, eps)
    total = same_group_distance(s_hat, t_hat, groups, positive_teacher_pairs_only=positive_teacher_pairs_only,
                                method=method)
    return total.to(student.dtype)


def entity_topology_naive(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor, *,
                          positive_teacher_pairs_only: bool = True, eps: float = 0.0) -> torch.Tensor:
    """Reference entity-level term with the full n x n matrices and an element-wise mask.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    with torch.no_grad():
        t_sim = cosine_similarity_matrix(teacher.detach(), eps=eps)
    s_sim = cosine_similarity_matrix(student, eps=eps)
    mask = (groups.unsqueeze(0) == groups.unsqueeze(1))
    if positive_teacher_pairs_only:
        mask = mask & (t_sim * mask > 0)
    return ((t_sim - s_sim).square() * mask).sum()


# ----------------------------------------------------------------------------------------------
# Group-level topology
# ----------------------------------------------------------------------------------------------

def group_prototypes(embeddings: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean embedding of each group present: ``(present_groups (G,), prototypes (G, d))``.

    Differentiable in ``embeddings`` (detach the input to stop gradients, as the authors do).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    present, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    sums = embeddings.new_zeros(len(present), embeddings.shape[1]).index_add(0, inverse, embeddings)
    return present, sums / counts.unsqueeze(1).to(embeddings.dtype)


def group_level_topology(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor, is_item: torch.Tensor,
                         *, group_topology: str = DEFAULT_GROUP_TOPOLOGY, proto_grad: bool = False,
                         mask_pe: bool = False, same_type_only: bool = False, eps: float = 0.0) -> torch.Tensor:
    """Group-level topology (paper Sec. 4.2), ``"PP"`` or ``"Pe"``.

    ``"PP"``: ``sum_{p, q} (rho(P^t_p, P^t_q) - rho(P^s_p, P^s_q))^2`` over the prototypes present.
    ``"Pe"``: ``sum_{p, e} (rho(P^t_p, t_e) - rho(P^s_p, s_e))^2`` over prototypes p and batch
    entities e; with ``mask_pe`` only entities outside group p, with ``same_type_only`` only
    prototypes and entities of the same type (see :class:`HTDOptions`).

    Parameters
    ----------
    student, teacher : Tensor (n, d_s), (n, d_t)
    groups : LongTensor (n,)
        Hard groups (users' and items' numbered apart, :func:`joint_groups`).
    is_item : BoolTensor (n,)
        Entity type (a group's type is its members' type; :func:`is_item_group` of ``groups``).
    group_topology : {"Pe", "PP"}
        The group-level design (the setting of the same name of :class:`HTDLoss` and ``RunConfig``).
    proto_grad, mask_pe, same_type_only, eps
        See :class:`HTDOptions`.

    Returns
    -------
    Tensor
        Scalar in ``student.dtype``. With ``group_topology="PP"`` and ``proto_grad=False`` it carries no
        gradient (it is a constant for the student).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    one_of("group_topology", group_topology, GROUP_TOPOLOGIES)
    _check_batch(student, teacher, groups=groups)
    with torch.no_grad():
        teacher = teacher.detach()
        present, proto_t = group_prototypes(teacher, groups)
        group_is_item = torch.zeros(len(present), dtype=torch.bool, device=groups.device)
        group_is_item[torch.searchsorted(present, groups)] = is_item
        proto_t_hat = cosine_normalize(proto_t, eps)
    if proto_grad:
        proto_s = group_prototypes(student, groups)[1]
    else:
        with torch.no_grad():
            proto_s = group_prototypes(student.detach(), groups)[1]
    proto_s_hat = cosine_normalize(proto_s, eps)
    mask = None
    if group_topology == "PP":
        with torch.no_grad():
            t_sim = proto_t_hat @ proto_t_hat.T
            if same_type_only:
                mask = group_is_item.unsqueeze(1) == group_is_item.unsqueeze(0)
        s_sim = proto_s_hat @ proto_s_hat.T
    else:
        with torch.no_grad():
            t_sim = proto_t_hat @ cosine_normalize(teacher, eps).T
            if mask_pe:
                mask = present.unsqueeze(1) != groups.unsqueeze(0)
            if same_type_only:
                same = group_is_item.unsqueeze(1) == is_item.unsqueeze(0)
                mask = same if mask is None else mask & same
        s_sim = proto_s_hat @ cosine_normalize(student, eps).T
    diff = (t_sim - s_sim).square()
    return diff.sum() if mask is None else torch.where(mask, diff, 0.0).sum()


def group_level_topology_naive(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor,
                               is_item: torch.Tensor, *, group_topology: str = DEFAULT_GROUP_TOPOLOGY,
                               proto_grad: bool = False, mask_pe: bool = False, same_type_only: bool = False,
                               eps: float = 0.0) -> torch.Tensor:
    """Reference group-level term: prototypes and masks built with explicit Python loops.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    one_of("group_topology", group_topology, GROUP_TOPOLOGIES)
    labels = sorted(set(groups.tolist()))
    members = [[e for e in range(len(groups)) if int(groups[e]) == g] for g in labels]
    source = student if proto_grad else student.detach()
    proto_t = torch.stack([teacher.detach()[m].mean(0) for m in members])
    proto_s = torch.stack([source[m].mean(0) for m in members])
    types = [bool(is_item[m[0]]) for m in members]
    if group_topology == "PP":
        t_sim = cosine_similarity_matrix(proto_t, eps=eps)
        s_sim = cosine_similarity_matrix(proto_s, eps=eps)
        mask = torch.tensor([[not same_type_only or types[p] == types[q] for q in range(len(labels))]
                             for p in range(len(labels))], device=t_sim.device)
    else:
        t_sim = cosine_similarity_matrix(proto_t, teacher.detach(), eps=eps)
        s_sim = cosine_similarity_matrix(proto_s, student, eps=eps)
        mask = torch.tensor([[(not mask_pe or int(groups[e]) != labels[p])
                              and (not same_type_only or types[p] == bool(is_item[e]))
                              for e in range(len(groups))] for p in range(len(labels))], device=t_sim.device)
    return ((t_sim - s_sim).square() * mask).sum()


# ----------------------------------------------------------------------------------------------
# HTD
# ----------------------------------------------------------------------------------------------

class HTDLoss(nn.Module):
    """Hierarchical Topology Distillation: ``(student, teacher) -> L_HTD`` and its parts.

    Parameters
    ----------
    teacher_dim, student_dim : int
    K : int
        Groups per entity type (30 in the paper).
    gamma : float
        Weight of the topology terms vs the group-assignment term, in [0, 1] (0.5 in the paper).
    group_topology : {"Pe", "PP"}
        Group-level design choice ("Pe" is the paper's default); kept as the attribute of that name.
    options : HTDOptions
        Authors' code vs paper switches (default: the preset of the default mode, "authors").
    generator : torch.Generator, optional
        Source of the initial weights.

    ``forward`` returns a dict of scalars: ``"htd"`` (L_HTD, differentiable) and ``"entity"``,
    ``"group"``, ``"ga"`` (its parts, differentiable; "ga" summed over users and items). It raises
    ValueError for inputs whose shapes do not fit the module, and, when the result is not finite,
    names the cause: NaN or infinite inputs, or all-zero rows under the plain cosine (``eps = 0``).

    Introduced in ``notebooks/03_htd.ipynb``.
    """

    def __init__(self, teacher_dim: int, student_dim: int, *, K: int = DEFAULT_K, gamma: float = DEFAULT_GAMMA,
                 group_topology: str = DEFAULT_GROUP_TOPOLOGY, options: HTDOptions | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        # K, gamma, the topology and the options are trusted: RunConfig checked them once (a loss built by
        # hand takes them from a parameters cell, which checks its values too)
        self.K, self.gamma, self.group_topology = int(K), float(gamma), group_topology
        self.options = HTDOptions.preset(DEFAULT_MODE) if options is None else options
        self.users = GroupAssignment(teacher_dim, student_dim, K, generator=generator)
        self.items = GroupAssignment(teacher_dim, student_dim, K, generator=generator)

    def extra_repr(self) -> str:
        return f"K={self.K}, gamma={self.gamma}, group_topology={self.group_topology!r}, options={self.options}"

    @torch.no_grad()
    def assignment(self, t_users: torch.Tensor, t_items: torch.Tensor, *,
                   alphas: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Hard groups of users then items, LongTensor (n_u + n_i,): users in [0, K), items in [K, 2K).

        ``alphas``: the users' and items' group probabilities if already computed (``forward`` has them).
        """
        user_alpha, item_alpha = alphas if alphas is not None else (None, None)
        return joint_groups(self.users.hard_groups(t_users, alpha=user_alpha),
                            self.items.hard_groups(t_items, alpha=item_alpha), self.K)

    def entity_topology(self, student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Entity-level term with this module's options (see :func:`entity_topology`)."""
        return entity_topology(student, teacher, groups, eps=self.options.eps,
                               positive_teacher_pairs_only=self.options.positive_teacher_pairs_only)

    def group_level_topology(self, student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor
                             ) -> torch.Tensor:
        """Group-level term with this module's options (see :func:`group_level_topology`)."""
        opts = self.options
        return group_level_topology(student, teacher, groups, is_item_group(groups, self.K),
                                    group_topology=self.group_topology, proto_grad=opts.proto_grad,
                                    mask_pe=opts.mask_pe, same_type_only=opts.same_type_only, eps=opts.eps)

    def forward(self, s_users: torch.Tensor, s_items: torch.Tensor, t_users: torch.Tensor,
                t_items: torch.Tensor, tau: float) -> dict[str, torch.Tensor]:
        for what, s, t in (("users: ", s_users, t_users), ("items: ", s_items, t_items)):
            _check_batch(s, t, what=what, student_dim=self.users.student_dim, teacher_dim=self.users.teacher_dim)
        t_users, t_items = t_users.detach(), t_items.detach()
        zero = s_users.new_zeros(())
        ga, alphas = zero, None
        if self.gamma < 1:
            alphas = (self.users.alpha(t_users), self.items.alpha(t_items))
            ga = (self.users.reconstruction_loss(s_users, t_users, tau, alpha=alphas[0])
                  + self.items.reconstruction_loss(s_items, t_items, tau, alpha=alphas[1]))
        entity = group = zero
        if self.gamma > 0:
            groups = self.assignment(t_users, t_items, alphas=alphas)
            student = torch.cat([s_users, s_items])
            teacher = torch.cat([t_users, t_items])
            entity = self.entity_topology(student, teacher, groups)
            group = self.group_level_topology(student, teacher, groups)
        htd = self.gamma * (entity + group) + (1 - self.gamma) * ga
        if not torch.isfinite(htd.detach()):  # name the cause (inputs are only examined in this case)
            for what, s, t in (("users: ", s_users, t_users), ("items: ", s_items, t_items)):
                _check_rows(s, t, reject_zero_rows=self.gamma > 0 and self.options.eps == 0, what=what)
        return {"htd": htd, "entity": entity, "group": group, "ga": ga}

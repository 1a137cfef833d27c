"""What a d-dimensional student can hold: the least error any d-dimensional embedding reaches on FTD's and HTD's targets.

FTD asks a student to copy the teacher's cosine-similarity matrix of a batch's n entities,
``T = T_hat T_hat^T`` (rows of ``T_hat``: the unit teacher embeddings, users and items in one set, see
:mod:`htd_tutorial.losses.ftd`); its loss is ``L_FTD = ||T - S||_F^2`` with ``S`` the student's matrix.
Whatever the training, ``S = S_hat S_hat^T`` with ``S_hat`` an (n x d) table of unit rows: ``S`` is
positive semi-definite, of rank at most d, with a unit diagonal, so its eigenvalues ``mu_1..mu_d >= 0``
(the rest 0) sum to ``trace(S) = n``. Two classical facts bound ``||T - S||_F`` from below:

1. *Eckart-Young-Mirsky*: among all matrices of rank at most d, the closest to ``T`` is its spectral
   truncation to the d largest eigenvalues (T is positive semi-definite, so they are its singular
   values), with error ``sum_{i > d} lambda_i^2`` (:func:`truncation_error`).
2. *Hoffman-Wielandt*: for symmetric T and S, ``||T - S||_F^2 >= sum_i (lambda_i - mu_i)^2`` with both
   spectra sorted. With ``mu_{i > d} = 0`` this is ``sum_{i <= d} (lambda_i - mu_i)^2 + sum_{i > d}
   lambda_i^2``, and since ``sum_{i <= d} (mu_i - lambda_i) = n - sum_{i <= d} lambda_i =: r`` (the unit
   diagonal), Cauchy-Schwarz gives ``sum_{i <= d} (lambda_i - mu_i)^2 >= r^2 / d``. So

       L_FTD(any d-dimensional student) >= sum_{i > d} lambda_i^2 + r^2 / d         (the *floor*,
                                                                                  :func:`cosine_floor`)

   The second term is what a unit diagonal costs: n unit vectors in d dimensions cannot all be nearly
   orthogonal (``||S||_F^2 >= n^2 / d``), while a 200-dimensional teacher's mostly are. The floor is
   reached when some cosine matrix of n unit vectors in d dimensions has T's d leading eigenvectors,
   with eigenvalues ``lambda_i + r / d`` (T = the identity and a unit-norm tight frame, e.g.); in
   general it is a lower bound only. (A student row of zeros, possible only with a cosine guard
   ``eps > 0``, would leave a zero on S's diagonal: the floor is for students without one.) How close it is,
   is measured: :func:`fitted_student` fits d-dimensional unit rows to T directly (Adam on L_FTD,
   starting from the spectral truncation's factor), and the error it *reaches* bounds the best
   d-dimensional student from above. On the course's teachers the two are within a few per cent.

HTD's targets (:mod:`htd_tutorial.losses.htd`), for hard groups g (users' and items' numbered apart):

- **entity level**: the blocks ``T_g`` of T inside each group (the plain same-group mask; the authors'
  extra ``teacher similarity > 0`` filter is left out: it is no low-rank problem). Each student block is
  again a cosine matrix of unit rows in d dimensions, so the sum of the blocks' floors is a floor.
  The blocks share one d-dimensional space; bounding each on its own drops that constraint, which can
  only lower the bound: it stays a valid floor;
- **group level**: the similarities of the teacher's group prototypes (each group's mean teacher
  embedding). ``"PP"``: the (G x G) prototype cosine matrix, unit diagonal, floored like T. ``"Pe"`` (the
  paper's default): the (G x n) matrix of prototypes against entities, without masks (the authors'
  code); the student's counterpart is a (G x d) times (d x n) product, of rank at most d, and has no
  diagonal to pin, so its floor is Eckart-Young's alone.

Each floor is also reported *relative* to its target, ``sqrt(floor / ||target||_F^2)``: 0 when a
d-dimensional space can hold the target exactly; 1 is what all-zero similarities would score (no
student has them: its diagonal is 1), so a floor above 1 says that no d-dimensional student comes
even that close. That is the number compared
across targets. :func:`truncation_error_naive` and :func:`cosine_floor_naive` (numpy's SVD, the
formulas written out) are the references the tests compare the fast paths with.

In training, :func:`epoch_floors` draws every epoch's batches again and averages their floors: the
least the FTD term of a loss trace could come down to.

Cost: no n x n decomposition. T's eigenvalues are the squared singular values of the (n x d_t) table
of unit rows, from the smaller Gram matrix (d_t x d_t) or its thin SVD (n = 1,500, d_t = 200: tens of
milliseconds); the same for each group block; the singular values of the (G x n) group-level matrix;
and ``fit_steps`` Adam steps per dimension for the reached error (a few milliseconds each, with the
Gram identity of :func:`htd_tutorial.losses.ftd.gram_topology_distance`). The functions that take a
similarity matrix (:func:`cosine_floor`, :func:`truncation_error`) decompose it as it is.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import embedding_table, integer, is_integer, one_of, positive_int, positive_number
from .choices import DEFAULT_BATCH_SIZE, DEFAULT_GROUP_TOPOLOGY, GROUP_TOPOLOGIES
from .data import Interactions
from .losses.ftd import cosine_normalize, gram_topology_distance
from .losses.htd import group_prototypes, joint_groups
from .sampling import TripleSampler

__all__ = ["spectrum", "truncation_error", "truncation_error_naive", "cosine_floor", "cosine_floor_naive",
           "block_cosine_floor", "fitted_student", "CapacityFloors", "capacity_floors", "htd_floors", "clustered_groups",
           "batch_entities", "epoch_floors"]


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

def _dims(dims) -> np.ndarray:
    """``dims`` (one dimension or a sequence) as a 1-D int array of dimensions >= 1, increasing."""
    values = [dims] if is_integer(dims) else dims
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"dims must be a dimension >= 1 or a sequence of them, got {dims!r}")
    values = list(values)
    if not values:
        raise ValueError("dims must name at least one student dimension, got an empty sequence")
    for d in values:
        if not is_integer(d) or d < 1:
            raise ValueError(f"each student dimension must be an integer >= 1, got {d!r} in dims={dims!r}")
    if values != sorted(set(values)):
        raise ValueError(f"dims must be increasing without repeats, got {values}")
    return np.asarray(values, dtype=np.int64)


def _matrix(name: str, matrix) -> torch.Tensor:
    table = embedding_table(name, matrix, non_empty=True, floating=True).detach().cpu().to(torch.float64)
    if not torch.isfinite(table).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return table


def _teacher(teacher, eps: float) -> torch.Tensor:
    table = _matrix("teacher", teacher)
    if table.shape[0] < 2:
        raise ValueError(f"teacher must hold at least 2 entities (rows), got shape {tuple(table.shape)}")
    if eps == 0 and (table == 0).all(dim=1).any():
        raise ValueError("teacher has an all-zero row: its plain cosine (eps=0) is 0/0; pass eps > 0")
    return table


def _groups(groups, n: int) -> torch.Tensor:
    if isinstance(groups, np.ndarray):
        groups = torch.from_numpy(groups)
    if not isinstance(groups, torch.Tensor) or groups.dim() != 1 or len(groups) != n:
        shape = tuple(groups.shape) if hasattr(groups, "shape") else type(groups).__name__
        raise ValueError(f"groups must be a 1-D integer array with one group per entity, shape ({n},), got {shape}")
    if groups.dtype.is_floating_point or groups.dtype == torch.bool or groups.dtype.is_complex:
        raise ValueError(f"groups must hold integer labels, got dtype {groups.dtype}")
    if (groups < 0).any():
        raise ValueError("groups must be labels >= 0")
    return groups.detach().cpu().long()


# ----------------------------------------------------------------------------------------------
# Best rank-d approximation
# ----------------------------------------------------------------------------------------------

def spectrum(matrix) -> np.ndarray:
    """Singular values of ``matrix``, largest first (float64).

    A symmetric square matrix (a similarity matrix) takes the fast path: the absolute values of its
    eigenvalues (``torch.linalg.eigvalsh``); any other the singular values (``torch.linalg.svdvals``).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    m = _matrix("matrix", matrix)
    if m.shape[0] == m.shape[1] and torch.allclose(m, m.T, rtol=0.0, atol=1e-12):
        values = torch.linalg.eigvalsh(m).abs()
    else:
        values = torch.linalg.svdvals(m)
    return np.sort(values.numpy())[::-1].copy()


def _tail_energy(values: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """``sum_{i > d} values_i^2`` for each d (``values`` sorted largest first), summed from the small end."""
    tail = np.concatenate([np.cumsum(np.square(values)[::-1])[::-1], [0.0]])
    return tail[np.minimum(dims, len(values))]


def truncation_error(matrix, dims) -> np.ndarray:
    """Squared Frobenius error of the best rank-d approximation of ``matrix``, for each d of ``dims``.

    ``sum_{i > d} sigma_i^2`` over its singular values (Eckart-Young-Mirsky); 0 once d reaches the
    rank. The floor of a target without a diagonal to pin (HTD's ``"Pe"`` group level).

    Parameters
    ----------
    matrix : Tensor or array (m, n)
    dims : int or increasing sequence of int >= 1

    Returns
    -------
    np.ndarray (len(dims),)

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    return _tail_energy(spectrum(matrix), _dims(dims))


def truncation_error_naive(matrix, dims) -> np.ndarray:
    """Reference :func:`truncation_error`: numpy's full SVD, the truncated matrix built, its error summed."""
    m = _matrix("matrix", matrix).numpy()
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    return np.array([np.square(m - (u[:, :d] * s[:d]) @ vt[:d]).sum() for d in _dims(dims)])


def _cosine_floor(values: np.ndarray, dims: np.ndarray, n: int) -> np.ndarray:
    """:func:`cosine_floor` from the eigenvalues (largest first) of an n x n target."""
    head = np.concatenate([[0.0], np.cumsum(values)])
    m = np.minimum(dims, n)                      # an n x n student has rank at most n
    return _tail_energy(values, m) + np.square(n - head[m]) / m


def cosine_floor(similarity, dims) -> np.ndarray:
    """Least ``||T - S||_F^2`` over the cosine matrices S of n unit vectors in d dimensions, bounded below.

    ``sum_{i > m} lambda_i^2 + (n - sum_{i <= m} lambda_i)^2 / m`` with ``m = min(d, n)`` and
    ``lambda`` the eigenvalues of ``similarity``, largest first: Eckart-Young's term plus what the student's unit
    diagonal costs (Hoffman-Wielandt; the module's text derives it). A lower bound of L_FTD for every
    d-dimensional student, for any symmetric T; reached in special cases (the identity).

    Parameters
    ----------
    similarity : Tensor or array (n, n), symmetric
        The target, e.g. a teacher's cosine matrix (unit diagonal).
    dims : int or increasing sequence of int >= 1

    Returns
    -------
    np.ndarray (len(dims),)

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    sim = _square(similarity)
    values = np.sort(torch.linalg.eigvalsh(sim).numpy())[::-1]
    return _cosine_floor(values, _dims(dims), sim.shape[0])


def cosine_floor_naive(similarity, dims) -> np.ndarray:
    """Reference :func:`cosine_floor`: numpy's SVD, the best student spectrum ``mu`` written out, both terms summed.

    ``mu_i = lambda_i + r / m`` for the top ``m = min(d, n)`` eigenvalues (``r`` what the unit
    diagonal leaves over), 0 below: ``sum_i (lambda_i - mu_i)^2``.
    """
    sim = _square(similarity).numpy()
    n = sim.shape[0]
    lam = np.linalg.svd(sim, compute_uv=False)           # singular values = eigenvalues of a PSD matrix
    out = []
    for d in _dims(dims):
        m = min(int(d), n)
        mu = np.zeros(n)
        mu[:m] = lam[:m] + (n - lam[:m].sum()) / m
        out.append(float(np.sum((lam - mu) ** 2)))
    return np.array(out)


def _square(similarity) -> torch.Tensor:
    sim = _matrix("similarity", similarity)
    if sim.shape[0] != sim.shape[1]:
        raise ValueError(f"similarity must be square (n x n), got shape {tuple(sim.shape)}")
    if not torch.allclose(sim, sim.T, rtol=0.0, atol=1e-9):
        raise ValueError("similarity must be symmetric")
    return sim


def block_cosine_floor(similarity, groups, dims) -> tuple[np.ndarray, float]:
    """``sum_g`` of :func:`cosine_floor` of each group's diagonal block, and ``sum_g ||block_g||_F^2``.

    ``similarity`` is square (n x n), ``groups`` one label per row; a block is the rows and columns of
    one group (the pairs of HTD's entity level).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    sim = _square(similarity)
    groups, dims = _groups(groups, sim.shape[0]), _dims(dims)
    floor, energy = np.zeros(len(dims)), 0.0
    for g in torch.unique(groups):
        members = torch.nonzero(groups == g).squeeze(1)
        block = sim[members][:, members]
        values = np.sort(torch.linalg.eigvalsh(block).numpy())[::-1]
        floor += _cosine_floor(values, dims, len(members))
        energy += float(block.square().sum())
    return floor, energy


def _factor_spectrum(unit: torch.Tensor) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Eigenvalues (largest first, n of them), the leading eigenvectors and singular values of ``unit @ unit.T``.

    From the thin SVD of the (n x d_t) factor: ``T = U diag(s^2) U^T``, so T's eigenvalues are
    ``s^2`` and zeros, without forming or decomposing the n x n matrix (O(n d_t^2) instead of O(n^3)).
    """
    left, singular, _ = torch.linalg.svd(unit, full_matrices=False)
    values = np.zeros(unit.shape[0])
    values[:len(singular)] = np.square(singular.numpy())
    return values, left, singular


def _gram_values(unit: torch.Tensor) -> np.ndarray:
    """The n eigenvalues of ``unit @ unit.T`` (largest first) from the smaller of the two Gram matrices."""
    n, width = unit.shape
    gram = unit @ unit.T if n <= width else unit.T @ unit
    values = np.zeros(n)
    found = np.sort(torch.linalg.eigvalsh(gram).numpy())[::-1][:n]
    values[:len(found)] = found
    return values


def _unit_rows(left: torch.Tensor, singular: torch.Tensor, d: int) -> torch.Tensor:
    """Rows of ``V_d Lambda_d^(1/2)`` (``left[:, :d] * singular[:d]``) scaled to unit length; zero row i becomes axis i mod d."""
    n = left.shape[0]
    rows = left[:, :d] * singular[:d]
    if rows.shape[1] < d:
        rows = torch.cat([rows, rows.new_zeros(n, d - rows.shape[1])], dim=1)
    zero = torch.nonzero(rows.norm(dim=1) <= 1e-12).squeeze(1)
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    rows[zero] = 0.0
    rows[zero, zero % d] = 1.0           # spread over the axes: identical rows would be a saddle for the fit
    return rows


def fitted_student(teacher, d: int, *, steps: int = 100, lr: float = 0.02, eps: float = 0.0) -> tuple[np.ndarray, float]:
    """d-dimensional unit rows fitted to the teacher's cosine matrix: an error some student *reaches*.

    Starts from the spectral truncation's factor (rows of ``V_d Lambda_d^(1/2)``, scaled to unit
    length) and takes ``steps`` Adam steps on L_FTD alone (float64, the Gram identity: no n x n
    matrix in the loop). Deterministic: no random numbers are drawn.

    Parameters
    ----------
    teacher : Tensor or array (n, d_t)
    d : int
    steps : int >= 0
    lr : float
    eps : float
        Cosine guard of the teacher's rows, as in :func:`capacity_floors`.

    Returns
    -------
    (np.ndarray (n, d), float)
        The unit rows and their ``L_FTD = ||T - S||_F^2`` (at most the start's).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    eps = positive_number("eps", eps, allow_zero=True)
    unit = cosine_normalize(_teacher(teacher, eps), eps)
    _, left, singular = _factor_spectrum(unit)
    return _fit(unit, left, singular, positive_int("d", d), integer("steps", steps, low=0),
                positive_number("lr", lr))


def _fit(unit: torch.Tensor, left: torch.Tensor, singular: torch.Tensor, d: int, steps: int,
         lr: float) -> tuple[np.ndarray, float]:
    rows = _unit_rows(left, singular, d)
    best_rows, best = rows, float(gram_topology_distance(rows, unit))
    if steps:
        x = rows.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad()
                loss = gram_topology_distance(cosine_normalize(x), unit)
                loss.backward()
                opt.step()
        fitted = cosine_normalize(x.detach())
        value = float(gram_topology_distance(fitted, unit))
        if value < best:
            best_rows, best = fitted, value
    return best_rows.numpy(), best


# ----------------------------------------------------------------------------------------------
# The floors of FTD's and HTD's targets
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CapacityFloors:
    """The least error a d-dimensional student can reach on each target, for several d.

    Relative errors are ``sqrt(error / ||target||_F^2)``; ``*_loss`` are the same numbers in the
    loss's own units (squared differences summed over the pairs, as L_FTD and HTD's terms sum them).

    Attributes
    ----------
    dims : np.ndarray of int
    ftd : np.ndarray
        Relative floor of FTD's target (:func:`cosine_floor`): no d-dimensional student is closer.
    ftd_rank : np.ndarray
        Eckart-Young's term alone (the best rank-d matrix, unit diagonal or not): a weaker floor.
    ftd_reached : np.ndarray or None
        Relative error of :func:`fitted_student`: a d-dimensional student reaches it, so the best one
        lies in ``[ftd, ftd_reached]`` (None when ``fit_steps`` was None).
    ftd_loss : np.ndarray
        The floor of L_FTD on these entities.
    ftd_norm2 : float
        ``||T||_F^2``.
    group, entity : np.ndarray or None
        Relative floors of HTD's group level and entity level (None without groups).
    group_loss, entity_loss : np.ndarray or None
    group_norm2, entity_norm2 : float or None
    n_entities, n_groups : int
        Entities of the batch, groups present (0 without groups).
    group_topology : str
        ``"Pe"`` or ``"PP"``: which group-level target.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    dims: np.ndarray
    ftd: np.ndarray
    ftd_rank: np.ndarray
    ftd_loss: np.ndarray
    ftd_norm2: float
    n_entities: int
    ftd_reached: np.ndarray | None = None
    group: np.ndarray | None = None
    entity: np.ndarray | None = None
    group_loss: np.ndarray | None = None
    entity_loss: np.ndarray | None = None
    group_norm2: float | None = None
    entity_norm2: float | None = None
    n_groups: int = 0
    group_topology: str = DEFAULT_GROUP_TOPOLOGY

    COLUMNS = ("ftd", "ftd_rank", "ftd_reached", "group", "entity")

    def at(self, d: int) -> dict:
        """The relative numbers at dimension ``d`` (one of :attr:`dims`), ``{column: value or None}``."""
        if not is_integer(d) or d not in self.dims:
            raise ValueError(f"d={d!r} is not one of the dimensions computed, {self.dims.tolist()}")
        i = int(np.nonzero(self.dims == d)[0][0])
        return {name: (None if getattr(self, name) is None else float(getattr(self, name)[i]))
                for name in self.COLUMNS}

    def to_frame(self):
        """The relative numbers as a pandas DataFrame indexed by d (columns that were computed)."""
        import pandas as pd
        columns = {name: getattr(self, name) for name in self.COLUMNS if getattr(self, name) is not None}
        return pd.DataFrame(columns, index=pd.Index(self.dims, name="d"))


def _relative(error: np.ndarray, energy: float) -> np.ndarray:
    return np.sqrt(np.clip(error, 0.0, None) / energy) if energy > 0 else np.zeros_like(error)


def capacity_floors(teacher, dims, groups=None, *, group_topology: str = DEFAULT_GROUP_TOPOLOGY,
                    eps: float = 0.0, fit_steps: int | None = 100) -> CapacityFloors:
    """The floors of FTD's and HTD's targets on one batch of a teacher's embeddings (see the module's text).

    Parameters
    ----------
    teacher : Tensor or array (n, d_t)
        The teacher's embeddings of the batch's entities (users and items stacked, as FTD sees them).
    dims : int or increasing sequence of int >= 1
        Student dimensions.
    groups : 1-D int array or LongTensor (n,), optional
        Hard group of each entity (users' and items' numbered apart, as
        :func:`htd_tutorial.losses.htd.joint_groups` does): HTD's learned assignment or
        :func:`clustered_groups`. Without it only FTD's numbers are computed.
    group_topology : {"Pe", "PP"}
        Which group-level target (see the module's text).
    eps : float
        Cosine guard, as in :func:`htd_tutorial.losses.ftd.cosine_normalize` (0: the plain cosine,
        which refuses an all-zero row).
    fit_steps : int or None
        Adam steps of :func:`fitted_student` per dimension for :attr:`CapacityFloors.ftd_reached`
        (None: not computed; a step takes a few milliseconds for n = 1,500).

    Returns
    -------
    CapacityFloors

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    one_of("group_topology", group_topology, GROUP_TOPOLOGIES)
    eps = positive_number("eps", eps, allow_zero=True)
    fit_steps = None if fit_steps is None else integer("fit_steps", fit_steps, low=0)
    dims = _dims(dims)
    table = _teacher(teacher, eps)
    if groups is not None:
        groups = _groups(groups, table.shape[0])
    n = table.shape[0]
    unit = cosine_normalize(table, eps)
    values, left, singular = _factor_spectrum(unit)
    floor = _cosine_floor(values, dims, n)
    norm2 = float(np.square(values).sum())                 # ||T||_F^2 = sum of squared eigenvalues
    result = dict(dims=dims, ftd=_relative(floor, norm2), ftd_loss=floor, ftd_norm2=norm2, n_entities=n,
                  ftd_rank=_relative(_tail_energy(values, dims), norm2), group_topology=group_topology)
    if fit_steps is not None:
        reached = [_fit(unit, left, singular, int(d), fit_steps, 0.02)[1] for d in dims]
        result["ftd_reached"] = _relative(np.array(reached), norm2)
    if groups is not None:
        result.update(_htd_floors(table, unit, dims, groups, group_topology, eps))
    return CapacityFloors(**result)


def _htd_floors(table: torch.Tensor, unit: torch.Tensor, dims: np.ndarray, groups: torch.Tensor,
                group_topology: str, eps: float) -> dict:
    """The group-level and entity-level fields of :class:`CapacityFloors` (each block from its factor)."""
    entity_loss, entity_norm2 = np.zeros(len(dims)), 0.0
    for g in torch.unique(groups):
        values = _gram_values(unit[groups == g])
        entity_loss += _cosine_floor(values, dims, len(values))
        entity_norm2 += float(np.square(values).sum())
    present, prototypes = group_prototypes(table, groups)
    proto = cosine_normalize(prototypes, eps)
    if group_topology == "PP":
        values = _gram_values(proto)
        group_loss, group_norm2 = _cosine_floor(values, dims, len(values)), float(np.square(values).sum())
    else:
        target = proto @ unit.T
        group_loss, group_norm2 = truncation_error(target, dims), float(target.square().sum())
    return dict(group=_relative(group_loss, group_norm2), entity=_relative(entity_loss, entity_norm2),
                group_loss=group_loss, entity_loss=entity_loss, group_norm2=group_norm2,
                entity_norm2=entity_norm2, n_groups=len(present))


def htd_floors(floors: CapacityFloors, teacher, groups, *, group_topology: str = DEFAULT_GROUP_TOPOLOGY,
               eps: float = 0.0) -> CapacityFloors:
    """``floors`` (FTD's, from :func:`capacity_floors` on the same ``teacher``) with HTD's for ``groups`` added.

    What :func:`capacity_floors` computes with ``groups``, without redoing FTD's part: for several
    groupings (other K, other runs) of one batch.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if not isinstance(floors, CapacityFloors):
        raise ValueError(f"floors must be a CapacityFloors, got {type(floors).__name__}")
    one_of("group_topology", group_topology, GROUP_TOPOLOGIES)
    eps = positive_number("eps", eps, allow_zero=True)
    table = _teacher(teacher, eps)
    if table.shape[0] != floors.n_entities:
        raise ValueError(f"teacher has {table.shape[0]} rows but floors were computed for {floors.n_entities} "
                         "entities: pass the same batch")
    fields = _htd_floors(table, cosine_normalize(table, eps), floors.dims, _groups(groups, table.shape[0]),
                         group_topology, eps)
    return dataclasses.replace(floors, group_topology=group_topology, **fields)


# ----------------------------------------------------------------------------------------------
# A batch and its groups
# ----------------------------------------------------------------------------------------------

def clustered_groups(user_emb, item_emb, K: int, *, seed: int = 0) -> torch.Tensor:
    """K groups of users and K of items by k-means on the unit teacher embeddings, in HTD's numbering.

    A stand-in for HTD's learned assignment when no HTD run is at hand (HTD's groups are also a
    partition of the teacher space: ``argmax`` of a linear map of the teacher embedding). Users get
    ``[0, K)``, items ``[K, 2K)`` (:func:`htd_tutorial.losses.htd.joint_groups`); the users then the
    items, LongTensor (n_u + n_i,).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    from sklearn.cluster import KMeans

    K = positive_int("K", K)
    labels = []
    for name, emb in (("user_emb", user_emb), ("item_emb", item_emb)):
        table = _matrix(name, emb)
        if table.shape[0] < K:
            raise ValueError(f"K={K} groups is more than the {table.shape[0]} rows of {name}")
        unit = cosine_normalize(table, 1e-12).numpy()
        labels.append(torch.from_numpy(KMeans(K, n_init=4, random_state=int(seed)).fit_predict(unit)).long())
    return joint_groups(labels[0], labels[1], K)


def batch_entities(data: Interactions, batch_size: int = DEFAULT_BATCH_SIZE, *, seed: int = 0
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The unique users and items of the first training batch (:class:`~htd_tutorial.sampling.TripleSampler`
    with ``seed``): the entities FTD and HTD distil in one step, as sorted LongTensors.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be an Interactions, got {type(data).__name__}")
    users, pos, neg = next(iter(TripleSampler(data, positive_int("batch_size", batch_size), seed=int(seed))))
    return torch.unique(users), torch.unique(torch.cat([pos, neg]))


def epoch_floors(data: Interactions, teacher_users, teacher_items, dims, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 seed: int = 0, epochs: int = 1, eps: float = 0.0) -> np.ndarray:
    """FTD's floor averaged over each epoch's batches: what a loss trace's FTD term can at best come down to.

    :func:`htd_tutorial.training.train` draws its batches from a :class:`~htd_tutorial.sampling.TripleSampler`
    seeded with the run's seed and iterated once an epoch, so the batches of every epoch are drawn again
    here, exactly. Each batch's L_FTD is at least its floor (:func:`cosine_floor` of its entities), so an
    epoch's mean L_FTD per batch, the FTD term of :attr:`htd_tutorial.training.History.loss_trace`
    divided by lambda, is at least the mean of its batches' floors, whatever the student did in between.

    Parameters
    ----------
    data : Interactions
    teacher_users, teacher_items : Tensor or array (n_users, d_t), (n_items, d_t)
        The teacher's tables.
    dims : int or increasing sequence of int >= 1
    batch_size, seed : int
        The run's (its ``RunConfig``).
    epochs : int
        Epochs of the run.
    eps : float
        Cosine guard of the run's mode (``htd_tutorial.modes``).

    Returns
    -------
    np.ndarray (epochs, len(dims))
        Row e: the mean over epoch e's batches of the floor of L_FTD.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be an Interactions, got {type(data).__name__}")
    dims, epochs = _dims(dims), positive_int("epochs", epochs)
    eps = positive_number("eps", eps, allow_zero=True)
    users_table, items_table = _matrix("teacher_users", teacher_users), _matrix("teacher_items", teacher_items)
    if (users_table.shape[0], items_table.shape[0]) != (data.n_users, data.n_items):
        raise ValueError(f"the teacher's tables have {users_table.shape[0]} users and {items_table.shape[0]} items, "
                         f"the data {data.n_users} and {data.n_items}")
    sampler = TripleSampler(data, positive_int("batch_size", batch_size), seed=int(seed))
    out = np.zeros((epochs, len(dims)))
    for epoch in range(epochs):
        floors = []
        for users, pos, neg in sampler:
            rows = torch.cat([users_table[torch.unique(users)], items_table[torch.unique(torch.cat([pos, neg]))]])
            unit = cosine_normalize(_teacher(rows, eps), eps)
            values = _gram_values(unit)
            floors.append(_cosine_floor(values, dims, len(values)))
        out[epoch] = np.mean(floors, axis=0)
    return out

"""Helpers of notebooks 02 (topology, FTD) and 03 (HTD), and the one way the course trains a student.

Every distilled student in the course is trained through :func:`distill_run`, a thin wrapper of
:func:`htd_tutorial.experiments.run_method` with the recipe :data:`~htd_tutorial.course.recipes.DISTILL`
(its reasons are in :mod:`htd_tutorial.course.recipes`), so notebooks 02-05 and the seed sweep
(:mod:`htd_tutorial.course.seeds`) share and cache the same runs: a student trained in notebook 02 is
loaded, not retrained, in 03. What the runs show is measured over seeds by the sweep and checked by
:mod:`htd_tutorial.course.evidence`, not assumed here.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..choices import HEADLINE
from .common import SEED
from .recipes import DISTILL, LARGE_DIM, SMALL_DIM
from ..data import Interactions
from ..experiments import RunResult, run_method
from ..losses.ftd import cosine_similarity_matrix
from ..models import Recommender
from ..sampling import TripleSampler
from ..topology import embedding_array

__all__ = ["DISTILL", "SMALL_DIM", "LARGE_DIM", "distill_run", "results_table", "ftd_by_hand", "show_source",
           "cosine_matrix", "cluster_order", "popular_items", "real_batch", "batch_triples", "pair_counts",
           "toy_space", "group_coherence", "item_table", "teacher_clusters", "neighbour_agreement", "umap_maps",
           "HTD_BY_HAND", "cosine_by_hand", "alpha_by_hand", "gumbel_noise", "z_by_hand", "hard_groups_by_hand",
           "prototypes_by_hand", "entity_level_by_hand", "group_level_pp_by_hand", "group_level_pe_by_hand",
           "ga_by_hand", "htd_by_hand", "student_loss_by_hand", "htd_check_batch"]

# The recipe (DISTILL) and the lesson dimensions are owned by recipes.py.


def distill_run(data: Interactions, teacher: Recommender, method: str, dim: int, *, seed: int = SEED,
                epochs: int | None = None, lr: float | None = None, lam: float | None = None,
                K: int | None = None, gamma: float | None = None, mode: str | None = None,
                group_topology: str | None = None, eval_every: int | None = None,
                progress: bool = True, use_cache: bool = True, directory: str | Path | None = None,
                train_missing: bool = True) -> RunResult:
    """Train (or load from the cache) one student with the course's recipe :data:`DISTILL`.

    Parameters
    ----------
    data : Interactions
    teacher : Recommender
        The course teacher (:func:`htd_tutorial.course.course_teacher`).
    method : {"student", "fitnet", "de", "ftd", "htd"}
        ``"student"`` trains without distillation (same recipe otherwise).
    dim : int
        Student embedding dimension (> 0).
    seed : int
        Seed of initialisation and sampling.
    epochs, lr, lam, K, gamma, mode, group_topology, eval_every : optional
        Override one setting of :data:`DISTILL` (``None`` keeps the recipe's value); see
        :class:`htd_tutorial.config.RunConfig` for their meaning.
    progress : bool
        Progress bar while training.
    use_cache : bool
        ``False`` always trains (the result is still written to the cache).
    directory : path, optional
        Cache folder (default: the course cache).
    train_missing : bool
        ``False`` raises :class:`~htd_tutorial.experiments.NotCachedError` instead of training a
        run that is not cached (the seed sweep's ``--cached-only``).

    Returns
    -------
    RunResult
        ``.student`` (eval mode), ``.history`` (``.history.final("Recall@50")``), ``.distiller``
        (HTD's groups: ``.distiller.groups()``), ``.from_cache``.

    Raises
    ------
    ValueError
        Unknown method, dimension <= 0 or any setting out of range (checked before training).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    changes = dict(epochs=epochs, lr=lr, lam=lam, K=K, gamma=gamma, mode=mode, group_topology=group_topology)
    recipe = DISTILL.replace(**{name: value for name, value in changes.items() if value is not None})
    config = recipe.config(method, dim, seed=seed, eval_every=eval_every)   # every setting checked here, once
    return run_method(data, teacher, config, directory=directory, use_cache=use_cache, progress=progress,
                      train_missing=train_missing)


def results_table(runs, *, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """One row per run: method, dimension, final test metrics, training seconds, cached or not.

    Parameters
    ----------
    runs : iterable of RunResult (or a dict whose values are RunResults)
    metrics : tuple of str
        Test metrics of the last evaluation to report.

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``dim``, the metrics, ``seconds`` (training time of the original run)
        and ``cached``, sorted by dimension then in the order student, fitnet, de, ftd, htd.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if isinstance(runs, dict):
        runs = list(runs.values())
    order = {m: i for i, m in enumerate(("student", "fitnet", "de", "ftd", "htd"))}
    rows = []
    for run in runs:
        if not isinstance(run, RunResult):
            raise ValueError(f"expected RunResult objects (from distill_run), got {type(run).__name__}")
        row = {"method": run.config.method, "dim": run.config.dim}
        row.update({m: run.history.final(m) for m in metrics})
        row.update(seconds=round(run.history.seconds, 1), cached=run.from_cache)
        rows.append(row)
    if not rows:
        raise ValueError("no runs given")
    table = pd.DataFrame(rows)
    table["_order"] = table["method"].map(order)
    return table.sort_values(["dim", "_order"]).drop(columns="_order").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Notebook 02: topology and FTD
# ----------------------------------------------------------------------------------------------

def ftd_by_hand(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """L_FTD written as in the paper, for reading: every pair's similarity gap, squared and summed.

    ``student`` (n, d_s) and ``teacher`` (n, d_t) embed the same n entities (a batch's users
    and items). The package's :func:`htd_tutorial.losses.ftd_loss` computes the same number
    without the n x n matrices (``tests/course/test_lessons.py`` checks that they agree).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    s = student / student.norm(dim=1, keepdim=True)      # unit length: dot product = cosine
    t = teacher / teacher.norm(dim=1, keepdim=True)
    rho_s = s @ s.T                                        # rho(s_i, s_j) for all pairs (n x n)
    rho_t = t @ t.T                                        # rho(t_i, t_j), the teacher's topology
    return ((rho_t - rho_s) ** 2).sum()                    # summed over all pairs, not averaged


def show_source(function) -> None:
    """Print a function's source code (to read a package function inside a notebook).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if not callable(function):
        raise ValueError(f"expected a function, got {type(function).__name__}")
    print(inspect.getsource(function))


def cosine_matrix(emb) -> np.ndarray:
    """All pairwise cosine similarities of the rows of ``emb`` (n, d): the space's topology, (n, n).

    The losses' :func:`~htd_tutorial.losses.ftd.cosine_similarity_matrix` in float64 numpy, for
    plots (an all-zero row has similarity 0 to everything).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    emb = torch.from_numpy(embedding_array("emb", emb, min_rows=2))
    return np.clip(cosine_similarity_matrix(emb, eps=1e-12).numpy(), -1.0, 1.0)


def cluster_order(emb) -> np.ndarray:
    """An order of the rows that puts similar entities next to each other (for heat maps).

    Average-linkage hierarchical clustering on cosine distance; the leaves of its tree, left to
    right. Sorting a similarity matrix this way turns its clusters into blocks on the diagonal.

    Parameters
    ----------
    emb : Tensor or array (n, d)
        Usually the *teacher's* embeddings, so that teacher and student maps use the same order.

    Returns
    -------
    np.ndarray of int (n,)
        A permutation of ``range(n)``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - cosine_matrix(emb)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(np.maximum(distance, 0.0), checks=False), method="average")
    return leaves_list(tree)


def popular_items(data: Interactions, n: int) -> np.ndarray:
    """The ``n`` items with the most training interactions, most popular first.

    Popular items have the best-trained embeddings, so pictures of a few hundred of them show
    the structure of a space rather than the noise of rarely seen items.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= data.n_items:
        raise ValueError(f"n must be an integer from 1 to the number of items ({data.n_items}), got {n!r}")
    return np.argsort(-data.item_counts(), kind="stable")[: int(n)]


def real_batch(data: Interactions, *, batch_size: int = DISTILL.batch_size, seed: int = SEED
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The unique users and unique items of one real training batch (what a distiller sees per step).

    Returns ``(users, items)``, sorted LongTensors. Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    users, pos, neg = next(iter(TripleSampler(data, batch_size, seed=seed)))
    return torch.unique(users), torch.unique(torch.cat([pos, neg]))


def batch_triples(data: Interactions, *, batch_size: int = DISTILL.batch_size, seed: int = SEED
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (user, positive item, negative item) triples of the batch :func:`real_batch` takes its entities from.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return next(iter(TripleSampler(data, batch_size, seed=seed)))


# ----------------------------------------------------------------------------------------------
# Notebook 03: HTD by hand
# ----------------------------------------------------------------------------------------------
# Each piece of HTD as the equations of notebook 03 write it, in plain torch and for reading, with
# the course's recipe (the authors' code, mode "authors"): plain cosine, the entity level keeps only
# same-group pairs the teacher finds similar (rho > 0), the student's prototypes are constants and
# every prototype is related to every batch entity. Pairs are counted one way throughout the course:
# ordered pairs, i = j included (a sum over i and over j). tests/course/test_by_hand.py checks each piece
# against htd_tutorial.losses on random batches.

def cosine_by_hand(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``rho(a_i, b_j)`` for every row i of ``a`` and j of ``b``: unit rows, then dot products.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    return a @ b.T


def alpha_by_hand(teacher: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Group probabilities ``alpha_e = softmax(W t_e + b)``, one row of K per entity.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return torch.softmax(teacher @ weight.T + bias, dim=1)


def gumbel_noise(alpha: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gumbel(0, 1) noise of ``alpha``'s shape, drawn as the library draws it: ``g = -log(E)``, E ~ Exp(1).

    (``-log(E)`` with E exponential is Gumbel-distributed; drawing it this way, from the same random
    state, gives the library's very numbers.) Introduced in ``notebooks/03_htd.ipynb``.
    """
    return -torch.empty_like(alpha).exponential_(generator=generator).log()


def z_by_hand(alpha: torch.Tensor, noise: torch.Tensor, tau: float) -> torch.Tensor:
    """The Gumbel-softmax sample ``z_e = softmax((log(alpha_e + 1e-10) + g_e) / tau)``: it only feeds L_GA.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return torch.softmax((torch.log(alpha + 1e-10) + noise) / tau, dim=1)


def hard_groups_by_hand(alpha: torch.Tensor) -> torch.Tensor:
    """Each entity's hard group ``argmax_k alpha_{e,k}`` (no noise): what both topology levels use.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return alpha.argmax(dim=1)


def prototypes_by_hand(emb: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``P_g = mean of emb_e over the entities e of group g``, one row per group present, in label order.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    return torch.stack([emb[groups == g].mean(dim=0) for g in groups.unique()])


def entity_level_by_hand(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``L_entity = sum over ordered pairs (i, j) with g_i = g_j of (rho(t_i, t_j) - rho(s_i, s_j))^2``.

    As in the authors' code, a same-group pair counts only when the teacher finds it similar
    (``rho(t_i, t_j) > 0``). Introduced in ``notebooks/03_htd.ipynb``.
    """
    rho_t = cosine_by_hand(teacher, teacher)
    rho_s = cosine_by_hand(student, student)
    same_group = groups[:, None] == groups[None, :]          # n x n: True where g_i = g_j
    kept = same_group & (rho_t > 0)
    return ((rho_t - rho_s) ** 2)[kept].sum()


def group_level_pp_by_hand(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``L_group (P, P) = sum over ordered prototype pairs (p, q) of (rho(P^t_p, P^t_q) - rho(P^s_p, P^s_q))^2``.

    The student's prototypes are computed from detached embeddings, as in the authors' code: this
    term is a constant for the student (no gradient). Introduced in ``notebooks/03_htd.ipynb``.
    """
    proto_t = prototypes_by_hand(teacher, groups)
    proto_s = prototypes_by_hand(student.detach(), groups)  # the authors: torch.no_grad()
    return ((cosine_by_hand(proto_t, proto_t) - cosine_by_hand(proto_s, proto_s)) ** 2).sum()


def group_level_pe_by_hand(student: torch.Tensor, teacher: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``L_group (P, e) = sum over prototypes p and batch entities e of (rho(P^t_p, t_e) - rho(P^s_p, s_e))^2``.

    Every prototype with every entity (users' and items' alike, its own members included), as in
    the authors' code; the student's prototypes are constants, so the gradient reaches the student
    through ``s_e`` only. Introduced in ``notebooks/03_htd.ipynb``.
    """
    proto_t = prototypes_by_hand(teacher, groups)
    proto_s = prototypes_by_hand(student.detach(), groups)  # the authors: torch.no_grad()
    return ((cosine_by_hand(proto_t, teacher) - cosine_by_hand(proto_s, student)) ** 2).sum()


def ga_by_hand(student: torch.Tensor, teacher: torch.Tensor, z: torch.Tensor, experts) -> torch.Tensor:
    """``L_GA = sum_e || t_e - sum_k z_{e,k} f_k(s_e) ||^2``, expert by expert.

    ``experts`` is one :class:`~htd_tutorial.losses.GroupAssignment` (users' or items'): expert k
    is ``f_k(s) = relu(s W1_k + b1_k) W2_k + b2_k``. Introduced in ``notebooks/03_htd.ipynb``.
    """
    mixture = torch.zeros_like(teacher)
    for k in range(z.shape[1]):
        hidden = torch.relu(student @ experts.w1[:, k, :] + experts.b1[k])
        mixture = mixture + z[:, k:k + 1] * (hidden @ experts.w2[k] + experts.b2[k])
    return ((teacher - mixture) ** 2).sum()


def htd_by_hand(s_users: torch.Tensor, s_items: torch.Tensor, t_users: torch.Tensor, t_items: torch.Tensor,
                htd, tau: float, noise: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``L_HTD = gamma (L_entity + L_group) + (1 - gamma) L_GA`` from the pieces above, and its parts.

    ``htd`` is an :class:`~htd_tutorial.losses.HTDLoss` (its layers and experts, its K, gamma and
    group-level design are read, nothing else); ``noise`` the users' and items' Gumbel noise
    (:func:`gumbel_noise`). Returns ``{"entity", "group", "ga", "htd"}`` like ``HTDLoss``.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    alpha_u = alpha_by_hand(t_users, htd.users.assign_weight, htd.users.assign_bias)
    alpha_i = alpha_by_hand(t_items, htd.items.assign_weight, htd.items.assign_bias)
    ga = (ga_by_hand(s_users, t_users, z_by_hand(alpha_u, noise[0], tau), htd.users)       # Gumbel z:
          + ga_by_hand(s_items, t_items, z_by_hand(alpha_i, noise[1], tau), htd.items))    # L_GA only
    groups = torch.cat([hard_groups_by_hand(alpha_u), hard_groups_by_hand(alpha_i) + htd.K])  # hard groups
    student, teacher = torch.cat([s_users, s_items]), torch.cat([t_users, t_items])
    entity = entity_level_by_hand(student, teacher, groups)
    by_design = {"PP": group_level_pp_by_hand, "Pe": group_level_pe_by_hand}
    group = by_design[htd.group_topology](student, teacher, groups)
    total = htd.gamma * (entity + group) + (1 - htd.gamma) * ga
    return {"entity": entity, "group": group, "ga": ga, "htd": total}


def student_loss_by_hand(s_users: torch.Tensor, s_pos: torch.Tensor, s_neg: torch.Tensor,
                         l_htd: torch.Tensor, lam: float) -> torch.Tensor:
    """The student's loss on one batch: ``L_BPR + lambda * L_HTD``, with ``L_BPR = -sum log sigmoid(<u, i+> - <u, i->)``.

    ``s_users``, ``s_pos``, ``s_neg`` (B, d_s): the student's embeddings of each triple's user,
    positive and negative item. Introduced in ``notebooks/03_htd.ipynb``.
    """
    bpr = -torch.log(torch.sigmoid((s_users * (s_pos - s_neg)).sum(dim=1))).sum()
    return bpr + lam * l_htd


#: The by-hand pieces of HTD, in the order notebook 03 shows them (tests/course/test_by_hand.py checks each one).
HTD_BY_HAND = (alpha_by_hand, z_by_hand, hard_groups_by_hand, prototypes_by_hand, entity_level_by_hand,
               group_level_pp_by_hand, group_level_pe_by_hand, ga_by_hand, htd_by_hand, student_loss_by_hand)


def htd_check_batch(run: RunResult, teacher: Recommender, users: torch.Tensor, items: torch.Tensor):
    """The batch notebook 03 checks its by-hand HTD on, in float64: ``(htd, s_users, s_items, t_users, t_items)``.

    ``htd`` is a float64 copy of the trained run's :class:`~htd_tutorial.losses.HTDLoss` (the run is
    left as it is); the embeddings are the trained student's and the teacher's of ``users`` and
    ``items``, detached, the student's with ``requires_grad`` (to follow gradients).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    import copy

    if run.distiller is None or not hasattr(run.distiller, "htd"):
        raise ValueError(f"expected an HTD run, got method {run.config.method!r}")
    htd = copy.deepcopy(run.distiller.htd).double()
    with torch.no_grad():
        s_users, s_items = (x.double() for x in run.student.embed(users, items))
        t_users, t_items = (x.double() for x in teacher.embed(users, items))
    return htd, s_users.requires_grad_(), s_items.requires_grad_(), t_users, t_items


# ----------------------------------------------------------------------------------------------
# Notebook 03: HTD's pair counts, toy space and groups
# ----------------------------------------------------------------------------------------------

def pair_counts(groups) -> dict[str, int]:
    """How many relations each topology term matches for entities with the given group labels.

    Parameters
    ----------
    groups : 1-D int array or tensor (n,)
        Group of each entity (users' and items' groups numbered apart).

    Returns
    -------
    dict
        ``{"entities": n, "groups": G, "FTD pairs": n*n, "entity-level pairs": sum_g n_g^2,
        "group-level relations": G*n}`` (ordered pairs, the diagonal included, as the losses
        sum them; the group level counts every prototype-entity relation of the "Pe" design).

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    if isinstance(groups, torch.Tensor):
        groups = groups.detach().cpu().numpy()
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0 or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must be a non-empty 1-D array of integer labels, got shape {groups.shape}")
    _, sizes = np.unique(groups, return_counts=True)
    n = int(groups.size)
    return {"entities": n, "groups": int(sizes.size), "FTD pairs": n * n,
            "entity-level pairs": int((sizes.astype(np.int64) ** 2).sum()), "group-level relations": int(sizes.size) * n}


def toy_space(*, n_per_group: int = 6, n_groups: int = 3, spread: float = 0.35, seed: int = SEED
              ) -> tuple[np.ndarray, np.ndarray]:
    """A toy 2-D "teacher space": ``n_groups`` clusters of ``n_per_group`` points around a circle.

    Returns ``(points (n, 2), groups (n,))``. Introduced in ``notebooks/03_htd.ipynb``.
    """
    for name, value in (("n_per_group", n_per_group), ("n_groups", n_groups)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not spread > 0:
        raise ValueError(f"spread must be > 0, got {spread!r}")
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n_groups) / n_groups
    centres = np.c_[np.cos(angles), np.sin(angles)] * 2.0
    groups = np.repeat(np.arange(n_groups), n_per_group)
    points = centres[groups] + rng.normal(scale=spread, size=(groups.size, 2))
    return points, groups


def group_coherence(emb, groups) -> dict[str, float]:
    """Mean cosine similarity of entity pairs in the same group vs in different groups.

    Parameters
    ----------
    emb : Tensor or array (n, d)
        E.g. the teacher's item embeddings.
    groups : 1-D int array or tensor (n,)
        E.g. HTD's learned item groups.

    Returns
    -------
    dict
        ``{"same group": ..., "different groups": ...}``. Groups that gather similar entities
        give a clearly higher first number.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    sim = cosine_matrix(emb)
    if isinstance(groups, torch.Tensor):
        groups = groups.detach().cpu().numpy()
    groups = np.asarray(groups)
    if groups.shape != (sim.shape[0],):
        raise ValueError(f"groups must have one label per row of emb ({sim.shape[0]}), got shape {groups.shape}")
    same = groups[:, None] == groups[None, :]
    off_diagonal = ~np.eye(len(groups), dtype=bool)
    if not (same & off_diagonal).any() or not (~same).any():
        raise ValueError("need at least one pair in the same group and one pair in different groups")
    return {"same group": float(sim[same & off_diagonal].mean()), "different groups": float(sim[~same].mean())}


# ----------------------------------------------------------------------------------------------
# Pictures of whole spaces
# ----------------------------------------------------------------------------------------------

def item_table(model: Recommender, items=None) -> torch.Tensor:
    """A model's item embeddings (all, or the rows ``items``), detached, on the CPU.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    with torch.no_grad():
        table = model.all_embeddings()[1].detach().cpu()
    return table if items is None else table[torch.as_tensor(np.asarray(items), dtype=torch.long)]


def teacher_clusters(emb, n_clusters: int = 6, *, seed: int = SEED) -> np.ndarray:
    """K-means clusters of the rows of ``emb`` by direction (rows scaled to unit length first).

    Used to colour pictures of the teacher's space, and the same entities in a student's space,
    so one can see whether a student keeps the teacher's clusters apart. Returns int labels (n,).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    from sklearn.cluster import KMeans

    emb = embedding_array("emb", emb, min_rows=2)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or not 2 <= n_clusters < len(emb):
        raise ValueError(f"n_clusters must be an integer from 2 to {len(emb) - 1}, got {n_clusters!r}")
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return KMeans(int(n_clusters), n_init=4, random_state=int(seed)).fit_predict(unit).astype(np.int64)


def neighbour_agreement(emb, labels, *, k: int = 10) -> float:
    """Share of each entity's k nearest neighbours (cosine, in ``emb``'s own space) with its label.

    With the teacher's clusters as ``labels``: near 1 when a space keeps the clusters apart, near
    the clusters' share of the data when it mixes them.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    sim = cosine_matrix(emb)
    labels = np.asarray(labels)
    if labels.shape != (sim.shape[0],):
        raise ValueError(f"labels must have one entry per row of emb ({sim.shape[0]}), got shape {labels.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < sim.shape[0]:
        raise ValueError(f"k must be an integer from 1 to {sim.shape[0] - 1}, got {k!r}")
    np.fill_diagonal(sim, -np.inf)
    neighbours = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return float((labels[neighbours] == labels[:, None]).mean())


def umap_maps(spaces: dict, *, seed: int = SEED) -> dict:
    """2-D UMAP maps (cosine metric) of several spaces of the same entities, aligned to the first.

    Parameters
    ----------
    spaces : dict
        ``{label: embeddings (n, d)}``; row i is the same entity in every space. The first one
        (the teacher) fixes the orientation: the others are rotated, reflected and scaled onto it
        (:func:`htd_tutorial.plots.maps.align_to`), which changes no distance ratio.
    seed : int
        UMAP's random state (repeatable maps).

    Returns
    -------
    dict
        ``{label: coordinates (n, 2)}``; PCA instead of UMAP (with a printed notice) when
        umap-learn is missing. The first UMAP of a session compiles numba code (10-30 s).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    from ..plots.maps import align_to, project_2d

    if not spaces:
        raise ValueError("spaces is empty")
    maps, reference = {}, None
    for label, emb in spaces.items():
        projection = project_2d(emb, method="auto", seed=seed)
        if projection.method != "UMAP" and reference is None:
            print("umap-learn is not available: the maps below use PCA instead.")
        coords = projection.coords if reference is None else align_to(projection.coords, reference)
        reference = coords if reference is None else reference
        maps[label] = coords
    return maps

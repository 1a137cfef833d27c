"""Topology fidelity: how well a student's embedding space keeps the teacher's similarity structure.

"Topology" here is the cosine-similarity graph among entities (users or items). These pure functions
compare a student's and a teacher's tables row by row (row i of both is the same entity):

- :func:`similarity_kl`: the paper's analysis (Kang et al., KDD 2021, Sec. 5, the topology-
  preservation analysis): per anchor entity, the softmax of its similarities to a candidate set in
  the teacher space vs in the student space, compared with KL(teacher || student), averaged over
  anchors. Candidates are (a) the anchor's k most similar entities in the *teacher* space, or
  (b) k random entities. The paper's exact settings (candidate count, softmax temperature) could
  not be checked against its text here; we use k = 10 and the plain softmax of cosine
  similarities (temperature 1) by default; both are arguments.
- :func:`knn_overlap`: mean fraction of each entity's k nearest neighbours (teacher space) that are
  also among its k nearest neighbours in the student space.
- :func:`rank_correlation`: Spearman correlation between the teacher's and the student's pairwise
  similarities (all pairs i < j).
- :func:`group_agreement`: adjusted Rand index of learned groups (e.g. HTD's argmax assignment)
  against planted groups (the synthetic data's ground truth).
- :func:`topology_report`: all of the above on one random sample of entities.

Lower KL and higher overlap / correlation mean a more faithful topology.

Cost: every metric builds the n x n similarity matrices, i.e. O(n^2) memory (n = 2,000: 32 MB;
n = 25,000 CiteULike items: 5 GB, and the rank correlation sorts n^2 / 2 pairs). Pass a sample of
entities for large tables; :func:`topology_report` samples ``n_sample`` (default 1,000) itself.
"""
from __future__ import annotations

import numpy as np
import torch

from ._checks import embedding_table, one_of, positive_int as _positive_int, positive_number

__all__ = ["embedding_array", "similarity_kl", "knn_overlap", "rank_correlation", "group_agreement",
           "topology_report", "sample_entities"]


def embedding_array(name: str, emb, *, min_rows: int = 1) -> np.ndarray:
    """``emb`` (torch tensor, numpy array or nested list) as a float64 numpy table (entities x dim).

    Raises ``ValueError`` naming ``name`` when it is not 2-D, has fewer than ``min_rows`` rows or no
    column, or holds NaN or infinite values.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if isinstance(emb, torch.Tensor):
        emb = emb.detach().cpu().numpy()
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] < min_rows or emb.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D table (entities x dim) with at least {min_rows} rows, "
                         f"got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return emb


def _table(name: str, emb) -> torch.Tensor:
    emb = embedding_table(name, emb).cpu().to(torch.float64)
    if not torch.isfinite(emb).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return emb


def _pair(student, teacher, min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    student, teacher = _table("student_emb", student), _table("teacher_emb", teacher)
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student has {student.shape[0]} rows but teacher has {teacher.shape[0]}; "
                         "row i of both must be the same entity")
    if student.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} entities, got {student.shape[0]}")
    return student, teacher


def _cosine(emb: torch.Tensor) -> torch.Tensor:
    unit = emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def _neighbours(sim: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of each row's k most similar other rows (self excluded), shape (n, k)."""
    sim = sim.clone()
    sim.fill_diagonal_(-torch.inf)
    return sim.topk(k, dim=1).indices


def sample_entities(n: int, n_sample: int, seed: int = 0) -> torch.Tensor:
    """``min(n, n_sample)`` distinct indices in ``range(n)``, drawn with ``seed`` (sorted).

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    n, n_sample = _positive_int("n", n), _positive_int("n_sample", n_sample)
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n, generator=gen)[: min(n, n_sample)].sort().values


def similarity_kl(student_emb, teacher_emb, *, k: int = 10, candidates: str = "topk", temperature: float = 1.0,
                  seed: int = 0) -> float:
    """Mean KL(teacher || student) of per-entity similarity distributions over a candidate set.

    Parameters
    ----------
    student_emb, teacher_emb : Tensor or array, shapes (n, d_s), (n, d_t)
        The same n entities (typically a sample, see :func:`topology_report`).
    k : int
        Candidates per anchor (< n).
    candidates : {"topk", "random"}
        ``"topk"``: the anchor's k most similar entities in the teacher space (where the fine
        structure is); ``"random"``: k other entities drawn at random with ``seed`` (the coarse,
        global structure).
    temperature : float
        Softmax temperature applied to cosine similarities (> 0).
    seed : int
        For ``"random"`` candidates.

    Returns
    -------
    float
        ``mean_a sum_c p_t(c|a) log(p_t(c|a) / p_s(c|a))`` with ``p_x(.|a) = softmax(rho_x(a, C_a) / T)``.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    k = _positive_int("k", k)
    student, teacher = _pair(student_emb, teacher_emb, min_rows=k + 1)
    one_of("candidates", candidates, ("topk", "random"))
    positive_number("temperature", temperature)
    t_sim, s_sim = _cosine(teacher), _cosine(student)
    n = teacher.shape[0]
    if candidates == "topk":
        cand = _neighbours(t_sim, k)
    else:
        gen = torch.Generator().manual_seed(int(seed))
        # k distinct other entities per anchor: rank random keys, with the anchor itself pushed last
        keys = torch.rand(n, n, generator=gen, dtype=torch.float64)
        keys.fill_diagonal_(2.0)
        cand = keys.argsort(dim=1)[:, :k]
    log_p_t = torch.log_softmax(t_sim.gather(1, cand) / temperature, dim=1)
    log_p_s = torch.log_softmax(s_sim.gather(1, cand) / temperature, dim=1)
    return float((log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1).mean())


def knn_overlap(student_emb, teacher_emb, *, k: int = 10) -> float:
    """Mean ``|kNN_teacher(i) & kNN_student(i)| / k`` over the entities (cosine, self excluded).

    Parameters
    ----------
    student_emb, teacher_emb : Tensor or array, shapes (n, d_s), (n, d_t), n > k
    k : int

    Returns
    -------
    float
        In [0, 1]; 1 means every entity keeps its k nearest neighbours.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    k = _positive_int("k", k)
    student, teacher = _pair(student_emb, teacher_emb, min_rows=k + 1)
    t_nn, s_nn = _neighbours(_cosine(teacher), k), _neighbours(_cosine(student), k)
    shared = (t_nn.unsqueeze(2) == s_nn.unsqueeze(1)).any(dim=2).sum(dim=1)
    return float(shared.double().mean() / k)


def rank_correlation(student_emb, teacher_emb) -> float:
    """Spearman correlation of the pairwise cosine similarities (all pairs i < j), teacher vs student.

    Parameters
    ----------
    student_emb, teacher_emb : Tensor or array, shapes (n, d_s), (n, d_t), n >= 3

    Returns
    -------
    float
        In [-1, 1]; NaN if either side's similarities are all equal.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    from scipy.stats import spearmanr  # (average ranks for ties; replaced a hand-written copy)

    student, teacher = _pair(student_emb, teacher_emb, min_rows=3)
    rows, cols = torch.triu_indices(teacher.shape[0], teacher.shape[0], offset=1)
    t_sim = _cosine(teacher)[rows, cols].double().cpu().numpy()
    s_sim = _cosine(student)[rows, cols].double().cpu().numpy()
    if (t_sim == t_sim[0]).all() or (s_sim == s_sim[0]).all():
        return float("nan")  # (scipy would warn; the correlation of a constant is undefined)
    return float(spearmanr(s_sim, t_sim).statistic)


def group_agreement(learned, planted) -> float:
    """Adjusted Rand index between learned and planted group labels (sklearn's ``adjusted_rand_score``).

    Parameters
    ----------
    learned, planted : 1-D int arrays or tensors of the same length
        E.g. HTD's groups of each item and ``data.item_groups[:, 1]`` (one level of the planted
        hierarchy). Label values need not match, only the partition matters.

    Returns
    -------
    float
        1 for identical partitions, about 0 for unrelated ones.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    from sklearn.metrics import adjusted_rand_score

    labels = []
    for name, values in (("learned", learned), ("planted", planted)):
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"{name} groups must be 1-D (one label per entity), got shape {values.shape}; "
                             "for a hierarchy pass one level, e.g. item_groups[:, 1]")
        if values.size == 0:
            raise ValueError(f"{name} groups are empty")
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{name} groups must be integer labels, got dtype {values.dtype}")
        labels.append(values)
    if labels[0].shape != labels[1].shape:
        raise ValueError(f"learned has {labels[0].size} labels but planted has {labels[1].size}")
    return float(adjusted_rand_score(labels[1], labels[0]))


def topology_report(student_emb, teacher_emb, *, n_sample: int = 1000, k: int = 10, temperature: float = 1.0,
                    seed: int = 0) -> dict:
    """All topology-fidelity metrics on one random sample of entities.

    Parameters
    ----------
    student_emb, teacher_emb : Tensor or array, shapes (n, d_s), (n, d_t)
        Row i of both is the same entity (e.g. both models' item tables).
    n_sample : int
        Entities sampled (without replacement, with ``seed``); all of them if n is smaller.
    k : int
        Neighbourhood / candidate size (must be < the sample size).
    temperature : float
        Softmax temperature of the KL metrics.
    seed : int

    Returns
    -------
    dict
        ``{"kl_topk", "kl_random", "knn_overlap", "spearman", "n_sample", "k"}``.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    student, teacher = _pair(student_emb, teacher_emb)
    k = _positive_int("k", k)
    index = sample_entities(student.shape[0], n_sample, seed)
    if len(index) < max(k + 1, 3):
        raise ValueError(f"the sample has {len(index)} entities; need more than k={k} (and at least 3)")
    s, t = student[index], teacher[index]
    return {
        "kl_topk": similarity_kl(s, t, k=k, candidates="topk", temperature=temperature),
        "kl_random": similarity_kl(s, t, k=k, candidates="random", temperature=temperature, seed=seed),
        "knn_overlap": knn_overlap(s, t, k=k),
        "spearman": rank_correlation(s, t),
        "n_sample": int(len(index)),
        "k": k,
    }

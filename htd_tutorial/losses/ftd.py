"""Full Topology Distillation (FTD): make the student's similarity graph match the teacher's.

Kang, Hwang, Kweon, Yu, *Topology Distillation for Recommender System*, KDD 2021 (arXiv:2106.08700),
Section 4.1 "Full Topology Distillation" (equation numbers are not given: the PDF could not be
checked from here). Over the batch's entities E (its unique users and its unique positive and
negative items, users and items in one set), with rho the cosine similarity,

    L_FTD = sum_{i, j in E} (rho(t_i, t_j) - rho(s_i, s_j))^2        (summed, not averaged)

and the student minimises L_BPR + lambda * L_FTD.

The straightforward formula builds two n x n similarity matrices (n ~ 2,900 per CiteULike batch).
:func:`ftd_loss` computes the same number without them: with row-normalised S (n x d_s) and
T (n x d_t),

    ||S S^T - T T^T||_F^2 = ||S^T S||_F^2 - 2 ||S^T T||_F^2 + ||T^T T||_F^2,

three small Gram matrices (d_s x d_s, d_s x d_t, d_t x d_t). The three terms are of similar size
and the result can be much smaller than each, so they are squared, summed and combined in float64,
and when the result is a small fraction of the terms (a student that nearly matches its teacher)
the Gram matrices themselves are recomputed in float64 (see :func:`gram_topology_distance`).
:func:`ftd_loss_naive` is the n x n reference the tests compare against.
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import finite_number

__all__ = ["cosine_normalize", "cosine_similarity_matrix", "gram_topology_distance", "ftd_loss",
           "ftd_loss_naive", "FTDLoss"]


def cosine_normalize(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Rows of ``x`` scaled to unit length, so that ``cosine(a, b) = <a_hat, b_hat>``.

    Parameters
    ----------
    x : Tensor, shape (n, d)
    eps : float
        ``0`` divides by the plain norm, as the authors' code does (an all-zero row gives NaN);
        ``eps > 0`` divides by ``max(norm, eps)`` (an all-zero row stays zero, cosine 0).

    Returns
    -------
    Tensor, shape (n, d)

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    norm = x.norm(dim=-1, keepdim=True)
    if eps > 0:
        norm = norm.clamp_min(eps)
    return x / norm


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor | None = None, eps: float = 0.0) -> torch.Tensor:
    """All pairwise cosine similarities ``rho(a_i, b_j)``, shape ``(len(a), len(b))``.

    ``b`` defaults to ``a``. ``eps`` as in :func:`cosine_normalize`.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    a_hat = cosine_normalize(a, eps)
    b_hat = a_hat if b is None else cosine_normalize(b, eps)
    return a_hat @ b_hat.transpose(-1, -2)


def gram_topology_distance(s_hat: torch.Tensor, t_hat: torch.Tensor, *,
                           cancellation_guard: float = 1e-3) -> torch.Tensor:
    """``||S S^T - T T^T||_F^2`` for already row-normalised ``S``, ``T`` via Gram matrices.

    Parameters
    ----------
    s_hat : Tensor, shape (n, d_s) or (B, n, d_s)
        Student rows (gradients flow through it). With a leading batch dimension the result is the
        sum over the B independent sets (used per group by the entity-level term of HTD).
    t_hat : Tensor, shape (n, d_t) or (B, n, d_t)
        Teacher rows (treated as constants: the teacher term is computed under ``no_grad``).
    cancellation_guard : float
        Precision policy. The Gram matrices are formed in the inputs' dtype (a float32 GEMM's
        entries are accurate to ~1e-7 relative; the squared sums, measured on CiteULike-sized
        inputs, to ~1e-8) and squared and summed in float64. The three terms are then combined in
        float64. If the result is below ``cancellation_guard`` times ``||S^T S||^2 + ||T^T T||^2``
        (a student that nearly matches the teacher, where the subtraction cancels most digits),
        everything is recomputed in float64.

    Returns
    -------
    Tensor
        A float64 scalar; rows that are all zero contribute nothing, which is what padding needs.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    def terms(s: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            teacher_term = (t.mT @ t).double().square().sum()
        student_term = (s.mT @ s).double().square().sum()
        cross_term = (s.mT @ t).double().square().sum()
        return student_term, cross_term, teacher_term

    t_hat = t_hat.detach()
    student_term, cross_term, teacher_term = terms(s_hat, t_hat)
    value = student_term - 2.0 * cross_term + teacher_term
    if s_hat.dtype != torch.float64 and float(value.detach()) < cancellation_guard * float(
            student_term.detach() + teacher_term):
        student_term, cross_term, teacher_term = terms(s_hat.double(), t_hat.double())
        value = student_term - 2.0 * cross_term + teacher_term
    return value


def ftd_loss(student: torch.Tensor, teacher: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """L_FTD (paper Sec. 4.1) over one set of entities, computed without n x n matrices.

    Parameters
    ----------
    student : Tensor, shape (n, d_s)
        The student's embeddings of the batch's entities (users and items stacked).
    teacher : Tensor, shape (n, d_t)
        The teacher's embeddings of the same entities, same order; no gradient reaches them.
    eps : float
        Cosine guard, see :func:`cosine_normalize` (``0`` = the authors' plain cosine).

    Returns
    -------
    Tensor
        Scalar in ``student.dtype``: ``sum_{i,j} (rho(t_i,t_j) - rho(s_i,s_j))^2``, diagonal included
        (it is 0 for non-zero rows).

    Raises
    ------
    ValueError
        Shapes that do not match; NaN or infinite values in either input; an all-zero row when
        ``eps == 0`` (its plain cosine is 0/0: the authors' code would return NaN). The value is
        checked, not the inputs, so a finite result costs nothing extra: the inputs are examined
        only to name the problem once the result is NaN.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    _check_pair(student, teacher)
    with torch.no_grad():
        t_hat = cosine_normalize(teacher.detach(), eps)
    s_hat = cosine_normalize(student, eps)
    value = gram_topology_distance(s_hat, t_hat).to(student.dtype)
    if not torch.isfinite(value.detach()):
        _check_rows(student, teacher, reject_zero_rows=eps == 0)
    return value


def ftd_loss_naive(student: torch.Tensor, teacher: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """Reference L_FTD with both n x n similarity matrices, exactly as the paper writes it.

    Same arguments, result and errors as :func:`ftd_loss`; O(n^2 d) time and O(n^2) memory. Used by
    the tests and the notebook that derives the fast formula.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    _check_pair(student, teacher)
    _check_rows(student, teacher, reject_zero_rows=eps == 0)
    with torch.no_grad():
        t_sim = cosine_similarity_matrix(teacher.detach(), eps=eps)
    s_sim = cosine_similarity_matrix(student, eps=eps)
    return (t_sim - s_sim).square().sum()


class FTDLoss(nn.Module):
    """``(student, teacher) -> L_FTD`` as a module (no parameters), see :func:`ftd_loss`.

    Parameters
    ----------
    eps : float
        Cosine guard; ``0`` reproduces the authors' code, ``1e-8`` is safe for all-zero rows.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, eps: float = 0.0):
        super().__init__()
        self.eps = finite_number("eps", eps, low=0.0)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return ftd_loss(student, teacher, eps=self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


def _check_pair(student: torch.Tensor, teacher: torch.Tensor, what: str = "") -> None:
    """Raise ValueError unless ``student`` and ``teacher`` are 2-D with the same number of rows.

    ``what`` (e.g. ``"users: "``) starts the message, to say which pair is meant.
    """
    if student.dim() != 2 or teacher.dim() != 2:
        raise ValueError(f"{what}student and teacher embeddings must be 2-D (entities x dim), got shapes "
                         f"{tuple(student.shape)} and {tuple(teacher.shape)}")
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"{what}student has {student.shape[0]} rows but teacher has {teacher.shape[0]}; "
                         "they must embed the same entities in the same order")


def _check_rows(student: torch.Tensor, teacher: torch.Tensor, *, reject_zero_rows: bool, what: str = "") -> None:
    """Raise ValueError for NaN or infinite values, and for all-zero rows when ``reject_zero_rows``.

    ``reject_zero_rows`` is for the plain cosine (``eps == 0``), which is 0/0 for an all-zero row.
    ``what`` (e.g. ``"users: "``) starts the message.
    """
    for name, x in (("student", student), ("teacher", teacher)):
        x = x.detach()
        bad = ~torch.isfinite(x).all(dim=-1)
        if bad.any():
            raise ValueError(f"{what}{name} embeddings contain NaN or infinite values ({int(bad.sum())} rows, first "
                             f"row {int(torch.nonzero(bad)[0])}); the topology of such embeddings is undefined")
        zero = (x == 0).all(dim=-1)
        if reject_zero_rows and zero.any():
            raise ValueError(f"{what}{name} embeddings have {int(zero.sum())} all-zero rows (first row "
                             f"{int(torch.nonzero(zero)[0])}): their plain cosine (eps=0, the authors' code) is 0/0; "
                             "pass eps > 0 (e.g. 1e-8, the clean mode), which gives them cosine 0")

"""Point-wise distillation baselines: each entity on its own, no relations between entities.

These are the contrast for the course's lesson "point-wise vs relational" (the paper's motivation,
Sections 1 and 5):

- **DE** (Distillation by Experts; Kang, Hwang, Lee, Yu, *DE-RRD*, CIKM 2020): experts map each
  student embedding into the teacher space and a Gumbel-softmax selection, driven by the teacher
  embedding, picks the expert; the loss is the reconstruction error. It is exactly HTD's group
  assignment term ``L_GA`` (HTD with gamma = 0), so it reuses
  :class:`~htd_tutorial.losses.htd.GroupAssignment`.
- **FitNet-style hint regression** (Romero et al., *FitNets*, ICLR 2015): one learned linear
  projector ``r: d_s -> d_t`` and ``sum_e ||t_e - r(s_e)||^2``.

Both losses are summed over the batch's entities (not averaged), like every loss in the course,
so the same lambda = 1e-3 means the same thing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int
from ..choices import DEFAULT_K
from .ftd import _check_rows
from .htd import GroupAssignment, _check_batch

__all__ = ["DELoss", "FitNetLoss", "fitnet_loss"]


class DELoss(nn.Module):
    """DE: ``L_GA`` of users plus ``L_GA`` of items, one :class:`GroupAssignment` per type.

    Parameters
    ----------
    teacher_dim, student_dim : int
    K : int
        Number of experts per entity type.
    generator : torch.Generator, optional
        Source of the initial weights.

    ``forward(s_users, s_items, t_users, t_items, tau)`` returns the scalar loss.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, teacher_dim: int, student_dim: int, *, K: int = DEFAULT_K,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.users = GroupAssignment(teacher_dim, student_dim, K, generator=generator)
        self.items = GroupAssignment(teacher_dim, student_dim, K, generator=generator)

    def forward(self, s_users: torch.Tensor, s_items: torch.Tensor, t_users: torch.Tensor,
                t_items: torch.Tensor, tau: float) -> torch.Tensor:
        for what, s, t in (("users: ", s_users, t_users), ("items: ", s_items, t_items)):
            _check_batch(s, t, what=what, student_dim=self.users.student_dim, teacher_dim=self.users.teacher_dim)
        value = (self.users.reconstruction_loss(s_users, t_users, tau)
                 + self.items.reconstruction_loss(s_items, t_items, tau))
        if not torch.isfinite(value.detach()):  # name the cause (inputs are only examined in this case)
            for what, s, t in (("users: ", s_users, t_users), ("items: ", s_items, t_items)):
                _check_rows(s, t, reject_zero_rows=False, what=what)
        return value


def fitnet_loss(student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
    """Hint regression ``sum_e ||t_e - (W s_e + b)||^2`` (teacher side constant).

    Parameters
    ----------
    student : Tensor (n, d_s)
    teacher : Tensor (n, d_t)
    weight : Tensor (d_t, d_s)
    bias : Tensor (d_t,), optional

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student has {student.shape[0]} rows but teacher has {teacher.shape[0]}")
    return (teacher.detach() - F.linear(student, weight, bias)).square().sum()


class FitNetLoss(nn.Module):
    """FitNet-style hint loss with a learned linear projector d_s -> d_t (see :func:`fitnet_loss`).

    Parameters
    ----------
    student_dim, teacher_dim : int
    generator : torch.Generator, optional
        Source of the initial weights (``nn.Linear``'s default: U(-1/sqrt(d_s), 1/sqrt(d_s))).

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, student_dim: int, teacher_dim: int, *, generator: torch.Generator | None = None):
        super().__init__()
        student_dim, teacher_dim = positive_int("student_dim", student_dim), positive_int("teacher_dim", teacher_dim)
        bound = 1.0 / math.sqrt(student_dim)
        self.weight = nn.Parameter(torch.rand(teacher_dim, student_dim, generator=generator) * 2 * bound - bound)
        self.bias = nn.Parameter(torch.rand(teacher_dim, generator=generator) * 2 * bound - bound)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return fitnet_loss(student, teacher, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"projector: {self.weight.shape[1]} -> {self.weight.shape[0]}"

"""The by-hand HTD of notebook 03 (htd_tutorial.course.lessons) equals the library's, piece by piece.

Random float64 batches (seeded), the course recipe's switches (the authors' code): each hand-written
piece is compared with the library function that computes the same term, values and the gradients
the student receives. Tolerance: 1e-9 relative (both sides in float64; they differ only in the order
of the additions).
"""
from __future__ import annotations

import pytest
import torch

from htd_tutorial.course import lessons
from htd_tutorial.losses import (GroupAssignment, HTDLoss, HTDOptions, bpr_loss, entity_topology,
                                 group_level_topology, group_prototypes, is_item_group, joint_groups)

RTOL = ATOL = 1e-9
AUTHORS = HTDOptions.preset("authors")


def _batch(seed: int, n_users: int = 23, n_items: int = 41, d_s: int = 3, d_t: int = 12):
    gen = torch.Generator().manual_seed(seed)
    s_users = torch.randn(n_users, d_s, generator=gen, dtype=torch.float64, requires_grad=True)
    s_items = torch.randn(n_items, d_s, generator=gen, dtype=torch.float64, requires_grad=True)
    t_users = torch.randn(n_users, d_t, generator=gen, dtype=torch.float64)
    t_items = torch.randn(n_items, d_t, generator=gen, dtype=torch.float64)
    return s_users, s_items, t_users, t_items


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a.detach().double(), b.detach().double(), rtol=RTOL, atol=ATOL)


def _grad(value: torch.Tensor, *leaves: torch.Tensor) -> list[torch.Tensor]:
    grads = torch.autograd.grad(value, leaves, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, leaves)]


@pytest.fixture(params=[0, 1, 2])
def batch(request):
    return _batch(request.param)


def _groups(seed: int, n: int, K: int = 4) -> torch.Tensor:
    return torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(seed + 100))


def test_alpha_z_and_hard_groups(batch):
    _, _, t_users, _ = batch
    layer = GroupAssignment(t_users.shape[1], 3, 5, generator=torch.Generator().manual_seed(0)).double()
    alpha = lessons.alpha_by_hand(t_users, layer.assign_weight, layer.assign_bias)
    assert _close(alpha, layer.alpha(t_users))
    assert torch.equal(lessons.hard_groups_by_hand(alpha), layer.hard_groups(t_users))
    for tau in (1.0, 0.3, 1e-6):
        library = GroupAssignment.sample_z(alpha, tau, torch.Generator().manual_seed(7))
        noise = lessons.gumbel_noise(alpha, torch.Generator().manual_seed(7))
        assert _close(lessons.z_by_hand(alpha, noise, tau), library), tau


def test_prototypes(batch):
    s_users, _, t_users, _ = batch
    groups = _groups(0, len(t_users))
    present, library = group_prototypes(t_users, groups)
    assert _close(lessons.prototypes_by_hand(t_users, groups), library)
    assert len(present) == len(groups.unique())


def test_entity_level_values_and_gradients(batch):
    s_users, s_items, t_users, t_items = batch
    student, teacher = torch.cat([s_users, s_items]), torch.cat([t_users, t_items])
    groups = joint_groups(_groups(1, len(s_users)), _groups(2, len(s_items)), 4)
    mine = lessons.entity_level_by_hand(student, teacher, groups)
    library = entity_topology(student, teacher, groups, positive_teacher_pairs_only=True, eps=0.0)
    assert _close(mine, library)
    for a, b in zip(_grad(mine, s_users, s_items), _grad(library, s_users, s_items)):
        assert _close(a, b)


@pytest.mark.parametrize("design", ["PP", "Pe"])
def test_group_level_values_and_gradients(batch, design):
    s_users, s_items, t_users, t_items = batch
    student, teacher = torch.cat([s_users, s_items]), torch.cat([t_users, t_items])
    groups = joint_groups(_groups(3, len(s_users)), _groups(4, len(s_items)), 4)
    mine = {"PP": lessons.group_level_pp_by_hand, "Pe": lessons.group_level_pe_by_hand}[design](
        student, teacher, groups)
    library = group_level_topology(student, teacher, groups, is_item_group(groups, 4), group_topology=design,
                                   proto_grad=AUTHORS.proto_grad, mask_pe=AUTHORS.mask_pe,
                                   same_type_only=AUTHORS.same_type_only, eps=AUTHORS.eps)
    assert _close(mine, library)
    if design == "PP":   # the authors' prototypes are constants: (P, P) gives the student nothing
        assert not mine.requires_grad and not library.requires_grad
    else:
        for a, b in zip(_grad(mine, s_users, s_items), _grad(library, s_users, s_items)):
            assert _close(a, b)
            assert a.abs().sum() > 0


def test_ga_values_and_gradients(batch):
    s_users, _, t_users, _ = batch
    layer = GroupAssignment(t_users.shape[1], 3, 5, generator=torch.Generator().manual_seed(1)).double()
    alpha = layer.alpha(t_users)
    for tau in (1.0, 1e-6):   # a soft mixture (dense path) and a one-hot one (sparse path)
        library = layer.reconstruction_loss(s_users, t_users, tau, generator=torch.Generator().manual_seed(3))
        z = lessons.z_by_hand(alpha, lessons.gumbel_noise(alpha, torch.Generator().manual_seed(3)), tau)
        mine = lessons.ga_by_hand(s_users, t_users, z, layer)
        assert _close(mine, library), tau
        assert _close(_grad(mine, s_users)[0], _grad(library, s_users)[0]), tau


@pytest.mark.parametrize("design", ["Pe", "PP"])
@pytest.mark.parametrize("tau", [1.0, 1e-6])
def test_htd_by_hand_equals_htd_loss(batch, design, tau):
    s_users, s_items, t_users, t_items = batch
    htd = HTDLoss(t_users.shape[1], s_users.shape[1], K=4, gamma=0.5, group_topology=design, options=AUTHORS,
                  generator=torch.Generator().manual_seed(5)).double()
    torch.manual_seed(11)
    library = htd(s_users, s_items, t_users, t_items, tau)
    torch.manual_seed(11)                      # the same noise: users' first, then items', as HTDLoss draws it
    noise = tuple(lessons.gumbel_noise(torch.empty(len(t), 4, dtype=torch.float64)) for t in (t_users, t_items))
    mine = lessons.htd_by_hand(s_users, s_items, t_users, t_items, htd, tau, noise)
    for part in ("entity", "group", "ga", "htd"):
        assert _close(mine[part], library[part]), part
    for a, b in zip(_grad(mine["htd"], s_users, s_items), _grad(library["htd"], s_users, s_items)):
        assert _close(a, b)


def test_student_loss_by_hand(batch):
    s_users, s_items, _, _ = batch
    gen = torch.Generator().manual_seed(9)
    u = torch.randint(0, len(s_users), (50,), generator=gen)
    pos, neg = (torch.randint(0, len(s_items), (50,), generator=gen) for _ in range(2))
    l_htd = torch.tensor(1234.5, dtype=torch.float64)
    mine = lessons.student_loss_by_hand(s_users[u], s_items[pos], s_items[neg], l_htd, 1e-3)
    assert _close(mine, bpr_loss(s_users[u], s_items[pos], s_items[neg]) + 1e-3 * l_htd)


def test_every_piece_is_listed_and_documented():
    assert len(lessons.HTD_BY_HAND) == 10
    for piece in lessons.HTD_BY_HAND:
        assert piece.__doc__ and "notebooks/03_htd.ipynb" in piece.__doc__, piece.__name__
        assert piece.__name__ in lessons.__all__

"""What a d-dimensional student can hold (htd_tutorial.capacity): hand-worked floors, the naive twins, and
the floors' promise (no d-dimensional student goes below them)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htd_tutorial.capacity import (CapacityFloors, batch_entities, block_cosine_floor, capacity_floors,
                                   clustered_groups, cosine_floor, cosine_floor_naive, epoch_floors, fitted_student,
                                   htd_floors, spectrum, truncation_error, truncation_error_naive)
from htd_tutorial.losses.ftd import cosine_similarity_matrix, ftd_loss_naive
from htd_tutorial.losses.htd import group_prototypes
from htd_tutorial.sampling import TripleSampler

#: Eigenvalues 1.5, 1 and 0.5 (the 2 x 2 block [[1, .5], [.5, 1]] has 1 +- 0.5; the third entity stands alone).
HAND = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def clustered(torch_generator):
    """(Tensor (120, 12), LongTensor (120,)): a teacher's embeddings in four clusters, and the clusters."""
    centres = torch.randn(4, 12, generator=torch_generator, dtype=torch.float64) * 2
    labels = torch.arange(120) % 4
    return centres[labels] + torch.randn(120, 12, generator=torch_generator, dtype=torch.float64), labels


def _cosine(x) -> np.ndarray:
    return cosine_similarity_matrix(torch.as_tensor(x, dtype=torch.float64)).numpy()


# -------------------------------------------------------------------------------- worked by hand
def test_the_hand_worked_three_by_three():
    assert spectrum(HAND) == pytest.approx([1.5, 1.0, 0.5], abs=1e-12)
    # Eckart-Young: the discarded eigenvalues' squares
    assert truncation_error(HAND, (1, 2, 3)) == pytest.approx([1.0 + 0.25, 0.25, 0.0], abs=1e-12)
    # plus the unit diagonal's price (3 - sum of the kept eigenvalues)^2 / d
    assert cosine_floor(HAND, (1, 2, 3)) == pytest.approx([1.25 + 1.5 ** 2, 0.25 + 0.5 ** 2 / 2, 0.0], abs=1e-12)
    # three unit teacher rows whose cosines are HAND: ||T||_F^2 = 3 + 2 * 0.25 = 3.5, so at d = 1 the
    # relative floor is exactly 1, what a student with all similarities 0 would score
    teacher = np.array([[1.0, 0.0, 0.0], [0.5, math.sqrt(0.75), 0.0], [0.0, 0.0, 1.0]])
    floors = capacity_floors(teacher, (1, 2, 3), fit_steps=None)
    assert floors.ftd_norm2 == pytest.approx(3.5)
    assert floors.ftd_loss == pytest.approx([3.5, 0.375, 0.0], abs=1e-12)
    assert floors.ftd == pytest.approx([1.0, math.sqrt(0.375 / 3.5), 0.0], abs=1e-12)


def test_the_identity_and_a_tight_frame_reach_the_floor():
    """Four orthogonal entities, d = 2: the floor (4 - 2) + (4 - 2)^2 / 2 = 4 is reached by four unit
    vectors at 45 degrees (a tight frame: its similarities are 0 or +-1/sqrt(2), eight of them)."""
    assert cosine_floor(np.eye(4), 2) == pytest.approx([4.0])
    assert truncation_error(np.eye(4), 2) == pytest.approx([2.0])        # Eckart-Young alone: half of it
    angles = np.deg2rad([0.0, 45.0, 90.0, 135.0])
    frame = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert np.square(np.eye(4) - frame @ frame.T).sum() == pytest.approx(4.0)
    rows, reached = fitted_student(np.eye(4), 2, steps=200)
    assert reached == pytest.approx(4.0, abs=1e-6)
    assert np.linalg.norm(rows, axis=1) == pytest.approx(np.ones(4))


def test_teacher_rows_give_the_cosine_matrix_floor(clustered):
    teacher, _ = clustered
    floors = capacity_floors(teacher, (1, 2, 3, 5, 8), fit_steps=None)
    target = _cosine(teacher)
    assert floors.ftd_loss == pytest.approx(cosine_floor(target, (1, 2, 3, 5, 8)), rel=1e-10)
    assert floors.ftd_norm2 == pytest.approx(np.square(target).sum(), rel=1e-12)
    assert floors.ftd == pytest.approx(np.sqrt(floors.ftd_loss / floors.ftd_norm2))
    assert floors.ftd_rank == pytest.approx(np.sqrt(truncation_error(target, (1, 2, 3, 5, 8)) / floors.ftd_norm2),
                                            rel=1e-8)


# -------------------------------------------------------------------------------- shapes of the curve
def test_monotone_in_d_and_zero_at_full_rank(clustered):
    teacher, groups = clustered
    dims = (1, 2, 3, 4, 6, 8, 12, 16)
    floors = capacity_floors(teacher, dims, groups, fit_steps=20)
    for name in ("ftd", "ftd_rank", "ftd_reached", "entity", "group"):
        values = getattr(floors, name)
        assert np.all(np.diff(values) <= 1e-12), (name, values)
    # the teacher has rank 12: from d = 12 on every target is held exactly (the fitted student too)
    at_full = floors.at(12)
    assert at_full["ftd"] == pytest.approx(0.0, abs=1e-7) and at_full["ftd_rank"] == pytest.approx(0.0, abs=1e-7)
    assert at_full["entity"] == pytest.approx(0.0, abs=1e-7) and at_full["group"] == pytest.approx(0.0, abs=1e-7)
    assert floors.at(16)["ftd_reached"] < 1e-3
    # the group level ("Pe", 8 prototypes) has rank at most 8
    assert floors.at(8)["group"] == pytest.approx(0.0, abs=1e-7)
    assert floors.n_groups == 4 and floors.n_entities == 120


def test_the_unit_diagonal_only_raises_the_floor(clustered):
    teacher, _ = clustered
    floors = capacity_floors(teacher, (1, 2, 4, 8), fit_steps=None)
    assert np.all(floors.ftd >= floors.ftd_rank)
    assert floors.ftd[0] > 2 * floors.ftd_rank[0]          # at d = 1 the diagonal's price dominates


# -------------------------------------------------------------------------------- naive twins
@pytest.mark.parametrize("shape", [(30, 30), (8, 30), (30, 8)])
def test_truncation_error_matches_numpys_svd(rng, shape):
    matrix = rng.normal(size=shape)
    if shape[0] == shape[1]:
        matrix = matrix @ matrix.T                           # symmetric: the eigenvalue path
    dims = (1, 2, 5, 8, 40)
    assert truncation_error(matrix, dims) == pytest.approx(truncation_error_naive(matrix, dims), rel=1e-9, abs=1e-9)


def test_cosine_floor_matches_its_naive_twin(rng):
    target = _cosine(rng.normal(size=(50, 10)))
    dims = (1, 2, 3, 7, 10, 60)
    fast, naive = cosine_floor(target, dims), cosine_floor_naive(target, dims)
    assert fast == pytest.approx(naive, rel=1e-9, abs=1e-9)
    assert fast[-2:] == pytest.approx([0.0, 0.0], abs=1e-9)  # rank 10


def test_block_floor_is_the_sum_of_the_blocks(clustered):
    teacher, groups = clustered
    target = _cosine(teacher)
    total, energy = block_cosine_floor(target, groups, (1, 3))
    blocks = [target[np.ix_(groups == g, groups == g)] for g in range(4)]
    assert total == pytest.approx(sum(cosine_floor_naive(b, (1, 3)) for b in blocks), rel=1e-9)
    assert energy == pytest.approx(sum(np.square(b).sum() for b in blocks))
    floors = capacity_floors(teacher, (1, 3), groups, fit_steps=None)
    assert floors.entity_loss == pytest.approx(total, rel=1e-9)
    assert floors.entity_norm2 == pytest.approx(energy)


@pytest.mark.parametrize("group_topology", ["Pe", "PP"])
def test_group_level_floor_is_the_prototypes_matrix_floor(clustered, group_topology):
    teacher, groups = clustered
    _, prototypes = group_prototypes(teacher, groups)
    target = (cosine_similarity_matrix(prototypes) if group_topology == "PP"
              else cosine_similarity_matrix(prototypes, teacher)).numpy()
    expected = cosine_floor_naive(target, (1, 2)) if group_topology == "PP" else truncation_error_naive(target, (1, 2))
    floors = capacity_floors(teacher, (1, 2), groups, group_topology=group_topology, fit_steps=None)
    assert floors.group_loss == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert floors.group_norm2 == pytest.approx(np.square(target).sum())
    assert floors.group_topology == group_topology


def test_htd_floors_add_the_groups_to_ftds_floors(clustered):
    teacher, groups = clustered
    whole = capacity_floors(teacher, (1, 2, 4), groups, fit_steps=5)
    added = htd_floors(capacity_floors(teacher, (1, 2, 4), fit_steps=5), teacher, groups)
    for name in CapacityFloors.COLUMNS:
        assert getattr(added, name) == pytest.approx(getattr(whole, name), rel=1e-12)
    assert added.n_groups == whole.n_groups == 4


def test_one_group_is_ftd_and_singletons_hold_nothing_to_lose(clustered):
    teacher, _ = clustered
    one = capacity_floors(teacher, (1, 2), torch.zeros(120, dtype=torch.long), fit_steps=None)
    assert one.entity == pytest.approx(one.ftd, rel=1e-9)
    alone = capacity_floors(teacher, (1, 2), torch.arange(120), fit_steps=None)
    assert alone.entity == pytest.approx([0.0, 0.0], abs=1e-12)   # a 1 x 1 block [1] fits any space


# -------------------------------------------------------------------------------- the promise
def test_no_student_goes_below_the_floor(clustered):
    """Random d-dimensional students, and the fitted one, all score at least the floor (L_FTD itself)."""
    teacher, _ = clustered
    dims = (1, 2, 4, 8)
    floors = capacity_floors(teacher, dims, fit_steps=60)
    gen = torch.Generator().manual_seed(3)
    for i, d in enumerate(dims):
        for _ in range(5):
            student = torch.randn(120, d, generator=gen, dtype=torch.float64)
            assert float(ftd_loss_naive(student, teacher)) >= floors.ftd_loss[i] - 1e-9
        rows, reached = fitted_student(teacher, d, steps=60)
        assert float(ftd_loss_naive(torch.from_numpy(rows), teacher)) == pytest.approx(reached, rel=1e-9)
        assert reached >= floors.ftd_loss[i] - 1e-9
        assert math.sqrt(reached / floors.ftd_norm2) == pytest.approx(floors.ftd_reached[i], rel=1e-9)
    # the bracket is narrow here: the fitted student is within 10 % of the floor from d = 2 on
    assert np.all(floors.ftd_reached[1:] <= 1.1 * floors.ftd[1:])


def test_students_in_the_same_groups_score_at_least_the_entity_floor(clustered):
    teacher, groups = clustered
    floors = capacity_floors(teacher, (2,), groups, fit_steps=None)
    student = torch.randn(120, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    mask = (groups[:, None] == groups[None, :]).numpy()
    value = np.square((_cosine(teacher) - _cosine(student)) * mask).sum()
    assert value >= floors.entity_loss[0] - 1e-9


# -------------------------------------------------------------------------------- the batch and groups
def test_batch_entities_are_the_samplers_first_batch(tiny):
    users, items = batch_entities(tiny, 64, seed=7)
    u, p, n = next(iter(TripleSampler(tiny, 64, seed=7)))
    assert torch.equal(users, torch.unique(u)) and torch.equal(items, torch.unique(torch.cat([p, n])))


def test_epoch_floors_are_the_mean_floor_of_each_epochs_batches(tiny, rng):
    users, items = rng.normal(size=(tiny.n_users, 8)), rng.normal(size=(tiny.n_items, 8))
    got = epoch_floors(tiny, users, items, (1, 3), batch_size=128, seed=4, epochs=2)
    sampler = TripleSampler(tiny, 128, seed=4)
    for epoch in range(2):              # the sampler, iterated once an epoch as train() does, and the n x n floors
        floors = [cosine_floor_naive(_cosine(np.concatenate([users[torch.unique(u).numpy()],
                                                             items[torch.unique(torch.cat([p, n])).numpy()]])), (1, 3))
                  for u, p, n in sampler]
        assert got[epoch] == pytest.approx(np.mean(floors, axis=0), rel=1e-9)
    assert got.shape == (2, 2) and not np.allclose(got[0], got[1])     # other batches, other floors


def test_clustered_groups_number_users_then_items(clustered):
    teacher, labels = clustered
    groups = clustered_groups(teacher[:50], teacher[50:], 4, seed=0)
    assert groups.shape == (120,) and groups.dtype == torch.long
    assert set(groups[:50].tolist()) <= set(range(4)) and set(groups[50:].tolist()) <= set(range(4, 8))
    # four well-separated clusters are found again (up to the numbering)
    from htd_tutorial.topology import group_agreement
    assert group_agreement(groups[50:].numpy(), labels[50:].numpy()) > 0.9


# -------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("dims, words", [
    (0, "integer >= 1"), ((2, 1), "increasing"), ((), "at least one"), ("4", "a dimension >= 1 or a sequence"),
    ((2.5,), "integer >= 1"), ((True,), "integer >= 1")])
def test_bad_dims_raise(dims, words):
    with pytest.raises(ValueError, match=words):
        capacity_floors(np.eye(3), dims)


def test_bad_inputs_raise(clustered):
    teacher, groups = clustered
    with pytest.raises(ValueError, match="2-D"):
        capacity_floors(np.ones(4), 2)
    with pytest.raises(ValueError, match="at least 2 entities"):
        capacity_floors(np.ones((1, 3)), 2)
    with pytest.raises(ValueError, match="NaN"):
        capacity_floors(np.array([[1.0, np.nan], [1.0, 0.0]]), 2)
    with pytest.raises(ValueError, match="all-zero row"):
        capacity_floors(np.array([[1.0, 0.0], [0.0, 0.0]]), 1)
    assert capacity_floors(np.array([[1.0, 0.0], [0.0, 0.0]]), 1, eps=1e-8, fit_steps=None).n_entities == 2
    with pytest.raises(ValueError, match="one group per entity"):
        capacity_floors(teacher, 2, groups[:-1])
    with pytest.raises(ValueError, match="integer labels"):
        capacity_floors(teacher, 2, groups.double())
    with pytest.raises(ValueError, match=">= 0"):
        capacity_floors(teacher, 2, groups - 1)
    with pytest.raises(ValueError, match="group_topology"):
        capacity_floors(teacher, 2, groups, group_topology="EE")
    with pytest.raises(ValueError, match="fit_steps"):
        capacity_floors(teacher, 2, fit_steps=-1)
    with pytest.raises(ValueError, match="eps"):
        capacity_floors(teacher, 2, eps=-1.0)
    with pytest.raises(ValueError, match="square"):
        cosine_floor(np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="symmetric"):
        cosine_floor(np.array([[1.0, 0.2], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="same batch"):
        htd_floors(capacity_floors(teacher[:60], 2, fit_steps=None), teacher, groups)
    with pytest.raises(ValueError, match="CapacityFloors"):
        htd_floors({}, teacher, groups)
    with pytest.raises(ValueError, match="not one of the dimensions"):
        capacity_floors(teacher, (1, 2), fit_steps=None).at(3)
    with pytest.raises(ValueError, match="more than the 3 rows"):
        clustered_groups(teacher[:3], teacher[3:], 4)
    with pytest.raises(ValueError, match="Interactions"):
        batch_entities(teacher)
    with pytest.raises(ValueError, match="d must be a positive integer"):
        fitted_student(teacher, 0)


def test_epoch_floors_reject_a_teacher_of_other_data(tiny):
    with pytest.raises(ValueError, match="the data 40 and 60"):
        epoch_floors(tiny, np.ones((39, 4)), np.ones((60, 4)), 2)
    with pytest.raises(ValueError, match="Interactions"):
        epoch_floors(np.ones((40, 60)), np.ones((40, 4)), np.ones((60, 4)), 2)
    with pytest.raises(ValueError, match="epochs"):
        epoch_floors(tiny, np.ones((40, 4)), np.ones((60, 4)), 2, epochs=0)

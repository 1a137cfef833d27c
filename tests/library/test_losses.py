"""Distillation losses: every fast path equals the straightforward formula, and the distillers' protocol.

Fast paths run in float32 (as in training) and are compared with the n x n / loop references run in
float64 on the same numbers: values and gradients must agree to a relative error of 1e-5.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import pytest
import torch

from htd_tutorial.choices import METHODS
from htd_tutorial.config import RunConfig
from htd_tutorial.distill import (DISTILLERS, FTDDistiller, HTDDistiller,
                                  make_distiller, validate_teacher)
from htd_tutorial.losses._fast import DenseMixture, SparseMixture, bucket_split
from htd_tutorial.losses import (DELoss, FitNetLoss, FTDLoss, GroupAssignment, HTDLoss, HTDOptions, entity_topology,
                                 entity_topology_naive, expert_mixture_naive, fitnet_loss, ftd_loss,
                                 ftd_loss_naive, group_level_topology, group_level_topology_naive, group_prototypes,
                                 gumbel_temperature, is_item_group, joint_groups)

RTOL = 1e-5


def rel_err(fast: torch.Tensor, ref: torch.Tensor) -> float:
    fast, ref = fast.detach().double(), ref.detach().double()
    return float((fast - ref).norm() / ref.norm().clamp_min(1e-300))


def logits_gradient_close(fast: torch.Tensor, ref: torch.Tensor, module, student, weights) -> bool:
    """The logits' gradient to 1e-5, or within what the weights the sparse path leaves out can carry.

    A softmax weight below 2^-40 of its row's largest changes ``d/dlogit_k`` by at most
    ``2 * z_k * max_j |<dL/dout, f_j(s)>|``; in a (near) one-hot row those small weights are all the
    logits' gradient there is (of order 1e-12 and below), so that bound is the yardstick, not 1e-5 of it.
    """
    with torch.no_grad():
        carried = (module.expert_outputs(student.to(weights.dtype)) * weights.unsqueeze(1)).sum(-1).abs().max()
    difference = (fast.detach().double() - ref.detach().double()).abs().max()
    return rel_err(fast, ref) <= RTOL or float(difference) <= 2.0 ** -39 * float(carried)


def leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().clone().requires_grad_()


def both_precisions(student: torch.Tensor):
    """The same numbers as a float32 leaf (fast path) and a float64 leaf (reference)."""
    s32 = leaf(student.float())
    return s32, leaf(s32.detach().double())


def check_value_and_grad(fast_fn, ref_fn, s32, s64, what: str) -> None:
    fast, ref = fast_fn(s32), ref_fn(s64)
    assert rel_err(fast, ref) <= RTOL, f"{what}: value {float(fast)} vs {float(ref)}"
    g_fast, = torch.autograd.grad(fast, s32)
    g_ref, = torch.autograd.grad(ref, s64)
    assert rel_err(g_fast, g_ref) <= RTOL, f"{what}: gradient differs by {rel_err(g_fast, g_ref):.2e}"


@pytest.fixture
def batch(torch_generator):
    """Random 'batch': 70 users + 110 items, teacher dim 24, student dim 6, 2 x 5 groups of varied sizes."""
    gen = torch_generator
    n_users, n_items, d_t, d_s = 70, 110, 24, 6
    teacher = torch.randn(n_users + n_items, d_t, generator=gen) + 0.5 * torch.randn(1, d_t, generator=gen)
    student = torch.randn(n_users + n_items, d_s, generator=gen)
    # skewed group sizes (one large group per type, to exercise the Gram path and several size buckets)
    users = torch.multinomial(torch.tensor([0.6, 0.2, 0.1, 0.07, 0.03]), n_users, True, generator=gen)
    items = torch.multinomial(torch.tensor([0.7, 0.1, 0.1, 0.05, 0.05]), n_items, True, generator=gen) + 5
    groups = torch.cat([users, items])
    is_item = torch.cat([torch.zeros(n_users, dtype=torch.bool), torch.ones(n_items, dtype=torch.bool)])
    return {"student": student, "teacher": teacher, "groups": groups, "is_item": is_item,
            "n_users": n_users, "d_s": d_s, "d_t": d_t}


# ----------------------------------------------------------------------------------------------
# FTD
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.0, 1e-8])
def test_ftd_fast_equals_naive(batch, eps):
    s32, s64 = both_precisions(batch["student"])
    teacher = batch["teacher"]
    check_value_and_grad(lambda s: ftd_loss(s, teacher.float(), eps=eps),
                         lambda s: ftd_loss_naive(s, teacher.double(), eps=eps), s32, s64, f"FTD eps={eps}")


def test_ftd_near_teacher_uses_float64_and_stays_exact(torch_generator):
    # a student that nearly reproduces the teacher's topology: the Gram terms cancel to ~1e-6
    teacher = torch.randn(200, 12, generator=torch_generator, dtype=torch.float64)
    student = teacher + 1e-3 * torch.randn(200, 12, generator=torch_generator, dtype=torch.float64)
    s64 = leaf(student)
    fast = ftd_loss(s64, teacher)
    ref = ftd_loss_naive(leaf(student), teacher)
    assert rel_err(fast, ref) <= RTOL
    s32 = leaf(student.float())
    assert rel_err(ftd_loss(s32, teacher.float()), ref) <= 1e-3  # float32 inputs limit what is attainable


def test_ftd_ignores_teacher_gradient_and_checks_shapes(batch):
    teacher = leaf(batch["teacher"])
    loss = ftd_loss(leaf(batch["student"]), teacher)
    loss.backward()
    assert teacher.grad is None
    with pytest.raises(ValueError, match="rows"):
        ftd_loss(batch["student"][:-1], batch["teacher"])
    with pytest.raises(ValueError, match="2-D"):
        ftd_loss(batch["student"][0], batch["teacher"])


def test_ftd_names_bad_rows_and_the_module_keeps_its_eps(batch):
    student, teacher = batch["student"].clone(), batch["teacher"]
    student[4] = 0.0                                   # an all-zero row: its plain cosine is 0/0
    with pytest.raises(ValueError, match="student embeddings have 1 all-zero rows"):
        ftd_loss(student, teacher)
    guarded = FTDLoss(eps=1e-8)(student, teacher)      # with the guard the row has cosine 0 with everything
    assert torch.isfinite(guarded) and rel_err(guarded, ftd_loss_naive(student, teacher, eps=1e-8)) <= RTOL
    one_nan = batch["student"].clone()
    one_nan[7, 2] = math.nan                           # one NaN in an otherwise finite row
    with pytest.raises(ValueError, match=r"student embeddings contain NaN or infinite values \(1 rows, first row 7\)"):
        ftd_loss(one_nan, teacher)


def test_ftd_is_zero_for_a_rotated_scaled_copy(torch_generator):
    teacher = torch.randn(50, 8, generator=torch_generator, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch_generator, dtype=torch.float64))
    student = 3.0 * teacher @ rotation
    assert float(ftd_loss(student, teacher)) < 1e-9


# ----------------------------------------------------------------------------------------------
# HTD: entity level, group level, experts
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("positive_only,method,eps", [
    (True, "blocks", 0.0), (True, "auto", 0.0), (False, "blocks", 1e-8), (False, "gram", 1e-8),
    (False, "auto", 1e-8), (False, "auto", 0.0),
])
def test_entity_topology_fast_equals_naive(batch, positive_only, method, eps):
    s32, s64 = both_precisions(batch["student"])
    teacher, groups = batch["teacher"], batch["groups"]
    check_value_and_grad(
        lambda s: entity_topology(s, teacher.float(), groups, positive_teacher_pairs_only=positive_only,
                                  eps=eps, method=method),
        lambda s: entity_topology_naive(s, teacher.double(), groups, positive_teacher_pairs_only=positive_only,
                                        eps=eps),
        s32, s64, f"entity positive_only={positive_only} method={method}")


def test_entity_topology_leaves_out_pairs_of_zero_teacher_similarity(batch):
    # with the cosine guard an all-zero teacher row has similarity exactly 0 with every entity, itself
    # included; the authors' filter keeps pairs with a teacher similarity > 0, so those pairs are left out
    teacher = batch["teacher"].clone()
    teacher[3] = 0.0
    s32, s64 = both_precisions(batch["student"])
    check_value_and_grad(
        lambda s: entity_topology(s, teacher.float(), batch["groups"], positive_teacher_pairs_only=True, eps=1e-8,
                                  method="blocks"),
        lambda s: entity_topology_naive(s, teacher.double(), batch["groups"], positive_teacher_pairs_only=True,
                                        eps=1e-8),
        s32, s64, "entity level with a zero teacher row")


def test_entity_topology_gram_path_is_exercised(batch):
    # the largest group (about 0.7 * 110 items) is wider than 2 * (d_s + d_t) = 60, so "auto" uses
    # the Gram identity for it when the teacher mask is off
    counts = torch.bincount(batch["groups"])
    assert int(counts.max()) > 2 * (batch["d_s"] + batch["d_t"])
    with pytest.raises(ValueError, match="element-wise teacher mask"):
        entity_topology(batch["student"], batch["teacher"], batch["groups"], method="gram")


def test_entity_topology_one_group_is_ftd(batch):
    one = torch.zeros(len(batch["groups"]), dtype=torch.long)
    s = batch["student"].double()
    t = batch["teacher"].double()
    assert rel_err(entity_topology(s, t, one, positive_teacher_pairs_only=False), ftd_loss_naive(s, t)) <= 1e-12


@pytest.mark.parametrize("design,proto_grad,mask_pe,same_type_only,eps",
                         list(itertools.product(["Pe", "PP"], [False, True], [False, True], [False, True],
                                                [0.0, 1e-8])))
def test_group_level_topology_fast_equals_naive(batch, design, proto_grad, mask_pe, same_type_only, eps):
    s32, s64 = both_precisions(batch["student"])
    teacher, groups, is_item = batch["teacher"], batch["groups"], batch["is_item"]
    options = dict(group_topology=design, proto_grad=proto_grad, mask_pe=mask_pe, same_type_only=same_type_only,
                   eps=eps)
    fast = group_level_topology(s32, teacher.float(), groups, is_item, **options)
    ref = group_level_topology_naive(s64, teacher.double(), groups, is_item, **options)
    assert rel_err(fast, ref) <= RTOL
    if design == "PP" and not proto_grad:
        # the authors' (P,P): prototypes under no_grad, so the student gets nothing from this term
        assert not fast.requires_grad and not ref.requires_grad
        return
    g_fast, = torch.autograd.grad(fast, s32)
    g_ref, = torch.autograd.grad(ref, s64)
    assert rel_err(g_fast, g_ref) <= RTOL


def test_pe_mask_and_type_switches_change_the_term(batch):
    s, t, g, is_item = batch["student"], batch["teacher"], batch["groups"], batch["is_item"]
    full = group_level_topology(s, t, g, is_item, group_topology="Pe")
    assert group_level_topology(s, t, g, is_item, group_topology="Pe", mask_pe=True) < full
    assert group_level_topology(s, t, g, is_item, group_topology="Pe", same_type_only=True) < full


def test_group_level_topology_rejects_an_unknown_design(batch):
    s, t, g, is_item = batch["student"], batch["teacher"], batch["groups"], batch["is_item"]
    with pytest.raises(ValueError, match="group_topology must be one of"):
        group_level_topology(s, t, g, is_item, group_topology="pe")


def test_joint_groups_number_item_groups_after_user_groups():
    users, items = torch.tensor([0, 2, 1]), torch.tensor([1, 0])
    groups = joint_groups(users, items, 3)
    assert groups.tolist() == [0, 2, 1, 4, 3]
    assert is_item_group(groups, 3).tolist() == [False, False, False, True, True]


def test_group_prototypes_are_means(batch):
    present, proto = group_prototypes(batch["teacher"], batch["groups"])
    for g, p in zip(present.tolist(), proto):
        torch.testing.assert_close(p, batch["teacher"][batch["groups"] == g].mean(0))


def expert_setup(gen, n=90, d_s=5, d_t=12, K=7, sparse=False):
    module = GroupAssignment(d_t, d_s, K, generator=gen).double()
    student = torch.randn(n, d_s, generator=gen, dtype=torch.float64)
    logits = torch.randn(n, K, generator=gen, dtype=torch.float64)
    if sparse:   # what the annealed Gumbel-softmax looks like: mostly exact zeros
        logits = logits * 5000.0
    return module, student, logits


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("path", ["dense", "sparse", "auto"])
def test_expert_mixture_equals_loop(torch_generator, path, sparse):
    # z comes from a softmax, as in training: gradients are compared upstream of it (a weight that
    # is exactly 0 passes no gradient through the softmax, which is what makes the sparse path exact)
    module, student, logits = expert_setup(torch_generator, sparse=sparse)
    if sparse:
        assert (torch.softmax(logits, 1) == 0).float().mean() > 0.5
    s_fast, l_fast = leaf(student), leaf(logits)
    s_ref, l_ref = leaf(student), leaf(logits)
    weights = torch.randn(student.shape[0], module.teacher_dim, generator=torch_generator, dtype=torch.float64)
    fast = (module.mixture(s_fast, torch.softmax(l_fast, 1), path=path) * weights).sum()
    fast_grads = torch.autograd.grad(fast, [s_fast, l_fast, *module.parameters()], allow_unused=True)
    ref = (expert_mixture_naive(module, s_ref, torch.softmax(l_ref, 1)) * weights).sum()
    ref_grads = torch.autograd.grad(ref, [s_ref, l_ref, *module.parameters()], allow_unused=True)
    assert rel_err(fast, ref) <= RTOL
    for name, g_fast, g_ref in zip(["student", "logits", "assign_weight", "assign_bias", "w1", "b1", "w2", "b2"],
                                   fast_grads, ref_grads):
        if g_ref is None:
            assert g_fast is None or float(g_fast.abs().max()) == 0.0, name
        elif name == "logits":
            assert logits_gradient_close(g_fast, g_ref, module, student, weights), name
        else:
            assert rel_err(g_fast, g_ref) <= RTOL, name


def test_sparse_mixture_with_uneven_expert_loads(torch_generator):
    # one expert takes most entities, some take a few, one none: several buckets of experts
    module, student, logits = expert_setup(torch_generator, n=120, K=8, sparse=True)
    favourite = torch.tensor([0] * 70 + [1] * 25 + [2] * 12 + [3] * 8 + [4] * 3 + [5] * 2)
    logits = torch.full_like(logits, -1e4)
    logits[torch.arange(len(favourite)), favourite] = 0.0         # expert 6 and 7: never used
    s_fast, l_fast, s_ref, l_ref = leaf(student), leaf(logits), leaf(student), leaf(logits)
    weights = torch.randn(student.shape[0], module.teacher_dim, generator=torch_generator, dtype=torch.float64)
    fast = (module.mixture(s_fast, torch.softmax(l_fast, 1), path="sparse") * weights).sum()
    ref = (expert_mixture_naive(module, s_ref, torch.softmax(l_ref, 1)) * weights).sum()
    assert rel_err(fast, ref) <= RTOL
    params = [module.w1, module.b1, module.w2, module.b2]
    for g_fast, g_ref in zip(torch.autograd.grad(fast, [s_fast, *params]), torch.autograd.grad(ref, [s_ref, *params])):
        assert rel_err(g_fast, g_ref) <= RTOL


def test_dense_mixture_gradcheck(torch_generator):
    module, student, logits = expert_setup(torch_generator, n=6, d_s=3, d_t=4, K=3)
    z = torch.softmax(logits, 1)
    inputs = [leaf(student), leaf(z)] + [p.detach().clone().requires_grad_() for p in
                                          (module.w1, module.b1, module.w2, module.b2)]

    def fn(s, zz, w1, b1, w2, b2):   # the flattened layout GroupAssignment.mixture passes in
        return DenseMixture.apply(s, zz, w1.reshape(3, -1), b1.reshape(-1), w2.reshape(-1, 4), b2)

    assert torch.autograd.gradcheck(fn, inputs)


def test_sparse_mixture_gradcheck():
    # two buckets by hand: experts 0 and 2 padded to width 3 (entity 4 twice in different experts),
    # expert 1 alone; the padded slot points at entity 0 and must add nothing
    gen = torch.Generator().manual_seed(5)
    student, z = torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.rand(6, 3, generator=gen,
                                                                                     dtype=torch.float64)
    params = [torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in ((3, 3, 5), (3, 5), (3, 5, 4), (3, 4))]
    buckets = [(torch.tensor([0, 2]), torch.tensor([[1, 4, 5], [4, 2, 0]]), torch.tensor([[True] * 3, [True, True, False]])),
               (torch.tensor([1]), torch.tensor([[0, 3]]), torch.tensor([[True, True]]))]
    inputs = [leaf(student), leaf(z)] + [leaf(p) for p in params]
    assert torch.autograd.gradcheck(lambda *x: SparseMixture.apply(*x, buckets), inputs)


def test_bucket_split_is_the_cheapest_cut():
    # hand-worked: sizes 10, 9, 2, 1 with a bucket overhead of 20 (linear area): {10, 9} {2, 1} costs
    # 20 + 20 + 20 + 4 = 64; one bucket 20 + 40 = 60 is cheaper; with overhead 5: 5+20 + 5+4 = 34
    assert bucket_split([10, 9, 2, 1], 20, square=False) == [4]
    assert bucket_split([10, 9, 2, 1], 5, square=False) == [2, 4]
    # square area: padding 9 to 10 costs 100 - 81 = 19 pairs: worth it for an overhead of 30, not of 10
    assert bucket_split([10, 9], 10, square=True) == [1, 2]
    assert bucket_split([10, 9], 30, square=True) == [2]
    assert bucket_split([10, 2], 10, square=True) == [1, 2]


def test_experts_have_the_papers_hidden_width():
    # f_k: d_s -> (d_s + d_t) // 2 -> d_t; with d_s = 5, d_t = 12 the hidden width is 8
    module = GroupAssignment(12, 5, 7)
    assert module.hidden_dim == 8
    assert [tuple(p.shape) for p in (module.w1, module.b1, module.w2, module.b2)] == [(5, 7, 8), (7, 8), (7, 8, 12),
                                                                                   (7, 12)]


def test_expert_outputs_match_mixture(torch_generator):
    module, student, logits = expert_setup(torch_generator)
    z = torch.softmax(logits, 1)
    torch.testing.assert_close((module.expert_outputs(student) * z.unsqueeze(-1)).sum(1), module.mixture(student, z))


def test_gumbel_sample_is_reproducible_and_sharpens(torch_generator):
    alpha = torch.softmax(torch.randn(50, 6, generator=torch_generator), dim=1)
    a = GroupAssignment.sample_z(alpha, 1.0, torch.Generator().manual_seed(3))
    b = GroupAssignment.sample_z(alpha, 1.0, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a.sum(1), torch.ones(50))
    cold = GroupAssignment.sample_z(alpha, 1e-10, torch.Generator().manual_seed(3))
    assert torch.equal(cold.max(1).values, torch.ones(50))
    with pytest.raises(ValueError, match="temperature"):
        GroupAssignment.sample_z(alpha, 0.0)


def test_gumbel_temperature_schedule():
    assert gumbel_temperature(0, 100) == 1.0
    assert gumbel_temperature(50, 100) == pytest.approx(1e-5)
    assert gumbel_temperature(100, 100) == pytest.approx(1e-10)
    assert gumbel_temperature(0, 100, lag=True) == 1.0 and gumbel_temperature(1, 100, lag=True) == 1.0
    assert gumbel_temperature(51, 100, lag=True) == pytest.approx(1e-5)
    values = [gumbel_temperature(e, 10) for e in range(11)]
    assert values == sorted(values, reverse=True)
    for bad in [(-1, 10), (0, 0), (1.5, 10)]:
        with pytest.raises(ValueError):
            gumbel_temperature(*bad)
    for end in (0.0, 1.5):
        with pytest.raises(ValueError, match="end temperature"):
            gumbel_temperature(1, 10, end=end)


def htd_reference(loss: HTDLoss, s_users, s_items, t_users, t_items, tau):
    """L_HTD assembled from the naive pieces, drawing Gumbel noise in the same order as HTDLoss."""
    opts = loss.options
    ga, groups = 0.0, []
    for side, s, t in ((loss.users, s_users, t_users), (loss.items, s_items, t_items)):
        alpha = side.alpha(t)
        z = side.sample_z(alpha, tau)
        ga = ga + (t - expert_mixture_naive(side, s, z)).square().sum()
        groups.append(alpha.detach().argmax(1))
    groups = joint_groups(groups[0], groups[1], loss.K)
    s, t = torch.cat([s_users, s_items]), torch.cat([t_users, t_items])
    entity = entity_topology_naive(s, t, groups, positive_teacher_pairs_only=opts.positive_teacher_pairs_only,
                                   eps=opts.eps)
    group = group_level_topology_naive(s, t, groups, is_item_group(groups, loss.K), group_topology=loss.group_topology,
                                       proto_grad=opts.proto_grad, mask_pe=opts.mask_pe,
                                       same_type_only=opts.same_type_only, eps=opts.eps)
    return loss.gamma * (entity + group) + (1 - loss.gamma) * ga


#: Every option set of the ablation grids, from either end: both presets and each single switch flipped.
#: Written out (not read from ``HTDOptions.ablation``) so that a switch lost from the grid fails
#: test_ablation_grid_names_every_switch instead of silently leaving this reference test.
SWITCHES = ("proto_grad", "positive_teacher_pairs_only", "mask_pe", "same_type_only", "eps", "tau_lag")
VARIANTS = (["authors", "clean"] + [f"authors + {name}" for name in SWITCHES]
            + [f"clean - {name}" for name in SWITCHES])
#: Student rows scaled below the clean cosine guard (1e-8), so that the ``eps`` switch changes the loss:
#: the plain cosine still sees a unit vector there, the guarded one a vector of length ~1e-2.
TINY_USER, TINY_ITEM = 2, 3


def variant_options(name: str) -> HTDOptions:
    return {**HTDOptions.ablation("authors"), **HTDOptions.ablation("clean")}[name]


def test_ablation_grid_names_every_switch():
    assert set(VARIANTS) == set(HTDOptions.ablation("authors")) | set(HTDOptions.ablation("clean"))
    assert {f.name for f in dataclasses.fields(HTDOptions)} == set(SWITCHES)


def tiny_rows(batch) -> list[int]:
    return [TINY_USER, batch["n_users"] + TINY_ITEM]


def with_tiny_rows(s_users: torch.Tensor, s_items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s_users, s_items = s_users.detach().clone(), s_items.detach().clone()
    s_users[TINY_USER] *= 1e-10
    s_items[TINY_ITEM] *= 1e-10
    return s_users, s_items


def grad_parts(grads, tiny_rows) -> dict[str, torch.Tensor]:
    """The gradients by part: the student's ordinary rows, its rows below the cosine guard (gradients
    ~1e10 under the plain cosine, kept apart so they cannot swamp a difference in the others), and
    each parameter of the module."""
    student, *params = grads
    ordinary = torch.ones(len(student), dtype=torch.bool)
    ordinary[tiny_rows] = False
    parts = {"student's ordinary rows": student[ordinary], "student's tiny rows": student[~ordinary]}
    parts.update({f"parameter {i}": g for i, g in enumerate(params)})
    return parts


def grad_errors(grads, ref_grads, tiny_rows) -> dict[str, float]:
    ref_parts = grad_parts(ref_grads, tiny_rows)
    return {part: rel_err(g, ref_parts[part]) for part, g in grad_parts(grads, tiny_rows).items()}


def htd_loss_run(batch, options: HTDOptions, design: str, tau: float, *, naive: bool):
    """(L_HTD, gradients w.r.t. the student and the module's parameters) on the batch, in float64."""
    n_u = batch["n_users"]
    loss = HTDLoss(batch["d_t"], batch["d_s"], K=5, gamma=0.5, group_topology=design, options=options,
                   generator=torch.Generator().manual_seed(1)).double()
    s_users, s_items = with_tiny_rows(batch["student"][:n_u].double(), batch["student"][n_u:].double())
    s = leaf(torch.cat([s_users, s_items]))
    t = batch["teacher"].double()
    torch.manual_seed(7)
    run = htd_reference if naive else (lambda module, *args: module(*args)["htd"])
    value = run(loss, s[:n_u], s[n_u:], t[:n_u], t[n_u:], tau)
    return value, torch.autograd.grad(value, [s, *loss.parameters()])


@pytest.mark.parametrize("design,tau", [("Pe", 1.0), ("PP", 1e-5)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_htd_loss_equals_reference_for_every_switch(batch, variant, design, tau):
    # tau = 1: dense expert mixture; tau = 1e-5: z (numerically) one-hot, the sparse path
    options = variant_options(variant)
    fast, fast_grads = htd_loss_run(batch, options, design, tau, naive=False)
    ref, ref_grads = htd_loss_run(batch, options, design, tau, naive=True)
    assert rel_err(fast, ref) <= RTOL, f"{variant} {design}: value {float(fast)} vs {float(ref)}"
    for part, err in grad_errors(fast_grads, ref_grads, tiny_rows(batch)).items():
        assert err <= RTOL, f"{variant} {design}: gradient ({part}) differs by {err:.2e}"


# Switches HTDLoss cannot see: the temperature is its argument (tau_lag acts in the distiller), and
# "PP" relates prototypes to prototypes only, so there is no own-group entity to leave out.
INERT_IN_HTD_LOSS = {("tau_lag", "Pe"), ("tau_lag", "PP"), ("mask_pe", "PP")}


@pytest.mark.parametrize("design,tau", [("Pe", 1.0), ("PP", 1e-5)])
@pytest.mark.parametrize("variant", [v for v in VARIANTS if " " in v])
def test_every_switch_changes_htd_loss_on_the_reference_batch(batch, variant, design, tau):
    # the reference test is only as sharp as its batch: flipping a switch must change the value or a gradient
    base, switch = variant.split(" ")[0], variant.split(" ")[-1]
    value, grads = htd_loss_run(batch, variant_options(variant), design, tau, naive=False)
    base_value, base_grads = htd_loss_run(batch, HTDOptions.preset(base), design, tau, naive=False)
    change = max(rel_err(value, base_value), *grad_errors(grads, base_grads, tiny_rows(batch)).values())
    if (switch, design) in INERT_IN_HTD_LOSS:
        assert change == 0, f"{variant} {design}"
    else:
        assert change > 100 * RTOL, f"{variant} {design}: the batch does not show the switch ({change:.1e})"


def test_htd_parts_and_gamma_extremes(batch):
    n_u = batch["n_users"]
    s, t = batch["student"], batch["teacher"]
    args = (s[:n_u], s[n_u:], t[:n_u], t[n_u:], 1.0)
    for gamma in (0.0, 0.5, 1.0):
        loss = HTDLoss(batch["d_t"], batch["d_s"], K=5, gamma=gamma, generator=torch.Generator().manual_seed(1))
        torch.manual_seed(0)
        parts = loss(*args)
        expected = gamma * (parts["entity"] + parts["group"]) + (1 - gamma) * parts["ga"]
        torch.testing.assert_close(parts["htd"], expected)
        if gamma == 0:
            assert float(parts["entity"]) == 0 and float(parts["group"]) == 0
        if gamma == 1:
            assert float(parts["ga"]) == 0


def test_hard_groups_come_from_each_types_own_layer(batch):
    # users by the users' assignment layer, items by the items' (numbered from K), also when no alpha is given
    n_u, t = batch["n_users"], batch["teacher"]
    loss = HTDLoss(batch["d_t"], batch["d_s"], K=5, generator=torch.Generator().manual_seed(1))
    expected = torch.cat([loss.users.alpha(t[:n_u]).argmax(1), loss.items.alpha(t[n_u:]).argmax(1) + 5])
    assert torch.equal(loss.assignment(t[:n_u], t[n_u:]), expected)
    assert not torch.equal(loss.users.alpha(t[n_u:]).argmax(1), expected[n_u:] - 5)  # the batch tells them apart


def test_htd_options_presets_and_validation():
    authors, clean = HTDOptions.preset("authors"), HTDOptions.preset("clean")
    assert set(authors.differences(clean)) == {"proto_grad", "positive_teacher_pairs_only", "mask_pe",
                                              "same_type_only", "eps", "tau_lag"}
    flipped = authors.replace(mask_pe=True)
    assert authors.differences(flipped) == {"mask_pe": (False, True)}
    with pytest.raises(ValueError, match="unknown HTDOptions"):
        authors.replace(mask_p=True)
    grid = HTDOptions.ablation("authors")
    assert list(grid)[0] == "authors" and list(grid)[-1] == "clean" and len(grid) == 8
    assert grid["authors + eps"].differences(authors) == {"eps": (1e-8, 0.0)}
    assert HTDOptions.ablation("clean")["clean - mask_pe"].differences(clean) == {"mask_pe": (False, True)}
    assert HTDOptions() == authors     # the defaults are the authors' code, as the class documents
    with pytest.raises(ValueError, match="mode"):
        HTDOptions.preset("paper")
    with pytest.raises(ValueError, match="eps"):
        HTDOptions(eps=-1.0)
    with pytest.raises(ValueError, match="proto_grad"):
        HTDOptions(proto_grad=1)


# ----------------------------------------------------------------------------------------------
# Point-wise baselines
# ----------------------------------------------------------------------------------------------

def test_fitnet_loss_formula(batch):
    hint = FitNetLoss(batch["d_s"], batch["d_t"], generator=torch.Generator().manual_seed(0))
    s, t = batch["student"], batch["teacher"]
    expected = ((t - (s @ hint.weight.T + hint.bias)) ** 2).sum()
    torch.testing.assert_close(hint(s, t), expected)
    torch.testing.assert_close(fitnet_loss(s, t, hint.weight, hint.bias), expected)


def test_fitnet_projector_starts_like_nn_linear():
    # U(-1/sqrt(d_s), 1/sqrt(d_s)) for weight and bias, as nn.Linear(d_s, d_t): with d_s = 4, d_t = 64 every
    # entry is within 0.5, and of 4 * 64 + 64 = 320 draws some are beyond 1/sqrt(64) = 0.125
    hint = FitNetLoss(4, 64, generator=torch.Generator().manual_seed(0))
    values = torch.cat([hint.weight.detach().flatten(), hint.bias.detach()])
    assert float(values.abs().max()) <= 0.5 and float(values.abs().max()) > 0.4
    assert int((values.abs() > 0.125).sum()) > 200


def test_de_is_htd_with_gamma_zero(batch):
    n_u = batch["n_users"]
    s, t = batch["student"], batch["teacher"]
    de = DELoss(batch["d_t"], batch["d_s"], K=5, generator=torch.Generator().manual_seed(2))
    htd = HTDLoss(batch["d_t"], batch["d_s"], K=5, gamma=0.0, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    a = de(s[:n_u], s[n_u:], t[:n_u], t[n_u:], 0.5)
    torch.manual_seed(0)
    b = htd(s[:n_u], s[n_u:], t[:n_u], t[n_u:], 0.5)["htd"]
    torch.testing.assert_close(a, b)


# ----------------------------------------------------------------------------------------------
# Distillers
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def tables(torch_generator):
    t_users = torch.randn(40, 16, generator=torch_generator)
    t_items = torch.randn(60, 16, generator=torch_generator)
    users = torch.tensor([0, 3, 5, 8, 13, 21, 34])
    items = torch.arange(0, 60, 3)
    s_users = torch.randn(len(users), 4, generator=torch_generator, requires_grad=True)
    s_items = torch.randn(len(items), 4, generator=torch_generator, requires_grad=True)
    return t_users, t_items, users, items, s_users, s_items


@pytest.mark.parametrize("method,mode,keys", [
    ("ftd", "authors", {"ftd"}), ("ftd", "clean", {"ftd"}), ("fitnet", "authors", {"hint"}),
    ("de", "authors", {"ga"}), ("htd", "authors", {"htd", "entity", "group", "ga"}),
    ("htd", "clean", {"htd", "entity", "group", "ga"}),
])
def test_distiller_protocol(tables, method, mode, keys):
    t_users, t_items, users, items, s_users, s_items = tables
    lam = 0.01
    distiller = make_distiller(method, t_users, t_items, 4, lam=lam, K=3, mode=mode, n_users=40, n_items=60)
    out = distiller(s_users, s_items, users, items, 0, 10)
    assert set(out) == {"loss"} | keys
    assert out["loss"].dim() == 0 and out["loss"].requires_grad
    for name in keys:
        assert not out[name].requires_grad, name
    main = {"ftd": "ftd", "fitnet": "hint", "de": "ga", "htd": "htd"}[method]
    torch.testing.assert_close(out["loss"].detach(), lam * out[main])
    out["loss"].backward()
    assert s_users.grad is not None and s_items.grad is not None
    assert "t_users" not in distiller.state_dict() and "t_items" not in distiller.state_dict()


def test_ftd_distiller_equals_ftd_loss(tables):
    t_users, t_items, users, items, s_users, s_items = tables
    out = FTDDistiller(t_users, t_items, lam=1.0)(s_users, s_items, users, items, 0, 1)
    expected = ftd_loss_naive(torch.cat([s_users, s_items]).double(),
                              torch.cat([t_users[users], t_items[items]]).double())
    assert rel_err(out["loss"], expected) <= RTOL


def test_student_method_returns_none():
    assert make_distiller("student") is None


@pytest.mark.parametrize("method", METHODS)
def test_make_distiller_builds_the_class_its_table_names(tables, method):
    t_users, t_items = tables[:2]
    distiller = make_distiller(method, t_users, t_items, 4, lam=0.5, K=3, mode="clean", n_users=40, n_items=60)
    if DISTILLERS[method] is None:
        assert distiller is None
    else:
        assert type(distiller) is DISTILLERS[method] and distiller.lam == 0.5
    with pytest.raises(ValueError, match=r"unknown method 'kd'; choose one of \('student', 'fitnet'"):
        make_distiller("kd", t_users, t_items, 4)


def test_distiller_init_is_seeded_and_noise_follows_global_rng(tables):
    t_users, t_items, users, items, s_users, s_items = tables
    a = make_distiller("htd", t_users, t_items, 4, K=3, seed=5)
    b = make_distiller("htd", t_users, t_items, 4, K=3, seed=5)
    c = make_distiller("htd", t_users, t_items, 4, K=3, seed=6)
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
        assert not torch.equal(p, r), name
    torch.manual_seed(11)
    first = a(s_users, s_items, users, items, 2, 10)["ga"]
    torch.manual_seed(11)
    second = a(s_users, s_items, users, items, 2, 10)["ga"]
    assert torch.equal(first, second)


def test_htd_distiller_temperature_and_groups(tables):
    t_users, t_items, users, items, s_users, s_items = tables
    authors = make_distiller("htd", t_users, t_items, 4, K=3, mode="authors")
    clean = make_distiller("htd", t_users, t_items, 4, K=3, mode="clean")
    assert authors.temperature(1, 10) == 1.0
    assert clean.temperature(1, 10) == pytest.approx(10 ** -1)
    assert make_distiller("de", t_users, t_items, 4, K=3, mode="clean").temperature(1, 10) == pytest.approx(0.1)
    user_groups, item_groups = authors.groups()
    assert user_groups.shape == (40,) and item_groups.shape == (60,)
    assert int(user_groups.max()) < 3 and int(item_groups.max()) < 3
    # values: argmax_k (W t + b)_k of each type's own assignment layer, recomputed here in float64
    for table, layer, groups in ((t_users, authors.htd.users, user_groups), (t_items, authors.htd.items, item_groups)):
        logits = table.double() @ layer.assign_weight.detach().double().T + layer.assign_bias.detach().double()
        assert torch.equal(groups, logits.argmax(dim=1))
    assert len(item_groups.unique()) > 1  # not everybody in one group, so the comparison means something
    ablation = make_distiller("htd", t_users, t_items, 4, K=3, options=HTDOptions.preset("authors").replace(
        proto_grad=True))
    assert ablation.options.proto_grad and not ablation.options.mask_pe


#: The temperature at epoch 1 of 10: one epoch late (the authors' loop) it is still 1, on time it is
#: (1e-10) ** (1 / 10) = 0.1.
TAU_AT_EPOCH_1_OF_10 = {True: 1.0, False: 0.1}


@pytest.mark.parametrize("design", ["Pe", "PP"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_htd_distiller_equals_reference_for_every_switch(tables, variant, design):
    # the distiller wires the options into HTDLoss and the temperature: its float32 loss must equal
    # lambda * L_HTD from the naive float64 pieces, at the temperature written above
    t_users, t_items, users, items, s_users, s_items = tables
    options = variant_options(variant)
    distiller = make_distiller("htd", t_users, t_items, 4, lam=0.01, K=3, gamma=0.5, group_topology=design,
                               options=options, seed=3, n_users=40, n_items=60)
    assert distiller.options == options
    s_users, s_items = (leaf(s) for s in with_tiny_rows(s_users, s_items))
    torch.manual_seed(7)
    out = distiller(s_users, s_items, users, items, 1, 10)
    fast_grads = torch.autograd.grad(out["loss"], [s_users, s_items, *distiller.parameters()])
    reference = copy.deepcopy(distiller.htd).double()
    r_users, r_items = leaf(s_users.double()), leaf(s_items.double())
    torch.manual_seed(7)
    ref = 0.01 * htd_reference(reference, r_users, r_items, t_users[users].double(), t_items[items].double(),
                               TAU_AT_EPOCH_1_OF_10[options.tau_lag])
    ref_grads = torch.autograd.grad(ref, [r_users, r_items, *reference.parameters()])
    assert rel_err(out["loss"], ref) <= RTOL, f"{variant} {design}: {float(out['loss'])} vs {float(ref)}"
    fast_grads = (torch.cat(fast_grads[:2]), *fast_grads[2:])
    ref_grads = (torch.cat(ref_grads[:2]), *ref_grads[2:])
    for part, err in grad_errors(fast_grads, ref_grads, [TINY_USER, len(users) + TINY_ITEM]).items():
        assert err <= RTOL, f"{variant} {design}: gradient ({part}) differs by {err:.2e}"


def test_authors_pp_gives_student_no_group_gradient(tables):
    t_users, t_items, users, items, s_users, s_items = tables
    for mode, expect_grad in (("authors", False), ("clean", True)):
        htd = make_distiller("htd", t_users, t_items, 4, K=3, gamma=1.0, group_topology="PP", mode=mode).htd
        s = torch.cat([s_users, s_items]).detach().requires_grad_()
        t = torch.cat([t_users[users], t_items[items]])
        groups = htd.assignment(t_users[users], t_items[items])
        assert htd.group_level_topology(s, t, groups).requires_grad == expect_grad


def test_training_steps_reduce_the_losses(tables):
    # a few plain gradient steps on the student embeddings alone must lower each distillation term
    t_users, t_items, users, items, s_users, s_items = tables
    for method in ("ftd", "htd", "de", "fitnet"):
        torch.manual_seed(0)
        distiller = make_distiller(method, t_users, t_items, 4, lam=1.0, K=3, gamma=1.0, mode="clean")
        su, si = leaf(s_users), leaf(s_items)
        opt = torch.optim.Adam([su, si, *distiller.parameters()], lr=0.1)
        values = []
        for _ in range(10):
            torch.manual_seed(0)
            loss = distiller(su, si, users, items, 9, 10)["loss"]
            values.append(float(loss.detach()))
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert values[-1] < 0.8 * values[0], (method, values[0], values[-1])


# ----------------------------------------------------------------------------------------------
# Validation before training
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes,match", [
    ({"K": 0}, "K"), ({"K": 2.5}, "K"), ({"student_dim": 0}, "student dimension"),
    ({"student_dim": -3}, "student dimension"),
    ({"gamma": 1.5}, "gamma"), ({"gamma": -0.1}, "gamma"), ({"gamma": math.nan}, "gamma"), ({"lam": -1e-3}, "lam"),
    ({"lam": math.inf}, "lam"), ({"mode": "paper"}, "mode"), ({"group_topology": "pe"}, "group_topology"),
    ({"method": "kd"}, "method"), ({"method": "ftd", "options": HTDOptions()}, "options"), ({"n_users": 41}, "users"), ({"n_items": 59}, "items"), ({"seed": -1}, "seed"),
])
def test_make_distiller_rejects_bad_arguments(tables, changes, match):
    t_users, t_items = tables[:2]
    kwargs = {"method": "htd", "student_dim": 4, "K": 3, "n_users": 40, "n_items": 60}
    kwargs.update(changes)
    method, student_dim = kwargs.pop("method"), kwargs.pop("student_dim")
    with pytest.raises(ValueError, match=match):
        make_distiller(method, t_users, t_items, student_dim, **kwargs)


def test_make_distiller_rejects_bad_teachers(tables):
    t_users, t_items = tables[:2]
    bad = t_users.clone()
    bad[3, 2] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        make_distiller("ftd", bad, t_items, 4)
    bad[3, 2] = math.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        make_distiller("htd", bad, t_items, 4)
    with pytest.raises(ValueError, match="same dimension"):
        make_distiller("ftd", t_users, t_items[:, :8], 4)
    with pytest.raises(ValueError, match="2-D"):
        make_distiller("ftd", t_users[0], t_items, 4)
    with pytest.raises(ValueError, match="teacher"):
        make_distiller("ftd", None, t_items, 4)
    zero = t_users.clone()
    zero[5] = 0
    with pytest.raises(ValueError, match="all-zero"):
        make_distiller("ftd", zero, t_items, 4, mode="authors")
    assert make_distiller("ftd", zero, t_items, 4, mode="clean") is not None
    users, items = validate_teacher(t_users.double().numpy(), t_items, n_users=40, n_items=60)
    assert users.dtype == torch.float32 and users.shape == (40, 16)


def test_the_distillers_trust_the_configuration_that_checked_their_settings(tables):
    """A setting is checked once, by the RunConfig that make_distiller builds (or is given); the classes it
    reaches take what it checked and do not check it again."""
    t_users, t_items = tables[:2]
    for changes, match in (({"K": 0}, "K"), ({"dim": 0}, "student dimension"), ({"lam": -1}, "lam"),
                           ({"options": {"mask_pe": True}}, "options")):
        with pytest.raises(ValueError, match=match):
            RunConfig(**{"method": "htd", "dim": 4, **changes})
    config = RunConfig(method="htd", dim=4, K=3, seed=2)
    built = make_distiller(config, t_users, t_items)
    assert type(built) is HTDDistiller and built.htd.K == 3 and built.htd.users.student_dim == 4
    with pytest.raises(TypeError, match="not both"):
        make_distiller(config, t_users, t_items, 4)


def test_negligible_weights_are_left_out_without_changing_the_numbers(torch_generator):
    # a Gumbel-softmax half-way through the annealing, in float32 as in training: no weight is exactly 0,
    # but most are below 2^-40 of their row's largest. The sparse path leaves those out; the value and the
    # gradients of student, logits and experts stay those of the full loop in float64 to 1e-5
    module, student, logits = expert_setup(torch_generator, n=200, K=7)
    logits = logits * 25.0                         # gaps of ~20-80 between weights: 2^-40 is exp(-27.7)
    z64 = torch.softmax(logits, 1)
    assert (z64 > 0).all() and (z64 < z64.amax(1, keepdim=True) * 2.0 ** -40).float().mean() > 0.3
    weights = torch.randn(student.shape[0], module.teacher_dim, generator=torch_generator, dtype=torch.float64)
    module32 = copy.deepcopy(module).float()
    s_fast, l_fast = leaf(student.float()), leaf(logits.float())
    fast = (module32.mixture(s_fast, torch.softmax(l_fast, 1), path="auto") * weights.float()).sum()
    fast_grads = torch.autograd.grad(fast, [s_fast, l_fast, *module32.parameters()], allow_unused=True)
    s_ref, l_ref = leaf(student), leaf(logits)
    ref = (expert_mixture_naive(module, s_ref, torch.softmax(l_ref, 1)) * weights).sum()
    ref_grads = torch.autograd.grad(ref, [s_ref, l_ref, *module.parameters()], allow_unused=True)
    assert rel_err(fast, ref) <= RTOL
    for name, g_fast, g_ref in zip(["student", "logits", "assign_weight", "assign_bias", "w1", "b1", "w2", "b2"],
                                   fast_grads, ref_grads):
        if name == "logits":
            assert logits_gradient_close(g_fast, g_ref, module, student, weights), name
        elif g_ref is not None:
            assert rel_err(g_fast, g_ref) <= RTOL, name

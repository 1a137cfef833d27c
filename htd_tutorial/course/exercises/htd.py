"""Self-check exercises of ``notebooks/03_htd.ipynb`` (03.x): reference solutions and hints.

:data:`NOTEBOOK_EXERCISES` lists them; :mod:`htd_tutorial.course.exercises` registers them.
"""
from __future__ import annotations

import numpy as np

from .engine import Exercise, as_function, as_int, as_number, close, within_factor

NOTEBOOK_EXERCISES: list[Exercise] = []


def _topology_ratio(ftd_history, htd_history, epoch: int = 0) -> float:
    """lambda L_FTD over HTD's lambda gamma (L_entity + L_group), per batch, in one epoch of the two loss traces."""
    ftd, htd = ftd_history.loss_trace[epoch], htd_history.loss_trace[epoch]
    return ftd["ftd"] / (htd["entity"] + htd["group"])


def _solve_03_1(ftd_history, htd_history):
    return _topology_ratio(ftd_history, htd_history)           # first epoch, from the loss traces


def _why_03_1(ftd_history, htd_history) -> str:
    ftd, htd = ftd_history.loss_trace[0], htd_history.loss_trace[0]
    last = _topology_ratio(ftd_history, htd_history, -1)
    return (f"In the first epoch λ·L_FTD is {ftd['ftd']:.0f} per batch, HTD's λγ·L_entity + λγ·L_group "
            f"{htd['entity']:.0f} + {htd['group']:.0f}: FTD's is {_topology_ratio(ftd_history, htd_history):.1f} "
            f"times as large ({last:.1f} times in the last epoch), next to an L_BPR of about {ftd['bpr']:.0f}. "
            "HTD matches far fewer relations (pairs inside a group, and prototypes instead of every other "
            "entity) and weighs its topology by γ, so the same tiny student is asked much less.")


def _judge_03_1(answer, expected, ftd_history, htd_history):
    if answer <= 0:
        return "Both terms are sums of squares times positive weights: the ratio is a positive number."
    if within_factor(answer, expected, 2.0):
        return None
    return f"Not within a factor of 2. {_why_03_1(ftd_history, htd_history)}"


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.1",
    question="Predict, then run: for the tiny student, in the first epoch, how many times larger is FTD's topology "
             "term λ·L_FTD (per batch) than HTD's two topology terms together, λγ·(L_entity + L_group)? "
             "Within a factor of 2 counts as right.",
    inputs=("ftd_history", "htd_history"), parse=as_number, solve=_solve_03_1, judge=_judge_03_1,
    hint="Think of the counts of Section 3: how many relations each matches, and HTD's weight γ = 0.5.",
    explain=lambda answer, ftd_history, htd_history: _why_03_1(ftd_history, htd_history)))


def _group_labels(user_groups, item_groups) -> np.ndarray:
    users = np.asarray(user_groups.detach().cpu() if hasattr(user_groups, "detach") else user_groups)
    items = np.asarray(item_groups.detach().cpu() if hasattr(item_groups, "detach") else item_groups)
    offset = int(max(users.max(initial=-1), items.max(initial=-1))) + 1
    return np.concatenate([users, items + offset])          # user group k and item group k are different groups


def _solve_03_2(user_groups, item_groups):
    labels = _group_labels(user_groups, item_groups)
    sizes = np.unique(labels, return_counts=True)[1]
    return int((sizes.astype(np.int64) ** 2).sum())         # every ordered pair inside each group


def _judge_03_2(answer, expected, user_groups, item_groups):
    if answer == expected:
        return None
    labels = _group_labels(user_groups, item_groups)
    n = len(labels)
    sizes = np.unique(labels, return_counts=True)[1].astype(np.int64)
    if answer == n * n:
        return "That is FTD's count (every pair); the entity level keeps only pairs inside one group."
    if answer in (int((sizes * (sizes - 1) // 2).sum()), int((sizes * (sizes - 1)).sum())):
        return "Count ordered pairs with i = j included: a group of m entities gives m * m pairs."
    merged = np.unique(np.concatenate([np.asarray(user_groups), np.asarray(item_groups)]), return_counts=True)[1]
    if answer == int((merged.astype(np.int64) ** 2).sum()):
        return "User group k and item group k are different groups: count them separately."
    return "For each group (users' and items' apart) take its size m in this batch and add up m * m."


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.2",
    question="user_groups and item_groups are the HTD groups of one batch's users and items. How many ordered pairs "
             "(i, j), i = j included, does the entity-level term sum over (before the authors' filter)?",
    inputs=("user_groups", "item_groups"), parse=as_int, solve=_solve_03_2, judge=_judge_03_2,
    hint="np.bincount(user_groups) and np.bincount(item_groups) give the group sizes m; sum m * m over both."))


def _solve_03_3(data, teacher, small_dim):
    from ..lessons import distill_run            # noqa: PLC0415 (trains a model: import when asked)

    run = distill_run(data, teacher, "student", small_dim, lr=5e-3, epochs=40, progress=False)
    return run.history.final("Recall@50")                   # test Recall@50 after the last epoch


def _judge_03_3(answer, expected, data, teacher, small_dim):
    if close(answer, expected, rel=1e-3, abs_tol=1e-4):
        return None
    if answer > 1:
        return "Give Recall@50 as a share between 0 and 1."
    return "Use run = distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40) and " \
           "run.history.final('Recall@50')."


def _explain_03_3(answer, data, teacher, small_dim):
    from ..lessons import distill_run            # noqa: PLC0415 (loads a cached run: import when asked)

    fixed = distill_run(data, teacher, "student", small_dim, progress=False).history.final("Recall@50")
    return (f"Trained faster and twice as long, the plain student reaches {answer:.3f} against {fixed:.3f} "
            "at the course's fixed budget (same seed). At that budget it was far from trained, so part of "
            "any method's lead over it there can be training speed rather than knowledge from the teacher. "
            "Section 3.2 gives every method the same learning-rate search to tell the two apart.")


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.3",
    question="Train the plain student of dimension SMALL_DIM with lr=5e-3 for 40 epochs "
             "(distill_run(data, teacher, 'student', SMALL_DIM, lr=5e-3, epochs=40)). What is its test Recall@50?",
    inputs=("data", "teacher", "small_dim"), parse=as_number, solve=_solve_03_3, judge=_judge_03_3,
    hint="run.history.final('Recall@50') of the returned run gives the test Recall@50 after the last epoch.",
    explain=_explain_03_3))


def _solve_03_4(student, teacher, groups):
    import torch   # noqa: PLC0415 (torch is heavy; only when asked)

    def group_level(student, teacher, groups):
        def cosine(a, b):                                   # rho(a_i, b_j) for all rows
            return (a / a.norm(dim=1, keepdim=True)) @ (b / b.norm(dim=1, keepdim=True)).T

        labels = groups.unique()                            # the groups present (users' and items')
        proto_t = torch.stack([teacher[groups == g].mean(dim=0) for g in labels])
        with torch.no_grad():                               # the authors: student prototypes are constants
            proto_s = torch.stack([student[groups == g].mean(dim=0) for g in labels])
        # every prototype p with every batch entity e (its own members included), ordered pairs
        return ((cosine(proto_t, teacher) - cosine(proto_s, student)) ** 2).sum()

    return group_level


def _library_pe(student, teacher, groups, **changes):
    """The library's (P, e) term with the recipe's (authors') switches, or with ``changes`` to them."""
    from ...losses.htd import HTDOptions, group_level_topology   # noqa: PLC0415

    options = HTDOptions.preset("authors").replace(**changes)
    is_item = groups.new_zeros(groups.shape, dtype=bool)    # read only with same_type_only, which stays off
    return group_level_topology(student, teacher, groups, is_item, group_topology="Pe", proto_grad=options.proto_grad,
                                mask_pe=options.mask_pe, same_type_only=options.same_type_only, eps=options.eps)


def _try(function, student, teacher, groups):
    """``(value, gradient on the student, error message)`` of the learner's function on fresh copies."""
    s = student.detach().clone().requires_grad_()
    try:
        value = function(s, teacher.detach(), groups)
        if value is None:
            return None, None, "your function returns None: write its body, returning the term as a torch scalar"
        if not hasattr(value, "backward") or value.numel() != 1:
            return None, None, "your function must return one number as a torch scalar (a 0-d tensor)"
        grad = None
        if value.requires_grad:
            value.backward()
            grad = s.grad
        return value.detach(), grad, None
    except Exception as exc:   # noqa: BLE001 (a learner's bug is a hint, never an error)
        return None, None, f"your function raised {type(exc).__name__}: {exc}"


def _judge_03_4(answer, expected, student, teacher, groups):
    import torch   # noqa: PLC0415

    value, grad, error = _try(answer, student, teacher, groups)
    if error:
        return error
    s = student.detach().clone().requires_grad_()
    library = _library_pe(s, teacher.detach(), groups)
    library.backward()
    same = torch.allclose(value.double(), library.detach().double(), rtol=1e-6, atol=1e-8)
    if same and grad is not None and torch.allclose(grad, s.grad, rtol=1e-5, atol=1e-8):
        return None
    if same:
        return ("The value is right but the gradient is not: in the authors' code the student's prototypes are "
                "computed under torch.no_grad(), so the gradient reaches the student only through s_e.")
    near = lambda other: torch.allclose(value.double(), other.detach().double(), rtol=1e-6, atol=1e-8)  # noqa: E731
    if near(_library_pe(student, teacher, groups, mask_pe=True)):
        return ("You left out each prototype's own members (the clean reading); the recipe, the authors' code, "
                "relates every prototype to every batch entity.")
    return ("Build one prototype per group present (the mean of its members' embeddings, teacher and student "
            "apart), then the G x n cosine matrices rho(P_p, e) in both spaces; sum the squared differences.")


def _explain_03_4(answer, student, teacher, groups):
    value = _try(answer, student, teacher, groups)[0]
    n, g = len(groups), len(groups.unique())
    return (f"L_group (P, e) = {float(value):.3f} on this batch: {g} prototypes x {n} entities = {g * n:,} "
            "ordered (prototype, entity) relations, each prototype's own members included, with the student's "
            "prototypes held constant (its gradient reaches the student through s_e only).")


NOTEBOOK_EXERCISES.append(Exercise(
    exercise_id="03.4",
    question="Implement the (P, e) group-level term as the recipe (the authors' code) computes it: write "
             "my_group_level(student, teacher, groups) returning the sum over prototypes p and batch entities e of "
             "(rho(P^t_p, t_e) - rho(P^s_p, s_e))^2, with the student's prototypes held constant.",
    inputs=("student", "teacher_emb", "groups"), parse=as_function, solve=_solve_03_4, judge=_judge_03_4,
    hint="prototypes: torch.stack([x[groups == g].mean(0) for g in groups.unique()]); cosine: normalise rows, then "
         "a @ b.T; hold the student's prototypes constant with torch.no_grad() or .detach().",
    explain=_explain_03_4))

"""The course recipe and helpers of notebooks 02/03 (htd_tutorial.course.lessons), their pictures
(htd_tutorial.plots.topology) and their exercises (02.x, 03.x). Fast: tiny synthetic data, 1-2 epochs."""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from htd_tutorial.course import lessons
from htd_tutorial.plots import topology as topology_plots
from htd_tutorial.course.exercises import check, is_correct
from htd_tutorial.losses import ftd_loss, ftd_loss_naive, gumbel_temperature
from htd_tutorial.models import make_model


@pytest.fixture(scope="module")
def tiny_and_untrained_teacher(tiny):
    """(conftest's ``tiny``, a dimension-16 BPR-MF of it, untrained: only shapes and plumbing matter here)."""
    teacher = make_model("bpr", tiny, 16, seed=0)
    teacher.eval()
    return tiny, teacher


#: every figure a test draws is closed after it (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("close_figures")


# ------------------------------------------------------------------ the recipe
def test_recipe_is_a_valid_run_config():
    assert 1 <= lessons.SMALL_DIM < lessons.LARGE_DIM < 200
    for method in ("student", "ftd", "htd"):
        config = lessons.DISTILL.config(method, lessons.SMALL_DIM, seed=0)
        assert {name: getattr(config, name) for name in dataclasses.asdict(lessons.DISTILL)} \
            == dataclasses.asdict(lessons.DISTILL)
    assert lessons.DISTILL.lam == 1e-3 and lessons.DISTILL.gamma == 0.5 and lessons.DISTILL.group_topology == "Pe"
    with pytest.raises(ValueError, match="unknown DistillRecipe field"):
        lessons.DISTILL.replace(k=5)


@pytest.mark.parametrize("method, dim", [("nope", 4), ("ftd", 0), ("ftd", -2), ("ftd", 2.5), ("ftd", True)])
def test_distill_run_rejects_bad_input_before_training(tiny_and_untrained_teacher, tmp_path, method, dim):
    data, teacher = tiny_and_untrained_teacher
    with pytest.raises(ValueError):
        lessons.distill_run(data, teacher, method, dim, directory=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_distill_run_trains_then_loads_from_cache(tiny_and_untrained_teacher, tmp_path):
    data, teacher = tiny_and_untrained_teacher
    first = lessons.distill_run(data, teacher, "htd", 2, epochs=1, K=3, directory=tmp_path, progress=False)
    again = lessons.distill_run(data, teacher, "htd", 2, epochs=1, K=3, directory=tmp_path, progress=False)
    assert not first.from_cache and again.from_cache
    assert first.config.lr == lessons.DISTILL.lr and first.config.K == 3 and first.config.epochs == 1
    users, items = again.distiller.groups()
    assert len(users) == data.n_users and int(items.max()) < 3
    student = lessons.distill_run(data, teacher, "student", 2, epochs=1, directory=tmp_path, progress=False)
    table = lessons.results_table([first, student])
    assert list(table["method"]) == ["student", "htd"] and {"Recall@50", "NDCG@50", "seconds"} <= set(table.columns)
    with pytest.raises(ValueError):
        lessons.results_table([])


# ------------------------------------------------------------------ the teaching formula
@pytest.mark.parametrize("n, d_s, d_t", [(7, 1, 3), (50, 4, 32), (200, 16, 200)])
def test_ftd_by_hand_equals_the_package_loss(n, d_s, d_t):
    gen = torch.Generator().manual_seed(n)
    student = torch.randn(n, d_s, generator=gen, dtype=torch.float64)
    teacher = torch.randn(n, d_t, generator=gen, dtype=torch.float64)
    by_hand = lessons.ftd_by_hand(student, teacher)
    assert torch.isclose(by_hand, ftd_loss(student, teacher), rtol=1e-9)
    assert torch.isclose(by_hand, ftd_loss_naive(student, teacher), rtol=1e-9)


def test_ftd_by_hand_gradient_matches():
    gen = torch.Generator().manual_seed(1)
    student = torch.randn(30, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(30, 12, generator=gen, dtype=torch.float64)
    (grad_hand,) = torch.autograd.grad(lessons.ftd_by_hand(student, teacher), student)
    (grad_fast,) = torch.autograd.grad(ftd_loss(student, teacher), student)
    assert torch.allclose(grad_hand, grad_fast, rtol=1e-6, atol=1e-9)


def test_show_source_prints(capsys):
    lessons.show_source(lessons.ftd_by_hand)
    assert "def ftd_by_hand" in capsys.readouterr().out
    with pytest.raises(ValueError):
        lessons.show_source(42)


# ------------------------------------------------------------------ helpers
def test_cosine_matrix_and_cluster_order():
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    sim = lessons.cosine_matrix(emb)
    assert sim.shape == (4, 4) and np.allclose(np.diag(sim), 1) and np.allclose(sim, sim.T)
    # by hand: cos((1, 0), (1, 0.1)) = 1 / sqrt(1.01); (1, 0.1) . (0.1, 1) = 0.2 over |.|^2 = 1.01
    assert sim[0, 1] == pytest.approx(0.0, abs=1e-12) and sim[0, 2] == pytest.approx(1 / np.sqrt(1.01))
    assert sim[2, 3] == pytest.approx(0.2 / 1.01) and sim[1, 2] == pytest.approx(0.1 / np.sqrt(1.01))
    order = lessons.cluster_order(emb)
    assert sorted(order) == [0, 1, 2, 3]
    position = {int(e): i for i, e in enumerate(order)}
    assert abs(position[0] - position[2]) == 1 and abs(position[1] - position[3]) == 1
    with pytest.raises(ValueError):
        lessons.cosine_matrix(np.ones(3))


def test_popular_items_and_real_batch(tiny_and_untrained_teacher):
    data, _ = tiny_and_untrained_teacher
    top = lessons.popular_items(data, 5)
    counts = data.item_counts()
    assert len(top) == 5 and counts[top[0]] == counts.max() and (np.diff(counts[top]) <= 0).all()
    with pytest.raises(ValueError):
        lessons.popular_items(data, 0)
    users, items = lessons.real_batch(data, batch_size=32)
    assert len(users) == len(users.unique()) and len(items) <= data.n_items


def test_pair_counts():
    counts = lessons.pair_counts(np.array([0, 0, 0, 1, 1, 2]))
    assert counts == {"entities": 6, "groups": 3, "FTD pairs": 36, "entity-level pairs": 9 + 4 + 1,
                      "group-level relations": 18}
    with pytest.raises(ValueError):
        lessons.pair_counts(np.array([0.5, 1.0]))


def test_toy_space_coherence_and_neighbours():
    points, groups = lessons.toy_space(n_per_group=5, n_groups=3, seed=0)
    assert points.shape == (15, 2) and np.bincount(groups).tolist() == [5, 5, 5]
    coherence = lessons.group_coherence(points, groups)
    assert coherence["same group"] > coherence["different groups"]
    assert lessons.neighbour_agreement(points, groups, k=3) > 0.9
    labels = lessons.teacher_clusters(points, 3, seed=0)
    assert labels.shape == (15,) and len(np.unique(labels)) == 3
    with pytest.raises(ValueError):
        lessons.group_coherence(points, groups[:-1])
    with pytest.raises(ValueError):
        lessons.toy_space(n_groups=0)


def test_item_table(tiny_and_untrained_teacher):
    data, teacher = tiny_and_untrained_teacher
    assert lessons.item_table(teacher).shape == (data.n_items, 16)
    assert torch.equal(lessons.item_table(teacher), teacher.item_emb.weight.detach())  # BPR: the item table itself
    rows = lessons.item_table(teacher, [3, 1])
    assert rows.shape == (2, 16) and torch.equal(rows, teacher.item_emb.weight.detach()[[3, 1]])
    assert not rows.requires_grad


# ------------------------------------------------------------------ pictures
def test_plot_functions_return_figures():
    rng = np.random.default_rng(0)
    sim = lessons.cosine_matrix(rng.normal(size=(8, 3)))
    table = pd.DataFrame({"method": ["student", "ftd", "htd", "student", "ftd"], "dim": [4, 4, 4, 32, 32],
                          "Recall@50": [0.4, 0.41, 0.45, 0.55, 0.6]})
    points, groups = lessons.toy_space(seed=0)
    epochs = np.arange(5)
    figures = [
        topology_plots.plot_similarity_heatmap(sim, title="t"),
        topology_plots.plot_method_bars(table, teacher=0.62),
        topology_plots.plot_temperature_schedule(epochs, {"clean": [gumbel_temperature(e, 5) for e in epochs]}),
        topology_plots.plot_gumbel_samples([0.5, 0.3, 0.2], {"τ = 1": [0.4, 0.4, 0.2]}),
        topology_plots.plot_group_sizes({"users": [3, 5, 1]}),
    ] + [topology_plots.plot_toy_topology(points, groups, level=level) for level in ("full", "entity", "group")]
    for fig in figures:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    fig, ax = plt.subplots()
    assert topology_plots.plot_method_bars(table, ax=ax) is fig


def test_plot_functions_reject_bad_input():
    with pytest.raises(ValueError):
        topology_plots.plot_similarity_heatmap(np.ones((2, 3)))
    with pytest.raises(ValueError):
        topology_plots.plot_method_bars(pd.DataFrame({"method": ["x"], "dim": [1], "Recall@50": [0.1]}))
    with pytest.raises(ValueError):
        topology_plots.plot_method_bars(pd.DataFrame({"method": ["ftd"], "dim": [1]}))
    with pytest.raises(ValueError):
        topology_plots.plot_temperature_schedule([0, 1], {"a": [1.0]})
    with pytest.raises(ValueError):
        topology_plots.plot_toy_topology(np.zeros((3, 2)), np.zeros(3, int), level="pairs")


# ------------------------------------------------------------------ exercises 02.x and 03.x
def test_exercises_02_reference_and_hints(capsys):
    users, items = torch.arange(5), torch.arange(7)
    assert is_correct("02.1", 144, users, items) and not is_correct("02.1", 35, users, items)
    check("02.1", 12 * 11 // 2, users, items)
    assert "ordered pairs" in capsys.readouterr().out
    teacher = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    student = torch.tensor([[2.0], [0.5], [-1.0]])
    assert is_correct("02.2", 8.8, student, teacher)               # 2 * (0.16 + 1 + 3.24), worked by hand
    check("02.2", 4.4, student, teacher)
    assert "ordered pairs" in capsys.readouterr().out
    results = pd.DataFrame({"method": ["student", "ftd", "student", "ftd"], "dim": [4, 4, 32, 32],
                            "Recall@50": [0.40, 0.41, 0.55, 0.60]})
    assert is_correct("02.3", [0.01, 0.05], results)
    check("02.3", [0.05, 0.01], results)
    assert "wrong order" in capsys.readouterr().out


def test_exercises_03_reference_and_hints(tiny_and_untrained_teacher, tmp_path, monkeypatch, capsys):
    data, teacher = tiny_and_untrained_teacher   # 03.1 reads the loss traces of two real runs (2 epochs, tiny data)
    ftd, htd = (lessons.distill_run(data, teacher, m, 2, epochs=2, K=3, directory=tmp_path, progress=False).history
                for m in ("ftd", "htd"))
    first_ftd, first_htd = ftd.losses[0], htd.losses[0]      # sums over the same batches: their ratio is the means'
    ratio = 1e-3 * first_ftd["ftd"] / (0.5e-3 * (first_htd["entity"] + first_htd["group"]))
    assert is_correct("03.1", ratio, ftd, htd) and is_correct("03.1", 1.9 * ratio, ftd, htd)
    check("03.1", 3 * ratio, ftd, htd)
    assert "factor of 2" in capsys.readouterr().out
    user_groups, item_groups = torch.tensor([0, 0, 1]), torch.tensor([0, 2, 2, 2])
    assert is_correct("03.2", 4 + 1 + 1 + 9, user_groups, item_groups)
    check("03.2", 49, user_groups, item_groups)
    assert "FTD" in capsys.readouterr().out
    check("03.2", 3 * 3 + 1 + 9, user_groups, item_groups)          # user group 0 and item group 0 merged
    assert "different groups" in capsys.readouterr().out
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path))
    expected = lessons.distill_run(data, teacher, "student", 2, lr=5e-3, epochs=40, progress=False)
    assert is_correct("03.3", expected.history.final("Recall@50"), data, teacher, 2)
    check("03.3", 42.0, data, teacher, 2)
    assert "share between 0 and 1" in capsys.readouterr().out

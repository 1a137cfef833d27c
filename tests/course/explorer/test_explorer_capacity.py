"""The explorer's "what can a d-dimensional student hold?" panel: the floors of its training batch, the
trained students' errors next to them, and the widget showing both as the sliders move."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from htd_tutorial.cache import get_teacher
from htd_tutorial.capacity import capacity_floors
from htd_tutorial.course.explorer import SHIPPED, CapacityView, ExplorerWidget, TopologyExplorer, capacity_html
from htd_tutorial.data import make_synthetic
from htd_tutorial.losses.ftd import cosine_similarity_matrix
from htd_tutorial.plots.floors import plot_capacity_floors, plot_loss_floors
from htd_tutorial.sampling import TripleSampler

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def grouped_tiny():
    """Interactions: 60 users x 90 items with planted groups (2 x 2 sub-groups)."""
    return make_synthetic(n_users=60, n_items=90, n_super=2, n_sub=2, interactions_per_user=8, seed=0)


@pytest.fixture(scope="module")
def small_teacher(grouped_tiny, tmp_path_factory):
    """Recommender: a dimension-16 teacher of ``grouped_tiny``, 5 epochs (cached in a module folder)."""
    model, _ = get_teacher(grouped_tiny, dim=16, epochs=5, lr=1e-2, directory=tmp_path_factory.mktemp("cap"),
                           progress=False, verbose=False)
    return model


@pytest.fixture
def explorer(grouped_tiny, small_teacher, tmp_path):
    """TopologyExplorer: fresh caches, PCA maps, the shipped settings shrunk to seconds."""
    settings = SHIPPED.replace(dims=(2, 4), dim=2, K=3, K_max=80, epochs=3, batch_size=256, n_users_shown=30,
                               n_items_shown=40, k_neighbours=5)
    return TopologyExplorer(grouped_tiny, small_teacher, settings, directory=tmp_path / "runs", projection="pca")


def test_the_batch_is_the_first_batch_every_run_trains_on(explorer, grouped_tiny, small_teacher):
    users, items, rows = explorer.batch()
    u, p, n = next(iter(TripleSampler(grouped_tiny, explorer.settings.batch_size, seed=explorer.settings.seed)))
    assert torch.equal(users, torch.unique(u)) and torch.equal(items, torch.unique(torch.cat([p, n])))
    t_users, t_items = small_teacher.all_embeddings()
    assert torch.allclose(rows, torch.cat([t_users[users], t_items[items]]).double())
    assert explorer.batch()[2] is rows                     # computed once


def test_capacity_view_holds_the_librarys_floors_and_the_students_errors(explorer):
    for method in ("student", "ftd", "htd"):
        explorer.compute(method, 2, 3)
    view = explorer.capacity(2, 3)
    assert isinstance(view, CapacityView) and (view.dim, view.K) == (2, 3)
    rows = explorer.batch()[2]
    floors = capacity_floors(rows, (2, 4), fit_steps=None)
    assert view.ftd_floor == pytest.approx(floors.at(2)["ftd"], rel=1e-12)
    assert view.n_entities == rows.shape[0]
    assert set(view.errors) == set(view.entity_errors) == {"student", "ftd", "htd"}
    # the floors' promise on real trained students: none is closer to a target than its floor
    for method, error in view.errors.items():
        assert error >= view.ftd_floor - 1e-12, method
        assert view.entity_errors[method] >= view.entity_floor - 1e-12, method
    assert view.ftd_floor <= view.ftd_reached
    # the FTD error is L_FTD on the batch, relative: recomputed with the n x n matrices
    config = explorer.run_config("ftd", 2, 3)
    s_users, s_items = explorer._runs[config].student.all_embeddings()
    users, items, _ = explorer.batch()
    student = torch.cat([s_users[users], s_items[items]]).detach().double()
    diff = cosine_similarity_matrix(rows) - cosine_similarity_matrix(student)
    assert view.errors["ftd"] == pytest.approx(float(diff.norm() / cosine_similarity_matrix(rows).norm()), rel=1e-9)


def test_only_students_already_trained_are_shown_and_fits_are_cached(explorer):
    view = explorer.capacity(4, 3)                          # trains HTD at (4, 3) for its groups, nothing else
    assert set(view.errors) == {"htd"}
    fitted = explorer.stats["students_fitted"]
    explorer.capacity(4, 3)
    assert explorer.stats["students_fitted"] == fitted
    floors = explorer.capacity_floors(4, 3)                 # every dimension of the slider, fitted too
    assert list(floors.dims) == [2, 4] and floors.ftd_reached is not None
    assert np.all(floors.ftd_reached >= floors.ftd - 1e-12)
    assert floors.n_groups <= 2 * 3


def test_capacity_rejects_a_setting_the_sliders_do_not_offer(explorer):
    with pytest.raises(ValueError, match="not on the dimension slider"):
        explorer.capacity(3, 3)
    with pytest.raises(ValueError, match="more than the 60 users"):
        explorer.capacity(2, 81)


def test_widget_shows_the_panel_and_updates_it_with_the_sliders(explorer):
    ui = ExplorerWidget(explorer, background_umap=False)
    assert "What d=2 can hold" in ui.capacity.value and "floor" in ui.capacity.value
    ui.dim.value = 4
    assert "What d=4 can hold" in ui.capacity.value
    assert "htd-explorer-capacity" in ui.capacity._dom_classes


def test_widget_panel_says_what_went_wrong_and_keeps_the_picture(explorer, monkeypatch):
    def broken(dim, K):
        raise RuntimeError("no batch today")

    monkeypatch.setattr(explorer, "capacity", broken)
    ui = ExplorerWidget(explorer, background_umap=False)
    assert ui.last_result is not None and ui.last_error is None
    assert "could not be computed" in ui.capacity.value and "no batch today" in ui.capacity.value


def test_capacity_html_and_plot(explorer):
    explorer.compute("ftd", 2, 3)
    view = explorer.capacity(2, 3)
    page = capacity_html(view)
    assert f"{view.ftd_floor:.3f}" in page and "FTD" in page and f"{view.n_entities} users and items" in page
    fig = plot_capacity_floors(explorer.capacity_floors(2, 3), by_K={2: explorer.capacity_floors(2, 2, reached=False)},
                               students=view.errors, dim=2)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("floor" in label for label in labels) and any("entity level" in label for label in labels)
    assert any("trained, d=2" in label for label in labels)
    with pytest.raises(ValueError, match="pass dim"):
        plot_capacity_floors(view.floors, students=view.errors)


def test_ftd_trace_never_goes_below_its_floor(explorer):
    traces = {d: explorer.ftd_trace(d) for d in (2, 4)}
    for d, trace in traces.items():
        assert len(trace["epoch"]) == len(trace["loss"]) == len(trace["floor"]) == explorer.settings.epochs
        assert np.all(trace["loss"] >= trace["floor"]), d          # the promise, in training
    assert np.all(traces[2]["floor"] > traces[4]["floor"])          # a smaller space, a higher floor
    run = explorer.run(explorer.run_config("ftd", 2, 3))
    assert traces[2]["loss"][-1] == pytest.approx(run.history.loss_trace[-1]["ftd"] / explorer.settings.lam)
    stored = explorer._epoch_floors
    explorer.ftd_trace(2)
    assert explorer._epoch_floors is stored                          # computed once for every dimension
    fig = plot_loss_floors(traces)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["d=2: L_FTD, mean per batch", "d=2: floor", "d=4: L_FTD, mean per batch", "d=4: floor"]
    with pytest.raises(ValueError, match="empty"):
        plot_loss_floors({})

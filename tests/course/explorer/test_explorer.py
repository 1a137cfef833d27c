"""The interactive topology explorer without a browser: compute layer, plots, caches and widget wiring.

A tiny synthetic dataset, a quickly trained teacher and PCA maps keep these tests to seconds; one
test runs the real UMAP path (numba compiles it on first use). ``tests/end_to_end/test_browser.py`` drives the
same explorer in JupyterLab.
"""
from __future__ import annotations

import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

from htd_tutorial.cache import get_teacher
from htd_tutorial.data import make_synthetic
from htd_tutorial.plots.maps import (Projection, align_to, figure_png, group_colors, load_umap, pca_2d,
                                     plot_embedding_map, plot_space_pair, project_2d, unit_directions)
from htd_tutorial.course.exercises import EXERCISES, is_correct
import htd_tutorial.course.explorer.compute as explorer_compute
from htd_tutorial.course import DEFAULT_DATASET, SEED
from htd_tutorial.course.explorer import (DEFAULT_EXPLORER_DATASET, PCA_NOTICE, RAW_2D, SHIPPED, UMAP_PREPARING,
                                          ExplorerWidget, TopologyExplorer, metrics_html, plot_result)
from htd_tutorial.course.recipes import DISTILL, LARGE_DIM, SMALL_DIM

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def grouped_tiny():
    """Interactions: 60 users x 90 items with planted groups (2 x 2 sub-groups); conftest's ``tiny`` has none."""
    data = make_synthetic(n_users=60, n_items=90, n_super=2, n_sub=2, interactions_per_user=8, seed=0)
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Path: a folder shared by this module's tests (the teacher's cache)."""
    return tmp_path_factory.mktemp("explorer")


@pytest.fixture(scope="module")
def cached_teacher(grouped_tiny, workdir):
    """Recommender: a dimension-16 teacher of ``grouped_tiny`` from get_teacher, 5 epochs (cached in ``workdir``)."""
    model, _ = get_teacher(grouped_tiny, dim=16, epochs=5, lr=1e-2, directory=workdir / "teacher", progress=False,
                           verbose=False)
    return model


@pytest.fixture(scope="module")
def settings():
    """ExplorerSettings: the shipped ones, shrunk to seconds for the tiny data."""
    return SHIPPED.replace(dims=(2, 4), dim=2, K=3, K_max=80, epochs=3, batch_size=256, n_users_shown=30,
                           n_items_shown=40, k_neighbours=5)


@pytest.fixture
def explorer(grouped_tiny, cached_teacher, settings, tmp_path):
    """TopologyExplorer: a fresh one (empty caches) per test, with PCA maps."""
    return TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path / "runs", projection="pca")


# ------------------------------------------------------------------------------------------- settings
def test_shipped_settings_are_valid():
    assert SHIPPED.dim in SHIPPED.dims and 1 <= SHIPPED.K <= SHIPPED.K_max
    assert SHIPPED.method in ("student", "ftd", "htd")


def test_the_explorer_opens_on_the_course_setting(grouped_tiny, cached_teacher, tmp_path):
    # notebook 05 continues 02-04: the course's data, the lessons' sizes and K, their recipe and seed
    assert DEFAULT_EXPLORER_DATASET == DEFAULT_DATASET == "movielens-100k"
    assert (SHIPPED.dim, SHIPPED.K, SHIPPED.seed) == (SMALL_DIM, DISTILL.K, SEED) and LARGE_DIM == SHIPPED.dims[-1]
    # so its runs are the lessons' own cache entries (notebooks 02-03 trained them): HTD at any K of the slider,
    # the others under the recipe's K whatever the slider says
    explorer = TopologyExplorer(grouped_tiny, cached_teacher, SHIPPED.replace(n_users_shown=30, n_items_shown=40),
                                directory=tmp_path, projection="pca")
    for method in ("student", "ftd"):
        assert explorer.run_config(method, SMALL_DIM, 3) == DISTILL.config(method, SMALL_DIM, seed=SEED)
    assert explorer.run_config("htd", LARGE_DIM, 3) == DISTILL.replace(K=3).config("htd", LARGE_DIM, seed=SEED)


def test_metrics_train_no_htd_run_for_the_colours(explorer):
    numbers = explorer.metrics("student", 4)
    assert explorer.stats["runs_trained"] == 1                      # the student alone, no HTD for the colours
    result = explorer.compute("student", 4, explorer.settings.K)
    assert explorer.stats["runs_trained"] == 2                      # now HTD too, for the colours
    assert numbers == {name: value for name, value in result.metrics.items() if not name.startswith("ari_")}


@pytest.mark.parametrize("changes, words", [
    ({"dim": 3}, "must be one of dims"),
    ({"K": 40, "K_max": 30}, "larger than K_max"),
    ({"method": "fitnet"}, "method must be one of"),
    ({"dims": (8, 4), "dim": 8}, "increasing"),
    ({"epochs": 0}, "epochs"),
    ({"lr": -1.0}, "lr"),
    ({"mode": "paper"}, "mode"),
    ({"torch_threads": 0}, "torch_threads"),
])
def test_bad_settings_raise(changes, words):
    with pytest.raises(ValueError, match=words):
        SHIPPED.replace(**changes)


def test_unknown_setting_name_raises():
    with pytest.raises(ValueError, match="unknown explorer setting"):
        SHIPPED.replace(epoch=3)


# ------------------------------------------------------------------------------------------- pure helpers
def test_align_to_recovers_a_similarity_transform(rng):
    reference = rng.normal(size=(50, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 3.0 * reference @ rotation @ np.diag([1, -1]) + np.array([5.0, -2.0])
    np.testing.assert_allclose(align_to(moved, reference), reference, atol=1e-9)


def test_align_to_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same"):
        align_to(np.zeros((4, 2)), np.zeros((5, 2)))


def test_pca_2d_against_numpy_svd(rng):
    # values, not only shapes: the first two principal components of the unit-length rows, from NumPy's SVD
    # (each axis up to its sign)
    x = rng.normal(size=(20, 6)) * np.array([5.0, 2.0, 1.0, 1.0, 0.5, 0.5])
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    centred = unit - unit.mean(axis=0)
    expected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    coords = pca_2d(x)
    assert coords.shape == (20, 2)
    np.testing.assert_allclose(coords * np.sign((coords * expected).sum(axis=0)), expected, atol=1e-10)
    line = rng.normal(size=(20, 1))                               # a 1-D space: +-1 after scaling, centred,
    signs = np.sign(line[:, 0])                                   # and a zero 2nd axis
    coords = pca_2d(line)
    centred_signs = signs - signs.mean()
    np.testing.assert_allclose(coords[:, 0] * np.sign(coords[:, 0] @ centred_signs), centred_signs, atol=1e-12)
    assert np.array_equal(coords[:, 1], np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        pca_2d(np.full((5, 3), np.nan))


def test_project_2d_rejects_unknown_method(rng):
    with pytest.raises(ValueError, match="method"):
        project_2d(rng.normal(size=(10, 3)), method="tsne")


def test_group_colors():
    for n in (1, 9, 15, 35):
        colors = group_colors(n)
        assert colors.shape == (n, 4)
        assert len({tuple(c) for c in colors}) == n
    with pytest.raises(ValueError):
        group_colors(0)


def test_plot_functions_return_figures(rng):
    xy = rng.normal(size=(30, 2))
    is_item = np.arange(30) >= 10
    groups = rng.integers(0, 4, size=30)
    fig = plot_embedding_map(xy, is_item, groups, title="map")
    assert fig.axes[0].get_title() == "map"
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert plot_space_pair(xy, xy + 1, is_item, groups, axes=axes) is fig
    assert figure_png(fig).startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="one entry per point"):
        plot_embedding_map(xy, is_item[:5], groups)
    with pytest.raises(ValueError, match="same points"):
        plot_space_pair(xy, xy[:5], is_item, groups)


# ------------------------------------------------------------------------------------------- compute layer
def test_compute_gives_maps_groups_and_metrics(explorer, grouped_tiny, settings):
    result = explorer.compute("htd", 2, 3)
    n = settings.n_users_shown + settings.n_items_shown
    assert result.teacher_xy.shape == result.student_xy.shape == (n, 2)
    assert result.is_item.sum() == settings.n_items_shown
    assert result.groups.min() >= 0 and result.groups.max() < 3
    for name in ("Recall@50", "NDCG@50", "kl_topk", "kl_random", "knn_overlap", "spearman", "ari_users",
                 "ari_items"):
        assert np.isfinite(result.metrics[name]), name
    # the shown 5-NN overlap, recomputed naively from the shown embeddings ("0 <= overlap <= 1" held for any value)
    run = explorer.run(explorer.run_config("htd", 2, 3))
    student, teacher = explorer.student_shown(run).numpy(), explorer.teacher_shown.double().numpy()
    assert student.shape == (n, 2)
    neighbours = []
    for x in (student, teacher):
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        cosine = unit @ unit.T
        np.fill_diagonal(cosine, -np.inf)
        neighbours.append([set(np.argsort(-row)[:settings.k_neighbours].tolist()) for row in cosine])
    naive = np.mean([len(a & b) / settings.k_neighbours for a, b in zip(*neighbours)])
    assert result.metrics["knn_overlap"] == pytest.approx(naive, abs=1e-12)
    assert result.metrics["Recall@50"] == run.history.final("Recall@50")
    assert result.projection == "PCA" and result.notice is None      # PCA asked for: no fallback notice
    assert result.trained and not result.cached
    fig = plot_result(result, teacher_dim=16)
    assert len(fig.axes) == 2 and "Teacher" in fig.axes[0].get_title()
    assert "Recall@50" in metrics_html(result)
    plt.close(fig)


def test_student_and_ftd_are_coloured_by_the_htd_groups_of_the_same_setting(explorer):
    htd = explorer.compute("htd", 2, 3)
    for method in ("student", "ftd"):
        other = explorer.compute(method, 2, 3)
        np.testing.assert_array_equal(other.groups, htd.groups)
        np.testing.assert_array_equal(other.teacher_xy, htd.teacher_xy)      # the teacher map is reused
        assert not np.allclose(other.student_xy, htd.student_xy)


def test_second_call_uses_the_cache(explorer):
    first = explorer.compute("student", 2, 3)
    trained, projections = explorer.stats["runs_trained"], explorer.stats["projections"]
    started = time.perf_counter()
    again = explorer.compute("student", 2, 3)
    assert time.perf_counter() - started < 1.0
    assert again.cached and not again.trained
    assert explorer.stats["runs_trained"] == trained and explorer.stats["projections"] == projections
    assert explorer.stats["results_from_memory"] == 1
    assert again.metrics == first.metrics


def test_maps_fitted_once_per_space(explorer):
    explorer.compute("htd", 2, 3)
    assert explorer.stats["projections"] == 2                 # teacher + HTD student
    explorer.compute("student", 2, 3)
    assert explorer.stats["projections"] == 3                 # + the student's space only
    explorer.compute("htd", 4, 3)
    assert explorer.stats["projections"] == 4


def test_k_only_matters_for_htd_runs(explorer):
    explorer.compute("student", 2, 3)
    trained = explorer.stats["runs_trained"]
    explorer.compute("student", 2, 2)                         # same student; only HTD (colours) is new
    assert explorer.stats["runs_trained"] == trained + 1
    assert explorer.run_config("student", 2, 2) == explorer.run_config("student", 2, 3)


def test_runs_come_from_disk_in_a_new_session(grouped_tiny, cached_teacher, settings, tmp_path):
    first = TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path, projection="pca")
    a = first.compute("ftd", 2, 3)
    second = TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path, projection="pca")
    b = second.compute("ftd", 2, 3)
    assert second.stats["runs_trained"] == 0 and second.stats["runs_from_disk"] == 2
    assert not b.trained
    assert b.metrics == pytest.approx(a.metrics)


@pytest.mark.parametrize("setting, words", [
    (("htd", 2, 70), "K = 70 groups is more than the 60 users"),
    (("htd", 0, 3), "student dimension"),
    (("fitnet", 2, 3), "unknown method"),
    (("htd", 2, 0), "number of groups K"),
])
def test_bad_settings_from_the_controls_raise_readable_errors(explorer, setting, words):
    with pytest.raises(ValueError, match=words):
        explorer.compute(*setting)


def test_explorer_rejects_a_teacher_of_other_data(grouped_tiny, cached_teacher, settings):
    other = make_synthetic(n_users=40, n_items=90, n_super=2, n_sub=2, interactions_per_user=8, seed=0)
    with pytest.raises(ValueError, match="other data"):
        TopologyExplorer(other, cached_teacher, settings)


def test_torch_threads_are_restored(explorer):
    import torch

    before = torch.get_num_threads()
    explorer.compute("student", 2, 3)
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------------------- UMAP / PCA
def test_pca_fallback_when_umap_is_missing(grouped_tiny, cached_teacher, settings, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)            # makes `import umap` raise ImportError
    assert load_umap() is None
    assert project_2d(np.eye(5), method="auto").method == "PCA"
    with pytest.raises(ValueError, match="umap-learn is not installed"):
        project_2d(np.eye(5), method="umap")
    explorer = TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path, projection="auto")
    ui = ExplorerWidget(explorer)
    assert ui.wait_for_umap(timeout=60)                      # finds out in the background that UMAP is missing
    assert ui.last_result.projection == "PCA" and ui.last_result.notice == PCA_NOTICE
    assert "umap-learn is not installed" in ui.message.value
    assert bytes(ui.image.value).startswith(PNG_MAGIC)


def test_numba_cache_dir_gets_a_writable_default(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)            # the variable is set before the import
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    load_umap()
    assert (tmp_path / "numba").is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")


@pytest.mark.slow
def test_umap_projection(rng):
    if load_umap() is None:
        pytest.skip("umap-learn is not installed")
    x = np.r_[rng.normal(size=(40, 8)) + 4, rng.normal(size=(40, 8)) - 4]
    first = project_2d(x, method="umap", seed=0, n_neighbors=10)
    assert first.method == "UMAP" and first.coords.shape == (80, 2)
    again = project_2d(x, method="umap", seed=0, n_neighbors=10)
    np.testing.assert_allclose(again.coords, first.coords)   # seeded: the same map
    a, b = first.coords[:40].mean(axis=0), first.coords[40:].mean(axis=0)
    assert np.linalg.norm(a - b) > np.linalg.norm(first.coords[:40] - a, axis=1).mean()   # clusters stay apart


# ------------------------------------------------------------------------------------------- widgets
def test_widget_renders_and_reacts_to_sliders(explorer):
    ui = ExplorerWidget(explorer)
    first_picture, first_metrics = bytes(ui.image.value), ui.metrics.value
    assert first_picture.startswith(PNG_MAGIC) and "Recall@50" in first_metrics
    assert ui.last_error is None and ui.renders == 1 and ui.progress.value == ui.progress.max
    assert ui.dim.continuous_update is False and ui.groups.continuous_update is False
    ui.dim.value = 4                                          # as if the learner moved the slider
    assert ui.last_result.dim == 4 and ui.renders == 2
    assert ui.image.value != first_picture and ui.metrics.value != first_metrics
    trained = explorer.stats["runs_trained"]
    started = time.perf_counter()
    ui.dim.value = 2                                          # back to a setting already seen
    assert time.perf_counter() - started < 1.0
    assert ui.renders == 2 and ui.image.value == first_picture
    assert explorer.stats["runs_trained"] == trained and ui.last_result.cached
    assert "from the cache" in ui.status.value
    ui.method.value = "student"
    assert ui.last_result.method == "student" and ui.renders == 3


def test_widget_shows_a_message_for_a_bad_setting_and_stays_usable(explorer):
    ui = ExplorerWidget(explorer)
    picture = bytes(ui.image.value)
    ui.groups.value = 70                                      # more groups than the 60 users
    assert ui.last_error is not None and "Cannot show this setting" in ui.message.value
    assert "K = 70" in ui.message.value and "Traceback" not in ui.message.value
    assert ui.image.value == picture                          # the last good picture stays
    assert ui.progress.bar_style == "danger"
    ui.groups.value = 2                                       # and the explorer keeps working
    assert ui.last_error is None and ui.message.value == "" and ui.last_result.K == 2


def test_widget_turns_unexpected_failures_into_messages(explorer, monkeypatch):
    ui = ExplorerWidget(explorer)

    def broken(*args, **options):
        raise RuntimeError("disk full")

    monkeypatch.setattr(explorer, "compute", broken)
    ui.dim.value = 4
    assert "Something went wrong (RuntimeError): disk full" in ui.message.value


def test_widget_rejects_a_non_explorer():
    with pytest.raises(ValueError, match="TopologyExplorer"):
        ExplorerWidget("explorer")


# ------------------------------------------------------------------------------------------- exercises
def test_exercise_reference_solutions_pass_their_checks(explorer):
    for exercise_id in ("05.1", "05.2", "05.3"):
        exercise = EXERCISES[exercise_id]
        inputs = (explorer,) if exercise.inputs == ("explorer",) else ()
        assert is_correct(exercise_id, exercise.solve(*inputs), *inputs), exercise_id
    assert not is_correct("05.1", 1)
    assert not is_correct("05.2", "FTD" if EXERCISES["05.2"].solve(explorer) != "ftd" else "student", explorer)
    with pytest.raises(ValueError):
        is_correct("05.2", "fitnet", explorer)


def test_widget_select_sets_several_controls_and_computes_once(explorer):
    ui = ExplorerWidget(explorer)
    computed = explorer.stats["results_from_memory"] + len(explorer._results)
    result = ui.select("student", 4, 2)
    assert result is ui.last_result and result.key == ("student", 4, 2)
    assert explorer.stats["results_from_memory"] + len(explorer._results) == computed + 1
    assert (ui.method.value, ui.dim.value, ui.groups.value) == ("student", 4, 2)


def test_exercise_module_names_the_explorer_methods():
    """The 05.x exercises name the explorer's methods without importing the widget module; they must agree."""
    from htd_tutorial.course.exercises import explorer as exercises_05
    from htd_tutorial.course.explorer import EXPLORER_METHODS

    assert exercises_05.EXPLORER_METHODS == EXPLORER_METHODS


# ------------------------------------------------------------------------------------------- 2-D students
def test_unit_directions():
    xy = unit_directions(np.array([[3.0, 4.0], [0.0, -2.0], [0.0, 0.0]]))
    np.testing.assert_allclose(xy, [[0.6, 0.8], [0.0, -1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="2-D embeddings"):
        unit_directions(np.ones((4, 3)))


def test_a_2d_student_is_drawn_with_its_own_directions(explorer):
    flat = explorer.compute("htd", 2, 3)
    assert flat.student_projection == RAW_2D and flat.projection == "PCA"
    # its own directions, only rotated, scaled and shifted onto the teacher's map: all distances keep their ratios
    directions = unit_directions(explorer.student_shown(explorer.run(explorer.run_config("htd", 2, 3))))
    pairwise_map = np.linalg.norm(flat.student_xy[:, None] - flat.student_xy[None], axis=-1)
    pairwise_raw = np.linalg.norm(directions[:, None] - directions[None], axis=-1)
    ratio = pairwise_map[pairwise_raw > 1e-6] / pairwise_raw[pairwise_raw > 1e-6]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)          # a similarity transform of the directions
    roomy = explorer.compute("htd", 4, 3)
    assert roomy.student_projection is None                          # projected like the teacher
    fig = plot_result(flat, teacher_dim=16)
    assert fig.axes[1].get_xlabel() == f"{RAW_2D} 1" and fig.axes[0].get_xlabel() == "PCA 1"
    plt.close(fig)


def test_metrics_html_without_timing(explorer):
    result = explorer.compute("student", 4, 2)
    assert "trained in" in metrics_html(result)
    assert metrics_html(result, timing=False).endswith("</table>") and "trained" not in metrics_html(result, timing=False)


# ------------------------------------------------------------------------------------------- UMAP in the background
@pytest.fixture
def slow_umap(monkeypatch):
    """A stand-in for umap-learn that takes half a second per map (PCA coordinates, labelled UMAP)."""
    import threading

    release = threading.Event()

    def project(embeddings, *, method="auto", **options):
        if method == "umap":
            release.wait(30)
            return Projection(pca_2d(embeddings)[:, ::-1].copy(), "UMAP", 0.5)
        return project_2d(embeddings, method=method, **options)

    monkeypatch.setattr(explorer_compute, "load_umap", lambda: object())
    monkeypatch.setattr(explorer_compute, "project_2d", project)
    return release


def test_widget_draws_with_pca_first_and_switches_to_umap_when_ready(grouped_tiny, cached_teacher, settings, tmp_path,
                                                                      slow_umap):
    explorer = TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path, projection="auto")
    ui = ExplorerWidget(explorer)
    assert ui.last_result.projection == "PCA" and ui.first_picture_seconds is not None
    assert "UMAP is being prepared" in ui.message.value and "PCA until UMAP" in ui.status.value
    assert not explorer.umap_ready()
    pca_picture = bytes(ui.image.value)
    ui.dim.value = 4                                   # slider changes keep working while UMAP is prepared
    assert ui.last_result.projection == "PCA" and ui.last_result.dim == 4
    slow_umap.set()                                    # UMAP "compiled"
    assert ui.wait_for_umap(timeout=30)
    assert explorer.umap_ready() and explorer.umap_seconds is not None
    assert ui.last_result.projection == "UMAP" and ui.last_result.dim == 4
    assert ui.message.value == "" and "PCA" not in ui.status.value
    assert bytes(ui.image.value) != pca_picture
    ui.dim.value = 2                                   # from now on UMAP (and the 2-D student's own directions)
    assert ui.last_result.projection == "UMAP" and ui.last_result.student_projection == RAW_2D
    assert UMAP_PREPARING not in ui.message.value


def test_compute_waits_for_umap_being_prepared(grouped_tiny, cached_teacher, settings, tmp_path, slow_umap):
    explorer = TopologyExplorer(grouped_tiny, cached_teacher, settings, directory=tmp_path, projection="auto")
    thread = explorer.prepare_umap()
    assert thread is not None and explorer.prepare_umap() is thread       # started once
    assert explorer.compute("htd", 4, 3, projection="pca").projection == "PCA"
    slow_umap.set()
    result = explorer.compute("htd", 4, 3)                                 # "auto": waits for UMAP
    assert result.projection == "UMAP" and explorer.stats["projections"] == 4   # PCA and UMAP maps, each twice
    assert explorer.prepare_umap() is None                                 # nothing left to prepare

"""The geometry of random directions (notebook 01, "the geometric why"): values worked out by hand."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from htd_tutorial import plots
from htd_tutorial.course.geometry import (cosine_samples, direction_table, max_abs_cosine, near_orthogonal_count,
                                          random_directions)

E1, E2, E3 = np.eye(3)
DIAGONAL = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)   # cos 0.7071 with E1 and with E2

#: every figure a test draws is closed after it (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("close_figures")


def test_random_directions_are_unit_rows_and_seeded():
    directions = random_directions(5, 7, seed=3)
    assert directions.shape == (5, 7)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    np.testing.assert_array_equal(directions, random_directions(5, 7, seed=3))
    assert not np.array_equal(directions, random_directions(5, 7, seed=4))


def test_one_dimension_has_only_plus_and_minus_one():
    assert set(np.round(cosine_samples(1, 200, seed=0), 12)) == {-1.0, 1.0}


@pytest.mark.parametrize("dim, expected", [(2, 0.7071), (4, 0.5), (16, 0.25), (200, 0.0707)])
def test_cosine_spread_is_one_over_root_d(dim, expected):
    # E[cos^2] = 1/d exactly; 5000 pairs estimate the std to well under 5% (about 5 standard errors)
    cosines = cosine_samples(dim, 5000, seed=1)
    assert abs(cosines.mean()) < 0.05
    assert cosines.std() == pytest.approx(expected, rel=0.05)


def test_max_abs_cosine_by_hand():
    assert max_abs_cosine(np.stack([E1, E2, np.array([0.6, 0.8, 0.0])])) == pytest.approx(0.8)
    assert max_abs_cosine(np.stack([E1, -E1])) == pytest.approx(1.0)
    assert max_abs_cosine(np.eye(4)) == 0.0


def test_near_orthogonal_count_by_hand():
    rows = np.stack([E1, DIAGONAL, E2, E3])
    # threshold 0.5: E1 kept, the diagonal (0.707 with E1) dropped, E2 and E3 kept
    assert near_orthogonal_count(rows, 0.5) == 3
    # threshold 0.75: the diagonal is far enough from E1, and E2 from the diagonal: all four kept
    assert near_orthogonal_count(rows, 0.75) == 4
    # order matters (greedy): the diagonal first shuts out both E1 and E2
    assert near_orthogonal_count(np.stack([DIAGONAL, E1, E2, E3]), 0.5) == 2


def test_a_plane_holds_two_near_orthogonal_directions_and_a_closest_pair_near_one():
    # In 2-D, |cos| < 0.3 between three lines is impossible (their angles mod 180 would need gaps of
    # more than 72.5 degrees each); 500 lines in 180 degrees put some pair within 0.36 degrees (cos > 0.9999).
    table = direction_table([2], n_directions=500, threshold=0.3, seed=0)
    assert table["near-orthogonal"].item() == 2
    assert table["max |cos|"].item() > 0.9999
    assert table["1/sqrt(dim)"].item() == pytest.approx(0.70710678)


def test_direction_table_layout_and_seed():
    table = direction_table([4, 64], n_directions=50, threshold=0.3, n_pairs=100, seed=2)
    assert list(table.columns) == ["dim", "cosine std", "1/sqrt(dim)", "max |cos|", "near-orthogonal"]
    assert table["dim"].tolist() == [4, 64]
    assert (table["near-orthogonal"] <= 50).all() and (table["near-orthogonal"] >= 1).all()
    assert table.equals(direction_table([4, 64], n_directions=50, threshold=0.3, n_pairs=100, seed=2))


@pytest.mark.parametrize("call, message", [
    (lambda: direction_table([]), "dims is empty"),
    (lambda: direction_table([0]), "dim must be a positive integer"),
    (lambda: direction_table([4], n_directions=1), "at least 2"),
    (lambda: direction_table([4], threshold=1.5), "strictly between 0 and 1"),
    (lambda: near_orthogonal_count(np.eye(3), 0.0), "strictly between 0 and 1"),
    (lambda: max_abs_cosine(np.eye(3)[:1]), "at least 2 direction"),
    (lambda: cosine_samples(3, 0), "n_pairs must be a positive integer"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_geometry_plots_draw_and_label():
    table = direction_table([2, 4, 200], n_directions=30, n_pairs=100, seed=0)
    fig, axes = plt.subplots(1, 3)
    assert plots.plot_cosine_histograms({4: cosine_samples(4, 100), 200: cosine_samples(200, 100)}, ax=axes[0]) is fig
    plots.plot_cosine_spread(table, marks={"student d=4": 4, "teacher d=200": 200}, ax=axes[1])
    plots.plot_direction_count(table, n_directions=30, threshold=0.3, ax=axes[2])
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    assert [t.get_text() for t in axes[1].get_xticklabels()] == ["2", "4", "200"]
    assert axes[1].get_ylim()[0] == 0
    with pytest.raises(ValueError, match="samples is empty"):
        plots.plot_cosine_histograms({})

"""The statistics behind the lessons' claims (htd_tutorial.course.evidence) and their pictures.

Expected values are worked out by hand in the comments, never by the code under test.
"""
from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from htd_tutorial.course.evidence import (Difference, Spread, chance_clear_rate, compare, compare_variants,
                                          data_step, lesson_runs, seed_table, select, spread)
from htd_tutorial.data import Interactions
from htd_tutorial.plots.seeds import plot_paired_differences, plot_seed_curve


def test_spread_mean_and_standard_error():
    s = Spread((1.0, 2.0, 3.0, 4.0))
    # mean 2.5; sample sd sqrt(((1.5²+0.5²)*2)/3) = sqrt(5/3) = 1.290994; s.e. = sd / 2 = 0.645497
    assert (s.n, s.mean) == (4, 2.5)
    assert s.se == pytest.approx(0.6454972, abs=1e-7)
    assert str(s) == "2.500 ± 0.645 (4 seeds)"
    assert Spread((0.3,)).se == 0.0


@pytest.mark.parametrize("values, positive, negative", [
    ((0.1, 0.2, 0.3), True, False),        # mean 0.2, s.e. 0.0577: 0.2 - 0.115 > 0, every seed > 0
    ((-0.1, -0.2, -0.3), False, True),
    ((0.1, -0.05, 0.3), False, False),     # one seed disagrees
    ((0.01, 0.01, 0.5), False, False),     # every seed > 0, but mean 0.173 - 2 * 0.163 < 0
    ((0.4,), False, False),                # one seed is never clear
])
def test_difference_is_clear_only_beyond_two_standard_errors_and_on_every_seed(values, positive, negative):
    d = Difference("A", "B", "Recall@50", tuple(range(len(values))), values)
    assert (d.clearly_positive, d.clearly_negative, d.unclear) == (positive, negative, not (positive or negative))


def test_a_difference_reads_with_the_rule_of_htd_tutorial_stats():
    # the lab's "-0.010 ± 0.000": six of 600 users on every seed (equal up to float rounding) is not read
    lab = Difference("authors + proto_grad", "authors", "Recall@50", (0, 1, 2), (0.2 - 0.21, 0.31 - 0.32, 0.45 - 0.46))
    assert lab.unclear and not lab.clearly_negative
    assert str(lab).endswith("per seed -0.010 … -0.010; the same difference on all 3 seeds: no spread, not read)")
    # one or two users of 600 on each of five seeds: clear without the step, not with it (the s.e. is
    # raised to one user, 0.00167, and the mean 0.00233 is not two of them from zero)
    values = tuple(k / 600 for k in (1, 2, 1, 2, 1))
    assert Difference("A", "B", "Recall@50", tuple(range(5)), values).clearly_positive
    floored = Difference("A", "B", "Recall@50", tuple(range(5)), values, step=1 / 600)
    assert floored.unclear
    assert str(floored).endswith("s.e. below one step of the metric, read as 0.0017)")


def test_data_step_is_one_test_user_for_recall():
    data = Interactions("x", n_users=3, n_items=4, train=[[0, 0], [1, 0], [2, 0]], valid=[[0, 1], [1, 1], [2, 1]],
                        test=[[0, 2], [1, 3], [2, 2]])
    assert data_step("Recall@50", data) == pytest.approx(1 / 3)
    assert data_step("NDCG@50", data) is None and data_step("Recall@50", None) is None


def _runs() -> pd.DataFrame:
    rows = []
    for seed, (student, ftd) in enumerate([(0.40, 0.43), (0.42, 0.44), (0.41, 0.45)]):
        rows += [{"method": "student", "dim": 4, "seed": seed, "lr": 2e-3, "Recall@50": student},
                 {"method": "ftd", "dim": 4, "seed": seed, "lr": 2e-3, "Recall@50": ftd}]
    rows.append({"method": "ftd", "dim": 4, "seed": 9, "lr": 2e-3, "Recall@50": 0.9})   # no partner: ignored
    rows.append({"method": "ftd", "dim": 4, "seed": 5, "lr": 2e-3, "Recall@50": 0.8})   # a check seed
    rows.append({"method": "student", "dim": 4, "seed": 0, "lr": 5e-3, "Recall@50": 0.47})
    return pd.DataFrame(rows)


def test_compare_pairs_runs_by_seed_and_learning_rate():
    d = compare(_runs()[_runs()["seed"] != 5], ("ftd", 4), ("student", 4))
    # paired: 0.03, 0.02, 0.04 -> mean 0.03, s.e. 0.01/sqrt(3) = 0.005774
    assert d.seeds == (0, 1, 2)
    assert d.values == pytest.approx((0.03, 0.02, 0.04))
    assert d.spread.se == pytest.approx(0.0057735, abs=1e-7)
    assert d.clearly_positive
    assert str(d).startswith("FTD d=4 − Student d=4, Recall@50: +0.030 ± 0.006 (mean ± s.e. over 3 paired seeds")
    # with a step of 0.02 (50 test users) the s.e. is read as 0.02 and 0.03 − 0.04 < 0: not clear
    assert compare(_runs()[_runs()["seed"] != 5], ("ftd", 4), ("student", 4), step=0.02).unclear
    tuned = compare(_runs(), ("ftd", 4), ("student", 4), lr_b=5e-3)
    assert tuned.seeds == (0,) and tuned.values == pytest.approx((0.43 - 0.47,))
    assert str(tuned) == ("FTD d=4 − Student d=4 (lr 0.005), Recall@50: -0.040 "
                          "(one paired seed: no spread, not read)")
    assert spread(_runs(), "ftd", 4, seeds=(0, 1, 2)).mean == pytest.approx(0.44)
    with pytest.raises(ValueError, match="no stored runs of htd at dim 4"):
        select(_runs(), "htd", 4)
    table = seed_table(_runs(), (4, 8), ("student",))
    assert table.loc["student", "d=4"] == "0.410 ± 0.006 (3)" and table.loc["student", "d=8"] == "–"


def test_lesson_runs_only_where_the_stored_sweep_describes_the_settings(tmp_path, capsys):
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"dataset": {"dataset": "movielens-100k"}, "runs": _runs().to_dict("records")}))
    data = Interactions("movielens-100k", n_users=1, n_items=3, train=[[0, 0]], valid=[[0, 1]], test=[[0, 2]])
    assert len(lesson_runs(data, dims=(4,), epochs=20, path=path)) == 8     # the check seed is left out
    other = Interactions("synthetic", n_users=1, n_items=3, train=[[0, 0]], valid=[[0, 1]], test=[[0, 2]])
    for kwargs, why in [(dict(data=other, dims=(4,), epochs=20), "the stored seeds are on movielens-100k"),
                        (dict(data=data, dims=(4,), epochs=21), "the stored seeds use epochs = 20"),
                        (dict(data=data, dims=(4, 6), epochs=20), "dimensions 4 and 32, not [6]"),
                        (dict(data=data, dims=(2, 32), epochs=20), "dimensions 4 and 32, not [2]")]:
        assert lesson_runs(path=path, **kwargs) is None
        assert why in capsys.readouterr().out
    assert lesson_runs(data, dims=(4,), epochs=20, path=tmp_path / "none.json") is None
    assert "the stored seed sweep is missing" in capsys.readouterr().out


def test_seed_curve_draws_a_mean_with_error_bars_per_method():
    runs = pd.DataFrame([{"method": m, "dim": d, "seed": s, "Recall@50": 0.1 * d + 0.01 * s + (m == "ftd")}
                         for m in ("student", "ftd") for d in (2, 4) for s in (0, 1, 2)])
    fig = plot_seed_curve(runs, methods=("student", "ftd"), teacher=0.9)
    ax = fig.axes[0]
    means = [line.get_ydata() for line in ax.get_lines() if line.get_marker() == "o"]
    assert np.allclose(means[0], [0.21, 0.41]) and np.allclose(means[1], [1.21, 1.41])   # +0.01 * mean seed 1
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "FTD (≥3 seeds)", "Student (no KD) (≥3 seeds)", "Teacher (0.900)"]
    plt.close(fig)
    with pytest.raises(ValueError, match="lack the column"):
        plot_seed_curve(runs.drop(columns="seed"))


def test_paired_differences_marks_clear_ones_green():
    fig = plot_paired_differences({"clear": [0.1, 0.2, 0.3], "noise": [0.1, -0.1, 0.05]})
    ax = fig.axes[0]
    bars = [line for line in ax.get_lines() if line.get_linewidth() == 5]
    assert [b.get_color() for b in bars] == ["tab:gray", "tab:green"]   # drawn bottom-up: noise, then clear
    assert [t.get_text() for t in ax.get_yticklabels()] == ["noise", "clear"]
    plt.close(fig)
    with pytest.raises(ValueError, match="finite"):
        plot_paired_differences({"bad": [np.nan]})
    # one or two users of 600 on each of five seeds: green without the step, grey with it, and the bar
    # is the rule's, mean ± 2 steps (0.00233 ± 0.00333)
    few = [k / 600 for k in (1, 2, 1, 2, 1)]
    for step, color in ((None, "tab:green"), (1 / 600, "tab:gray"), ({"few": 1 / 600}, "tab:gray")):
        fig = plot_paired_differences({"few": few}, step=step)
        bar = next(line for line in fig.axes[0].get_lines() if line.get_linewidth() == 5)
        assert bar.get_color() == color, step
        plt.close(fig)
    assert bar.get_xdata() == pytest.approx([0.0023333 - 0.0033333, 0.0023333 + 0.0033333], abs=1e-6)
    with pytest.raises(ValueError, match="not among the differences"):
        plot_paired_differences({"few": few}, step={"other": 0.01})


def test_tuned_choice_picks_the_best_mean_validation_rate():
    from htd_tutorial.course.evidence import tuned_choice

    runs = _runs().assign(**{"valid Recall@50": lambda f: f["Recall@50"]})
    # student at lr 5e-3 has one run (0.47) against a mean of 0.41 at 2e-3
    assert tuned_choice(runs, "student", 4, (2e-3, 5e-3)) == 5e-3


def test_compare_variants_pairs_the_ablation_seeds_like_its_table():
    from htd_tutorial.paper.ablation import ablation_table

    rows = [{"variant": v, "seed": s, "Recall@50": r, "NDCG@50": r / 2}
            for v, values in {"authors": (0.30, 0.32, 0.28), "x": (0.31, 0.34, 0.29), "y": (0.29, 0.33)}.items()
            for s, r in enumerate(values)]
    x = compare_variants(rows, "x")
    assert x.seeds == (0, 1, 2) and x.values == pytest.approx((0.01, 0.02, 0.01), abs=1e-12)
    assert x.clearly_positive  # +0.0133 ± 0.0033, every seed above 0
    y = compare_variants(rows, "y")
    assert y.seeds == (0, 1) and y.unclear  # -0.01 and +0.01
    table = ablation_table(rows)  # the table's paired Δ and s.e. are the same numbers
    assert table.loc["x", "Δ Recall@50"] == pytest.approx(x.spread.mean, abs=1e-12)
    assert table.loc["x", "Δ Recall@50 se"] == pytest.approx(x.spread.se, abs=1e-12)
    assert compare_variants(rows, "x", step=0.01).unclear  # 0.0133 − 2 · 0.01 < 0 with the s.e. raised to 0.01
    assert compare_variants(rows, "x", "y", "NDCG@50").values == pytest.approx((0.01, 0.005), abs=1e-12)
    with pytest.raises(ValueError, match="share no seed"):
        compare_variants(rows + [{"variant": "z", "seed": 7, "Recall@50": 0.3}], "z")


def test_chance_clear_rate_matches_the_rule_worked_out_by_hand():
    """Two seeds: with u, v the normalised sum and difference of two N(0, 1) values, 'mean − 2 s.e. > 0'
    is u > 2|v|, a wedge of angle 2·atan(1/2): both signs together 2·atan(1/2)/π = 0.2952. Three seeds:
    |t| > 2 with 2 degrees of freedom, 1 − 2/√6 = 0.1835 (the every-seed-agrees condition removes a
    little more). Both against the simulation within 4 of its standard errors."""
    assert abs(chance_clear_rate(2) - 2 * math.atan(0.5) / math.pi) < 0.013
    three = chance_clear_rate(3)
    assert 1 - 2 / math.sqrt(6) - 0.012 < three <= 1 - 2 / math.sqrt(6) + 0.011
    assert chance_clear_rate(3, seed=1) != three  # simulated, not a fixed table
    # a metric that moves in steps of one s.d. of the noise: the s.e. is never below one s.d., so a
    # clear verdict needs a mean beyond 2 s.d. with every seed on one side, which chance almost never gives
    assert chance_clear_rate(3, step=1.0) < 0.01 < chance_clear_rate(3, step=0.1) <= three
    for bad in (1, 0, 2.0, True):
        with pytest.raises(ValueError, match="n_seeds"):
            chance_clear_rate(bad)

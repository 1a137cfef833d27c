"""The project's one statistics module (htd_tutorial.stats): mean ± s.e. over seeds and the "clear" rule.

Every expected value is worked out by hand in the comments, never by the code under test.
"""
from __future__ import annotations

import ast
import re

import pytest

from htd_tutorial.stats import mean_and_se, metric_step, read_paired, verdict
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "htd_tutorial"
H = 1 / 600  # one user of 600 test users: the step of Recall@K on the course's synthetic data


def test_mean_and_standard_error_by_hand():
    # mean 2.5; sample sd sqrt((1.5² + 0.5² + 0.5² + 1.5²) / 3) = sqrt(5/3) = 1.290994; s.e. = sd / 2
    mean, se = mean_and_se((1.0, 2.0, 3.0, 4.0))
    assert mean == 2.5 and se == pytest.approx(0.6454972, abs=1e-7)
    assert mean_and_se([0.3]) == (0.3, None)  # one value: no standard error, not 0


def test_one_seed_is_not_read():
    r = read_paired([0.4], step=None)
    assert (r.n, r.se, r.verdict, r.clear) == (1, None, "not read", False)
    assert verdict([-0.4], step=H) == "not read"


@pytest.mark.parametrize("values", [
    (-0.01, -0.01, -0.01),
    # the lab's proto_grad (notebook 04): six of 600 users on each seed, computed as differences of
    # metrics, so equal only up to float rounding (spread 5.6e-17)
    (0.2 - 0.21, 0.31 - 0.32, 0.45 - 0.46),
    (0.5, 0.5, 0.5, 0.5, 0.5),  # a large mean does not help
])
@pytest.mark.parametrize("step", [None, H])
def test_zero_spread_is_not_clear_whatever_the_mean(values, step):
    r = read_paired(values, step=step)
    assert r.verdict == "not read" and not r.clear, r
    assert "no spread" in r.why


def test_one_step_difference_with_tiny_spread_is_not_clear():
    # one user on each of five seeds, apart from float noise of 1e-7: without the step the s.e. is
    # about 4e-8 and the rule would call it clear; with the step it is the same difference on every seed
    values = (H, H + 1e-7, H - 1e-7, H + 2e-7, H - 2e-7)
    assert verdict(values, step=None) == "positive"
    assert verdict(values, step=H) == "not read"
    # one or two users on each of five seeds (real spread): mean 7/5 users = 0.002333,
    # sd sqrt((3 · 0.4² + 2 · 0.6²) / 4) = sqrt(0.3) users = 0.000913, s.e. 0.000913 / sqrt(5) = 0.000408;
    # without the step 0.002333 − 2 · 0.000408 > 0; with it the s.e. is one step, 0.002333 − 2 · 0.001667 < 0
    few = (1 * H, 2 * H, 1 * H, 2 * H, 1 * H)
    r = read_paired(few, step=H)
    assert r.mean == pytest.approx(0.0023333, abs=1e-7) and r.se == pytest.approx(0.000408, abs=1e-6)
    assert r.se_used == H and r.verdict == "unclear" and "raised to one step" in r.why
    assert verdict(few, step=None) == "positive"


def test_a_mean_of_two_steps_is_never_clear_however_many_seeds():
    # 1 and 3 users alternating over 40 seeds: mean 2 users, s.e. well below one user; 2 h − 2 h = 0 is not > 0
    values = [H, 3 * H] * 20
    assert mean_and_se(values)[1] < H / 5
    assert verdict(values, step=H) == "unclear"
    assert verdict([2 * H, 4 * H] * 20, step=H) == "positive"  # 3 users on average: beyond two steps


def test_a_clear_case_by_hand():
    # paired 0.03, 0.02, 0.04: mean 0.03, sd 0.01, s.e. 0.01 / sqrt(3) = 0.0057735; one step of 943 test
    # users is 0.00106 < s.e., so no floor: 0.03 − 2 · 0.0057735 = 0.0185 > 0 and every seed > 0
    r = read_paired((0.03, 0.02, 0.04), step=1 / 943)
    assert r.mean == pytest.approx(0.03) and r.se == pytest.approx(0.0057735, abs=1e-7)
    assert r.se_used == r.se and r.verdict == "positive" and r.clear
    assert verdict((-0.03, -0.02, -0.04), step=1 / 943) == "negative"
    # every seed > 0 but the mean 0.173 is within 2 s.e. (0.163 each) of zero
    assert verdict((0.01, 0.01, 0.5), step=None) == "unclear"


def test_the_edges_of_the_rule_by_hand():
    """Each condition at its boundary, with numbers that are exact in binary (benchmarks/mutation.py found
    that `>` for `>=`, or `<` for `<=`, at any of these edges passed every other test)."""
    # (1, 3): mean 2, sd sqrt(2), s.e. sqrt(2) / sqrt(2) = 1 exactly: 2 − 2 · 1 = 0 is not > 0
    assert read_paired((1.0, 3.0), step=None).verdict == "unclear"
    assert read_paired((-1.0, -3.0), step=None).verdict == "unclear"   # −2 + 2 · 1 = 0 is not < 0
    # every seed below zero but within 2 s.e.: mean −0.03, s.e. 0.02, −0.03 + 0.04 > 0
    assert read_paired((-0.01, -0.05), step=None).verdict == "unclear"
    # a spread of exactly half a step (0.25 with step 0.5) is no spread; just above it is one
    assert read_paired((1.0, 1.25), step=0.5).verdict == "not read"
    assert read_paired((1.0, 1.375), step=0.5).verdict == "positive"   # mean 1.1875 − 2 · 0.5 > 0
    # one seed at exactly zero and nine at ±1: mean ±0.9, s.e. 0.1, far from zero, but not every seed is
    # on one side
    for sign in (1.0, -1.0):
        r = read_paired((0.0,) + (sign,) * 9, step=None)
        assert r.verdict == "unclear" and r.why == "the seeds disagree in sign", r


def test_a_close_call_is_within_one_se_of_the_threshold():
    # 0.005, 0.020, 0.011: mean 0.012, s.e. 0.0043589 (sd 0.0075498 / sqrt 3); 2 s.e. = 0.0087178,
    # 0.012 - 0.0087178 = 0.0032822 < one s.e.: clear, but one s.e. from not being
    close = read_paired([0.005, 0.020, 0.011], step=None)
    assert close.verdict == "positive" and close.se == pytest.approx(0.0043589, abs=1e-7) and close.close_call
    # 0.001, 0.002, 0.003: mean 0.002, s.e. 0.00057735; 0.002 - 0.0011547 = 0.00085 > one s.e.: not close
    assert not read_paired([0.001, 0.002, 0.003], step=None).close_call
    # mirror image, and an unclear reading just under the threshold: 0.004, 0.016, -0.002 (mean 0.006,
    # s.e. 0.0052915; 0.006 - 0.010583 = -0.0046 > -s.e.): close
    assert read_paired([-0.005, -0.020, -0.011], step=None).close_call
    assert read_paired([0.004, 0.016, -0.002], step=None).close_call
    # far from the threshold either way, or one seed: not close
    assert not read_paired([0.0, 0.001, -0.001], step=None).close_call
    assert not read_paired([0.3], step=None).close_call


def test_mixed_signs_are_not_clear():
    # mean 0.0363 and s.e. 0.0188: 0.0363 − 2 · 0.0188 < 0 anyway; the seed below zero decides on its own too
    r = read_paired((0.05, 0.06, -0.001), step=None)
    assert r.verdict == "unclear" and r.why == "the seeds disagree in sign"
    assert verdict((0.5, 0.6, 0.55, 0.52, -0.001), step=None) == "unclear"  # far from zero on the mean


@pytest.mark.parametrize("values", [(0.1, float("nan"), 0.2), (0.1, float("inf")), (), ("a", 0.1), (None, 0.2)])
def test_bad_values_are_a_clear_error(values):
    with pytest.raises(ValueError, match="values over seeds|no values"):
        read_paired(values, step=None)
    with pytest.raises(ValueError, match="values over seeds|no values"):
        mean_and_se(values)


@pytest.mark.parametrize("step", [0, -H, 2.0, True, float("nan"), "1/600"])
def test_a_bad_step_is_a_clear_error(step):
    with pytest.raises(ValueError, match="step must be"):
        read_paired((0.1, 0.2), step=step)


def test_metric_step_is_one_user_for_recall_only():
    assert metric_step("Recall@50", 600) == pytest.approx(1 / 600)
    assert metric_step("Recall@10", 5219) == pytest.approx(0.00019161, abs=1e-8)  # CiteULike: 5219 test users
    assert metric_step("NDCG@50", 600) is None and metric_step("knn_overlap", 600) is None
    assert metric_step("Recall@50", None) is None
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_users"):
            metric_step("Recall@50", bad)


def test_stats_is_the_only_copy_of_the_standard_error():
    """No module of the package but stats.py computes a standard deviation of the mean its own way."""
    pattern = re.compile(r"stdev|ddof\s*=\s*1|sqrt\(\s*n\b|sqrt\(\s*len\(|[\"']sem[\"']|\.sem\(|import statistics")
    found = [f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "stats.py" or path.parent != PACKAGE
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, "use htd_tutorial.stats instead:\n" + "\n".join(found)


def test_the_pattern_of_that_check_catches_the_copies_it_replaced():
    pattern = re.compile(r"stdev|ddof\s*=\s*1|sqrt\(\s*n\b|sqrt\(\s*len\(|[\"']sem[\"']|\.sem\(|import statistics")
    for copy in ("statistics.stdev(values) / math.sqrt(len(values))", "values.std(ddof=1) / np.sqrt(values.size)",
                 'agg(["mean", "sem", "count"])', "np.std(x, ddof = 1) / math.sqrt(n)"):
        assert pattern.search(copy), copy


def test_stats_imports_only_the_standard_library_and_numpy():
    tree = ast.parse((PACKAGE / "stats.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert imported <= {"__future__", "math", "statistics", "dataclasses", "numbers", "numpy"}, imported
    assert not relative  # nothing of the package: every layer may import stats


def test_the_step_only_ever_takes_a_verdict_away():
    """With a step the rule is stricter, never looser: every clear verdict with the floor is the same
    verdict without it (300 random sets of three paired differences, on a grid of 1/600)."""
    import numpy as np

    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        values = np.round(rng.normal(0.004, 0.004, size=3) * 600) / 600
        with_step, without = verdict(values, step=H), verdict(values, step=None)
        seen.add((with_step, without))
        if with_step in ("positive", "negative"):
            assert without == with_step, values
    assert ("unclear", "positive") in seen  # and the floor did take some away


@pytest.mark.parametrize("se, printed", [(0.0, "0.000"), (3e-9, "0.000"), (0.0125, "0.013"), (0.002, "0.002"),
                                         (0.000447, "0.0004"), (0.0000447, "0.00004"), (0.00095, "0.001")])
def test_a_small_standard_error_is_not_printed_as_no_spread(se, printed):
    from htd_tutorial.stats import format_se

    assert format_se(se) == printed

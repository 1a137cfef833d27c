"""What the results page and notebook 04 say about the committed CiteULike ablation
(results/citeulike_bpr_ablation_d20.json). The results page is docs/results.md (htd_tutorial.paper.results.RESULTS_DOC).

The ablation switches the authors' code quirks to the paper's reading one at a time (HTD, BPR, student dim 20,
the reproduction's teacher and settings). Its runs are single-thread trainings of 20–60 minutes, added over
several sessions; what is not run yet is listed in the file's ``not_run``. Every expected value is written
here: the settings, which runs are finished and their test Recall@50 (4 decimals), and which paired
differences are clear of the seed noise. A run added to the file fails these tests until it is written here
too, so a number on the results page or in notebook 04 cannot change unseen.
"""
from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import REPO_ROOT
from htd_tutorial.course.evidence import compare_variants
from htd_tutorial.losses.htd import HTDOptions
from htd_tutorial.paper.ablation import readme_ablation_table
from htd_tutorial.paper.results import RESULTS_DOC
from htd_tutorial.stats import metric_step

ABLATION = REPO_ROOT / "results" / "citeulike_bpr_ablation_d20.json"
#: one run of the authors' code trained with subnormals flushed to zero (docs/results.md, "Numerical noise")
FLUSHED = REPO_ROOT / "results" / "citeulike_bpr_ablation_d20_flushed.json"
REPRODUCTION = REPO_ROOT / "results" / "citeulike_bpr.json"
#: the results page (the writer's constant, its one owner)
RESULTS_PAGE = REPO_ROOT / RESULTS_DOC
#: the BPR teacher of the reproduction (one thread, bit for bit repeatable)
TEACHER_SHA256 = "8f8adab565997cd646232c8ef0c22d47f2595947000bdf2851163d81c71b3549"
SETTINGS = {"dim": 20, "epochs": 100, "kind": "bpr", "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 1024,
            "lam": 1e-3, "K": 30, "gamma": 0.5, "group_topology": "Pe", "optimizer": "adam", "eval_every": 10,
            "base": "authors", "seeds": [0, 1, 2]}
VARIANTS = ("authors", "authors + proto_grad", "authors + positive_teacher_pairs_only", "authors + mask_pe",
            "authors + same_type_only", "authors + eps", "authors + tau_lag", "clean")
#: test Recall@50 of every finished run, by (variant, seed); the authors' rows are the reproduction's HTD d20 runs
RECALL = {
    ("authors", 0): 0.2692, ("authors", 1): 0.2707, ("authors", 2): 0.2761,
    ("authors + proto_grad", 0): 0.2734, ("authors + proto_grad", 1): 0.2742, ("authors + proto_grad", 2): 0.2717,
    ("authors + positive_teacher_pairs_only", 0): 0.2713, ("authors + positive_teacher_pairs_only", 1): 0.2684,
    ("authors + positive_teacher_pairs_only", 2): 0.2760,
    ("authors + mask_pe", 0): 0.2707, ("authors + mask_pe", 1): 0.2709, ("authors + mask_pe", 2): 0.2769,
    ("authors + same_type_only", 0): 0.2663, ("authors + same_type_only", 1): 0.2688,
    ("authors + same_type_only", 2): 0.2690,
    ("authors + eps", 0): 0.2696, ("authors + eps", 1): 0.2709, ("authors + eps", 2): 0.2774,
    ("authors + tau_lag", 0): 0.2694, ("authors + tau_lag", 1): 0.2723, ("authors + tau_lag", 2): 0.2744,
    ("clean", 0): 0.2709, ("clean", 1): 0.2694, ("clean", 2): 0.2700,
}
#: paired differences to the authors' code (Recall@50 and NDCG@50) that are clear of the seed noise
#: (htd_tutorial.stats' rule, the s.e. floored at one test user of 5219; two seeds or more with a spread, mean ± 2
#: s.e. and every seed on one side of 0); every other variant with two paired seeds or more is inside the noise.
#: proto_grad was clearly ahead on both metrics with seeds 0 and 1 (+0.0042, +0.0034) and is not with seed 2
#: (-0.0044). eps with seeds 0 and 1 (+0.0004, +0.0002 Recall@50: two users and one) was clear by the rule before
#: it had its floor, and is not by the rule now (test_eps_on_two_seeds_was_two_users_and_one). The two clear ones
#: below are Recall@50 only and no more than chance gives over fourteen comparisons (notebook 04, Section 5.1)
CLEAR: dict[tuple[str, str], str] = {("authors + mask_pe", "Recall@50"): "+",
                                     ("authors + same_type_only", "Recall@50"): "-"}


@pytest.fixture(scope="module")
def ablation() -> dict:
    assert ABLATION.is_file(), f"{ABLATION} is missing (it is committed; python -m htd_tutorial ablation writes it)"
    return json.loads(ABLATION.read_text(encoding="utf-8"))


def check_settings(payload: dict) -> None:
    settings = payload["settings"]
    assert {k: settings.get(k) for k in SETTINGS} == SETTINGS, settings
    assert list(payload["variants"]) == list(VARIANTS)
    assert payload["dataset"]["dataset"] == "citeulike" and payload["dataset"]["users"] == 5219
    for run in payload["runs"]:
        assert run["teacher_sha256"] == TEACHER_SHA256, (run["variant"], run["seed"])
        assert run["config"]["dim"] == 20 and run["config"]["epochs"] == 100 and run["config"]["lr"] == 1e-3
        assert run["variant"] == "authors" or run["threads"] == 1, (run["variant"], run["seed"], run["threads"])


def check_runs(payload: dict) -> None:
    """Exactly the runs written in :data:`RECALL`, with those numbers; every other (variant, seed) is not_run."""
    found = {(r["variant"], r["seed"]): r["Recall@50"] for r in payload["runs"]}
    assert len(found) == len(payload["runs"]), "a variant and seed stored twice"
    assert set(found) == set(RECALL), sorted(set(found) ^ set(RECALL))
    for key, value in RECALL.items():
        assert abs(found[key] - value) < 5e-5, (key, found[key], value)
    missing = {(r["variant"], r["seed"]) for r in payload["not_run"]}
    every = {(v, s) for v in VARIANTS for s in SETTINGS["seeds"]}
    assert missing == every - set(found) and not missing & set(found)


def check_clear(payload: dict) -> None:
    for variant in VARIANTS[1:]:
        for metric in ("Recall@50", "NDCG@50"):
            if sum(1 for v, _ in RECALL if v == variant) == 0:
                continue
            # the step of the metric over the file's test users: the floor of the rule's standard error
            d = compare_variants(payload["runs"], variant, metric=metric,
                                 step=metric_step(metric, payload["dataset"]["test"]))
            sign = "+" if d.clearly_positive else "-" if d.clearly_negative else None
            assert sign == CLEAR.get((variant, metric)), (str(d), CLEAR.get((variant, metric)))


CHECKS = {"settings": check_settings, "runs": check_runs, "clear of the noise": check_clear}


@pytest.mark.parametrize("name", list(CHECKS))
def test_committed_ablation(ablation, name):
    CHECKS[name](ablation)


def test_eps_on_two_seeds_was_two_users_and_one(ablation):
    """Seeds 0 and 1 of eps: Recall@50 above the authors' code by exactly 2 and 1 of the 5219 test users. Without the
    floor (s.e. 0.5 users) that is clear; with the s.e. raised to one user, 1.5 − 2 · 1 < 0 users is not."""
    early = [r for r in ablation["runs"] if r["seed"] in (0, 1)]
    d = compare_variants(early, "authors + eps", step=metric_step("Recall@50", ablation["dataset"]["test"]))
    assert [round(v * 5219, 6) for v in d.values] == [2.0, 1.0]
    assert d.unclear and d.reading.why == "within 2 s.e. of zero (s.e. raised to one step)"
    assert compare_variants(early, "authors + eps").clearly_positive  # no step: no floor


def test_authors_rows_are_the_reproductions_htd_runs(ablation):
    reproduction = json.loads(REPRODUCTION.read_text(encoding="utf-8"))
    htd = {r["seed"]: r for r in reproduction["runs"] + reproduction.get("other_seeds", [])
           if r["method"] == "htd" and r["dim"] == 20}
    authors = [r for r in ablation["runs"] if r["variant"] == "authors"]
    assert sorted(r["seed"] for r in authors) == [0, 1, 2]
    for row in authors:
        assert row["stored_in"] == REPRODUCTION.name
        assert (row["Recall@50"], row["NDCG@50"], row["curve"]) == (
            htd[row["seed"]]["Recall@50"], htd[row["seed"]]["NDCG@50"], htd[row["seed"]]["curve"])


def test_every_switch_is_one_variant():
    assert tuple(HTDOptions.ablation("authors")) == VARIANTS


def test_the_results_page_shows_the_committed_ablation(ablation):
    readme = RESULTS_PAGE.read_text(encoding="utf-8")
    name = ABLATION.stem
    start, end = f"<!-- results-table: {name} -->\n", "<!-- /results-table -->"
    assert start in readme, f"{RESULTS_DOC} has no block {start.strip()}"
    block = readme.split(start, 1)[1].split(end, 1)[0]
    assert block.strip() == readme_ablation_table(ablation).strip()


@pytest.mark.parametrize("change", ["recall", "seed", "teacher", "drop"])
def test_checks_reject_a_changed_file(ablation, change):
    bad = copy.deepcopy(ablation)
    run = next(r for r in bad["runs"] if r["variant"] == "authors")
    if change == "recall":
        run["Recall@50"] += 0.001
    elif change == "seed":
        run["seed"] = 7
    elif change == "teacher":
        run["teacher_sha256"] = "0" * 64
    else:
        bad["runs"].remove(run)
    with pytest.raises(AssertionError):
        for check in CHECKS.values():
            check(bad)


def test_the_results_page_quotes_the_files_paired_differences(ablation):
    """The sentences under the ablation table quote per-seed differences; they must be the file's."""
    readme = " ".join(RESULTS_PAGE.read_text(encoding="utf-8").split())
    quoted = {("clean", "Recall@50"): "+0.0017, −0.0013 and −0.0061",
              ("clean", "NDCG@50"): "−0.0011, −0.0002 and −0.0029",
              ("authors + proto_grad", "Recall@50"): "+0.0042, +0.0034 and −0.0044",
              ("authors + proto_grad", "NDCG@50"): "+0.0019, +0.0009 and −0.0021",
              ("authors + positive_teacher_pairs_only", "Recall@50"): "+0.0021, −0.0023 and −0.0001",
              ("authors + positive_teacher_pairs_only", "NDCG@50"): "+0.0004, −0.0015 and −0.0006",
              ("authors + mask_pe", "Recall@50"): "+0.0015, +0.0002 and +0.0008",
              ("authors + mask_pe", "NDCG@50"): "−0.0002, +0.0003 and +0.0001",
              ("authors + same_type_only", "Recall@50"): "−0.0029, −0.0019 and −0.0071",
              ("authors + same_type_only", "NDCG@50"): "−0.0029, +0.0007 and −0.0020",
              ("authors + eps", "Recall@50"): "+0.0004, +0.0002 and +0.0013",
              ("authors + eps", "NDCG@50"): "+0.0001, −0.0003 and +0.0005",
              ("authors + tau_lag", "Recall@50"): "+0.0002, +0.0015 and −0.0017",
              ("authors + tau_lag", "NDCG@50"): "−0.0002, +0.0006 and −0.0003"}
    for (variant, metric), text in quoted.items():
        d = compare_variants(ablation["runs"], variant, metric=metric)
        assert len(d.values) == text.count(",") + 2
        shown = [f"{v:+.4f}".replace("-", "−") for v in d.values]
        assert ", ".join(shown[:-1]) + " and " + shown[-1] == text, (variant, metric)
        assert f"{metric} {text}" in readme, text


def test_no_run_of_the_ablation_table_is_flushed(ablation):
    assert not any(run.get("flush_denormal", False) for run in ablation["runs"])


def test_the_flushed_check_is_the_authors_seed_1_and_the_results_page_quotes_it(ablation):
    flushed = json.loads(FLUSHED.read_text(encoding="utf-8"))
    [run] = flushed["runs"]
    assert (run["variant"], run["seed"], run["flush_denormal"], run["threads"]) == ("authors", 1, True, 1)
    assert run["teacher_sha256"] == TEACHER_SHA256 and run["config"] == next(
        r["config"] for r in ablation["runs"] if (r["variant"], r["seed"]) == ("authors", 1))
    assert abs(run["Recall@50"] - 0.2721) < 5e-5 and abs(run["NDCG@50"] - 0.1009) < 5e-5
    plain = next(r for r in ablation["runs"] if (r["variant"], r["seed"]) == ("authors", 1))
    assert run["curve"][1][0] == plain["curve"][1][0] and run["curve"][1][-1] != plain["curve"][1][-1]
    readme = " ".join(RESULTS_PAGE.read_text(encoding="utf-8").split())
    shift = {m: f"{run[m] - plain[m]:+.4f}" for m in ("Recall@50", "NDCG@50")}
    assert f"0.2721 against 0.2707 ({shift['Recall@50']}; NDCG@50 {shift['NDCG@50']})" in readme

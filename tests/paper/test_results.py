"""What the results page and notebook 04 say about the committed CiteULike reproduction (results/citeulike_bpr.json).

The results page is docs/results.md (htd_tutorial.paper.results.RESULTS_DOC: the tables left README.md for it).

Every expected value is written here, not read from the code under test: the authors' logged numbers,
the dataset's size, the settings that were run and how many seeds each cell holds. Each check is a
plain ``check_*`` function that raises AssertionError; the tests below apply them to the committed file,
and ``test_checks_reject_a_corrupted_copy`` proves that each one fails on a wrong file.

Seeds: ``runs`` holds the teacher's seed (0), one row per (method, dim); ``other_seeds`` the students'
other seeds. The file's ``summary`` (mean ± standard error per cell) is recomputed here from the rows with
:func:`htd_tutorial.stats.mean_and_se` (its numbers are checked by hand in tests/library/test_stats.py). An ordering
between two cells is claimed only when it is clear of the seed noise by the project's one rule
(:mod:`htd_tutorial.stats`), on the paired differences of the seeds both cells hold (:func:`ordering`), with the
standard error floored at one test user of the file's dataset.
The structural and seed checks run on every results file of :data:`FILES` that exists (the LightGCN
one once it is committed); the BPR file must exist.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

from htd_tutorial.paper.results import RESULTS_DOC
from htd_tutorial.stats import Reading, mean_and_se, metric_step, read_paired
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT
RESULTS = REPO / "results" / "citeulike_bpr.json"
#: the results page, where the tables and the sentences around them live (one owner: the writer's constant)
RESULTS_PAGE = REPO / RESULTS_DOC
TOLERANCE = 0.015  # the accuracy target of the methods issue: within +-0.015 of the authors' log
#: How close to zero "no gain" is: HTD - FTD at dims 100/200 and FTD - Student at dim 200. The authors'
#: log has +0.0025 (HTD - FTD at 200) and +0.0023 (FTD - Student at 200), our run -0.0021 (FTD - Student
#: at 200); the gains at dims 10/20 that these are contrasted with are 0.017 to 0.032.
NO_GAIN = 0.005

#: Test Recall@50 after 100 epochs in the authors' published log (CiteULike, BPR, teacher dim 200),
#: as quoted in the shared data README (copied here once; htd_tutorial.paper.reproduce.AUTHORS_LOG must equal it).
AUTHORS = {
    "teacher": 0.3123,
    "student": {10: 0.1788, 20: 0.2276, 100: 0.2976, 200: 0.3152},
    "ftd": {10: 0.2112, 20: 0.2516, 100: 0.3116, 200: 0.3175},
    "htd": {10: 0.2282, 20: 0.2744, 100: 0.3116, 200: 0.3200},
}
#: The authors' CiteULike split: one validation and one test item per user.
DATASET = {"dataset": "citeulike", "users": 5219, "items": 25181, "train": 115142, "valid": 5219, "test": 5219}
#: What the results page says was run: BPR, 100 epochs, batch 1024, lr 1e-3, weight decay 1e-3, lambda = 1e-3,
#: gamma = 0.5, K = 30, (P,e), authors' mode, seed 0.
SETTINGS = {"epochs": 100, "mode": "authors", "seed": 0, "lam": 1e-3, "K": 30, "gamma": 0.5,
            "group_topology": "Pe", "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 1024}
#: Each run's stored RunConfig: the settings plus the base model, Adam, evaluation every 10 epochs
#: (the curves) and no HTD options beyond the authors' preset.
RUN_CONFIG = {**SETTINGS, "kind": "bpr", "optimizer": "adam", "eval_every": 10, "options": None}
TEACHER = {"kind": "bpr", "dim": 200, "epochs": 100}
METHODS = ("student", "de", "ftd", "htd")
DIMS = (10, 20, 100, 200)
#: Runs that may still be missing; they must then be listed in not_run. None: DE at dim 200, the last one,
#: was run on 4 December (on a GPU, its row's machine says so).
OPTIONAL: set = set()
LABELS = {"student": "Student", "de": "DE", "ftd": "FTD", "htd": "HTD"}
KS = (10, 20, 50)
METRICS = tuple(f"{m}@{k}" for m in ("Recall", "NDCG") for k in KS)
#: How many seeds each (method, dim) of the BPR file holds (cells not named: 1, the seed-0 run).
SEED_COUNTS = {("student", 10): 3, ("student", 20): 3, ("ftd", 10): 3, ("ftd", 20): 3, ("de", 10): 3,
               ("de", 20): 3, ("htd", 10): 3, ("htd", 20): 3}
#: The orderings the results page states for the small students, as (dim, lower, higher) on the seed means of
#: Recall@50; each must be clear of the seed noise (ordering, paired by seed). Not in the results page's claims:
#: Student < DE at dims 10 and 20, which the README called inside the noise by the unpaired rule it used before
#: htd_tutorial.stats;
#: paired by seed it is clear (test_de_over_the_student_is_clear_when_paired_by_seed).
CLAIMS = [(10, "student", "ftd"), (10, "de", "ftd"), (10, "ftd", "htd"), (20, "student", "ftd"),
          (20, "de", "ftd"), (20, "ftd", "htd")]
#: LightGCN (issue 13): a dim-200 LightGCN teacher, students at 20, 100 and 200 (phi = 0.1, 0.5, 1), the BPR
#: table's settings except the learning rate, chosen on the teacher's validation (GCN_RECIPE). The authors
#: published no LightGCN number that this project holds, so nothing is compared with a reference: structure,
#: seeds and the orderings the seeds support.
GCN_RESULTS = REPO / "results" / "citeulike_lightgcn.json"
GCN_DIMS = (20, 100, 200)
GCN_LR = 5e-3
#: The LightGCN runs not made yet (listed in the file's not_run): none. DE at 100 and 200 and HTD at 200, the
#: last three, were trained on 5 December with --flush-denormal (their rows say so; the results page marks them).
GCN_OPTIONAL: set = set()
#: How many seeds each (method, dim) of the LightGCN file holds (cells not named: 1).
GCN_SEED_COUNTS = {(m, 20): 3 for m in METHODS}
#: The orderings the results page and notebook 04 state for LightGCN, as (dim, lower, higher, metric), clear of
#: the noise: at the chosen learning rate, dim 20, FTD < Student < HTD, FTD < DE < HTD, on both metrics. Not claimed:
#: Student vs DE (inside the noise, test_lightgcn_orderings_not_claimed_are_inside_the_noise).
GCN_CLAIMS = [(20, low, high, metric) for metric in ("Recall@50", "NDCG@50")
              for low, high in (("ftd", "student"), ("student", "htd"), ("ftd", "htd"), ("ftd", "de"), ("de", "htd"))]
#: At BPR's learning rate (GCN_SLOW_RESULTS) the same cells were the other way round, clear of the noise.
GCN_SLOW_CLAIMS = [(20, "student", "ftd", "Recall@50"), (20, "student", "ftd", "NDCG@50")]
#: The recipe: the LightGCN teacher's validation Recall@50 after 100 epochs at each candidate learning rate
#: (4 decimals), and the one chosen (the highest; choices.RECIPE_LR["lightgcn"] must be it).
GCN_RECIPE = REPO / "results" / "citeulike_lightgcn_recipe.json"
GCN_RECIPE_VALID = {1e-3: 0.2596, 5e-3: 0.2652}
#: The second search (issue 32, item 4), at the chosen rate 5e-3: the LightGCN teacher's validation Recall@50 after
#: 100 epochs for each (weight decay, depth), 4 decimals. The highest is chosen and is the package's recipe
#: (choices.RECIPE_WEIGHT_DECAY["lightgcn"], choices.LIGHTGCN_DEPTH); its teacher's test Recall@50 (GCN_SEARCH_TEST)
#: is above the BPR teacher's, as in the paper. The first search's teacher (weight decay 1e-3) is the stored
#: LightGCN sweep's, a record of that recipe.
GCN_SEARCH = REPO / "results" / "citeulike_search_lightgcn_recipe.json"
GCN_SEARCH_VALID = {(1e-3, 3): 0.2652, (1e-4, 3): 0.3162, (1e-4, 2): 0.3125, (0.0, 3): 0.2751, (0.0, 2): 0.2577,
                    (1e-3, 2): 0.2805}
GCN_SEARCH_TEST = 0.3202
#: The first LightGCN sweep, at BPR's learning rate 1e-3 (superseded, kept for what it shows: a plain student
#: still improving at epoch 100, and FTD's gain over it).
GCN_SLOW_RESULTS = REPO / "results" / "citeulike_lr1e-3_lightgcn.json"
GCN_SLOW_SEED_COUNTS = {("student", 20): 3, ("ftd", 20): 3}
#: BPR with a fairly trained baseline: the teacher and settings of the BPR table, the students at the learning
#: rate chosen for the plain dim-20 student on validation (TUNED_RECIPE): 3 seeds of each method at dim 20.
TUNED_RESULTS = REPO / "results" / "citeulike_tuned_bpr.json"
TUNED_STUDENT_LR = 5e-3
#: The runs still missing from the tuned file (listed in its not_run).
TUNED_OPTIONAL = {("de", 20)}
TUNED_SEED_COUNTS = {("student", 20): 3, ("ftd", 20): 3, ("htd", 20): 3}
#: The orderings stated for the tuned file, (dim, lower, higher, metric), clear of the noise: with every student at
#: the rate chosen for the plain one, Student < FTD < HTD on both metrics.
TUNED_CLAIMS = [(20, low, high, metric) for metric in ("Recall@50", "NDCG@50")
                for low, high in (("student", "ftd"), ("ftd", "htd"), ("student", "htd"))]
#: The student recipe: the plain dim-20 BPR student's validation Recall@50 after 100 epochs at each candidate
#: learning rate (4 decimals), the teacher kept at 1e-3; 5e-3 is chosen.
TUNED_RECIPE = REPO / "results" / "citeulike_bpr_d20_recipe.json"
TUNED_RECIPE_VALID = {1e-3: 0.2108, 5e-3: 0.2328, 1e-2: 0.2044, 2e-2: 0.1498}
#: Every results file these checks know: the BPR one is required; the others are checked once committed.
#: "dims"/"optional": the grid the file must cover and the cells that may still be missing (then in not_run).
FILES = {
    "citeulike_bpr.json": {"kind": "bpr", "lr": 1e-3, "dims": DIMS, "optional": OPTIONAL, "seed_counts": SEED_COUNTS},
    "citeulike_lightgcn.json": {"kind": "lightgcn", "lr": GCN_LR, "dims": GCN_DIMS, "optional": GCN_OPTIONAL,
                                "seed_counts": GCN_SEED_COUNTS},
    "citeulike_lr1e-3_lightgcn.json": {"kind": "lightgcn", "lr": 1e-3, "dims": (20,), "optional": set(),
                                       "seed_counts": GCN_SLOW_SEED_COUNTS},
    "citeulike_tuned_bpr.json": {"kind": "bpr", "lr": 1e-3, "student_lr": TUNED_STUDENT_LR, "dims": (20,),
                                 "optional": TUNED_OPTIONAL, "seed_counts": TUNED_SEED_COUNTS},
}
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def results() -> dict:
    # committed with the repository: a missing file is an error, not a reason to skip
    assert RESULTS.is_file(), f"{RESULTS} is missing (it is committed; python -m htd_tutorial reproduce writes it)"
    return json.loads(RESULTS.read_text())


EXISTING = [name for name in FILES if (REPO / "results" / name).is_file() or name == RESULTS.name]


@pytest.fixture(scope="module", params=EXISTING)
def any_results(request) -> tuple[str, dict]:
    path = REPO / "results" / request.param
    assert path.is_file(), f"{path} is missing"
    return request.param, json.loads(path.read_text())


# ------------------------------------------------------------------------------------------- the checks
def row(results: dict, method: str, dim: int) -> dict | None:
    rows = [r for r in results["runs"] if r["method"] == method and r["dim"] == dim]
    assert len(rows) <= 1, f"{method} d={dim} stored {len(rows)} times"
    return rows[0] if rows else None


def recall_table(results: dict) -> dict:
    """``{method: {dim: Recall@50}}`` of the stored runs, ``{"teacher": Recall@50}`` included."""
    table = {"teacher": results["teacher"]["Recall@50"]}
    for r in results["runs"]:
        table.setdefault(r["method"], {})[r["dim"]] = r["Recall@50"]
    return table


def check_authors_log(log: dict) -> None:
    assert log == AUTHORS, log


def check_reference(results: dict) -> None:
    # the file's copy of the authors' log (JSON turns the dimensions into strings)
    reference = {k: v for k, v in results["reference"].items() if k != "source"}
    assert reference == {k: v if k == "teacher" else {str(d): x for d, x in v.items()} for k, v in AUTHORS.items()}
    assert "authors' published log" in results["reference"]["source"]


def check_dataset(results: dict) -> None:
    block = results["dataset"]
    assert block["dataset"] == "citeulike", block
    assert {k: block[k] for k in DATASET} == DATASET, block
    cells = DATASET["users"] * DATASET["items"]
    assert block["density"] == pytest.approx((DATASET["train"] + DATASET["valid"] + DATASET["test"]) / cells)
    assert block["sparsity"] == pytest.approx(1 - block["density"])


def check_settings(results: dict, kind: str = "bpr", lr: float = 1e-3, student_lr: float | None = None) -> None:
    tuned = {} if student_lr is None else {"student_lr": student_lr}   # only a file whose students have their own
    assert results["settings"] == {**SETTINGS, "lr": lr, **tuned}, results["settings"]
    assert {k: results["teacher"][k] for k in TEACHER} == {**TEACHER, "kind": kind}, results["teacher"]


def check_run_configs(results: dict, kind: str = "bpr", lr: float = 1e-3) -> None:
    for r in results["runs"]:
        assert r["config"] == {**RUN_CONFIG, "kind": kind, "lr": lr, "method": r["method"], "dim": r["dim"]}, \
            (r["method"], r["dim"])


def check_runs_stored(results: dict, dims: tuple = DIMS, optional: set = OPTIONAL) -> None:
    stored = [(r["method"], r["dim"]) for r in results["runs"]]
    assert len(stored) == len(set(stored)), stored
    assert set(stored) <= {(m, d) for m in METHODS for d in dims}, stored
    missing = {(m, d) for m in METHODS for d in dims} - set(stored)
    assert missing <= optional, f"required runs missing: {sorted(missing)}"
    # not_run: exactly the missing cells' first-seed runs, plus (optionally) other seeds of the grid not stored yet
    first = [label for label in results["not_run"] if " seed " not in label]
    assert sorted(first) == sorted(f"{LABELS[m]} d={d}" for m, d in missing), results["not_run"]
    done = {(r["method"], r["dim"], r["seed"]) for r in every_row(results)}
    for label in set(results["not_run"]) - set(first):
        found = re.fullmatch(r"(\w+) d=(\d+) seed (\d+)", label)
        method = next((m for m, shown in LABELS.items() if found and shown == found.group(1)), None)
        assert method and int(found.group(2)) in dims, label
        assert (method, int(found.group(2)), int(found.group(3))) not in done, f"{label} is stored, yet listed"


def check_metrics(results: dict) -> None:
    """Each metric in [0, 1] and rising with K; NDCG@K <= Recall@K; each Recall@K is hits / 5219."""
    for name, r in [("teacher", results["teacher"])] + [(f"{r['method']} d={r['dim']} seed {r['config']['seed']}", r)
                                                       for r in every_row(results)]:
        assert all(0 <= r[m] <= 1 for m in METRICS), (name, {m: r[m] for m in METRICS})
        for metric in ("Recall", "NDCG"):
            values = [r[f"{metric}@{k}"] for k in KS]
            assert values == sorted(values), (name, metric, values)
        # one test item per user: NDCG@K = mean(hit / log2(rank + 1)) <= mean(hit) = Recall@K, and Recall@K
        # is a number of hits over the 5,219 test users
        assert all(r[f"NDCG@{k}"] <= r[f"Recall@{k}"] for k in KS), name
        for k in KS:
            hits = r[f"Recall@{k}"] * DATASET["test"]
            assert hits == pytest.approx(round(hits), abs=1e-6), (name, k, hits)


def check_curves(results: dict) -> None:
    """Each curve is ``[epochs, test Recall@50]`` every 10 epochs, ending at the final (test) Recall@50.

    The curves are History.curve()'s default, the *test* split (not validation), evaluated at epochs
    10, 20, ..., 100; the run's final numbers are the test metrics of that same last evaluation, so the last
    point equals the final Recall@50 exactly (not just approximately).
    """
    for name, r in [("teacher", results["teacher"])] + [(f"{r['method']} d={r['dim']} seed {r['config']['seed']}", r)
                                                       for r in every_row(results)]:
        epochs, values = r["curve"]
        assert epochs == list(range(10, 101, 10)), (name, epochs)
        assert len(values) == len(epochs) and all(0 <= v <= 1 for v in values), name
        assert values[-1] == r["Recall@50"], (name, values[-1], r["Recall@50"])


def check_close_to_authors(results: dict) -> None:
    table = recall_table(results)
    assert abs(table["teacher"] - AUTHORS["teacher"]) <= TOLERANCE, table["teacher"]
    for method in ("student", "ftd", "htd"):
        for dim in DIMS:
            value = table[method][dim]
            assert abs(value - AUTHORS[method][dim]) <= TOLERANCE, (method, dim, value, AUTHORS[method][dim])
            mean = seed_means(results)[(method, dim)][0]  # and the mean over the seeds (the results page says both)
            assert abs(mean - AUTHORS[method][dim]) <= TOLERANCE, (method, dim, mean, AUTHORS[method][dim])


def check_student_200_is_the_teacher(results: dict) -> None:
    # same seed and settings as the teacher: the dimension-200 "student" is the teacher
    student = row(results, "student", 200)
    assert {m: student[m] for m in METRICS} == {m: results["teacher"][m] for m in METRICS}


def check_ordering(results: dict) -> None:
    table = recall_table(results)
    for dim in (10, 20):  # the paper's ordering for the small students, DE (point-wise) below both transfers
        values = [table[m][dim] for m in METHODS]
        assert values[0] < values[1] < values[2] < values[3], (dim, values)
    for dim in (10, 20, 100):  # DE (point-wise) between the student and FTD
        assert table["student"][dim] < table["de"][dim] < table["ftd"][dim], dim
    # at the teacher's size the four are within 0.01 of each other (one seed each: DE 0.3190, Student
    # 0.3169, FTD and HTD 0.3148), the one-seed noise the results page gives: no ordering there
    at_200 = [table[m][200] for m in METHODS]
    assert max(at_200) - min(at_200) < 0.01, at_200


def check_crossover(table: dict) -> None:
    """The paper's crossover, stated as the authors' own log supports it.

    HTD beats FTD for the tiny students (dims 10, 20), and that lead is gone for roomy ones (100, 200):
    at most NO_GAIN there, and within 0.01 either way. Not claimed: that the lead at 10 exceeds the lead at
    20 (the authors' log has 0.2282 - 0.2112 = 0.017 < 0.2744 - 0.2516 = 0.0228). FTD's own gain over the
    student closes at the teacher's size: |FTD - Student| <= NO_GAIN at 200, below the gains at 10 and 20.
    """
    lead = {d: table["htd"][d] - table["ftd"][d] for d in DIMS}
    assert lead[10] > 0 and lead[20] > 0, lead
    assert all(-0.01 < lead[d] <= NO_GAIN for d in (100, 200)), lead
    assert min(lead[10], lead[20]) > max(lead[100], lead[200]), lead
    gain = {d: table["ftd"][d] - table["student"][d] for d in DIMS}
    assert abs(gain[200]) <= NO_GAIN, gain
    assert gain[200] < min(gain[10], gain[20]), gain


def readme_block(readme: str, name: str) -> str:
    block = re.search(rf"<!-- results-table: {re.escape(name)} -->\n(.*?)<!-- /results-table -->", readme, re.S)
    assert block, (f"{RESULTS_DOC} has no results table for {name} "
                   f"(<!-- results-table: {name} --> ... <!-- /results-table -->)")
    return block.group(1)


def check_readme_table(results: dict, readme: str, name: str = "citeulike_bpr", dims: tuple = DIMS,
                       authors: dict | None = AUTHORS) -> None:
    """The results page's table shows, per cell, the seed mean ± s.e. of the JSON's Recall@50 with the number of
    seeds (4 decimals; "mean (1)" for one seed, "–" not run; " †" on a cell holding a run trained with
    subnormals flushed to zero, and then the note under the table) and the authors' log; the teacher sentence."""
    means = seed_means(results)
    block = readme_block(readme, name)
    head = ["student dim", *LABELS.values()] + (["authors: Student / FTD / HTD"] if authors else [])
    assert block.splitlines()[:2] == ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)], block
    flushed = {(r["method"], r["dim"]) for r in every_row(results) if r.get("flush_denormal")}
    note = ["", "† trained with subnormal floats flushed to zero (`--flush-denormal`): about 2.5 times faster on "
            "a CPU, other last digits"] if flushed else []
    assert block.splitlines()[2 + len(dims):] == note, block
    for dim in dims:
        line = re.search(rf"^\| {dim} \|(.*)\|$", block, re.M)
        assert line, f"{RESULTS_DOC} has no results row for dim {dim}"
        cells = [c.strip() for c in line.group(1).split("|")]
        ours = []
        for m in METHODS:
            mean, se, n = means.get((m, dim), (None, None, 0))
            cell = "–" if n == 0 else f"{mean:.4f} ({n})" if n == 1 else f"{mean:.4f} ± {se:.4f} ({n})"
            ours.append(cell + (" †" if (m, dim) in flushed else ""))
        logged = [" / ".join(f"{authors[m][dim]:.4f}" for m in ("student", "ftd", "htd"))] if authors else []
        assert cells == ours + logged, (dim, cells, ours + logged)
    if authors:
        teacher = results["teacher"]["Recall@50"]
        assert f"The teacher (dim 200) reaches {teacher:.4f} (authors: {authors['teacher']:.4f})" in readme


# ------------------------------------------------------------------------------------------- seeds
def every_row(results: dict) -> list[dict]:
    return results["runs"] + results.get("other_seeds", [])


def seed_means(results: dict, metric: str = "Recall@50") -> dict:
    """``{(method, dim): (mean, standard error or None, n)}`` over the seeds (htd_tutorial.stats.mean_and_se)."""
    values: dict = {}
    for r in every_row(results):
        values.setdefault((r["method"], r["dim"]), []).append(r[metric])
    return {cell: (*mean_and_se(v), len(v)) for cell, v in values.items()}


def ordering(low: tuple, high: tuple, metric: str = "Recall@50") -> Reading:
    """The rule's reading of ``high − low``, where ``low`` and ``high`` are ``(results, method, dim)`` (two cells of
    one results file, or of two files on the same data): the paired differences over the seeds both hold, the
    standard error floored at the metric's step over the data's test users. ``low < high`` is claimed when its
    verdict is ``"positive"``."""
    (low_file, *low_cell), (high_file, *high_cell) = low, high
    assert low_file["dataset"] == high_file["dataset"], "an ordering compares runs on the same data"
    by_seed = [{r["seed"]: r[metric] for r in every_row(f) if [r["method"], r["dim"]] == cell}
               for f, cell in ((low_file, low_cell), (high_file, high_cell))]
    seeds = sorted(set(by_seed[0]) & set(by_seed[1]))
    assert seeds, f"{low_cell} and {high_cell} share no seed"
    return read_paired([by_seed[1][s] - by_seed[0][s] for s in seeds],
                       step=metric_step(metric, low_file["dataset"]["test"]))


def clear(low: tuple, high: tuple, metric: str = "Recall@50") -> bool:
    """``low < high`` clear of the seed noise (:func:`ordering`)."""
    return ordering(low, high, metric).verdict == "positive"


def check_seed_rows(results: dict, kind: str = "bpr", lr: float = 1e-3) -> None:
    """runs = the teacher's seed, other_seeds = the others, each (method, dim, seed) once, each row's seed its
    config's; new rows record the thread count and a teacher digest listed under ``teachers``."""
    first = results["settings"]["seed"]
    assert all(r["seed"] == first for r in results["runs"]), [r["seed"] for r in results["runs"]]
    assert all(r["seed"] != first for r in results["other_seeds"]), [r["seed"] for r in results["other_seeds"]]
    keys = [(r["method"], r["dim"], r["seed"]) for r in every_row(results)]
    assert len(keys) == len(set(keys)), keys
    digests = [t["sha256"] for t in results["teachers"]]
    assert len(digests) == len(set(digests)) and all(SHA256.match(d) for d in digests), digests
    for r in every_row(results):
        name = (r["method"], r["dim"], r["seed"])
        assert r["config"] == {**RUN_CONFIG, "kind": kind, "lr": lr, "method": r["method"], "dim": r["dim"],
                               "seed": r["seed"]}, name
        recorded = r["threads"] is not None or r["teacher_sha256"] is not None
        assert recorded or r["seed"] == first, f"{name}: a seed run without thread count or teacher digest"
        if recorded:
            assert isinstance(r["threads"], int) and r["threads"] >= 1, (name, r["threads"])
            assert r["teacher_sha256"] in digests, (name, r["teacher_sha256"])
    for t in results["teachers"]:
        assert all(0 <= t[m] <= 1 for m in METRICS) and t["seconds"] > 0 and t["threads"] >= 1, t["sha256"]


def check_summary(results: dict) -> None:
    """The file's summary is the mean ± s.e. of its rows, per cell, with n and the seeds (recomputed here)."""
    ours = {}
    for r in every_row(results):
        ours.setdefault((r["method"], r["dim"]), []).append(r)
    summary = {(e["method"], e["dim"]): e for e in results["summary"]}
    assert len(summary) == len(results["summary"]) and set(summary) == set(ours), sorted(set(summary) ^ set(ours))
    for cell, rows in ours.items():
        entry = summary[cell]
        assert entry["n"] == len(rows) and entry["seeds"] == sorted(r["seed"] for r in rows), (cell, entry["n"])
        for metric in METRICS:
            mean, se = mean_and_se(r[metric] for r in rows)
            assert entry[metric] == pytest.approx(mean, rel=1e-12, abs=1e-15), (cell, metric)
            if se is None:
                assert entry[f"{metric} se"] is None, (cell, metric)
            else:
                assert entry[f"{metric} se"] == pytest.approx(se, rel=1e-9), (cell, metric)


def check_seed_counts(results: dict, counts: dict | None = None) -> None:
    """Each cell holds the number of seeds written in :data:`SEED_COUNTS` (1 where not named)."""
    counts = SEED_COUNTS if counts is None else counts
    stored = {cell: n for cell, (_, _, n) in seed_means(results).items()}
    assert stored == {cell: counts.get(cell, 1) for cell in stored}, stored
    assert set(counts) <= set(stored), sorted(set(counts) - set(stored))


def check_seed_claims(results: dict) -> None:
    """The results page's orderings for the small students hold on the seed means, clear of the noise."""
    for dim, low, high in CLAIMS:
        assert clear((results, low, dim), (results, high, dim)), (dim, low, high,
                                                                  ordering((results, low, dim), (results, high, dim)))


ALL_CHECKS = (check_reference, check_dataset, check_settings, check_run_configs, check_runs_stored, check_metrics,
              check_curves, check_close_to_authors, check_student_200_is_the_teacher, check_ordering,
              check_seed_rows, check_summary, check_seed_counts, check_seed_claims)


# ------------------------------------------------------------------------------------------- the committed file
def test_the_authors_log_in_the_code_is_the_published_one():
    from htd_tutorial.paper.reproduce import AUTHORS_LOG

    check_authors_log(AUTHORS_LOG)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_committed_results(results, check):
    check(results)


def test_crossover_in_our_run(results):
    check_crossover(recall_table(results))


def test_crossover_as_stated_holds_in_the_authors_log():
    check_crossover(AUTHORS)
    # the claim this module no longer makes, because the authors' own numbers contradict it
    assert AUTHORS["htd"][10] - AUTHORS["ftd"][10] < AUTHORS["htd"][20] - AUTHORS["ftd"][20]


def test_results_page_shows_the_committed_numbers(results):
    check_readme_table(results, RESULTS_PAGE.read_text(encoding="utf-8"))


def _file_checks(name: str) -> dict:
    """The checks that apply to every results file, with that file's expectations (:data:`FILES`)."""
    spec = FILES[name]
    return {
        "dataset": check_dataset,
        "settings": lambda r: check_settings(r, spec["kind"], spec["lr"], spec.get("student_lr")),
        "run configs": lambda r: check_run_configs(r, spec["kind"], spec.get("student_lr", spec["lr"])),
        "runs stored": lambda r: check_runs_stored(r, spec["dims"], spec["optional"]),
        "metrics": check_metrics,
        "curves": check_curves,
        "seed rows": lambda r: check_seed_rows(r, spec["kind"], spec.get("student_lr", spec["lr"])),
        "summary": check_summary,
        "seed counts": lambda r: spec["seed_counts"] is None or check_seed_counts(r, spec["seed_counts"]),
        "results table": lambda r: check_readme_table(r, RESULTS_PAGE.read_text(encoding="utf-8"),
                                                      name.removesuffix(".json"), spec["dims"],
                                                      AUTHORS if spec["kind"] == "bpr" else None),
    }


@pytest.mark.parametrize("check", list(_file_checks(RESULTS.name)))
def test_every_committed_results_file(any_results, check):
    name, results = any_results
    _file_checks(name)[check](results)


# ------------------------------------------------------------------------------------------- a wrong file fails
def _set_run(method, dim, **values):
    def corrupt(results):
        row(results, method, dim).update(values)
    return corrupt


def _every_config(**values):
    def corrupt(results):
        for r in results["runs"]:
            r["config"].update(values)
    return corrupt


def _movielens(results):
    results["dataset"] = {"dataset": "ml-100k", "users": 943, "items": 1682, "train": 98114, "valid": 943,
                          "test": 943, "density": 0.0630, "sparsity": 0.9370}


def _drop_run(method, dim):
    def corrupt(results):
        results["runs"] = [r for r in results["runs"] if (r["method"], r["dim"]) != (method, dim)]
    return corrupt


def _duplicate_run(results):
    results["runs"].append(copy.deepcopy(results["runs"][0]))


def _curve_end(results):
    row(results, "htd", 10)["curve"][1][-1] = 0.2100


def _curve_short(results):
    curve = row(results, "ftd", 20)["curve"]
    curve[0], curve[1] = curve[0][:-1], curve[1][:-1]


def _reference(results):
    results["reference"]["htd"]["20"] = 0.2644


def _teacher_setting(results):
    results["teacher"]["dim"] = 100


def _ftd_and_htd_at_200(value):
    # FTD away from the student at 200, HTD level with FTD: only the two-sided FTD check can catch it
    def corrupt(results):
        for method in ("ftd", "htd"):
            row(results, method, 200)["Recall@50"] = value
    return corrupt


def _crossover(results):
    check_crossover(recall_table(results))


def _readme_text(results):
    check_readme_table(results, RESULTS_PAGE.read_text(encoding="utf-8"))


def _readme(results):
    # a correct-looking file whose number the results page does not show
    row(results, "htd", 100)["Recall@50"] = 802 / 5219  # 0.1537 -> the results page says 0.3087


def _summary(method, dim, **values):
    def corrupt(results):
        next(e for e in results["summary"] if (e["method"], e["dim"]) == (method, dim)).update(values)
    return corrupt


def _seed_row(**values):
    def corrupt(results):
        results["other_seeds"][0].update(values)
    return corrupt


def _seed_row_into_runs(results):
    results["runs"].append(results["other_seeds"].pop(0))


def _every_seed(method, dim, **values):
    def corrupt(results):
        for r in every_row(results):
            if (r["method"], r["dim"]) == (method, dim):
                r.update(values)
    return corrupt


def _drop_seed_row(results):
    gone = results["other_seeds"].pop(0)
    results["summary"] = [e for e in results["summary"] if (e["method"], e["dim"]) != (gone["method"], gone["dim"])]
    # a consistent file (summary recomputed) that simply lacks a seed
    rows = [r for r in every_row(results) if (r["method"], r["dim"]) == (gone["method"], gone["dim"])]
    values = [r["Recall@50"] for r in rows]
    results["summary"].append({"method": gone["method"], "dim": gone["dim"], "n": len(rows),
                               "seeds": sorted(r["seed"] for r in rows), "Recall@50": sum(values) / len(values)})


CORRUPTIONS = {
    "movielens dataset block": (_movielens, check_dataset),
    "users off by one": (lambda r: r["dataset"].update(users=5218), check_dataset),
    "settings: clean mode": (lambda r: r["settings"].update(mode="clean"), check_settings),
    "settings: lambda 1e-2": (lambda r: r["settings"].update(lam=1e-2), check_settings),
    "settings: 50 epochs": (lambda r: r["settings"].update(epochs=50), check_settings),
    "teacher dim 100": (_teacher_setting, check_settings),
    "every config: clean mode": (_every_config(mode="clean"), check_run_configs),
    "every config: lambda 1e-2": (_every_config(lam=1e-2), check_run_configs),
    "every config: seed 1": (_every_config(seed=1), check_run_configs),
    "every config: K 20": (_every_config(K=20), check_run_configs),
    "every config: (P,P)": (_every_config(group_topology="PP"), check_run_configs),
    "every config: gamma 0": (_every_config(gamma=0.0), check_run_configs),
    "every config: batch 256": (_every_config(batch_size=256), check_run_configs),
    "one config: seed 1": (lambda r: r["runs"][3]["config"].update(seed=1), check_run_configs),
    "config of another dim": (lambda r: r["runs"][0]["config"].update(dim=20), check_run_configs),
    "required run missing": (_drop_run("htd", 20), check_runs_stored),
    "run stored twice": (_duplicate_run, check_runs_stored),
    "a stored run listed in not_run": (lambda r: r.update(not_run=["DE d=200"]), check_runs_stored),
    "recall@10 0.99 > recall@50": (_set_run("htd", 10, **{"Recall@10": 5167 / 5219}), check_metrics),
    "ndcg@20 > ndcg@50": (_set_run("ftd", 100, **{"NDCG@20": 0.13}), check_metrics),
    "negative ndcg": (_set_run("student", 10, **{"NDCG@10": -0.01}), check_metrics),
    "teacher recall above 1": (lambda r: r["teacher"].update({"Recall@50": 1.2}), check_metrics),
    "ndcg above recall": (_set_run("de", 20, **{"NDCG@50": 0.25}), check_metrics),
    "recall not hits / 5219": (_set_run("de", 20, **{"Recall@50": 0.2288}), check_metrics),
    "curve not ending at the final number": (_curve_end, check_curves),
    "curve stopping at epoch 90": (_curve_short, check_curves),
    "authors' number changed in the file": (_reference, check_reference),
    "teacher far from the authors": (lambda r: r["teacher"].update({"Recall@50": 0.2900}), check_close_to_authors),
    "htd d=10 far from the authors": (_set_run("htd", 10, **{"Recall@50": 0.2100}), check_close_to_authors),
    "student d=200 is not the teacher": (_set_run("student", 200, **{"NDCG@50": 0.1230}),
                                         check_student_200_is_the_teacher),
    "de above ftd at d=10": (_set_run("de", 10, **{"Recall@50": 0.2100}), check_ordering),
    "de below the student at d=100": (_set_run("de", 100, **{"Recall@50": 0.2900}), check_ordering),
    "de 0.012 above ftd at d=200": (_set_run("de", 200, **{"Recall@50": 0.3270}), check_ordering),
    "htd below ftd at d=20": (_set_run("htd", 20, **{"Recall@50": 0.2500}), check_ordering),
    "htd still ahead at d=100": (_set_run("htd", 100, **{"Recall@50": 0.3220}), _crossover),
    "ftd 0.008 above the student at d=200": (_ftd_and_htd_at_200(0.3250), _crossover),
    "ftd 0.009 below the student at d=200": (_ftd_and_htd_at_200(0.3080), _crossover),
    "htd no better than ftd at d=10": (_set_run("htd", 10, **{"Recall@50": 0.2040}), _crossover),
    "number the results page does not show": (_readme, _readme_text),
    "a seed run's number the results page does not show": (_seed_row(**{"Recall@50": 0.1}), _readme_text),
    "summary mean off": (_summary("student", 10, **{"Recall@50": 0.1800}), check_summary),
    "summary s.e. as population s.d.": (_summary("student", 10, **{"NDCG@50 se": 0.001}), check_summary),
    "summary n off": (_summary("student", 10, n=2), check_summary),
    "summary cell missing": (lambda r: r["summary"].pop(0), check_summary),
    "seed run in runs": (_seed_row_into_runs, check_seed_rows),
    "seed run stored twice": (lambda r: r["other_seeds"].append(copy.deepcopy(r["other_seeds"][0])), check_seed_rows),
    "seed run's config of another seed": (lambda r: r["other_seeds"][0]["config"].update(seed=7), check_seed_rows),
    "seed run without a teacher digest": (_seed_row(teacher_sha256=None, threads=None), check_seed_rows),
    "seed run's teacher not listed": (lambda r: r.update(teachers=[]), check_seed_rows),
    "seed run with 0 threads": (_seed_row(threads=0), check_seed_rows),
    "seed run's curve not ending at its number": (_seed_row(**{"Recall@50": 0.1}), check_curves),
    "a seed missing": (_drop_seed_row, check_seed_counts),
    "student above FTD at d=10 on the means": (_every_seed("student", 10, **{"Recall@50": 0.2500}), check_seed_claims),
    "ftd seeds 1, 2 far from the authors at d=20": (lambda r: [x.update({"Recall@50": 0.2200}) for x in r["other_seeds"]
                                                                if (x["method"], x["dim"]) == ("ftd", 20)],
                                                     check_close_to_authors),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_checks_reject_a_corrupted_copy(results, tmp_path, name):
    corrupt, check = CORRUPTIONS[name]
    wrong = copy.deepcopy(results)
    corrupt(wrong)
    path = tmp_path / "citeulike_bpr.json"  # through JSON, as the file would be written
    path.write_text(json.dumps(wrong))
    wrong = json.loads(path.read_text())
    check(copy.deepcopy(results))  # the untouched file passes the same check
    with pytest.raises(AssertionError):
        check(wrong)


def test_de_over_the_student_is_clear_when_paired_by_seed(results):
    """DE − Student, Recall@50, per seed 0, 1, 2: +0.0115, +0.0084, +0.0052 at dim 10 (+0.0084 ± 0.0018) and
    +0.0086, +0.0080, +0.0029 at dim 20 (+0.0065 ± 0.0018): clear by the one rule. The README once called it inside
    the noise, by the unpaired rule (difference of the seed means against sqrt(se_a² + se_b²)) it used before."""
    for dim, mean in ((10, 0.0084), (20, 0.0065)):
        reading = ordering((results, "student", dim), (results, "de", dim))
        assert reading.verdict == "positive" and reading.mean == pytest.approx(mean, abs=5e-5), (dim, reading)
        assert reading.se == pytest.approx(0.0018, abs=5e-5), (dim, reading)


def test_an_ordering_pairs_the_cells_by_seed_and_floors_at_one_user():
    def file(values: dict) -> dict:
        return {"dataset": {"dataset": "x", "test": 100}, "runs": [], "other_seeds": [
            {"method": m, "dim": 4, "seed": s, "Recall@50": v} for m, by_seed in values.items()
            for s, v in by_seed.items()]}

    # per seed B − A = 0.03, 0.02, 0.04 (mean 0.03, s.e. 0.0058) though the seed means overlap: clear
    paired = file({"a": {0: 0.40, 1: 0.50, 2: 0.60}, "b": {0: 0.43, 1: 0.52, 2: 0.64, 7: 0.1}})  # seed 7: unpaired
    reading = ordering((paired, "a", 4), (paired, "b", 4))
    assert reading.n == 3 and reading.mean == pytest.approx(0.03) and reading.verdict == "positive"
    # one or two users of 100 on each seed: the s.e. is raised to one user (0.01), 0.0133 − 0.02 < 0
    few = file({"a": {0: 0.40, 1: 0.50, 2: 0.60}, "b": {0: 0.41, 1: 0.52, 2: 0.61}})
    assert not clear((few, "a", 4), (few, "b", 4))
    assert ordering((few, "a", 4), (few, "b", 4)).why == "within 2 s.e. of zero (s.e. raised to one step)"


@pytest.mark.parametrize("change", [("teacher", None, 0.3124), ("htd", 10, 0.2283), ("ftd", 200, 0.3157)],
                         ids=["teacher", "htd d=10", "ftd d=200"])
def test_a_changed_authors_number_is_caught(change):
    method, dim, value = change
    log = copy.deepcopy(AUTHORS)
    if dim is None:
        log[method] = value
    else:
        log[method][dim] = value
    with pytest.raises(AssertionError):
        check_authors_log(log)


# ------------------------------------------------------------------------------------------- LightGCN
@pytest.fixture(scope="module")
def gcn_results() -> dict:
    assert GCN_RESULTS.is_file(), f"{GCN_RESULTS} is missing (it is committed; reproduce --model lightgcn writes it)"
    return json.loads(GCN_RESULTS.read_text())


def test_lightgcn_file_is_checked_with_the_others():
    assert GCN_RESULTS.name in EXISTING


def test_lightgcn_has_no_authors_reference(gcn_results):
    # the authors' log is BPR's: a LightGCN file compares with nothing it was not logged for
    assert gcn_results["reference"] is None
    assert gcn_results["teacher"]["kind"] == "lightgcn" and gcn_results["teacher"]["dim"] == 200


def test_lightgcn_orderings_are_clear_of_the_noise(gcn_results):
    for dim, low, high, metric in GCN_CLAIMS:
        assert clear((gcn_results, low, dim), (gcn_results, high, dim), metric), (dim, low, high, metric)


def test_lightgcn_claims_fail_on_a_swapped_file(gcn_results):
    # each claim is a real check: swapping the two methods' numbers (every seed) breaks it
    for dim, low, high, metric in GCN_CLAIMS:
        wrong = copy.deepcopy(gcn_results)
        for r in every_row(wrong):
            if r["dim"] == dim and r["method"] in (low, high):
                r["method"] = high if r["method"] == low else low
        assert not clear((wrong, low, dim), (wrong, high, dim), metric), (dim, low, high, metric)


def test_lightgcn_recipe_is_chosen_on_validation_and_is_the_sweeps():
    """The LightGCN learning rate: the teacher's final validation Recall@50 at each candidate (written here),
    the highest chosen, the package's recipe equal to it, and each sweep distilled from the compared teacher."""
    from htd_tutorial.choices import RECIPE_LR

    recipe = json.loads(GCN_RECIPE.read_text())
    assert recipe["kind"] == "lightgcn"
    assert recipe["teacher"] == {"dim": 200, "epochs": 100, "seed": 0, "eval_every": 10}
    assert recipe["criterion"].startswith("validation Recall@50")
    finals = {c["lr"]: round(c["final_valid"], 4) for c in recipe["candidates"]}
    assert finals == GCN_RECIPE_VALID, finals
    assert recipe["chosen_lr"] == max(GCN_RECIPE_VALID, key=GCN_RECIPE_VALID.get) == GCN_LR == RECIPE_LR["lightgcn"]
    for c in recipe["candidates"]:
        assert c["valid"][0] == list(range(10, 101, 10)) and c["valid"][1][-1] == c["final_valid"], c["lr"]
    digests = {c["lr"]: c["sha256"] for c in recipe["candidates"]}
    for path, lr in ((GCN_RESULTS, GCN_LR), (GCN_SLOW_RESULTS, 1e-3)):
        sweep = json.loads(path.read_text())
        assert sweep["settings"]["lr"] == lr and sweep["teacher"]["sha256"] == digests[lr], path.name


def test_lightgcn_weight_decay_and_depth_are_chosen_on_validation_and_beat_the_bpr_teacher(results):
    """The second LightGCN search: every candidate's final validation Recall@50 (written here), the highest chosen,
    the package's recipe equal to it, and the chosen teacher above the BPR teacher on test Recall@50."""
    from htd_tutorial.choices import LIGHTGCN_DEPTH, RECIPE_LR, RECIPE_WEIGHT_DECAY

    search = json.loads(GCN_SEARCH.read_text())
    assert search["kind"] == "lightgcn" and search["criterion"].startswith("validation Recall@50")
    assert search["teacher"] == {"dim": 200, "epochs": 100, "seed": 0, "eval_every": 10}
    assert {c["lr"] for c in search["candidates"]} == {GCN_LR}
    finals = {(c["weight_decay"], c["depth"]): round(c["final_valid"], 4) for c in search["candidates"]}
    assert finals == GCN_SEARCH_VALID, finals
    best = max(GCN_SEARCH_VALID, key=GCN_SEARCH_VALID.get)
    assert (search["chosen_lr"], search["chosen_weight_decay"], search["chosen_depth"]) == (GCN_LR, *best)
    assert (RECIPE_LR["lightgcn"], RECIPE_WEIGHT_DECAY["lightgcn"], LIGHTGCN_DEPTH) == (GCN_LR, *best)
    chosen = next(c for c in search["candidates"] if (c["weight_decay"], c["depth"]) == best)
    assert round(chosen["final_test"], 4) == GCN_SEARCH_TEST > round(results["teacher"]["Recall@50"], 4) == 0.3169


#: The plain LightGCN student at dim 20 over its last 20 epochs (test Recall@50 at epoch 100 minus epoch 80):
#: at BPR's learning rate every seed still gains at least this much; at the chosen one every seed less than
#: GCN_SETTLED.
GCN_STILL_LEARNING, GCN_SETTLED = 0.009, 0.007


def _late_gains(results: dict, method: str, dim: int) -> list[float]:
    rows = [r for r in every_row(results) if (r["method"], r["dim"]) == (method, dim)]
    return [r["curve"][1][-1] - r["curve"][1][r["curve"][0].index(80)] for r in rows]


def test_at_bprs_learning_rate_the_lightgcn_student_was_still_learning(gcn_results):
    slow = _late_gains(json.loads(GCN_SLOW_RESULTS.read_text()), "student", 20)
    settled = _late_gains(gcn_results, "student", 20)
    assert len(slow) == 3 and min(slow) >= GCN_STILL_LEARNING, slow
    assert len(settled) == 3 and max(settled) < GCN_SETTLED, settled


def test_at_bprs_learning_rate_ftd_looked_helpful_because_the_student_was_unfinished(gcn_results):
    """The results page: FTD above the student at lr 1e-3 (clear), and the faster rate lifts the plain student by
    far more (+0.045 on the seed means) than FTD (+0.003)."""
    slow = json.loads(GCN_SLOW_RESULTS.read_text())
    for dim, low, high, metric in GCN_SLOW_CLAIMS:
        assert clear((slow, low, dim), (slow, high, dim), metric), (dim, low, high, metric)
    fast, before = seed_means(gcn_results), seed_means(slow)
    lift = {m: fast[(m, 20)][0] - before[(m, 20)][0] for m in ("student", "ftd")}
    assert lift["student"] > 0.03 and 0 < lift["ftd"] < 0.01, lift


def test_lightgcn_orderings_not_claimed_are_inside_the_noise(gcn_results):
    # The results page: DE's difference from the plain student at dim 20 is not a finding, either way
    for metric in ("Recall@50", "NDCG@50"):
        assert ordering((gcn_results, "student", 20), (gcn_results, "de", 20), metric).verdict == "unclear", metric


def test_bpr_student_recipe_is_chosen_on_validation_and_is_the_tuned_sweeps():
    """The dim-20 BPR student's learning rate: its final validation Recall@50 at each candidate (written here), the
    highest chosen, the BPR table's teacher kept, and the candidates at 1e-3 and at the chosen rate being the very
    seed-0 students of the BPR table and of the tuned file."""
    recipe = json.loads(TUNED_RECIPE.read_text())
    assert (recipe["kind"], recipe["role"]) == ("bpr", "student")
    assert recipe["teacher"] == {"dim": 200, "epochs": 100, "seed": 0, "eval_every": 10, "lr": 1e-3}
    assert recipe["student"] == {"method": "student", "dim": 20, "epochs": 100, "seed": 0, "eval_every": 10}
    finals = {c["lr"]: round(c["final_valid"], 4) for c in recipe["candidates"]}
    assert finals == TUNED_RECIPE_VALID, finals
    assert recipe["chosen_lr"] == max(TUNED_RECIPE_VALID, key=TUNED_RECIPE_VALID.get) == TUNED_STUDENT_LR
    bpr, tuned = json.loads(RESULTS.read_text()), json.loads(TUNED_RESULTS.read_text())
    assert {c["teacher_sha256"] for c in recipe["candidates"]} == {t["sha256"] for t in bpr["teachers"]}
    assert tuned["teacher"]["sha256"] == bpr["teachers"][0]["sha256"]
    final_test = {c["lr"]: c["final_test"] for c in recipe["candidates"]}
    assert final_test[1e-3] == row(bpr, "student", 20)["Recall@50"]
    assert final_test[TUNED_STUDENT_LR] == row(tuned, "student", 20)["Recall@50"]


def test_tuned_bpr_orderings_are_clear_of_the_seed_noise():
    tuned = json.loads(TUNED_RESULTS.read_text())
    for dim, low, high, metric in TUNED_CLAIMS:
        assert clear((tuned, low, dim), (tuned, high, dim), metric), (dim, low, high, metric)


def test_tuned_bpr_across_the_two_rates():
    """The results page: FTD is above the plain student whichever of the two rates each gets (clear of the noise, both
    metrics), while the chosen rate's lift of the plain student itself is inside the noise."""
    bpr, tuned = json.loads(RESULTS.read_text()), json.loads(TUNED_RESULTS.read_text())
    for metric in ("Recall@50", "NDCG@50"):
        assert clear((tuned, "student", 20), (bpr, "ftd", 20), metric), metric
        assert clear((bpr, "student", 20), (tuned, "ftd", 20), metric), metric
    assert ordering((bpr, "student", 20), (tuned, "student", 20)).verdict == "unclear"


def test_lightgcn_student_200_is_the_teacher():
    """As with BPR: with the teacher's seed and settings, the dim-200 plain student is the teacher."""
    check_student_200_is_the_teacher(json.loads(GCN_RESULTS.read_text()))

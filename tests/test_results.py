"""What README and notebook 04 say about the committed CiteULike reproduction (results/citeulike_bpr.json).

Every expected value is written here, not read from the code under test: the authors' logged numbers,
the dataset's size and the settings that were run. Each check is a plain ``check_*`` function that
raises AssertionError; the tests below apply them to the committed file, and
``test_checks_reject_a_corrupted_copy`` proves that each one fails on a wrong file.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results" / "citeulike_bpr.json"
README = REPO / "README.md"
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
#: What README says was run: BPR, 100 epochs, batch 1024, lr 1e-3, weight decay 1e-3, lambda = 1e-3,
#: gamma = 0.5, K = 30, (P,e), authors' mode, seed 0.
SETTINGS = {"epochs": 100, "mode": "authors", "seed": 0, "lam": 1e-3, "K": 30, "gamma": 0.5,
            "group_topology": "Pe", "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 1024}
#: Each run's stored RunConfig: the settings plus the base model, Adam, evaluation every 10 epochs
#: (the curves) and no HTD options beyond the authors' preset.
RUN_CONFIG = {**SETTINGS, "kind": "bpr", "optimizer": "adam", "eval_every": 10, "options": None}
TEACHER = {"kind": "bpr", "dim": 200, "epochs": 100}
METHODS = ("student", "de", "ftd", "htd")
DIMS = (10, 20, 100, 200)
#: Runs that may still be missing (README: "DE at dim 200 is not run yet"); they must then be listed in not_run.
OPTIONAL = {("de", 200)}
LABELS = {"student": "Student", "de": "DE", "ftd": "FTD", "htd": "HTD"}
KS = (10, 20, 50)
METRICS = tuple(f"{m}@{k}" for m in ("Recall", "NDCG") for k in KS)


@pytest.fixture(scope="module")
def results() -> dict:
    # committed with the repository: a missing file is an error, not a reason to skip
    assert RESULTS.is_file(), f"{RESULTS} is missing (it is committed; python -m htd_tutorial reproduce writes it)"
    return json.loads(RESULTS.read_text())


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


def check_settings(results: dict) -> None:
    assert results["settings"] == SETTINGS, results["settings"]
    assert {k: results["teacher"][k] for k in TEACHER} == TEACHER, results["teacher"]


def check_run_configs(results: dict) -> None:
    for r in results["runs"]:
        assert r["config"] == {**RUN_CONFIG, "method": r["method"], "dim": r["dim"]}, (r["method"], r["dim"])


def check_runs_stored(results: dict) -> None:
    stored = [(r["method"], r["dim"]) for r in results["runs"]]
    assert len(stored) == len(set(stored)), stored
    assert set(stored) <= {(m, d) for m in METHODS for d in DIMS}, stored
    missing = {(m, d) for m in METHODS for d in DIMS} - set(stored)
    assert missing <= OPTIONAL, f"required runs missing: {sorted(missing)}"
    assert sorted(results["not_run"]) == sorted(f"{LABELS[m]} d={d}" for m, d in missing), results["not_run"]


def check_metrics(results: dict) -> None:
    """Each metric in [0, 1] and rising with K; NDCG@K <= Recall@K; each Recall@K is hits / 5219."""
    for name, r in [("teacher", results["teacher"])] + [(f"{r['method']} d={r['dim']}", r) for r in results["runs"]]:
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
    for name, r in [("teacher", results["teacher"])] + [(f"{r['method']} d={r['dim']}", r) for r in results["runs"]]:
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


def check_student_200_is_the_teacher(results: dict) -> None:
    # same seed and settings as the teacher: the dimension-200 "student" is the teacher
    student = row(results, "student", 200)
    assert {m: student[m] for m in METRICS} == {m: results["teacher"][m] for m in METRICS}


def check_ordering(results: dict) -> None:
    table = recall_table(results)
    for dim in (10, 20):  # the paper's ordering for the small students, DE (point-wise) below both transfers
        values = [table[m][dim] for m in METHODS]
        assert values[0] < values[1] < values[2] < values[3], (dim, values)
    for dim in DIMS:  # DE between the student and FTD wherever it was run
        if dim in table["de"]:
            assert table["student"][dim] < table["de"][dim] < table["ftd"][dim], dim


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


def check_readme_table(results: dict, readme: str) -> None:
    """README's results table and teacher sentence show the JSON's numbers (4 decimals) and the authors' log."""
    table = recall_table(results)
    for dim in DIMS:
        line = re.search(rf"^\| {dim} \|(.*)\|$", readme, re.M)
        assert line, f"README has no results row for dim {dim}"
        cells = [c.strip() for c in line.group(1).split("|")]
        ours = [f"{table[m][dim]:.4f}" if dim in table.get(m, {}) else "–" for m in METHODS]
        authors = " / ".join(f"{AUTHORS[m][dim]:.4f}" for m in ("student", "ftd", "htd"))
        assert cells == ours + [authors], (dim, cells, ours + [authors])
    assert f"The teacher (dim 200) reaches {table['teacher']:.4f} (authors: {AUTHORS['teacher']:.4f})" in readme


ALL_CHECKS = (check_reference, check_dataset, check_settings, check_run_configs, check_runs_stored, check_metrics,
              check_curves, check_close_to_authors, check_student_200_is_the_teacher, check_ordering)


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


def test_readme_shows_the_committed_numbers(results):
    check_readme_table(results, README.read_text(encoding="utf-8"))


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
    check_readme_table(results, README.read_text(encoding="utf-8"))


def _readme(results):
    # a correct-looking file whose number README does not show
    row(results, "htd", 100)["Recall@50"] = 802 / 5219  # 0.1537 -> README says 0.3087


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
    "not_run not listing DE d=200": (lambda r: r.update(not_run=[]), check_runs_stored),
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
    "htd below ftd at d=20": (_set_run("htd", 20, **{"Recall@50": 0.2500}), check_ordering),
    "htd still ahead at d=100": (_set_run("htd", 100, **{"Recall@50": 0.3220}), _crossover),
    "ftd 0.008 above the student at d=200": (_ftd_and_htd_at_200(0.3250), _crossover),
    "ftd 0.009 below the student at d=200": (_ftd_and_htd_at_200(0.3080), _crossover),
    "htd no better than ftd at d=10": (_set_run("htd", 10, **{"Recall@50": 0.2040}), _crossover),
    "number README does not show": (_readme, _readme_text),
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

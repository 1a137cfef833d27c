"""Cached distillation runs, the reproduce command and its command line."""
import json
import time

import pytest
import torch

from htd_tutorial.__main__ import main
from htd_tutorial.data import make_synthetic
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.models import make_model
from htd_tutorial.paper.reproduce import AUTHORS_LOG, format_table, reproduce
from htd_tutorial.stats import mean_and_se
from tests.conftest import REPO_ROOT


#: The synthetic dataset of the ``data`` fixture (tests/conftest.py).
SYNTHETIC = dict(n_users=90, n_items=120, interactions_per_user=15, seed=1)


def quick(method, dim=4, **changes):
    return RunConfig(**{"method": method, "dim": dim, "epochs": 1, "batch_size": 256, "K": 3, **changes})


@pytest.mark.parametrize("method", ["student", "fitnet", "de", "ftd", "htd"])
def test_run_method_trains_then_loads_from_cache(data, teacher, tmp_path, method):
    first = run_method(data, teacher, quick(method), directory=tmp_path, progress=False)
    assert not first.from_cache and len(list(tmp_path.glob("run-*.pt"))) == 1
    again = run_method(data, teacher, quick(method), directory=tmp_path, progress=False)
    assert again.from_cache
    assert again.history.metrics == first.history.metrics
    for a, b in zip(first.student.all_embeddings(), again.student.all_embeddings()):
        assert torch.equal(a, b)
    if method == "htd":  # the learned groups come back with the distiller's state
        for a, b in zip(first.distiller.groups(), again.distiller.groups()):
            assert torch.equal(a, b)
    assert (first.distiller is None) == (method == "student")


def test_cache_key_separates_settings_and_teachers(data, teacher, tmp_path):
    run_method(data, teacher, quick("ftd"), directory=tmp_path, progress=False)
    assert not run_method(data, teacher, quick("ftd", lam=0.01), directory=tmp_path, progress=False).from_cache
    other_teacher = make_model("bpr", data, 16, seed=5)
    assert not run_method(data, other_teacher, quick("ftd"), directory=tmp_path, progress=False).from_cache
    assert len(list(tmp_path.glob("run-*.pt"))) == 3


def test_corrupt_run_file_is_retrained(data, teacher, tmp_path):
    run_method(data, teacher, quick("student"), directory=tmp_path, progress=False)
    (path,) = tmp_path.glob("run-*.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="ignoring the cached run"):
        result = run_method(data, teacher, quick("student"), directory=tmp_path, progress=False)
    assert not result.from_cache
    assert run_method(data, teacher, quick("student"), directory=tmp_path, progress=False).from_cache


@pytest.mark.parametrize("changes,message", [(dict(method="kd"), "unknown method"), (dict(dim=0), "dimension"),
                                             (dict(epochs=-1), "epochs")])
def test_run_config_rejects_bad_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{"method": "htd", "dim": 4, **changes})


@pytest.mark.parametrize("changes,message", [(dict(K=0), "K"), (dict(gamma=1.5), "gamma"), (dict(lam=-1.0), "lam")])
def test_bad_hyperparameters_fail_before_training(data, teacher, tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        run_method(data, teacher, quick("htd", **changes), directory=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


def test_teacher_of_other_data_is_rejected(data, tmp_path):
    other = make_synthetic(n_users=50, n_items=120, interactions_per_user=15, seed=1)
    wrong = make_model("bpr", other, 8, seed=0)
    with pytest.raises(ValueError, match="do not match"):
        run_method(data, wrong, quick("ftd"), directory=tmp_path, progress=False)


def test_nan_teacher_is_rejected(data, tmp_path):
    broken = make_model("bpr", data, 8, seed=0)
    with torch.no_grad():
        broken.item_emb.weight[3, 1] = float("nan")
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        run_method(data, broken, quick("htd"), directory=tmp_path, progress=False)


def test_reproduce_writes_table_json_and_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = reproduce("synthetic", dims=(4, 8), methods=("student", "ftd"), epochs=1, teacher_dim=16,
                        teacher_epochs=1, eval_every=None, out=tmp_path / "out", progress=False)
    saved = json.loads((tmp_path / "out" / "synthetic_bpr.json").read_text())
    assert saved["runs"] == json.loads(json.dumps(payload["runs"]))
    assert [(r["method"], r["dim"]) for r in saved["runs"]] == [("student", 4), ("ftd", 4), ("student", 8),
                                                                  ("ftd", 8)]
    assert (tmp_path / "out" / "synthetic_bpr_capacity_gap.png").stat().st_size > 10_000
    assert saved["reference"] is None  # the authors' log is CiteULike-BPR-200's, not a reference for this
    assert not list((tmp_path / "out").glob("*.tmp*"))
    out = capsys.readouterr().out
    assert "Recall@50 d=8" in out and "student" in out
    # a second call keeps every run of the JSON as it is (nothing trained, nothing loaded)
    again = reproduce("synthetic", dims=(4, 8), methods=("student", "ftd"), epochs=1, teacher_dim=16,
                      teacher_epochs=1, eval_every=None, out=tmp_path / "out", progress=False)
    assert again["runs"] == saved["runs"] and again["other_seeds"] == []
    assert "(in the JSON)" in capsys.readouterr().out
    # cached_only reports the finished runs and trains none of the others
    partial = reproduce("synthetic", dims=(4, 8, 16), methods=("student", "ftd"), epochs=1, teacher_dim=16,
                        teacher_epochs=1, eval_every=None, out=tmp_path / "out", progress=False, cached_only=True)
    assert [(r["method"], r["dim"]) for r in partial["runs"]] == [(r["method"], r["dim"]) for r in saved["runs"]]
    assert len(partial["not_run"]) == 2 and all("16" in label for label in partial["not_run"])
    assert json.loads((tmp_path / "out" / "synthetic_bpr.json").read_text())["not_run"] == partial["not_run"]
    assert not list((tmp_path / "cache").glob("run-*-d16-*"))
    with pytest.raises(ValueError, match="none of the"):
        reproduce("synthetic", dims=(16,), methods=("student",), epochs=1, teacher_dim=16, teacher_epochs=1,
                  eval_every=None, out=tmp_path / "out", progress=False, cached_only=True)


def _sweep(tmp_path, **changes):
    settings = dict(dims=(4,), methods=("student", "ftd"), epochs=1, teacher_dim=16, teacher_epochs=1,
                    eval_every=None, out=tmp_path / "out", progress=False, threads=1)
    return reproduce("synthetic", **{**settings, **changes})


def test_reproduce_records_flushing_per_run_and_keeps_the_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    plain = _sweep(tmp_path, methods=("student",), flush_denormal=False)
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache_flushed"))
    flushed = _sweep(tmp_path, methods=("student",), name="flushed")   # the default
    assert [r["flush_denormal"] for r in plain["runs"]] == [False]
    assert [r["flush_denormal"] for r in flushed["runs"]] == [True]
    assert flushed["teacher"]["sha256"] == plain["teacher"]["sha256"]  # the runs name the same teacher


def test_the_authors_log_is_the_reference_of_its_own_experiment_only():
    from htd_tutorial.paper.reproduce import AUTHORS_LOG, _reference

    logged = _reference("citeulike", "bpr", 200, 100)
    assert {k: v for k, v in logged.items() if k != "source"} == AUTHORS_LOG
    assert "authors' published log" in logged["source"]
    for other in [("citeulike", "lightgcn", 200, 100), ("ml-100k", "bpr", 200, 100), ("citeulike", "bpr", 100, 100),
                  ("citeulike", "bpr", 200, 50)]:
        assert _reference(*other) is None, other


def test_reproduce_seeds_resume_from_the_json_alone(tmp_path, monkeypatch):
    """Seeds go to other_seeds with their seed, threads and teacher digest; a new session without the model
    cache keeps the JSON's runs and trains only the missing ones; the summary is mean ± s.e. per cell."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache1"))
    first = json.loads(json.dumps(_sweep(tmp_path, seeds=(0, 1))))  # as the file holds it
    assert [(r["method"], r["seed"]) for r in first["runs"]] == [("student", 0), ("ftd", 0)]
    assert [(r["method"], r["seed"]) for r in first["other_seeds"]] == [("student", 1), ("ftd", 1)]
    rows = first["runs"] + first["other_seeds"]
    assert all(r["threads"] == 1 and r["config"]["seed"] == r["seed"] for r in rows)
    assert {r["teacher_sha256"] for r in rows} == {first["teachers"][0]["sha256"]} and len(first["teachers"]) == 1
    assert first["teacher"]["sha256"] == first["teachers"][0]["sha256"]
    student = [r["NDCG@50"] for r in rows if r["method"] == "student"]
    assert student[0] != student[1]  # another seed, another student
    # "a new session": the model cache is gone, only the JSON is left
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache2"))
    stored = tmp_path / "out" / "synthetic_bpr.json"
    stored.write_text(json.dumps({**json.loads(stored.read_text()), "wall_seconds": 1000.0}))
    started = time.perf_counter()
    second = _sweep(tmp_path, seeds=(1, 2))
    # the earlier commands' time is kept and this one's added, not replaced
    assert 1000.0 < second["wall_seconds"] <= 1000.0 + time.perf_counter() - started
    assert second["runs"] == first["runs"] and second["other_seeds"][:1] == first["other_seeds"][:1]
    assert [(r["method"], r["seed"]) for r in second["other_seeds"]] == [("student", 1), ("student", 2),
                                                                         ("ftd", 1), ("ftd", 2)]
    assert sorted(p.name.split("-")[2] for p in (tmp_path / "cache2").glob("run-*")) == ["ftd", "student"]
    cell = next(e for e in second["summary"] if e["method"] == "student")
    assert (cell["n"], cell["seeds"]) == (3, [0, 1, 2])
    values = [r["Recall@50"] for r in second["runs"] + second["other_seeds"] if r["method"] == "student"]
    # the one mean ± s.e. (its numbers are checked by hand in tests/library/test_stats.py)
    assert (cell["Recall@50"], cell["Recall@50 se"]) == pytest.approx(mean_and_se(values))
    assert json.loads((tmp_path / "out" / "synthetic_bpr.json").read_text()) == json.loads(json.dumps(second))


def test_reproduce_at_another_learning_rate_records_it_and_needs_its_own_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _sweep(tmp_path, methods=("student",))
    before = (tmp_path / "out" / "synthetic_bpr.json").read_text()
    with pytest.raises(ValueError, match=r"another experiment \(it differs in settings\.lr\)"):
        _sweep(tmp_path, methods=("student",), lr=5e-3)
    assert (tmp_path / "out" / "synthetic_bpr.json").read_text() == before
    fast = _sweep(tmp_path, methods=("student",), lr=5e-3, name="fast")
    assert fast["settings"]["lr"] == 5e-3 and fast["runs"][0]["config"]["lr"] == 5e-3
    teachers = sorted(p.name for p in (tmp_path / "cache").glob("teacher-*"))
    assert len(teachers) == 2  # the teacher is trained at the sweep's learning rate too
    slow = json.loads(before)["runs"][0]
    assert fast["runs"][0]["Recall@50"] != slow["Recall@50"]


def test_reproduce_trains_lightgcn_with_its_recipe_weight_decay(tmp_path, monkeypatch):
    """LightGCN's weight decay (1e-4, chosen on validation; BPR's is 1e-3) reaches the file, every student
    and the teacher (whose cache key holds it); --weight-decay overrides it, in a file of its own."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    gcn = _sweep(tmp_path, methods=("student",), kind="lightgcn", teacher_dim=8)
    assert gcn["settings"]["weight_decay"] == 1e-4 and gcn["runs"][0]["config"]["weight_decay"] == 1e-4
    bpr = _sweep(tmp_path, methods=("student",), teacher_dim=8)
    assert bpr["settings"]["weight_decay"] == 1e-3 and bpr["runs"][0]["config"]["weight_decay"] == 1e-3
    other = _sweep(tmp_path, methods=("student",), kind="lightgcn", teacher_dim=8, weight_decay=0.0, name="wd0")
    assert other["settings"]["weight_decay"] == 0.0 and other["runs"][0]["config"]["weight_decay"] == 0.0
    teachers = sorted(p.name for p in (tmp_path / "cache").glob("teacher-lightgcn-*"))
    assert len(teachers) == 2 and gcn["teacher"]["sha256"] != other["teacher"]["sha256"]


def test_reproduce_refuses_a_file_of_another_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _sweep(tmp_path, methods=("student",))
    before = (tmp_path / "out" / "synthetic_bpr.json").read_text()
    with pytest.raises(ValueError, match=r"another experiment \(it differs in settings\.epochs\)"):
        _sweep(tmp_path, methods=("student",), epochs=2)
    with pytest.raises(ValueError, match=r"teacher\.dim"):
        _sweep(tmp_path, methods=("student",), teacher_dim=8)
    (tmp_path / "out" / "broken_bpr.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a results file"):
        _sweep(tmp_path, methods=("student",), name="broken")
    assert (tmp_path / "out" / "synthetic_bpr.json").read_text() == before
    for bad, message in (((), "at least one seed"), ((1, 1), "must not repeat")):
        with pytest.raises(ValueError, match=message):
            _sweep(tmp_path, seeds=bad)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        _sweep(tmp_path, threads=0)


def test_format_table_marks_missing_cells():
    table = format_table([{"method": "htd", "dim": 10, "Recall@50": 0.2, "NDCG@50": 0.1},
                          {"method": "ftd", "dim": 20, "Recall@50": 0.3, "NDCG@50": 0.2}])
    assert "0.2000" in table and "-" in table.splitlines()[2]


def test_authors_log_is_the_shared_readme_numbers():
    assert AUTHORS_LOG["htd"][20] == 0.2744 and AUTHORS_LOG["ftd"][10] == 0.2112


def test_cli_reports_bad_input_without_traceback(capsys, tmp_path):
    # a bad argument: argparse's exit status 2, one line naming the argument (more rows in test_bad_input.py)
    for argv, word in ((["--dims", "0"], "--dims"), (["--data", "no-such-dataset"], "--data"),
                       (["--methods", "magic"], "--methods")):
        with pytest.raises(SystemExit) as stop:
            main(["reproduce", "--data", "synthetic", "--out", str(tmp_path), *argv])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert word in err and err.count("\n") == 1
    # bad data found by the command itself: status 2 and one line too
    (tmp_path / "empty.tsv").write_text("")
    assert main(["reproduce", "--data", str(tmp_path / "empty.tsv"), "--out", str(tmp_path)]) == 2
    assert "empty file" in capsys.readouterr().err


def test_readme_table_has_a_row_for_every_planned_dimension():
    # a LightGCN-like file: dim 20 run (two seeds of the student), dims 100 and 200 still to run
    from htd_tutorial.paper.results import planned_dims, readme_table

    summary = [{"method": "student", "dim": 20, "n": 2, "Recall@50": 0.25, "Recall@50 se": 0.0125},
               {"method": "ftd", "dim": 20, "n": 1, "Recall@50": 0.2, "Recall@50 se": None}]
    payload = {"summary": summary, "reference": None, "not_run": ["Student d=100", "HTD d=200 seed 1"]}
    assert planned_dims(payload) == [20, 100, 200]
    assert readme_table(payload).splitlines() == [
        "| student dim | Student | DE | FTD | HTD |", "| --- | --- | --- | --- | --- |",
        "| 20 | 0.2500 ± 0.0125 (2) | – | 0.2000 (1) | – |", "| 100 | – | – | – | – |", "| 200 | – | – | – | – |"]
    with pytest.raises(ValueError, match="names no dimension"):
        planned_dims({"summary": summary, "not_run": ["HTD somewhere"]})


def test_readme_table_marks_the_cells_holding_a_flushed_run():
    # the LightGCN cells run with --flush-denormal: marked in the table, with a note under it
    from htd_tutorial.paper.results import readme_table

    summary = [{"method": "student", "dim": 20, "n": 1, "Recall@50": 0.25, "Recall@50 se": None},
               {"method": "de", "dim": 20, "n": 2, "Recall@50": 0.2, "Recall@50 se": 0.01}]
    runs = [{"method": "student", "dim": 20, "seed": 0, "flush_denormal": False},
            {"method": "de", "dim": 20, "seed": 0, "flush_denormal": False}]
    other = [{"method": "de", "dim": 20, "seed": 1, "flush_denormal": True}]
    payload = {"summary": summary, "reference": None, "not_run": [], "runs": runs, "other_seeds": other}
    lines = readme_table(payload).splitlines()
    assert lines[2:] == ["| 20 | 0.2500 (1) | 0.2000 ± 0.0100 (2) † | – | – |", "",
                         "† trained with subnormal floats flushed to zero (`--flush-denormal`): about 2.5 times "
                         "faster on a CPU, other last digits"]
    other[0]["flush_denormal"] = False
    assert readme_table(payload).splitlines()[2:] == ["| 20 | 0.2500 (1) | 0.2000 ± 0.0100 (2) | – | – |"]


def test_the_table_command_rewrites_the_results_page(tmp_path, monkeypatch, capsys):
    # `python -m htd_tutorial.paper.results RESULTS.json` rewrites the file's block in RESULTS_DOC (relative to
    # the repository root, where it runs), atomically; DOC.md RESULTS.json names another page
    import shutil

    from htd_tutorial.paper.results import RESULTS_DOC, finalise, main as results_main, readme_table

    source = REPO_ROOT / "results" / "citeulike_lr1e-3_lightgcn.json"
    shutil.copy(source, tmp_path / source.name)
    page = tmp_path / RESULTS_DOC
    page.parent.mkdir(parents=True)
    page.write_text(f"a\n<!-- results-table: {source.stem} -->\nold\n<!-- /results-table -->\nb\n")
    monkeypatch.chdir(tmp_path)
    assert results_main([source.name]) == 0
    table = readme_table(finalise(json.loads(source.read_text())))
    assert page.read_text() == f"a\n<!-- results-table: {source.stem} -->\n{table}\n<!-- /results-table -->\nb\n"
    assert "table updated" in capsys.readouterr().out
    assert sorted(p.name for p in page.parent.iterdir()) == [RESULTS_DOC.name]  # no temporary file left
    (tmp_path / "other.md").write_text("no block here\n")
    with pytest.raises(ValueError, match="has no '<!-- results-table"):
        results_main(["other.md", source.name])
    assert results_main(["other.md"]) == 2


def test_merge_results_joins_side_by_side_sweeps(tmp_path, monkeypatch, capsys):
    # two processes, one thread each, into their own folders: one file afterwards, as one process would write it
    from htd_tutorial.paper.results import main as results_main, merge_results

    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    one = _sweep(tmp_path, methods=("student",), seeds=(0, 1), out=tmp_path / "a")
    two = _sweep(tmp_path, methods=("ftd",), seeds=(0,), out=tmp_path / "b")
    both = _sweep(tmp_path, methods=("student", "ftd"), seeds=(0, 1), out=tmp_path / "c")  # ftd seed 1 trained here
    merged = merge_results([one, two], ["a", "b"])
    cells = sorted((r["method"], r["seed"]) for r in merged["runs"] + merged["other_seeds"])
    assert cells == [("ftd", 0), ("student", 0), ("student", 1)]
    assert [(r["method"], r["seed"]) for r in merged["runs"]] == [("student", 0), ("ftd", 0)]
    assert merged["wall_seconds"] == pytest.approx(one["wall_seconds"] + two["wall_seconds"])
    assert one["runs"][0]["method"] == "student" and len(one["runs"]) == 1  # the inputs are not changed
    # a run stored twice keeps the trained copy (c loaded student seed 0 from the cache)
    again = merge_results([both, one])
    row = next(r for r in again["runs"] if r["method"] == "student")
    assert row["from_cache"] is False and row == json.loads(json.dumps(one["runs"][0]))
    # not_run leaves with the runs that are stored now
    waiting = dict(two, not_run=["Student d=4", "Student d=4 seed 1", "FTD d=4 seed 1"])
    assert merge_results([waiting, one])["not_run"] == ["FTD d=4 seed 1"]
    # through the command line, into one of its inputs
    for name, payload in (("a.json", one), ("b.json", two)):
        (tmp_path / name).write_text(json.dumps(payload))
    assert results_main(["merge", str(tmp_path / "a.json"), str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["summary"] == json.loads(json.dumps(merged["summary"]))
    assert "3 runs from 2 files" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"b holds another experiment than a \(it differs in settings\)"):
        merge_results([one, dict(two, settings={**two["settings"], "lr": 5e-3})], ["a", "b"])
    with pytest.raises(ValueError, match="teacher.dim"):
        merge_results([one, dict(two, teacher={**two["teacher"], "dim": 32})], ["a", "b"])


def test_the_teacher_note_names_other_weights_not_a_last_bit_of_evaluation(tmp_path, monkeypatch, capsys):
    """Loading the same teacher can score a last bit apart (thread count, summation order): no note then;
    a file whose teacher scored differently and has no digest gets one."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _sweep(tmp_path, methods=("student",))
    path = tmp_path / "out" / "synthetic_bpr.json"
    stored = json.loads(path.read_text())
    capsys.readouterr()
    last_bit = {**stored, "teacher": {**stored["teacher"], "NDCG@10": stored["teacher"]["NDCG@10"] * (1 + 1e-15)}}
    path.write_text(json.dumps(last_bit))
    _sweep(tmp_path, methods=("student",))
    assert "Note: this teacher" not in capsys.readouterr().out
    other = {**stored, "teacher": {k: v for k, v in stored["teacher"].items() if k != "sha256"}}
    other["teacher"]["NDCG@10"] = 0.5
    path.write_text(json.dumps(other))
    _sweep(tmp_path, methods=("student",))
    printed = capsys.readouterr().out
    assert "Note: this teacher" in printed and "NDCG@10 " in printed and "(file: 0.5)" in printed


def test_students_at_their_own_learning_rate_keep_the_teacher_and_need_their_own_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    base = _sweep(tmp_path, methods=("student",))
    assert "student_lr" not in base["settings"]   # a sweep at one rate keeps the settings older files have
    with pytest.raises(ValueError, match=r"another experiment \(it differs in settings\.student_lr\)"):
        _sweep(tmp_path, methods=("student",), student_lr=5e-3)
    tuned = _sweep(tmp_path, methods=("student",), student_lr=5e-3, name="tuned")
    assert tuned["settings"]["lr"] == 1e-3 and tuned["settings"]["student_lr"] == 5e-3
    assert tuned["runs"][0]["config"]["lr"] == 5e-3
    assert tuned["teacher"]["sha256"] == base["teacher"]["sha256"]   # the same teacher, trained once
    assert len(list((tmp_path / "cache").glob("teacher-*"))) == 1
    assert tuned["runs"][0]["Recall@50"] != base["runs"][0]["Recall@50"]
    same = _sweep(tmp_path, methods=("student",), student_lr=1e-3, name="same")   # equal to lr: not a setting
    assert "student_lr" not in same["settings"] and same["runs"][0]["Recall@50"] == base["runs"][0]["Recall@50"]

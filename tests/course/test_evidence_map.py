"""The evidence map: cells and verdicts from runs, the tuned protocol's choice, the stored map's verdicts."""
import json

import pytest

from htd_tutorial.course import evidence_map
from htd_tutorial.course.evidence_map import LR_GRID, MAP_FILE, METHODS, PROTOCOLS, SETTINGS, map_cells
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT


def _rows(protocol="fixed", lr=1e-3, **by_method):
    """Runs of one cell: ``by_method[m]`` is the Recall@50 of seeds 0, 1, 2."""
    return [{"setting": "ml-100k", "dataset": "ml-100k", "model": "bpr", "protocol": protocol, "dim": 4,
             "method": m, "seed": s, "lr": lr, "Recall@50": v, "valid Recall@50": v}
            for m, values in by_method.items() for s, v in enumerate(values)]


def test_a_cell_reads_each_comparison_paired_by_seed_with_the_step_floor():
    runs = _rows(student=[0.40, 0.42, 0.41], de=[0.41, 0.43, 0.42], ftd=[0.37, 0.38, 0.36],
                 htd=[0.401, 0.421, 0.411])
    [cell] = map_cells(runs, {"ml-100k": 1 / 943})
    assert (cell["setting"], cell["protocol"], cell["dim"], cell["n_seeds"]) == ("ml-100k", "fixed", 4, 3)
    assert cell["methods"]["ftd"]["mean"] == pytest.approx(0.37)
    ftd = cell["verdicts"]["ftd-student"]          # -0.03, -0.04, -0.05: s.e. 0.00577
    assert ftd["verdict"] == "negative" and ftd["mean"] == pytest.approx(-0.04)
    assert ftd["se"] == pytest.approx(0.0057735, abs=1e-6)
    # HTD one test user (1/943 = 0.00106) above the student on every seed: no spread, not read
    assert cell["verdicts"]["htd-student"]["verdict"] == "not read"
    assert cell["verdicts"]["htd-ftd"]["verdict"] == "positive"


def test_a_cell_missing_a_method_is_not_drawn():
    runs = _rows(student=[0.4, 0.4, 0.4], ftd=[0.3, 0.3, 0.3], htd=[0.5, 0.5, 0.5])
    assert map_cells(runs, {}) == []


def test_the_tuned_protocol_reads_the_rate_chosen_on_seed_0s_validation():
    runs = []
    for lr in LR_GRID:      # seed 0 at every rate: 5e-3 is best on validation for every method
        score = 0.5 - abs(lr - 5e-3)
        runs += [{**r, "seed": 0, "valid Recall@50": score} for r in
                 _rows("tuned", lr, **{m: [score] for m in METHODS})]
    runs += [r for r in _rows("tuned", 5e-3, student=[0, 0.41, 0.42], de=[0, 0.42, 0.43], ftd=[0, 0.44, 0.45],
                              htd=[0, 0.46, 0.47]) if r["seed"] > 0]
    [cell] = map_cells(runs, {})
    assert cell["n_seeds"] == 3 and {m["lr"] for m in cell["methods"].values()} == {5e-3}
    assert not any(m["lr_at_edge"] for m in cell["methods"].values())
    assert cell["verdicts"]["htd-ftd"]["seeds"] == [0, 1, 2]


def test_a_tuned_cell_waits_for_every_rate_of_the_grid():
    runs = _rows("tuned", 5e-3, student=[0.4], de=[0.4], ftd=[0.4], htd=[0.4])
    assert map_cells(runs, {}) == []


def test_the_command_offers_the_settings_and_protocols_and_rejects_others(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(evidence_map, "build_map",
                        lambda s, p, **kw: seen.update(settings=s, protocols=p, **kw) or {"runs": [], "cells": []})
    assert evidence_map.main(["--settings", "synthetic", "--protocols", "tuned", "--dims", "4",
                              "--file", str(tmp_path / "m.json")]) == 0
    assert (seen["settings"], seen["protocols"], seen["dims"]) == (("synthetic",), ("tuned",), (4,))
    for bad in (["--protocols", "lucky"], ["--settings", "netflix"], ["--dims", "0"]):
        with pytest.raises(SystemExit):
            evidence_map.main(bad)
    assert PROTOCOLS == ("fixed", "tuned") and set(SETTINGS) >= {"synthetic", "ml-100k", "citeulike"}


@pytest.mark.skipif(not MAP_FILE.exists(), reason="results/evidence_map.json is not made yet")
def test_the_stored_maps_verdicts_follow_from_its_runs():
    stored = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    assert map_cells(stored["runs"], stored["steps"]) == stored["cells"]
    assert all(row["seconds"] > 0 and "machine" in row for row in stored["runs"])


def test_a_close_call_is_marked_in_its_cell():
    # HTD - Student: 0.005, 0.020, 0.011 (clear, but within one s.e. of the threshold: stats' close call)
    runs = _rows(student=[0.40, 0.40, 0.40], de=[0.40, 0.41, 0.42], ftd=[0.30, 0.31, 0.33],
                 htd=[0.405, 0.420, 0.411])
    [cell] = map_cells(runs, {})
    assert cell["verdicts"]["htd-student"]["close_call"] and cell["verdicts"]["htd-student"]["verdict"] == "positive"
    assert not cell["verdicts"]["ftd-student"]["close_call"]
    assert evidence_map._close_call([cell], "ml-100k", "fixed", 4)
    assert not evidence_map._close_call([cell], "ml-100k", "tuned", 4)


def test_a_close_call_trains_the_extra_seeds(monkeypatch, tmp_path):
    # a tiny synthetic sweep with the training stubbed: seeds 0-2 give a close call, so seeds 3 and 4 follow
    trained = []
    scores = {"student": [0.40] * 5, "de": [0.40, 0.41, 0.42, 0.40, 0.41], "ftd": [0.30, 0.31, 0.33, 0.30, 0.31],
              "htd": [0.405, 0.420, 0.411, 0.41, 0.42]}

    class Result:
        def __init__(self, config):
            self.config, self.from_cache = config, False
            value = scores[config.method][config.seed]
            self.history = type("H", (), {"final": lambda _, m: value, "curve": lambda _, m, s: ([1], [value]),
                                          "seconds": 1.0, "config": {}})()

    monkeypatch.setattr(evidence_map, "run_method", lambda data, teacher, config, **kw: trained.append(
        (config.method, config.seed)) or Result(config))
    monkeypatch.setattr(evidence_map, "get_teacher", lambda *a, **kw: (None, None))
    monkeypatch.setattr(evidence_map, "save_figure_atomic", lambda *a, **kw: None)
    evidence_map.build_map(("synthetic",), ("fixed",), path=tmp_path / "map.json", dims=(4,))
    assert sorted(trained) == sorted((m, s) for m in METHODS for s in range(5))
    [cell] = json.loads((tmp_path / "map.json").read_text())["cells"]
    assert cell["n_seeds"] == 5


def test_stored_runs_of_the_same_configuration_data_and_teacher_are_taken(monkeypatch, tmp_path):
    """A reproduce results file's runs count for the fixed protocol only when every setting is the cell's,
    on the same data, from the same teacher; the rest is trained. Each taken row names its source."""
    import dataclasses

    from htd_tutorial.data import load_dataset

    setting = dataclasses.replace(SETTINGS["synthetic"], stored=("results/old.json",))
    data = load_dataset("synthetic", seed=0)

    def run(method, dim, seed, lr=setting.lr, teacher="a" * 64, **extra):
        config = dataclasses.asdict(setting.config(method, dim, seed, lr))
        return {"method": method, "dim": dim, "config": config, "Recall@50": 0.3 + seed / 100, "NDCG@50": 0.1,
                "seconds": 2.0, "from_cache": False, "teacher_sha256": teacher, **extra}

    runs = [run("htd", 4, 0, teacher=None), run("student", 4, 1), run("ftd", 4, 1, lr=setting.lr * 2),
            run("de", 4, 2, teacher="b" * 64), run("htd", 8, 1)]
    results = {"dataset": data.summary(), "teachers": [{"sha256": "a" * 64}], "machine": {"threads": 2},
               "runs": runs[:1], "other_seeds": runs[1:]}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "old.json").write_text(json.dumps(results))
    monkeypatch.setenv("HTD_STORED_DIR", str(tmp_path))
    rows = evidence_map.stored_runs(setting, data, "a" * 64, dims=(4,))
    assert [(r["method"], r["dim"], r["seed"]) for r in rows] == [("htd", 4, 0), ("student", 4, 1)]
    assert rows[1]["Recall@50"] == 0.31 and rows[0]["threads"] == 2 and rows[0]["protocol"] == "fixed"
    assert {r["source"] for r in rows} == {"results/old.json"} and rows[0]["lr"] == setting.lr
    assert evidence_map.stored_runs(setting, data, "c" * 64, dims=(4, 8)) == []   # another teacher
    results["dataset"]["users"] += 1                                                 # other data
    (tmp_path / "results" / "old.json").write_text(json.dumps(results))
    assert evidence_map.stored_runs(setting, data, "a" * 64, dims=(4,)) == []


def test_a_map_swept_side_by_side_is_merged_without_training(monkeypatch, tmp_path):
    """--merge takes another file's runs (a run the map has is kept), its steps, and redraws the cells;
    with no settings nothing is trained. A file without runs is refused."""
    monkeypatch.setattr(evidence_map, "run_method", lambda *a, **kw: pytest.fail("nothing may be trained"))
    monkeypatch.setattr(evidence_map, "save_figure_atomic", lambda *a, **kw: None)
    mine = _rows(student=[0.40, 0.40, 0.40], de=[0.41, 0.41, 0.41], ftd=[0.30, 0.31, 0.33],
                 htd=[0.50, 0.52, 0.51])
    theirs = [dict(r, dim=8) for r in mine] + [dict(mine[0], **{"Recall@50": 0.99})]
    (tmp_path / "map.json").write_text(json.dumps({"runs": mine, "cells": [], "steps": {}}))
    (tmp_path / "other.json").write_text(json.dumps({"runs": theirs, "cells": [], "steps": {"ml-100k": 0.01}}))
    assert evidence_map.main(["--settings", "--merge", str(tmp_path / "other.json"),
                              "--file", str(tmp_path / "map.json")]) == 0
    merged = json.loads((tmp_path / "map.json").read_text())
    assert len(merged["runs"]) == 24 and merged["steps"] == {"ml-100k": 0.01}
    assert [c["dim"] for c in merged["cells"]] == [4, 8]
    assert merged["cells"][0]["methods"]["student"]["mean"] == pytest.approx(0.40)   # the map's own run kept
    (tmp_path / "empty.json").write_text(json.dumps({"runs": [], "cells": []}))
    with pytest.raises(ValueError, match="holds no map runs"):
        evidence_map.build_map((), merge=(tmp_path / "empty.json",), path=tmp_path / "map.json")


def test_citeulike_is_tuned_at_its_headline_size_only():
    """Every size has a fixed cell; the tuned protocol (24 first-seed runs a cell) is asked for where the
    setting says: CiteULike at d = 20, the small data sets at every size."""
    citeulike = SETTINGS["citeulike"]
    assert [citeulike.protocols_of(d) for d in citeulike.dims] == [("fixed",), ("fixed",), ("fixed", "tuned"),
                                                                   ("fixed",)]
    assert all(SETTINGS["ml-100k"].protocols_of(d) == PROTOCOLS for d in SETTINGS["ml-100k"].dims)
    assert SETTINGS["citeulike-lightgcn"].protocols_of(20) == PROTOCOLS


def test_a_cell_is_read_only_once_three_paired_seeds_are_done():
    """A sweep stopped half-way through a cell (two seeds of each method) leaves the cell out."""
    runs = _rows(student=[0.40, 0.41], de=[0.41, 0.42], ftd=[0.30, 0.31], htd=[0.50, 0.52])
    assert map_cells(runs, {}) == []
    assert len(map_cells(_rows(student=[0.40] * 3, de=[0.41] * 3, ftd=[0.3] * 3, htd=[0.5] * 3), {})) == 1

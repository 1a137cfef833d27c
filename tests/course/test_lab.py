"""Notebook 04's stored lab (``data/lab_results.json``, :mod:`htd_tutorial.course.lab`).

The notebook reads the lab instead of training it, so these tests check that the file is the lab the
notebook describes (settings, seeds, every table with its rows) and that its numbers are reproducible:
the lab teacher and the plain and FTD students of seed 0 are retrained from scratch in a temporary
cache and must give the stored numbers (HTD is not bitwise repeatable across machines, so it is not
retrained here)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from htd_tutorial.course import lab as lab_module
from htd_tutorial.course.lab import DESIGNS, GAMMAS, LAB_FILE, lab_ks, lab_tables, load_lab, save_lab
from htd_tutorial.course.recipes import LAB, LAB_SEEDS, LabSettings

#: Rows each stored table must have at the shipped settings.
EXPECTED_ROWS = {"teacher": 1, "designs": len(DESIGNS) * len(LAB_SEEDS), "gamma": len(GAMMAS), "de": 1,
                 "k": len(lab_ks(LAB.K)), "lightgcn": 3}


def test_stored_lab_is_the_shipped_lab():
    settings, tables = load_lab()
    assert settings == LAB == LabSettings(dim=4, epochs=10, K=9, lr=3e-3, seed=0)
    for name, rows in EXPECTED_ROWS.items():
        assert len(tables[name]) == rows, name
    ablation = tables["ablation"]
    assert {"authors", "clean"} <= set(ablation["variant"])
    assert all(sorted(seeds) == list(LAB_SEEDS) for _, seeds in ablation.groupby("variant")["seed"])
    assert list(tables["k"]["K"]) == [1, 3, 9, 27]
    assert list(tables["gamma"]["gamma"]) == list(GAMMAS)


def test_round_trip_and_bad_files(tmp_path):
    tables = {"teacher": pd.DataFrame([{"Recall@50": 0.5}]),
              "de": pd.DataFrame([{"method": "de", "seed": 0, "Recall@50": 0.25}])}
    path = tmp_path / "lab.json"
    save_lab(tables, LAB.replace(K=3), path, wall_seconds=1.0)
    settings, loaded = load_lab(path)
    assert settings == LAB.replace(K=3)
    pd.testing.assert_frame_equal(loaded["de"], tables["de"])
    payload = json.loads(path.read_text())
    payload["lab_seeds"] = [7]
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="seeds"):
        load_lab(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a stored lab"):
        load_lab(path)


def test_lab_tables_reads_the_stored_lab_without_training(monkeypatch, tmp_path):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the stored lab has these settings")

    monkeypatch.setattr(lab_module, "run_lab", no_training)
    path = tmp_path / "lab.json"
    save_lab({"teacher": pd.DataFrame([{"Recall@50": 0.5}])}, LAB, path)
    assert lab_tables(LAB, path=path)["teacher"]["Recall@50"].iloc[0] == 0.5
    monkeypatch.setattr(lab_module, "run_lab", lambda settings: {"trained": pd.DataFrame()})
    assert "trained" in lab_tables(LAB.replace(K=3), path=path)          # other settings: trained
    assert "trained" in lab_tables(LAB, live=True, path=path)  # asked to train live


@pytest.mark.slow
def test_stored_lab_numbers_are_reproduced(tmp_path, monkeypatch):
    """Retrain the lab teacher, and the plain and FTD students of seed 0, from an empty cache."""
    from htd_tutorial.course.analysis import lab_teacher, run_grid, runs_frame
    from htd_tutorial.course.common import load_course_data
    from htd_tutorial.evaluation import evaluate
    from htd_tutorial.config import RunConfig

    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path))
    _, tables = load_lab(LAB_FILE)
    settings = LAB
    data = load_course_data("synthetic", seed=settings.seed, verbose=False)
    teacher = lab_teacher(data, seed=settings.seed, progress=False)
    stored_teacher = tables["teacher"]["Recall@50"].iloc[0]
    assert evaluate(teacher, data, splits=("test",))["test"]["Recall@50"] == pytest.approx(stored_teacher, abs=1e-9)
    runs = runs_frame(run_grid(data, teacher, [RunConfig(method=m, seed=0, **settings.run)
                                               for m in ("student", "ftd")], progress=False))
    stored = tables["designs"].query("seed == 0").set_index("method")
    for _, run in runs.iterrows():
        assert not run["from_cache"]
        for metric in ("Recall@50", "NDCG@50"):
            assert run[metric] == pytest.approx(stored.loc[run["method"], metric], abs=1e-9), (run["method"], metric)

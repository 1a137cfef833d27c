"""Helpers and pictures of notebooks/04_analysis.ipynb, and its self-check exercises."""
import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from htd_tutorial.paper.ablation import ablation_table
from htd_tutorial.course.analysis import compare_with_reference, fidelity_table, load_results, results_runs, runs_frame
from htd_tutorial.plots.analysis import (plot_ablation, plot_bars, plot_gain_over_student, plot_sweep,
                                         plot_topology_fidelity)
from htd_tutorial.data import make_synthetic
from htd_tutorial.course.exercises import EXERCISES, check, is_correct
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.models import make_model
from htd_tutorial.training import train

RUNS = [{"method": m, "dim": d, "Recall@50": r, "NDCG@50": r / 3, "seconds": 1.0}
        for (m, d, r) in [("student", 10, 0.18), ("ftd", 10, 0.21), ("htd", 10, 0.23),
                          ("student", 20, 0.23), ("ftd", 20, 0.25), ("htd", 20, 0.27)]]
PAYLOAD = {"dataset": {"dataset": "citeulike"}, "runs": RUNS,
           "reference": {"source": "log", "teacher": 0.31, "student": {"10": 0.1788, "20": 0.2276},
                         "ftd": {"10": 0.2112, "20": 0.2516}, "htd": {"10": 0.2282}}}


def _ablation_rows():
    values = {"authors": 0.30, "authors + proto_grad": 0.33, "authors + eps": 0.30,
              "authors + same_type_only": 0.25, "clean": 0.20, "ftd": 0.29}
    return [{"variant": v, "seed": s, "label": v, "Recall@50": r + 0.01 * s, "NDCG@50": r / 3}
            for v, r in values.items() for s in (0, 1)]


def test_load_results_missing_broken_partial_and_good(tmp_path, capsys):
    assert load_results(tmp_path / "none.json") is None
    assert "does not exist yet" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    assert load_results(tmp_path / "bad.json") is None
    assert "cannot be read" in capsys.readouterr().out
    (tmp_path / "empty.json").write_text(json.dumps({"runs": []}))
    assert load_results(tmp_path / "empty.json") is None
    assert "no finished runs" in capsys.readouterr().out
    (tmp_path / "good.json").write_text(json.dumps(PAYLOAD))
    assert load_results(tmp_path / "good.json")["runs"] == RUNS
    assert "Loaded 6 stored runs on citeulike" in capsys.readouterr().out


def test_compare_with_reference():
    table = compare_with_reference(PAYLOAD)
    assert len(table) == 5  # htd d=20 has no reference value here
    row = table[(table["method"] == "ftd") & (table["dim"] == 10)].iloc[0]
    assert row["difference"] == pytest.approx(0.21 - 0.2112) and row["within"]
    assert bool(table[(table["method"] == "htd") & (table["dim"] == 10)]["within"].item())
    assert list(results_runs(PAYLOAD).columns) == ["method", "dim", "Recall@50", "NDCG@50", "seconds"]


def test_stored_seed_runs_and_summary_feed_the_paired_comparison():
    from htd_tutorial.course.analysis import stored_seed_runs, stored_summary
    from htd_tutorial.course.evidence import compare
    from htd_tutorial.paper.results import finalise

    def run(method, seed, r50):
        metrics = {f"{m}@{k}": r50 * k / 50 / (1 if m == "Recall" else 4) for m in ("Recall", "NDCG") for k in (10, 20, 50)}
        return {"method": method, "dim": 20, "seed": seed, **metrics, "config": {"lr": 1e-3, "seed": seed}}

    payload = finalise({"settings": {"seed": 0}, "runs": [], "other_seeds": [
        run("student", 0, 0.20), run("ftd", 0, 0.22), run("student", 1, 0.21), run("ftd", 1, 0.24),
        run("student", 2, 0.19), run("ftd", 2, 0.20)]})
    frame = stored_seed_runs(payload)
    assert sorted(frame.columns) == sorted(["method", "dim", "seed", "lr", "Recall@50", "NDCG@50"]) and len(frame) == 6
    diff = compare(frame, ("ftd", 20), ("student", 20), lr_a=1e-3, lr_b=1e-3)
    assert diff.seeds == (0, 1, 2) and diff.values == pytest.approx((0.02, 0.03, 0.01))  # paired by seed
    assert diff.clearly_positive  # +0.02 ± 0.0058, every seed positive
    table = stored_summary(payload).set_index("method")
    assert table.loc["ftd", "seeds"] == 3 and table.loc["ftd", "Recall@50"] == pytest.approx(0.22)
    assert table.loc["ftd", "Recall@50 se"] == pytest.approx(0.02 / 3 ** 0.5)  # s.d. 0.02 over 3 seeds
    with pytest.raises(ValueError, match="no runs"):
        stored_seed_runs({"runs": []})


def test_runs_frame_and_fidelity_table(tmp_path):
    data = make_synthetic(n_users=50, n_items=70, interactions_per_user=10, seed=3)
    teacher = make_model("bpr", data, 12, seed=0)
    train(teacher, data, epochs=1, batch_size=256, progress=False)
    results = [run_method(data, teacher, RunConfig(method=m, dim=3, epochs=1, K=2, batch_size=256),
                          directory=tmp_path, progress=False)
               for m in ("student", "htd")]
    frame = runs_frame(results)
    assert list(frame["method"]) == ["student", "htd"] and (frame["dim"] == 3).all()
    fidelity = fidelity_table(teacher, {r.config.method: r.student for r in results}, n_sample=40, k=5)
    assert list(fidelity["method"]) == ["student", "htd"] and list(fidelity["dim"]) == [3, 3]
    # known answers instead of "KL >= 0" (true of any KL): a model with the teacher's item table and other users
    # is perfect on items and not on users, so the table compares the right embeddings with the right ones
    twin = make_model("bpr", data, 12, seed=5)
    with torch.no_grad():
        twin.item_emb.weight.copy_(teacher.item_emb.weight)
    items = fidelity_table(teacher, {"twin": twin, "student": results[0].student}, n_sample=40, k=5)
    items = items.set_index("method")
    assert items.loc["twin", ["kl_topk", "kl_random"]].tolist() == pytest.approx([0.0, 0.0], abs=1e-9)
    assert items.loc["twin", ["knn_overlap", "spearman"]].tolist() == pytest.approx([1.0, 1.0])
    # measured: the 1-epoch student 0.135 overlap, KL 0.145; the twin's (random) users 0.185 overlap, KL 0.065
    assert items.loc["student", "knn_overlap"] < 0.5 and items.loc["student", "kl_random"] > 0.01
    users = fidelity_table(teacher, {"twin": twin}, entity="users", n_sample=40, k=5).iloc[0]
    assert users["knn_overlap"] < 0.5 and users["kl_random"] > 0.01
    with pytest.raises(ValueError, match="entity"):
        fidelity_table(teacher, {"student": results[0].student}, entity="pairs")


def test_plots_have_titles_labels_and_legends():
    table = ablation_table(_ablation_rows())
    figures = [plot_gain_over_student(RUNS), plot_bars(pd.DataFrame(RUNS[:3]), label="method", reference=0.2),
               plot_sweep(pd.DataFrame({"gamma": [0, 0.5, 1], "Recall@50": [0.2, 0.3, 0.25]}), "gamma",
                          references={"ftd": 0.22, "student": 0.18}),
               plot_topology_fidelity(pd.DataFrame({"method": ["student", "htd"], "kl": [0.2, 0.1],
                                                    "overlap": [0.1, 0.3]}), {"kl": "KL", "overlap": "10-NN"}),
               plot_ablation(table)]
    for fig in figures:
        assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        plt.close(fig)
    with pytest.raises(ValueError, match="student"):
        plot_gain_over_student([r for r in RUNS if r["method"] != "student"])


def test_exercise_04_1():
    sweep = pd.DataFrame(RUNS)
    expected = (0.23 - 0.18) / (0.40 - 0.18)
    assert is_correct("04.1", expected, sweep, 0.40)
    assert not is_correct("04.1", (0.21 - 0.18) / (0.40 - 0.18), sweep, 0.40)


def test_exercise_06_1_and_hints(capsys):
    table = ablation_table(_ablation_rows())
    answer = EXERCISES["06.1"].solve(table)
    assert answer == "authors + same_type_only" and is_correct("06.1", answer, table)
    for wrong, text in [("clean", "not a single switch"), ("authors + proto_grad", "either direction"),
                        ("nonsense", "variant names")]:
        check("06.1", wrong, table)
        assert text in capsys.readouterr().out
    with pytest.raises(ValueError):
        check("06.1", 3, table)


def test_exercise_06_2():
    assert EXERCISES["06.2"].solve() == (False, True)
    assert is_correct("06.2", (False, True)) and not is_correct("06.2", (True, True))
    with pytest.raises(ValueError, match="two booleans"):
        check("06.2", (0, 1))

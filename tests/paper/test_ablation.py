"""The HTD ablation (authors' code vs clean reading, one switch at a time) and its command line."""
import json
import time
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from htd_tutorial.__main__ import main
from htd_tutorial.paper.ablation import ablation_configs, ablation_table, format_ablation, run_ablation_grid
from htd_tutorial.course.analysis import run_grid
from htd_tutorial.cache import config_key, tensor_digest
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import run_method
from htd_tutorial.losses.htd import HTDOptions


#: The synthetic dataset of the ``data`` fixture (tests/conftest.py).
SYNTHETIC = dict(n_users=60, n_items=80, interactions_per_user=12, seed=2)


def test_configs_cover_every_switch_once():
    configs = ablation_configs(4, epochs=1, K=3, seeds=(0, 1), baselines=("ftd",))
    switches = set(HTDOptions.preset("authors").differences(HTDOptions.preset("clean")))
    assert list(configs)[0] == "authors" and "clean" in configs and "ftd" in configs
    assert {v.split(" + ")[1] for v in configs if " + " in v} == switches
    assert all(len(runs) == 2 for runs in configs.values())
    # the presets are plain modes (shared cache with other runs), the variants carry options
    assert configs["authors"][0].options is None and configs["authors"][0].mode == "authors"
    assert configs["clean"][0].options is None and configs["clean"][0].mode == "clean"
    assert configs["authors + proto_grad"][0].options == HTDOptions.preset("authors").replace(proto_grad=True)


@pytest.mark.parametrize("changes,message", [(dict(base="paper"), "base"), (dict(seeds=()), "seeds"),
                                             (dict(seeds=(0, 0)), "repeat"), (dict(baselines=("htd",)), "baselines"),
                                             (dict(dim=0), "dimension")])
def test_configs_reject_bad_settings(changes, message):
    settings = dict(dim=4, epochs=1) | changes
    with pytest.raises(ValueError, match=message):
        ablation_configs(settings.pop("dim"), **settings)


def test_run_config_options_are_checked_and_normalised():
    assert RunConfig(method="htd", dim=4, epochs=1, K=3, options=HTDOptions.preset("authors")).options is None
    assert RunConfig(method="htd", dim=4, mode="clean", options=HTDOptions.preset("clean")).options is None
    with pytest.raises(ValueError, match="only apply to method 'htd'"):
        RunConfig(method="ftd", dim=4, options=HTDOptions.preset("clean"))
    with pytest.raises(ValueError, match="HTDOptions"):
        RunConfig(method="htd", dim=4, options={"proto_grad": True})


def test_option_runs_are_cached_separately(data, teacher, tmp_path):
    base = RunConfig(method="htd", dim=4, epochs=1, K=3, batch_size=256)
    run_method(data, teacher, base, directory=tmp_path, progress=False)
    digest = tensor_digest(dict(zip(("users", "items"), (t.detach() for t in teacher.all_embeddings()))))
    legacy = {k: v for k, v in asdict(base).items() if k not in ("options", "depth")}   # None: not in the key
    (path,) = tmp_path.glob("run-*.pt")
    assert config_key(data, {"run": legacy, "teacher": digest})[:16] in path.name  # key unchanged
    flipped = RunConfig(method="htd", dim=4, epochs=1, K=3, batch_size=256,
                        options=HTDOptions.preset("authors").replace(proto_grad=True))
    result = run_method(data, teacher, flipped, directory=tmp_path, progress=False)
    assert not result.from_cache and result.distiller.options.proto_grad
    assert run_method(data, teacher, flipped, directory=tmp_path, progress=False).from_cache
    assert len(list(tmp_path.glob("run-*.pt"))) == 2


def test_grid_and_table(data, teacher, tmp_path):
    configs = ablation_configs(4, epochs=1, K=3, batch_size=256, seeds=(0, 1), baselines=("student",))
    rows = run_ablation_grid(data, teacher, configs, directory=tmp_path, progress=False)
    assert len(rows) == 2 * len(configs)
    assert all(r["changed"] == {} for r in rows if r["variant"] in ("authors", "student"))
    assert next(r for r in rows if r["variant"] == "authors + proto_grad")["changed"] == {"proto_grad": True}
    table = ablation_table(rows)
    assert list(table.index) == list(configs)
    assert table.loc["authors", "Δ Recall@50"] == 0
    frame = pd.DataFrame(rows)
    clean = frame.loc[frame["variant"] == "clean", "Recall@50"].mean()
    authors = frame.loc[frame["variant"] == "authors", "Recall@50"].mean()
    assert np.isclose(table.loc["clean", "Δ Recall@50"], clean - authors)
    assert (table["seeds"] == 2).all()
    # the spread over the two seeds (population std, 0 with one seed): |a - b| / 2, not merely ">= 0"
    for variant in configs:
        a, b = frame.loc[frame["variant"] == variant, "Recall@50"]
        assert table.loc[variant, "Recall@50 std"] == pytest.approx(abs(a - b) / 2, abs=1e-12), variant
        assert table.loc[variant, "Recall@50"] == pytest.approx((a + b) / 2, abs=1e-12), variant
    assert table["Recall@50 std"].max() > 0  # the seeds do differ here, so the check above is not 0 == 0
    text = format_ablation(table)
    assert "authors' code, proto_grad=True" in text and "± std" in text
    with pytest.raises(ValueError, match="no 'authors' variant"):
        ablation_table([r for r in rows if r["variant"] != "authors"])


def test_table_pairs_the_seeds():
    """Δ is the mean of seed-by-seed differences to the authors' preset, over the seeds both have."""
    authors = {0: 0.30, 1: 0.32, 2: 0.28}
    rows = ([{"variant": "authors", "seed": s, "Recall@50": r, "NDCG@50": r / 2} for s, r in authors.items()]
            + [{"variant": "x", "seed": s, "Recall@50": r, "NDCG@50": r / 2}
               for s, r in {0: 0.31, 1: 0.34, 2: 0.28}.items()]
            + [{"variant": "y", "seed": s, "Recall@50": r, "NDCG@50": r / 2}
               for s, r in {0: 0.29, 1: 0.33}.items()]
            + [{"variant": "one", "seed": 0, "Recall@50": 0.35, "NDCG@50": 0.1},
               {"variant": "other seed", "seed": 5, "Recall@50": 0.35, "NDCG@50": 0.1}])
    table = ablation_table(rows)
    # x: differences 0.01, 0.02, 0.00 -> mean 0.01, sample std 0.01, s.e. 0.01 / sqrt(3)
    assert table.loc["x", "Δ Recall@50"] == pytest.approx(0.01, abs=1e-12)
    assert table.loc["x", "Δ Recall@50 se"] == pytest.approx(0.0057735, abs=1e-7)
    assert table.loc["x", "Δ NDCG@50 se"] == pytest.approx(0.0028868, abs=1e-7)
    # y: seeds 0 and 1 only, differences -0.01 and +0.01 -> 0 ± 0.01 (unpaired means would give +0.01)
    assert table.loc["y", "Δ Recall@50"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["y", "Δ Recall@50 se"] == pytest.approx(0.01, abs=1e-12)
    assert table.loc["y", "Recall@50"] - table.loc["authors", "Recall@50"] == pytest.approx(0.01, abs=1e-12)
    assert table.loc["one", "Δ Recall@50"] == pytest.approx(0.05, abs=1e-12)
    assert np.isnan(table.loc["one", "Δ Recall@50 se"]) and table.loc["one", "paired seeds"] == 1
    assert np.isnan(table.loc["other seed", "Δ Recall@50"]) and table.loc["other seed", "paired seeds"] == 0
    assert table.loc["authors", "Δ Recall@50"] == 0 and table.loc["authors", "Δ Recall@50 se"] == 0
    assert list(table["paired seeds"]) == [3, 3, 2, 1, 0]
    text = format_ablation(table)
    assert "± se" in text and "0.0058" in text and "nan" not in text
    assert text.splitlines()[-1].split()[-8:] == ["0.3500", "0.0000", "–", "–", "0.1000", "0.0000", "–", "–"]
    with pytest.raises(ValueError, match=r"repeated: \[\('x', 0\)\]"):
        ablation_table(rows + [rows[3]])


def test_grid_progress_is_one_bar_over_the_runs(data, teacher, tmp_path, capsys):
    configs = ablation_configs(4, epochs=1, K=3, batch_size=256, seeds=(0,))
    again = run_ablation_grid(data, teacher, configs, directory=tmp_path, epoch_bars=False)
    bars = capsys.readouterr().err
    assert f"{len(configs)}/{len(configs)}" in bars and "1/1 [" not in bars   # no per-epoch bars
    assert len(again) == len(configs)
    runs = run_grid(data, teacher, [c for runs in configs.values() for c in runs][:2], directory=tmp_path)
    assert "runs: 100%" in capsys.readouterr().err and len(runs) == 2


def _write_split(data, folder):
    folder.mkdir()
    for split in ("train", "valid", "test"):
        pairs = getattr(data, split)
        lines = ["user\titem"] + [f"{u}\t{i}" for u, i in pairs]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")


def test_command_line_writes_json_and_figure(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _write_split(data, tmp_path / "tiny")
    out = tmp_path / "results"
    argv = ["ablation", "--data", str(tmp_path / "tiny"), "--dim", "4", "--epochs", "1", "--teacher-dim", "8",
            "--teacher-epochs", "1", "--eval-every", "1", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    payload = json.loads((out / "tiny_bpr_ablation_d4.json").read_text())
    assert payload["machine"]["threads"] == 1 and {r["threads"] for r in payload["runs"]} == {1}
    assert all(row["Δ Recall@50 se"] is None for row in payload["table"])  # one seed: no s.e., and valid JSON
    assert (out / "tiny_bpr_ablation_d4.png").stat().st_size > 0
    assert not list(out.glob("*.tmp*"))
    variants = [row["variant"] for row in payload["table"]]
    assert variants[0] == "authors" and variants[-1] == "clean" and len(variants) == 8
    assert payload["variants"]["authors + mask_pe"]["differs_from_authors"] == ["mask_pe"]
    assert "Δ vs authors" in printed and "authors' code, tau_lag=False" in printed
    assert main(argv) == 0  # second time: every run from the cache
    again = json.loads((out / "tiny_bpr_ablation_d4.json").read_text())
    assert all(row["from_cache"] for row in again["runs"])
    assert [r["Recall@50"] for r in again["runs"]] == [r["Recall@50"] for r in payload["runs"]]


def test_flush_denormal_is_recorded_and_leaves_the_teacher(data, tmp_path, monkeypatch):
    """Runs are trained with subnormals flushed unless --no-flush-denormal says otherwise; each run records
    which, and both files name the same teacher (the option is the students')."""
    _write_split(data, tmp_path / "tiny")
    files = {}
    for flag in (["--no-flush-denormal"], []):
        monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / f"cache{len(flag)}"))
        out = tmp_path / f"results{len(flag)}"  # 1: not flushed, 0: the default
        argv = ["ablation", "--data", str(tmp_path / "tiny"), "--dim", "4", "--epochs", "1", "--teacher-dim", "8",
                "--teacher-epochs", "1", "--seeds", "0", "--variants", "clean", "--out", str(out),
                "--no-progress", "--threads", "1", *flag]
        assert main(argv) == 0
        files[not flag] = json.loads((out / "tiny_bpr_ablation_d4.json").read_text())
    assert [(r["variant"], r["flush_denormal"]) for r in files[False]["runs"]] == [("clean", False)]
    assert [(r["variant"], r["flush_denormal"]) for r in files[True]["runs"]] == [("clean", True)]
    assert {r["teacher_sha256"] for r in files[True]["runs"]} == {r["teacher_sha256"] for r in files[False]["runs"]}


def test_command_line_rejects_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["ablation", "--data", "synthetic", "--dim", "0", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "argument --dim" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_new_session_takes_finished_runs_from_the_results_files(data, tmp_path, monkeypatch, capsys):
    """Without the model cache, the authors'-preset run comes from the reproduction's file and the rest
    from the ablation's own file; a row of another teacher or other settings is not taken."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache1"))
    _write_split(data, tmp_path / "tiny")
    out = tmp_path / "results"
    common = ["--data", str(tmp_path / "tiny"), "--epochs", "1", "--teacher-dim", "8", "--teacher-epochs", "1",
              "--eval-every", "1", "--out", str(out), "--no-progress"]
    assert main(["reproduce", *common, "--dims", "4", "--methods", "htd"]) == 0
    reproduction = json.loads((out / "tiny_bpr.json").read_text())
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache2"))
    assert main(["ablation", *common, "--dim", "4"]) == 0
    first = json.loads((out / "tiny_bpr_ablation_d4.json").read_text())
    authors = next(r for r in first["runs"] if r["variant"] == "authors")
    assert authors["stored_in"] == "tiny_bpr.json" and authors["from_cache"]
    assert authors["Recall@50"] == reproduction["runs"][0]["Recall@50"]
    assert authors["curve"] == reproduction["runs"][0]["curve"]
    assert [p.name.split("-")[2] for p in (tmp_path / "cache2").glob("run-*")] == ["htd"] * 7  # 8 variants - 1
    assert "from tiny_bpr.json" in capsys.readouterr().out
    # a third session: nothing to train, every run from the ablation's own file; its wall time is
    # added to the file's (1000 s written here), as in the reproduction's file
    path = out / "tiny_bpr_ablation_d4.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "wall_seconds": 1000.0}))
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache3"))
    started = time.perf_counter()
    assert main(["ablation", *common, "--dim", "4"]) == 0
    again = json.loads(path.read_text())
    assert 1000.0 < again["wall_seconds"] <= 1000.0 + time.perf_counter() - started
    assert not list((tmp_path / "cache3").glob("run-*"))
    assert [r["Recall@50"] for r in again["runs"]] == [r["Recall@50"] for r in first["runs"]]
    # each row names the file it was first stored in: the authors' run the reproduction's, the rest the ablation's
    assert {r["variant"]: r["stored_in"] for r in again["runs"]} == {
        v: "tiny_bpr.json" if v == "authors" else "tiny_bpr_ablation_d4.json" for v in HTDOptions.ablation("authors")}


def test_stored_runs_need_the_same_teacher_and_a_config(tmp_path):
    from htd_tutorial.paper.ablation import stored_runs

    row = {"config": {"method": "htd", "dim": 4}, "Recall@50": 0.1}
    (tmp_path / "a.json").write_text(json.dumps({"teacher": {"sha256": "aaa"}, "runs": [row],
                                                 "other_seeds": [{**row, "config": {"method": "htd", "dim": 8},
                                                                  "teacher_sha256": "bbb"}]}))
    (tmp_path / "b.json").write_text(json.dumps({"runs": [{"Recall@50": 0.2}]}))  # an old row: no config
    found = stored_runs([tmp_path / "a.json", tmp_path / "b.json", tmp_path / "missing.json"], "aaa")
    key = '{"dim": 4, "method": "htd"}'
    assert list(found) == [key] and found[key]["stored_in"] == "a.json"
    assert list(stored_runs([tmp_path / "a.json"], "bbb")) == ['{"dim": 8, "method": "htd"}']
    assert stored_runs([tmp_path / "a.json"], "ccc") == {}
    # a row from before each row kept its teacher, in a file whose teacher has no sha256 but whose
    # 'teachers' list has it with the same metrics (a last bit apart): that teacher's
    metrics = dict.fromkeys(("Recall@10", "Recall@20", "Recall@50", "NDCG@10", "NDCG@20"), 0.25)
    teachers = [{"sha256": "ccc", **metrics, "NDCG@50": 0.1 + 1e-17},
                {"sha256": "ddd", **metrics, "NDCG@50": 0.1001}]
    (tmp_path / "c.json").write_text(json.dumps({"teacher": {**metrics, "NDCG@50": 0.1}, "teachers": teachers,
                                                 "runs": [row]}))
    assert list(stored_runs([tmp_path / "c.json"], "ccc")) == [key]
    assert stored_runs([tmp_path / "c.json"], "ddd") == {}  # other metrics: another teacher
    teachers[1]["NDCG@50"] = 0.1  # two entries match: the file cannot say which one, so neither
    (tmp_path / "c.json").write_text(json.dumps({"teacher": {**metrics, "NDCG@50": 0.1}, "teachers": teachers,
                                                 "runs": [row]}))
    assert stored_runs([tmp_path / "c.json"], "ccc") == {}


def test_a_rewritten_ablation_file_adds_the_earlier_wall_time_only_when_it_is_the_same_ablation(tmp_path):
    from htd_tutorial.paper.ablation import _earlier_wall_seconds

    path, settings = tmp_path / "a.json", {"dim": 4, "epochs": 1}
    assert _earlier_wall_seconds(path, settings, "aaa") == 0.0  # no file yet
    path.write_text(json.dumps({"settings": settings, "wall_seconds": 120.5,
                                "runs": [{"teacher_sha256": "aaa"}, {"teacher_sha256": "aaa"}]}))
    assert _earlier_wall_seconds(path, settings, "aaa") == 120.5
    assert _earlier_wall_seconds(path, settings, "bbb") == 0.0  # another teacher: a new file
    assert _earlier_wall_seconds(path, {"dim": 4, "epochs": 2}, "aaa") == 0.0  # other settings


def test_ablations_run_side_by_side_are_assembled_without_training(data, tmp_path, monkeypatch, capsys):
    """One seed per folder (two processes), then one file from both with --cached-only --stored: nothing
    is trained, a seed no folder has is listed as not run, and the pairing covers both seeds."""
    _write_split(data, tmp_path / "tiny")
    common = ["--data", str(tmp_path / "tiny"), "--dim", "4", "--epochs", "1", "--teacher-dim", "8",
              "--teacher-epochs", "1", "--eval-every", "1", "--no-progress"]
    stem = "tiny_bpr_ablation_d4.json"
    for seed in (0, 1):
        monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / f"cache{seed}"))
        assert main(["ablation", *common, "--seeds", str(seed), "--out", str(tmp_path / f"lane{seed}")]) == 0
    lanes = [json.loads((tmp_path / f"lane{s}" / stem).read_text()) for s in (0, 1)]
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache-new"))
    capsys.readouterr()
    assert main(["ablation", *common, "--seeds", "0", "1", "2", "--cached-only", "--out", str(tmp_path / "all"),
                 "--stored", str(tmp_path / "lane0" / stem), str(tmp_path / "lane1" / stem)]) == 0
    printed = capsys.readouterr().out
    merged = json.loads((tmp_path / "all" / stem).read_text())
    assert not list((tmp_path / "cache-new").glob("run-*"))  # only the teacher was made
    assert len(merged["runs"]) == 16 and {r["stored_in"] for r in merged["runs"]} == {stem}
    by_key = {(r["variant"], r["seed"]): r["Recall@50"] for r in merged["runs"]}
    assert by_key == {(r["variant"], r["seed"]): r["Recall@50"] for lane in lanes for r in lane["runs"]}
    assert len(merged["not_run"]) == 8 and {r["seed"] for r in merged["not_run"]} == {2}
    assert {row["paired seeds"] for row in merged["table"]} == {2}
    assert "not run yet (skipped: finished runs only)" in printed
    assert merged["settings"]["seeds"] == [0, 1, 2]


def test_variants_run_one_per_process_then_assemble(data, tmp_path, monkeypatch, capsys):
    """--variants trains only the named variants (the authors' preset only when named); processes that
    share a model cache are assembled by --cached-only into the full table, with nothing trained."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _write_split(data, tmp_path / "tiny")
    common = ["--data", str(tmp_path / "tiny"), "--dim", "4", "--epochs", "1", "--teacher-dim", "8",
              "--teacher-epochs", "1", "--eval-every", "1", "--no-progress", "--seeds", "0"]
    stem = "tiny_bpr_ablation_d4.json"
    assert main(["ablation", *common, "--variants", "authors + mask_pe", "--out", str(tmp_path / "a")]) == 0
    alone = json.loads((tmp_path / "a" / stem).read_text())
    assert [r["variant"] for r in alone["runs"]] == ["authors + mask_pe"] and "table" not in alone
    assert {r["variant"] for r in alone["not_run"]} == set(HTDOptions.ablation("authors")) - {"authors + mask_pe"}
    assert "no table" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("run-*"))) == 1
    for variant in ("authors", "clean"):
        assert main(["ablation", *common, "--variants", variant, "--out", str(tmp_path / variant)]) == 0
    assert len(list((tmp_path / "cache").glob("run-*"))) == 3
    assert main(["ablation", *common, "--cached-only", "--out", str(tmp_path / "all")]) == 0
    merged = json.loads((tmp_path / "all" / stem).read_text())
    assert len(list((tmp_path / "cache").glob("run-*"))) == 3  # assembled, not trained
    assert {r["variant"] for r in merged["runs"]} == {"authors", "authors + mask_pe", "clean"}
    assert len(merged["not_run"]) == 5 and all(r["from_cache"] for r in merged["runs"])
    mask_pe = next(r for r in merged["runs"] if r["variant"] == "authors + mask_pe")
    assert mask_pe["Recall@50"] == alone["runs"][0]["Recall@50"] and mask_pe["accelerator"] is None
    assert main(["ablation", *common, "--variants", "mask_pe", "--out", str(tmp_path / "bad")]) == 2
    assert "variants must be names from the 'authors' ablation" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_cached_only_without_an_authors_run_writes_nothing(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    _write_split(data, tmp_path / "tiny")
    argv = ["ablation", "--data", str(tmp_path / "tiny"), "--dim", "4", "--epochs", "1", "--teacher-dim", "8",
            "--teacher-epochs", "1", "--out", str(tmp_path / "out"), "--no-progress", "--cached-only"]
    assert main(argv) == 2
    assert "no finished 'authors' run" in capsys.readouterr().err
    assert not (tmp_path / "out" / "tiny_bpr_ablation_d4.json").exists()
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--stored", str(tmp_path / "missing.json")])
    assert stop.value.code == 2 and "not an existing results file" in capsys.readouterr().err


def test_readme_table_shows_levels_and_paired_differences(tmp_path, monkeypatch):
    from htd_tutorial.paper.ablation import main as ablation_main, readme_ablation_table
    from htd_tutorial.paper.results import RESULTS_DOC

    rows = [{"variant": v, "label": label, "seed": s, "Recall@50": r, "NDCG@50": n}
            for v, label, s, r, n in [("authors", "authors' code", 0, 0.20, 0.10),
                                      ("authors", "authors' code", 1, 0.22, 0.12),
                                      ("authors + eps", "authors' code, eps=True", 0, 0.21, 0.10),
                                      ("authors + eps", "authors' code, eps=True", 1, 0.25, 0.12),
                                      ("clean", "clean reading", 0, 0.19, 0.09)]]
    payload = {"runs": rows, "not_run": [{"variant": "clean", "seed": 1}, {"variant": "clean", "seed": 2}]}
    assert readme_ablation_table(payload).splitlines() == [
        "| variant | Recall@50 | Δ Recall@50 vs authors' code | NDCG@50 | Δ NDCG@50 vs authors' code |",
        "| --- | --- | --- | --- | --- |",
        "| authors' code | 0.2100 (2) | (reference) | 0.1100 (2) | (reference) |",
        # differences +0.01 and +0.03: mean +0.02, s.e. 0.01
        "| authors' code, eps=True | 0.2300 (2) | +0.0200 ± 0.0100 (2) | 0.1100 (2) | +0.0000 ± 0.0000 (2) |",
        "| clean reading | 0.1900 (1) | -0.0100 (1) | 0.0900 (1) | -0.0100 (1) |",
        "",
        "Not run yet: clean (seeds 1, 2).",
    ]
    # a page named on the command line, and by default the results page (run from the repository root)
    (tmp_path / "x_ablation_d4.json").write_text(json.dumps(payload))
    before = "a\n<!-- results-table: x_ablation_d4 -->\nold\n<!-- /results-table -->\nb\n"
    named, default = tmp_path / "page.md", tmp_path / RESULTS_DOC
    default.parent.mkdir(parents=True)
    for page in (named, default):
        page.write_text(before)
    monkeypatch.chdir(tmp_path)
    assert ablation_main([str(named), "x_ablation_d4.json"]) == 0
    assert default.read_text() == before
    assert ablation_main(["x_ablation_d4.json"]) == 0
    for page in (named, default):
        assert page.read_text().startswith("a\n<!-- results-table: x_ablation_d4 -->\n| variant |")
        assert page.read_text().endswith("Not run yet: clean (seeds 1, 2).\n<!-- /results-table -->\nb\n")
    assert ablation_main([str(named)]) == 2

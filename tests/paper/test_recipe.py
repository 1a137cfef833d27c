"""``python -m htd_tutorial recipe``: a model's learning rate chosen on the teacher's validation."""
import json

import pytest

from htd_tutorial.__main__ import main
from htd_tutorial.choices import DEFAULT_LR, RECIPE_LR
from htd_tutorial.paper.recipe import choose_lr

TINY = dict(dim=8, epochs=2, eval_every=1, progress=False)


def test_the_chosen_rate_has_the_best_final_validation_and_its_teacher_is_the_sweeps(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = choose_lr("synthetic", kind="bpr", lrs=(1e-4, 5e-2), out=tmp_path, **TINY)
    stored = json.loads((tmp_path / "synthetic_bpr_recipe.json").read_text())
    assert stored == json.loads(json.dumps(payload))
    finals = {c["lr"]: c["final_valid"] for c in stored["candidates"]}
    assert set(finals) == {1e-4, 5e-2} and finals[5e-2] != finals[1e-4]
    assert stored["chosen_lr"] == max(finals, key=finals.get)
    for c in stored["candidates"]:
        assert c["valid"][0] == [1, 2] and c["valid"][1][-1] == c["final_valid"] and c["test"][0] == [1, 2]
        assert len(c["sha256"]) == 64 and c["weight_decay"] == 1e-3
    assert "<- chosen" in capsys.readouterr().out
    # the sweep at the chosen rate distils from the very teacher the recipe compared
    from htd_tutorial.paper.reproduce import reproduce

    sweep = reproduce("synthetic", dims=(4,), methods=("student",), epochs=1, teacher_dim=8, teacher_epochs=2,
                      eval_every=1, out=tmp_path / "sweep", progress=False, lr=stored["chosen_lr"])
    chosen = next(c for c in stored["candidates"] if c["lr"] == stored["chosen_lr"])
    assert sweep["teacher"]["sha256"] == chosen["sha256"]
    assert "Loaded cached teacher" in capsys.readouterr().out


@pytest.mark.parametrize("lrs, decays, message", [
    ((1e-3,), (1e-3,), "at least two candidates"), ((1e-3, 1e-3), (1e-3,), "each hold different values"),
    ((1e-3, -1.0), (1e-3,), "lrs must be > 0"), ((1e-3, True), (1e-3,), "finite number"),
    ((1e-3, float("inf")), (1e-3,), "finite number"), ((), (1e-3, 1e-4), "each hold different values"),
    ((1e-3,), (1e-4, 1e-4), "each hold different values"), ((1e-3,), (1e-4, -1e-4), "weight_decays must be >= 0"),
    ((1e-3,), (1e-4, float("nan")), "finite number")])
def test_bad_candidates_are_refused_before_any_training(tmp_path, lrs, decays, message):
    with pytest.raises(ValueError, match=message):
        choose_lr("synthetic", kind="bpr", lrs=lrs, weight_decays=decays, out=tmp_path, **TINY)
    assert not list(tmp_path.iterdir())


def test_the_weight_decay_axis(tmp_path, monkeypatch, capsys):
    """Every rate with every weight decay; the best pair on validation; a decay of 0 is allowed."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = choose_lr("synthetic", kind="bpr", lrs=(5e-2,), weight_decays=(0.0, 1e-3, 0.5), out=tmp_path, **TINY)
    grid = [(c["lr"], c["weight_decay"]) for c in payload["candidates"]]
    assert grid == [(5e-2, 0.0), (5e-2, 1e-3), (5e-2, 0.5)]
    assert len({c["sha256"] for c in payload["candidates"]}) == 3  # three different teachers
    finals = {c["weight_decay"]: c["final_valid"] for c in payload["candidates"]}
    assert len(set(finals.values())) > 1  # the choice is not a tie
    assert payload["chosen_weight_decay"] == max(finals, key=finals.get) and payload["chosen_lr"] == 5e-2
    assert "lr 0.05, weight decay 0.5: validation" in capsys.readouterr().out
    # the candidate at the sweeps' decay is the sweeps' teacher (same cache entry, not trained again)
    again = choose_lr("synthetic", kind="bpr", lrs=(5e-2, 1e-4), out=tmp_path / "again", **TINY)
    assert again["candidates"][0]["sha256"] == payload["candidates"][1]["sha256"]
    assert again["chosen_weight_decay"] == 1e-3 and "weight decay" not in capsys.readouterr().out


def test_student_weight_decays(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = choose_lr("synthetic", kind="bpr", lrs=(5e-2,), weight_decays=(1e-3, 1e-4), student_dim=4,
                        out=tmp_path, **TINY)
    assert [c["weight_decay"] for c in payload["candidates"]] == [1e-3, 1e-4]
    assert len({c["teacher_sha256"] for c in payload["candidates"]}) == 1
    assert len({c["sha256"] for c in payload["candidates"]}) == 2


def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["recipe", "--data", "synthetic", "--lrs", "1e-4", "5e-2", "--teacher-dim", "8", "--teacher-epochs", "2",
            "--eval-every", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "synthetic_bpr_recipe.json").read_text())["kind"] == "bpr"
    assert main(["recipe", "--data", "synthetic", "--lrs", "1e-3", "--out", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["recipe", "--lrs", "1e-3", "--weight-decays", "-1", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "expected a number >= 0, got '-1'" in capsys.readouterr().err
    assert main(argv[:4] + ["1e-4", "--weight-decays", "0", "1e-3"] + argv[6:]) == 0
    stored = json.loads((tmp_path / "synthetic_bpr_recipe.json").read_text())
    assert [(c["lr"], c["weight_decay"]) for c in stored["candidates"]] == [(1e-4, 0.0), (1e-4, 1e-3)]


def test_the_recipes_the_commands_use():
    """BPR's is the paper's; the reproduce command defaults to the recipe of the model it runs."""
    from htd_tutorial.__main__ import build_parser

    assert RECIPE_LR["bpr"] == DEFAULT_LR == 1e-3
    assert build_parser().parse_args(["reproduce", "--model", "lightgcn"]).lr is None  # None: the recipe's
    assert build_parser().parse_args(["reproduce"]).student_lr is None                 # None: the teacher's
    assert build_parser().parse_args(["reproduce", "--student-lr", "5e-3"]).student_lr == 5e-3
    assert "lightgcn 0.005" in build_parser()._subparsers._group_actions[0].choices["reproduce"].format_help()


def test_the_student_recipe_compares_plain_students_of_one_teacher(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = choose_lr("synthetic", kind="bpr", lrs=(1e-4, 5e-2), out=tmp_path, student_dim=4, **TINY)
    stored = json.loads((tmp_path / "synthetic_bpr_d4_recipe.json").read_text())
    assert stored == json.loads(json.dumps(payload)) and stored["role"] == "student"
    assert stored["student"]["dim"] == 4 and stored["teacher"]["lr"] == RECIPE_LR["bpr"]
    finals = {c["lr"]: c["final_valid"] for c in stored["candidates"]}
    assert stored["chosen_lr"] == max(finals, key=finals.get) and finals[5e-2] != finals[1e-4]
    teachers = {c["teacher_sha256"] for c in stored["candidates"]}
    assert len(teachers) == 1 and len(list((tmp_path / "cache").glob("teacher-*"))) == 1
    # the student at the chosen rate is the sweep's seed-0 student, loaded, not trained again
    from htd_tutorial.paper.reproduce import reproduce

    sweep = reproduce("synthetic", dims=(4,), methods=("student",), seeds=(0,), epochs=2, teacher_dim=8,
                      teacher_epochs=2, eval_every=1, out=tmp_path / "sweep", progress=False,
                      student_lr=stored["chosen_lr"])
    (row,) = sweep["runs"]
    assert row["from_cache"] and row["teacher_sha256"] in teachers
    assert row["Recall@50"] == next(c["final_test"] for c in stored["candidates"] if c["lr"] == stored["chosen_lr"])


def test_student_recipe_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["recipe", "--data", "synthetic", "--lrs", "1e-4", "5e-2", "--student-dim", "4", "--teacher-dim", "8",
            "--teacher-epochs", "2", "--eval-every", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "synthetic_bpr_d4_recipe.json").read_text())["role"] == "student"


def test_a_stopped_search_resumes_from_its_partial_file(tmp_path, monkeypatch, capsys):
    """Each finished candidate is written at once; a later run (a new session, no model cache) trains only
    the rest, and the partial file goes when the comparison is written. Other settings ignore it."""
    import htd_tutorial.paper.recipe as recipe

    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    real, trained = recipe.get_teacher, []

    def stop_at_second(dataset, config, **kwargs):
        trained.append(config.lr)
        if len(trained) == 2:
            raise KeyboardInterrupt   # the session ends during the second teacher
        return real(dataset, config, **kwargs)

    monkeypatch.setattr(recipe, "get_teacher", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        choose_lr("synthetic", kind="bpr", lrs=(1e-4, 5e-2), out=tmp_path, **TINY)
    partial = tmp_path / "partial" / "synthetic_bpr_recipe.partial.json"
    first = json.loads(partial.read_text())["candidates"]
    assert [c["lr"] for c in first] == [1e-4] and not (tmp_path / "synthetic_bpr_recipe.json").exists()

    (tmp_path / "cache").rename(tmp_path / "lost")   # a new session: the model cache is gone
    trained.clear()
    monkeypatch.setattr(recipe, "get_teacher", lambda d, c, **k: (trained.append(c.lr), real(d, c, **k))[1])
    payload = choose_lr("synthetic", kind="bpr", lrs=(1e-4, 5e-2), out=tmp_path, **TINY)
    assert trained == [5e-2] and payload["candidates"][0] == first[0]
    assert [c["lr"] for c in payload["candidates"]] == [1e-4, 5e-2] and not partial.exists()
    assert "1 finished candidate(s) reused" in capsys.readouterr().out

    # a partial file of another command (here: another epoch budget) is not reused
    partial.write_text(json.dumps({**{k: v for k, v in payload.items() if k in ("dataset", "kind", "role")},
                                   "teacher": {**payload["teacher"], "epochs": 3}, "candidates": first}))
    trained.clear()
    choose_lr("synthetic", kind="bpr", lrs=(1e-4, 5e-2), out=tmp_path, **TINY)
    assert trained == [1e-4, 5e-2] and "written with other settings: ignored" in capsys.readouterr().out


def test_the_lightgcn_depth_axis(tmp_path, monkeypatch, capsys):
    """Every depth with every rate; each candidate names its depth (the default written out) and is the
    teacher of that depth; the best on validation is chosen. BPR and a student search take no depth."""
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    payload = choose_lr("synthetic", kind="lightgcn", lrs=(5e-2,), depths=(1, 3), out=tmp_path, **TINY)
    assert [(c["lr"], c["depth"]) for c in payload["candidates"]] == [(5e-2, 1), (5e-2, 3)]
    assert len({c["sha256"] for c in payload["candidates"]}) == 2
    finals = {c["depth"]: c["final_valid"] for c in payload["candidates"]}
    assert finals[1] != finals[3] and payload["chosen_depth"] == max(finals, key=finals.get)
    assert "lr 0.05, depth 1: validation" in capsys.readouterr().out
    # depth 3 is LightGCN's default: the same teacher as a search without depths
    plain = choose_lr("synthetic", kind="lightgcn", lrs=(5e-2, 1e-4), out=tmp_path / "plain", **TINY)
    assert plain["candidates"][0]["sha256"] == payload["candidates"][1]["sha256"]
    assert plain["candidates"][0]["depth"] == 3 and "chosen_depth" in plain
    for kwargs, message in [(dict(kind="bpr", depths=(2, 3)), "depth is LightGCN's number of layers"),
                            (dict(kind="lightgcn", depths=(2, 3), student_dim=4), "depths are a teacher search"),
                            (dict(kind="lightgcn", depths=(2, 2)), "depths must hold different values")]:
        with pytest.raises(ValueError, match=message):
            choose_lr("synthetic", lrs=(5e-2,), out=tmp_path / "bad", **{**TINY, **kwargs})
    assert not (tmp_path / "bad").exists()

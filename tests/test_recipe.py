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


@pytest.mark.parametrize("lrs, message", [((1e-3,), "at least two"), ((1e-3, 1e-3), "at least two different"),
                                          ((1e-3, -1.0), "lrs must be > 0"), ((1e-3, True), "finite number"),
                                          ((1e-3, float("inf")), "finite number")])
def test_bad_candidates_are_refused_before_any_training(tmp_path, lrs, message):
    with pytest.raises(ValueError, match=message):
        choose_lr("synthetic", kind="bpr", lrs=lrs, out=tmp_path, **TINY)
    assert not list(tmp_path.iterdir())


def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HTD_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["recipe", "--data", "synthetic", "--lrs", "1e-4", "5e-2", "--teacher-dim", "8", "--teacher-epochs", "2",
            "--eval-every", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "synthetic_bpr_recipe.json").read_text())["kind"] == "bpr"
    assert main(["recipe", "--data", "synthetic", "--lrs", "1e-3", "--out", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err


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

"""Which learning rate a base model's sweep is run at, chosen on validation: the teacher's, or the students'.

The paper gives BPR's recipe (Adam, learning rate 1e-3, weight decay 1e-3, 100 epochs) and no
LightGCN recipe of its own; the authors' code has BPR only. Run at BPR's learning rate, a LightGCN
teacher and its students learn slowly, and a plain student still improves at epoch 100, so a gain
of distillation over it can be training speed rather than knowledge. This command trains (or
loads from the model cache) the dim-200 teacher at each candidate learning rate, with the sweep's
other settings, and picks the one with the highest **validation** Recall@50 after the last epoch
(the protocol keeps the last model, so that is the number that matters; test data plays no part).
:data:`htd_tutorial.choices.RECIPE_LR` and :data:`~htd_tutorial.choices.RECIPE_WEIGHT_DECAY` hold the chosen
values; ``tests/paper/test_results.py`` checks that they agree with the stored files.

The same question arises for the students: a small student trained at the teacher's rate may still be
improving at epoch 100, and a distillation method that beats it may only be faster. With
``--student-dim`` the command keeps the teacher (at its recipe rate) and compares the **plain**
student of that size at each candidate rate, the same way. Choosing the rate for the baseline, not
for a distillation method, is the conservative direction: a claim that distillation helps is then
made against the best-trained student the candidates give. ``reproduce --student-lr`` runs a sweep's
students at the chosen rate.

Weight decay is the other setting the paper gives for BPR only. ``--weight-decays`` adds it as a
second axis: every candidate rate is trained with every candidate weight decay, and the best pair on
validation is chosen the same way.

A search of several teachers takes hours on a laptop (a LightGCN teacher on CiteULike: about an hour
each). Every finished candidate is written at once to ``partial/<stem>_recipe.partial.json`` in the output folder
(a subfolder: it is no stored result the notebooks read, and the wheel does not carry it),
with the command's settings, and a later run of the same command reuses the candidates in it instead of
training them again (a run with other settings ignores the file and says so); the partial file is removed
when the comparison is written. Committed, it carries a search across sessions that keep no model cache.

Command line::

    python -m htd_tutorial recipe --data citeulike --model lightgcn --lrs 1e-3 5e-3
    python -m htd_tutorial recipe --data citeulike --model bpr --student-dim 20 --lrs 1e-3 5e-3 1e-2
    python -m htd_tutorial recipe --data citeulike --model lightgcn --lrs 5e-3 --weight-decays 1e-3 1e-4 1e-5

writes ``<out>/<dataset>_<model>_recipe.json`` (the teacher) or ``<out>/<dataset>_<model>_d<dim>_recipe.json``
(the students of that size): per candidate its validation and test curves, training seconds and the
SHA-256 of the model's tables (and of the teacher's, for a student), then the ``criterion``,
``chosen_lr`` and ``chosen_weight_decay``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..cache import get_teacher
from .._checks import finite_number, positive_number
from ..choices import DEFAULT_EPOCHS, DEFAULT_WEIGHT_DECAY, HEADLINE, LIGHTGCN_DEPTH, PAPER_EVAL_EVERY, TEACHER_DIM
from ..data import load_dataset
from ..config import RunConfig, TeacherConfig
from ..experiments import run_method, teacher_digest
from ..training import machine_description, torch_threads
from .results import write_json_atomic

__all__ = ["CRITERION", "choose_lr"]

#: The metric the learning rate is chosen by (higher is better), on the validation split.
CRITERION = HEADLINE


def choose_lr(data: str, *, kind: str, lrs: tuple[float, ...], dim: int = TEACHER_DIM, epochs: int = DEFAULT_EPOCHS,
              seed: int = 0,
              eval_every: int | None = PAPER_EVAL_EVERY, out: str | Path = "results", name: str | None = None,
              progress: bool = True,
              threads: int | None = None, student_dim: int | None = None,
              weight_decays: tuple[float, ...] = (DEFAULT_WEIGHT_DECAY,),
              depths: tuple[int | None, ...] = (None,)) -> dict:
    """Train or load the teacher (or a plain student) at each learning rate (and weight decay); write and
    return the comparison.

    Parameters
    ----------
    data : str
        Dataset name or path (see :func:`htd_tutorial.data.load_dataset`).
    kind : {"bpr", "lightgcn"}
        Base model.
    lrs : tuple of float
        Candidate learning rates (none repeated).
    dim, epochs, seed, eval_every
        The teacher's settings, as in ``reproduce`` (the cache key is the same, so a teacher trained
        here is the sweep's teacher and the other way round); ``eval_every`` 0 or None: evaluate
        after the last epoch only. With ``student_dim``, ``epochs``, ``seed`` and ``eval_every`` are
        the student's too, so the student at the chosen rate is the sweep's seed-``seed`` student.
    out : path
        Output folder.
    name : str, optional
        File-name stem (default: the dataset's name).
    progress : bool
    threads : int, optional
        CPU threads while training (not part of the cache key).
    student_dim : int, optional
        Compare the plain student of this dimension instead of the teacher; the teacher is trained
        (or loaded) once, at its recipe rate :data:`~htd_tutorial.choices.RECIPE_LR` and weight decay
        :data:`~htd_tutorial.choices.RECIPE_WEIGHT_DECAY`.
    weight_decays : tuple of float
        Candidate weight decays (>= 0, none repeated; default the sweeps' one,
        :data:`~htd_tutorial.choices.DEFAULT_WEIGHT_DECAY`). Every learning rate is tried with every
        weight decay; together at least two candidates.
    depths : tuple of int
        Candidate LightGCN depths (the teacher's number of layers; default: its default,
        :data:`~htd_tutorial.choices.LIGHTGCN_DEPTH`), each tried with every rate and weight decay; a
        teacher search only (not with ``student_dim``), and not for BPR.

    Returns
    -------
    dict
        What was written to ``<out>/<name>_<kind>_recipe.json`` (``..._d<student_dim>_recipe.json``);
        ``chosen_lr`` and ``chosen_weight_decay`` are the best candidate's.

    Raises
    ------
    ValueError
        Fewer than two candidates, a repeated value, or one that is not a finite number > 0 (a
        learning rate) or >= 0 (a weight decay); a depth for BPR or below 1, or depths with ``student_dim``.
    """
    lrs = tuple(positive_number("lrs", finite_number("lrs", lr)) for lr in lrs)
    weight_decays = tuple(positive_number("weight_decays", finite_number("weight_decays", wd), allow_zero=True)
                          for wd in weight_decays)
    if not lrs or len(set(lrs)) != len(lrs) or not weight_decays or len(set(weight_decays)) != len(weight_decays):
        raise ValueError(f"lrs and weight_decays must each hold different values, got {lrs!r} and {weight_decays!r}")
    if not depths or len(set(depths)) != len(depths):
        raise ValueError(f"depths must hold different values, got {depths!r}")
    if student_dim is not None and depths != (None,):
        raise ValueError("depths are a teacher search: the students of --student-dim have their teacher's depth")
    grid = [(lr, wd, depth) for lr in lrs for wd in weight_decays for depth in depths]
    if len(grid) < 2:
        raise ValueError(f"at least two candidates are needed (learning rates x weight decays x depths), "
                         f"got {grid!r}")
    eval_every = eval_every or None
    # the students' teacher (role "student"): the paper commands', so they share it
    paper_teacher = TeacherConfig.paper(kind, dim=dim, epochs=epochs, seed=seed, eval_every=eval_every)
    role = "teacher"
    # every candidate's settings, checked before anything loads or trains
    if student_dim is None:
        configs = {(lr, wd, depth): TeacherConfig(kind=kind, dim=dim, epochs=epochs, seed=seed, lr=lr, weight_decay=wd,
                                                  eval_every=eval_every, depth=depth) for lr, wd, depth in grid}
    else:
        role = "student"
        configs = {(lr, wd, depth): RunConfig(method="student", dim=student_dim, epochs=epochs, kind=kind, seed=seed,
                                              lr=lr, weight_decay=wd, eval_every=eval_every)
                   for lr, wd, depth in grid}
    started = time.perf_counter()
    dataset = load_dataset(data, seed=seed)
    settings = {"dataset": dataset.summary(), "kind": kind, "role": role,
                "teacher": {"dim": dim, "epochs": epochs, "seed": seed, "eval_every": eval_every,
                            **({"lr": paper_teacher.lr, "weight_decay": paper_teacher.weight_decay}
                               if role == "student" else {})},
                **({"student": {"method": "student", "dim": student_dim, "epochs": epochs, "seed": seed,
                                "eval_every": eval_every}} if role == "student" else {})}
    stem = f"{name or dataset.name}_{kind}" + (f"_d{student_dim}" if role == "student" else "")
    partial = Path(out) / "partial" / f"{stem}_recipe.partial.json"
    finished = _finished_candidates(partial, settings)
    candidates = []
    with torch_threads(threads):
        if role == "student":
            teacher, _ = get_teacher(dataset, paper_teacher, progress=progress, threads=threads)
            teacher_sha256 = teacher_digest(teacher)   # one teacher for every candidate: hashed once
        for lr, wd, depth in grid:
            shown = _shown_depth(kind, depth)
            if (lr, wd, shown) in finished:
                candidates.append(finished[(lr, wd, shown)])
                continue
            if role == "teacher":
                model, history = get_teacher(dataset, configs[(lr, wd, depth)], progress=progress, threads=threads)
                extra = {}
            else:
                result = run_method(dataset, teacher, configs[(lr, wd, depth)], progress=progress, threads=threads)
                model, history = result.student, result.history
                extra = {"teacher_sha256": teacher_sha256}
            valid, test = (history.curve(CRITERION, split) for split in ("valid", "test"))
            if not valid[0] or valid[0][-1] != epochs:
                raise ValueError(f"the {role} at lr {lr:g}, weight decay {wd:g} has no validation {CRITERION} "
                                 f"after epoch {epochs}")
            candidates.append({"lr": lr, "weight_decay": wd, **({"depth": shown} if shown is not None else {}),
                               "valid": valid, "test": test,
                               "final_valid": valid[1][-1], "final_test": test[1][-1] if test[1] else None,
                               "seconds": history.seconds, "sha256": teacher_digest(model), **extra})
            write_json_atomic(partial, {**settings, "candidates": _merged(finished, candidates)})
    chosen = max(candidates, key=lambda c: c["final_valid"])
    payload = {**settings,
               "criterion": f"validation {CRITERION} after epoch {epochs}, higher is better",
               "candidates": candidates, "chosen_lr": chosen["lr"], "chosen_weight_decay": chosen["weight_decay"],
               **({"chosen_depth": chosen["depth"]} if "depth" in chosen else {}),
               "machine": machine_description(),
               "wall_seconds": time.perf_counter() - started}
    path = write_json_atomic(Path(out) / f"{stem}_recipe.json", payload)
    partial.unlink(missing_ok=True)
    for c in candidates:
        mark = "  <- chosen" if c is chosen else ""
        decay = f", weight decay {c['weight_decay']:g}" if len(weight_decays) > 1 else ""
        decay += f", depth {c['depth']}" if len(depths) > 1 else ""
        print(f"lr {c['lr']:g}{decay}: validation {CRITERION} {c['final_valid']:.4f}, "
              f"test {c['final_test']:.4f}{mark}")
    print(f"wrote {path}")
    return payload


def _shown_depth(kind: str, depth: int | None) -> int | None:
    """The depth a LightGCN candidate is written with (its default written out); None for BPR."""
    return (LIGHTGCN_DEPTH if depth is None else depth) if kind == "lightgcn" else None


def _key(candidate: dict) -> tuple:
    return candidate["lr"], candidate["weight_decay"], candidate.get("depth")


def _finished_candidates(partial: Path, settings: dict) -> dict[tuple, dict]:
    """The candidates an earlier run of the same command finished, by (lr, weight decay, depth); none when
    ``partial`` is missing or was written with other settings (said in one line)."""
    if not partial.exists():
        return {}
    stored = json.loads(partial.read_text())
    if {k: v for k, v in stored.items() if k != "candidates"} != json.loads(json.dumps(settings)):
        print(f"{partial.name} was written with other settings: ignored (it is replaced as candidates finish)")
        return {}
    found = {_key(c): c for c in stored["candidates"]}
    print(f"{partial.name}: {len(found)} finished candidate(s) reused")
    return found


def _merged(finished: dict[tuple, dict], candidates: list[dict]) -> list[dict]:
    """Every finished candidate, the earlier run's included, each once."""
    return list({**finished, **{_key(c): c for c in candidates}}.values())

"""Reproduce the paper's capacity-gap experiment with one command.

``python -m htd_tutorial reproduce --data ../shared/data/citeulike --dims 10 20 100 200 --epochs 100``
trains (or loads) the dim-200 teacher, then every method at every student dimension (and seed, with
``--seeds 0 1 2``), and writes a JSON table plus the capacity-gap figure. Each finished run is added to
the JSON at once; a run already in the JSON with the same configuration is kept, not trained again, so
a sweep resumes from the committed file even on a machine without the model cache (runs are cached
too, see :mod:`htd_tutorial.experiments`). The file's layout is described in
:mod:`htd_tutorial.paper.results`.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from ..cache import get_teacher
from ..choices import DEFAULT_EPOCHS, HEADLINE, MODEL_NAMES, PAPER_EVAL_EVERY, TEACHER_DIM
from ..data import load_dataset
from .._checks import integer as _check_int
from ..evaluation import evaluate
from ..config import RunConfig, TeacherConfig
from ..experiments import NotCachedError, run_method, teacher_digest, config_json
from ..training import machine_description, torch_threads
from .results import (AUTHORS_LOG, DEFAULT_SEEDS, METRICS, PAPER_DIMS, PAPER_METHODS, all_runs, finalise,
                      run_label, write_json_atomic)

__all__ = ["AUTHORS_LOG", "reproduce", "format_table", "write_json_atomic", "save_figure_atomic"]

def save_figure_atomic(fig, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG via a temporary file and a rename, then close it.

    As :func:`write_json_atomic`: a failure leaves the previous file as it was and no temporary
    file behind (its name is unique, so two processes saving the same figure cannot clash); the
    figure is closed either way.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp.png")
        os.close(fd)
        os.chmod(tmp, 0o644)
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        plt.close(fig)
    return path


def format_table(runs: list[dict], metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> str:
    """Plain-text table: one row per method, one column per dimension and metric."""
    dims = sorted({r["dim"] for r in runs})
    methods = list(dict.fromkeys(r["method"] for r in runs))
    head = "method   " + "".join(f"{f'{m} d={d}':>17}" for d in dims for m in metrics)
    lines = [head, "-" * len(head)]
    for method in methods:
        cells = []
        for d in dims:
            row = next((r for r in runs if r["method"] == method and r["dim"] == d), None)
            cells += [f"{row[m]:>17.4f}" if row else f"{'-':>17}" for m in metrics]
        lines.append(f"{method:<9}" + "".join(cells))
    return "\n".join(lines)



def _rates(lr: float, student_lr: float) -> str:
    """``"1e-3"``, or ``"1e-3 (students 5e-3)"`` when the students train at another rate."""
    return f"{lr:g}" if student_lr == lr else f"{lr:g} (students {student_lr:g})"


def _teacher_entry(teacher, history, metrics: dict, threads: int | None) -> dict:
    """The ``teachers`` entry of a teacher: SHA-256 of its embedding tables, metrics, seconds, threads."""
    return {"sha256": teacher_digest(teacher), **metrics, "seconds": history.seconds,
            "threads": history.config.get("threads", threads), "curve": history.curve()}


def _reference(dataset: str, kind: str, teacher_dim: int, teacher_epochs: int) -> dict | None:
    """The authors' published log for the experiment it was logged for (CiteULike, a BPR teacher of
    dim 200, 100 epochs), as the JSON's ``"reference"``; ``None`` for any other experiment (a LightGCN
    sweep, another dataset): their numbers are not a reference for it."""
    if (dataset, kind, teacher_dim, teacher_epochs) != ("citeulike", "bpr", TEACHER_DIM, DEFAULT_EPOCHS):
        return None
    return {"source": "authors' published log, test Recall@50 after 100 epochs", **AUTHORS_LOG}


def _previous(path: Path, experiment: dict) -> dict | None:
    """The results file at ``path`` if it holds the same experiment (dataset, teacher settings, settings);
    ``None`` if there is none. A file that cannot be read, or that holds another experiment, is a
    ``ValueError``: it is never replaced by a command that was not meant for it."""
    if not path.exists():
        return None
    try:
        payload = json.loads(path.read_text())
        runs = payload["runs"]
        if not isinstance(runs, list):
            raise TypeError("'runs' is not a list")
        stored = {"dataset": payload["dataset"], "settings": payload["settings"],
                  "teacher": {k: payload["teacher"].get(k, payload["settings"]["seed"] if k == "seed" else None)
                              for k in experiment["teacher"]}}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} exists but is not a results file this command can add to "
                         f"({type(exc).__name__}: {exc}); move it away or choose another --out/--name") from exc
    differs = [f"{block}.{key}" for block in ("dataset", "teacher", "settings")
               for key in sorted(set(stored[block]) | set(experiment[block]))
               if stored[block].get(key) != experiment[block].get(key)]
    if differs:
        raise ValueError(f"{path} holds another experiment (it differs in {', '.join(differs)}); "
                         "its runs cannot be mixed with these: choose another --out or --name")
    return payload


def reproduce(data: str, *, dims: tuple[int, ...] = PAPER_DIMS, methods: tuple[str, ...] = PAPER_METHODS,
              epochs: int = DEFAULT_EPOCHS, teacher_dim: int = TEACHER_DIM, teacher_epochs: int = DEFAULT_EPOCHS,
              kind: str = "bpr",
              mode: str = "authors", seeds: tuple[int, ...] = DEFAULT_SEEDS, teacher_seed: int = 0,
              eval_every: int | None = PAPER_EVAL_EVERY, out: str | Path = "results", name: str | None = None,
              progress: bool = True, cached_only: bool = False, threads: int | None = None,
              lr: float | None = None, student_lr: float | None = None, weight_decay: float | None = None,
              flush_denormal: bool = True) -> dict:
    """Run the sweep into ``<out>/<name>_<kind>.json`` and ``<out>/<name>_<kind>_capacity_gap.png``.

    Runs already in the JSON with the same configuration (and the same dataset, teacher settings and
    sweep settings: otherwise ``ValueError``, the file is left alone) are kept and not trained again;
    every other run is loaded from the model cache or trained, and added to the JSON as soon as it is
    done. So ``--seeds 0 1 2`` over several sessions assembles into one file.

    Parameters
    ----------
    data : str
        Dataset name or path (see :func:`htd_tutorial.data.load_dataset`).
    dims : tuple of int
        Student dimensions.
    methods : tuple of str
        Methods to run at each dimension.
    epochs, teacher_epochs : int
        Student and teacher training epochs (the paper: 100 each).
    teacher_dim : int
        Teacher dimension (the paper: 200).
    kind : str
        Base model, ``"bpr"`` or ``"lightgcn"``.
    mode : str
        HTD behaviour, ``"authors"`` or ``"clean"``.
    seeds : tuple of int
        The students' seeds; each (method, dim) is run once per seed.
    teacher_seed : int
        Seed of the one teacher (and of the data split, where the data is split here). Runs of this
        seed are the file's ``runs``; the others are ``other_seeds``.
    eval_every : int, optional
        Evaluation period (curves in the JSON).
    out : path
        Output folder.
    name : str, optional
        File-name stem (default: the dataset's name).
    progress : bool
    cached_only : bool
        Train no student: add the runs found in the model cache, list the others under ``"not_run"``.
        The teacher is still trained if it is not cached.
    threads : int, optional
        CPU threads for training and evaluation (default: the package's policy,
        :func:`htd_tutorial.training.training_threads`). Recorded with each run.
    flush_denormal : bool
        Train the students with subnormal floats flushed to zero (default; faster HTD and DE runs on many
        CPUs, other last digits: :func:`htd_tutorial.training.train`). The teacher is trained as
        :func:`~htd_tutorial.cache.get_teacher` trains it, whatever this says, so flushed and unflushed
        runs name the same teacher. Recorded with each run as ``flush_denormal``.
    lr : float, optional
        Adam's learning rate for the teacher and every student (default: the model's recipe,
        :data:`htd_tutorial.choices.RECIPE_LR`: BPR the paper's 1e-3, LightGCN the one chosen on the
        teacher's validation). It is part of the file's ``settings``: a file of another learning rate
        is refused, so a sweep at another one needs its own ``name``.
    student_lr : float, optional
        The students' learning rate when it is not ``lr`` (chosen, e.g., by ``recipe --student-dim``
        for the plain student); the teacher keeps ``lr``. Part of the file's ``settings`` (as
        ``"student_lr"``, only when it differs from ``lr``, so older files keep their settings).
    weight_decay : float, optional
        Adam's weight decay for the teacher and every student (default: the model's recipe,
        :data:`htd_tutorial.choices.RECIPE_WEIGHT_DECAY`). Part of the file's ``settings``, like ``lr``.

    Returns
    -------
    dict
        What was written to the JSON file.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    started = time.perf_counter()
    recipe = TeacherConfig.paper(kind)       # checks kind; the recipe's rate and decay unless given
    lr = recipe.lr if lr is None else lr
    weight_decay = recipe.weight_decay if weight_decay is None else weight_decay
    student_lr = lr if student_lr is None else student_lr
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {tuple(seeds)!r}")
    configs = [RunConfig(method=m, dim=d, epochs=epochs, kind=kind, mode=mode, seed=s, eval_every=eval_every or None,
                         lr=student_lr, weight_decay=weight_decay)
               for s in seeds for d in dims for m in methods]  # validates first
    if not configs:
        raise ValueError(f"nothing to run: dims={tuple(dims)!r} and methods={tuple(methods)!r} must both be non-empty")
    # the teacher's settings, checked before anything loads
    teacher = recipe.replace(dim=teacher_dim, epochs=teacher_epochs, seed=teacher_seed, lr=lr,
                             weight_decay=weight_decay, eval_every=eval_every or None)
    if threads is not None:
        _check_int("threads", threads, low=1)
    with torch_threads(threads):
        return _sweep(data, configs, teacher, epochs=epochs, mode=mode, out=Path(out),
                      name=name, progress=progress, cached_only=cached_only, threads=threads, started=started,
                      lr=lr, student_lr=student_lr, flush_denormal=bool(flush_denormal))


def _sweep(data, configs, teacher_config: TeacherConfig, *, epochs, mode, out, name, progress, cached_only, threads,
           started, lr, student_lr, flush_denormal) -> dict:
    kind, teacher_dim, teacher_epochs = teacher_config.kind, teacher_config.dim, teacher_config.epochs
    teacher_seed = teacher_config.seed
    dataset = load_dataset(data, seed=teacher_seed)
    stem = f"{name or dataset.name}_{kind}"
    path = out / f"{stem}.json"
    # the file's settings, read from the configurations (every run shares all but method, dim and seed);
    # the keys and their order are those of every stored file
    run = configs[0]
    settings = {"epochs": epochs, "mode": mode, "seed": teacher_seed,
                **{field: getattr(run, field) for field in ("lam", "K", "gamma", "group_topology")},
                "lr": lr, "weight_decay": teacher_config.weight_decay, "batch_size": teacher_config.batch_size}
    if student_lr != lr:
        settings["student_lr"] = student_lr
    experiment = {"dataset": dataset.summary(), "settings": settings,
                  "teacher": {"kind": kind, "dim": teacher_dim, "epochs": teacher_epochs, "seed": teacher_seed}}
    payload = _previous(path, experiment)  # before the teacher is trained: a wrong file fails in seconds
    earlier = (payload or {}).get("wall_seconds") or 0.0  # a resumed file sums every command's time
    teacher, t_history = get_teacher(dataset, teacher_config, progress=progress, threads=threads)
    teacher_metrics = evaluate(teacher, dataset)["test"]
    entry = _teacher_entry(teacher, t_history, teacher_metrics, threads)
    if payload is None:
        payload = {
            "dataset": experiment["dataset"],
            "teacher": {**experiment["teacher"], **teacher_metrics, "seconds": t_history.seconds,
                        "curve": t_history.curve(), "sha256": entry["sha256"], "threads": entry["threads"]},
            "settings": settings,
            "reference": _reference(dataset.name, kind, teacher_dim, teacher_epochs),
            "machine": machine_description(),
            "runs": [],
            "not_run": [],
        }
    payload.setdefault("teachers", [])
    if all(t["sha256"] != entry["sha256"] for t in payload["teachers"]):
        payload["teachers"].append({**entry, "trained": datetime.date.today().isoformat()})
    # The same weights can score a last bit apart (the thread count orders the evaluation's sums), so
    # the SHA-256 decides when the file has one, and otherwise a relative tolerance far below any effect.
    same_weights = payload["teacher"].get("sha256") == entry["sha256"]
    differs = {m: (payload["teacher"][m], teacher_metrics[m]) for m in METRICS
               if not math.isclose(payload["teacher"][m], teacher_metrics[m], rel_tol=1e-9)}
    if differs and not same_weights:
        print(f"Note: this teacher ({entry['sha256'][:12]}) is not the file's: "
              + ", ".join(f"{m} {new!r} (file: {old!r})" for m, (old, new) in differs.items())
              + "; each run records the teacher it used (teacher_sha256, see 'teachers').")
    stored = {config_json(r["config"]): r for r in all_runs(payload)}
    finalise(payload)
    session = {k: v for k, v in machine_description().items() if k in ("platform", "cpus", "torch")}
    requested, missing = 0, []
    for config in configs:
        label = run_label(config.method, config.dim, config.seed, teacher_seed)
        key = config_json(config)
        if key in stored:
            requested += 1
            row = stored[key]
            print(f"{label:>20}: test Recall@50 {row[HEADLINE]:.4f}  NDCG@50 {row['NDCG@50']:.4f}  (in the JSON)")
            continue
        try:
            result = run_method(dataset, teacher, config, progress=progress, train_missing=not cached_only,
                                threads=threads, flush_denormal=flush_denormal)
        except NotCachedError:
            missing.append(label)
            print(f"{label:>20}: not run yet (skipped: cached runs only)")
            continue
        requested += 1
        test = {k: v for k, v in result.history.metrics[-1].items() if k not in ("epoch", "split")}
        row = {"method": config.method, "dim": config.dim, "seed": config.seed, **test,
               "seconds": result.history.seconds, "threads": result.history.config.get("threads"),
               "flush_denormal": result.history.config.get("flush_denormal", False),
               "teacher_sha256": entry["sha256"], "from_cache": result.from_cache,
               "machine": {**session, "accelerator": result.history.config.get("accelerator")},
               "curve": result.history.curve(), "config": asdict(config)}
        payload["other_seeds"].append(row)  # finalise() files it under runs or other_seeds
        stored[key] = row
        payload["wall_seconds"] = earlier + time.perf_counter() - started
        write_json_atomic(path, finalise(payload))  # after every run: partial results survive
        print(f"{label:>20}: test Recall@50 {row[HEADLINE]:.4f}  NDCG@50 {row['NDCG@50']:.4f}"
              f"  ({'cached' if result.from_cache else f'{result.history.seconds:.0f} s'})")
    if not requested:
        raise ValueError(f"none of the {len(configs)} runs is cached yet: run without cached_only first")
    payload["not_run"] = list(payload["not_run"]) + missing
    payload["wall_seconds"] = earlier + time.perf_counter() - started
    write_json_atomic(path, finalise(payload))
    print(format_table(payload["summary"]))
    from ..plots import plot_capacity_gap
    methods = {e["method"] for e in payload["summary"]}
    logged = _reference(dataset.name, kind, teacher_dim, teacher_epochs)
    reference = {m: AUTHORS_LOG[m] for m in methods if m in AUTHORS_LOG} if logged else None
    fig = plot_capacity_gap(payload["summary"], teacher=payload["teacher"][HEADLINE], reference=reference,
                            title=f"Capacity gap on {dataset.name} ({MODEL_NAMES[kind]}, lr {_rates(lr, student_lr)}, "
                                  f"{epochs} epochs; "
                                  "mean ± s.e. over seeds where n ≥ 2)")
    figure_path = save_figure_atomic(fig, out / f"{stem}_capacity_gap.png")
    print(f"wrote {path} and {figure_path}")
    return payload

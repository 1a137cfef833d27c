"""Reproduce the paper's capacity-gap experiment with one command.

``python -m htd_tutorial reproduce --data ../shared/data/citeulike --dims 10 20 100 200 --epochs 100``
trains (or loads) the dim-200 teacher, then every method at every student dimension, each run
cached as soon as it finishes (so an interrupted sweep resumes where it stopped), and writes a
JSON table plus the capacity-gap figure.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..cache import get_teacher
from ..data import load_dataset
from ..evaluation import evaluate
from ..experiments import NotCachedError, RunConfig, run_method

__all__ = ["AUTHORS_LOG", "reproduce", "format_table", "write_json_atomic", "save_figure_atomic"]

#: Test Recall@50 after 100 epochs in the authors' published log (CiteULike, BPR, teacher dim 200),
#: as quoted in the shared data README; the reproduction compares against these.
AUTHORS_LOG = {
    "teacher": 0.3123,
    "student": {10: 0.1788, 20: 0.2276, 100: 0.2976, 200: 0.3152},
    "ftd": {10: 0.2112, 20: 0.2516, 100: 0.3116, 200: 0.3175},
    "htd": {10: 0.2282, 20: 0.2744, 100: 0.3116, 200: 0.3200},
}


def write_json_atomic(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` as indented JSON via a temporary file and a rename (never half-written).

    Whatever fails (a value JSON cannot hold, a full disk, the rename), the previous file at ``path``
    is left as it was and the temporary file is removed. NaN and infinite numbers are refused
    (``TypeError``/``ValueError`` naming the file): JSON has no such numbers, and a results file with
    them is a results file no strict reader (a browser, ``jq``) can open.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the results from the other users of a shared folder
            try:
                json.dump(payload, handle, indent=1, allow_nan=False)
            except (TypeError, ValueError) as exc:
                why = ("NaN and infinite numbers are not valid JSON" if "Out of range float" in str(exc)
                       else str(exc))
                raise type(exc)(f"{path} not written: {why}") from exc
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


def format_table(runs: list[dict], metrics: tuple[str, ...] = ("Recall@50", "NDCG@50")) -> str:
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


def reproduce(data: str, *, dims: tuple[int, ...] = (10, 20, 100, 200),
              methods: tuple[str, ...] = ("student", "de", "ftd", "htd"), epochs: int = 100,
              teacher_dim: int = 200, teacher_epochs: int = 100, kind: str = "bpr", mode: str = "authors",
              seed: int = 0, eval_every: int | None = 10, out: str | Path = "results",
              name: str | None = None, progress: bool = True, cached_only: bool = False) -> dict:
    """Run the sweep and write ``<out>/<name>_<kind>.json`` and ``<out>/<name>_<kind>_capacity_gap.png``.

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
    seed : int
    eval_every : int, optional
        Evaluation period (curves in the JSON).
    out : path
        Output folder.
    name : str, optional
        File-name stem (default: the dataset's name).
    progress : bool
    cached_only : bool
        Train no student: report the finished (cached) runs only and list the others under
        ``"not_run"`` (for a sweep finished over several sessions, e.g. ``--dims 10 20 100 200``
        when the large dimensions have only some methods done). The teacher is still trained
        if it is not cached.

    Returns
    -------
    dict
        What was written to the JSON file.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    started = time.perf_counter()
    configs = [RunConfig(method=m, dim=d, epochs=epochs, kind=kind, mode=mode, seed=seed,
                         eval_every=eval_every or None) for d in dims for m in methods]  # validates first
    if not configs:
        raise ValueError(f"nothing to run: dims={tuple(dims)!r} and methods={tuple(methods)!r} must both be non-empty")
    dataset = load_dataset(data, seed=seed)
    teacher, t_history = get_teacher(dataset, kind=kind, dim=teacher_dim, epochs=teacher_epochs, seed=seed,
                                     eval_every=eval_every or None, progress=progress)
    teacher_metrics = evaluate(teacher, dataset)["test"]
    stem = f"{name or dataset.name}_{kind}"
    payload = {
        "dataset": dataset.summary(),
        "teacher": {"kind": kind, "dim": teacher_dim, "epochs": teacher_epochs, **teacher_metrics,
                    "seconds": t_history.seconds, "curve": t_history.curve()},
        "settings": {"epochs": epochs, "mode": mode, "seed": seed, "lam": 1e-3, "K": 30, "gamma": 0.5,
                     "group_topology": "Pe", "lr": 1e-3, "weight_decay": 1e-3, "batch_size": 1024},
        "reference": {"source": "authors' published log, test Recall@50 after 100 epochs", **AUTHORS_LOG},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "runs": [],
        "not_run": [],
    }
    out = Path(out)
    for config in configs:
        try:
            result = run_method(dataset, teacher, config, progress=progress, train_missing=not cached_only)
        except NotCachedError:
            payload["not_run"].append(config.label)
            print(f"{config.label:>14}: not run yet (skipped: cached runs only)")
            continue
        test = {k: v for k, v in result.history.metrics[-1].items() if k not in ("epoch", "split")}
        row = {"method": config.method, "dim": config.dim, **test, "seconds": result.history.seconds,
               "from_cache": result.from_cache, "curve": result.history.curve(), "config": asdict(config)}
        payload["runs"].append(row)
        payload["wall_seconds"] = time.perf_counter() - started
        write_json_atomic(out / f"{stem}.json", payload)  # after every run: partial results survive
        print(f"{config.label:>14}: test Recall@50 {row['Recall@50']:.4f}  NDCG@50 {row['NDCG@50']:.4f}"
              f"  ({'cached' if result.from_cache else f'{result.history.seconds:.0f} s'})")
    if not payload["runs"]:
        raise ValueError(f"none of the {len(configs)} runs is cached yet: run without cached_only first")
    write_json_atomic(out / f"{stem}.json", payload)
    print(format_table(payload["runs"]))
    from ..plots import plot_capacity_gap
    reference = {m: AUTHORS_LOG[m] for m in methods if m in AUTHORS_LOG} if dataset.name == "citeulike" else None
    fig = plot_capacity_gap(payload["runs"], teacher=teacher_metrics["Recall@50"], reference=reference,
                            title=f"Capacity gap on {dataset.name} ({kind.upper()}, {epochs} epochs)")
    figure_path = save_figure_atomic(fig, out / f"{stem}_capacity_gap.png")
    print(f"wrote {out / f'{stem}.json'} and {figure_path}")
    return payload

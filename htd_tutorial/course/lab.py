"""Notebook 04's optional appendix, the lab on synthetic data: its runs, made once and stored.

The lab compares design choices on the course's synthetic data (planted user and item groups) with a
dimension-64 teacher and tiny students (:data:`recipes.LAB`): (P,P) against (P,e) and the authors' code
against the clean reading (:data:`DESIGNS`, over :data:`recipes.LAB_SEEDS`), a γ sweep and a K sweep
(one seed, with how well the learned groups match the planted ones), the ablation of the authors' code
(one switch at a time, over the lab seeds) and a LightGCN teacher. That is about 60 short runs, two
and a half minutes on 2 cores: more than an appendix of a lecture notebook should cost. So
``python -m htd_tutorial.course.lab`` makes them once and writes every table to
``data/lab_results.json`` (committed), and the notebook reads it in a second; with ``HTD_LAB_LIVE=1``,
or with lab settings other than the stored ones, the notebook trains the same tables live through
:func:`lab_tables` instead (the runs are cached, so a second look is quick).
``tests/course/test_lab.py`` retrains part of the lab and checks the stored numbers.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from .. import stored
from ..choices import HEADLINE
from ..evaluation import evaluate
from ..config import RunConfig
from ..paper.ablation import ablation_configs, run_ablation_grid
from ..paper.reproduce import write_json_atomic
from .analysis import group_ari, lab_teacher, run_grid, runs_frame
from .common import load_course_data
from .recipes import LAB, LAB_SEEDS, LabSettings

__all__ = ["LAB_FILE", "DESIGNS", "GAMMAS", "lab_ks", "run_lab", "save_lab", "load_lab",
           "lab_tables", "main"]

#: The lab's repository path (committed with the project; an installed package carries a copy).
LAB_NAME = "data/lab_results.json"
#: Where the lab is read from (:func:`htd_tutorial.stored.stored_file`, resolved on import; the readers
#: resolve it when called).
LAB_FILE = stored.stored_file(LAB_NAME)
#: The command that makes the file, named when it is missing.
LAB_COMMAND = "python -m htd_tutorial.course.lab"
#: Section 6.1's settings: (method, group topology, mode).
DESIGNS = (("student", "Pe", "authors"), ("ftd", "Pe", "authors"), ("htd", "Pe", "authors"),
           ("htd", "PP", "authors"), ("htd", "Pe", "clean"), ("htd", "PP", "clean"))
#: Section 6.2's γ sweep.
GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The ablation table's columns kept in the file (the switches are in ``label`` and ``changed``).
_ABLATION_COLUMNS = ("variant", "method", "seed", "label", HEADLINE, "NDCG@50", "seconds")


def lab_ks(K: int) -> list[int]:
    """Section 6.2's K sweep: 1 (nothing to find), 3 (the planted super-groups), ``K``, 27."""
    return sorted({1, 3, K, 27})


def run_lab(settings: LabSettings = LAB, *, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Train (or load from the model cache) every run of the lab; its tables by name.

    Returns ``teacher`` (the lab teacher's test metrics), ``designs`` (one row per run of
    :data:`DESIGNS` and seed), ``gamma`` (with ``ARI_super``), ``de`` (DE at the same settings), ``k``
    (with ``ARI_super``, ``ARI_sub`` and ``groups_used``), ``ablation`` (one row per variant and seed)
    and ``lightgcn`` (Student, FTD, HTD with a LightGCN teacher).
    """
    lab = load_course_data("synthetic", seed=settings.seed)
    teacher = lab_teacher(lab, seed=settings.seed, progress=progress)
    one = dict(seed=settings.seed, **settings.run)
    tables = {"teacher": pd.DataFrame([evaluate(teacher, lab, splits=("test",))["test"]])}
    tables["designs"] = runs_frame(run_grid(lab, teacher, [
        RunConfig(method=m, group_topology=g, mode=mode, seed=s, **settings.run)
        for s in LAB_SEEDS for m, g, mode in DESIGNS], progress=progress))
    gamma_runs = run_grid(lab, teacher, [RunConfig(method="htd", **one | {"gamma": g}) for g in GAMMAS],
                          progress=progress)
    tables["gamma"] = runs_frame(gamma_runs).assign(ARI_super=[group_ari(r, lab, level=0) for r in gamma_runs])
    tables["de"] = runs_frame(run_grid(lab, teacher, [RunConfig(method="de", **one)], progress=progress))
    k_runs = run_grid(lab, teacher, [RunConfig(method="htd", **one | {"K": k}) for k in lab_ks(settings.K)],
                      progress=progress)
    tables["k"] = runs_frame(k_runs).assign(ARI_super=[group_ari(r, lab, level=0) for r in k_runs],
                                            ARI_sub=[group_ari(r, lab, level=1) for r in k_runs],
                                            groups_used=[len(r.distiller.groups()[1].unique()) for r in k_runs])
    rows = run_ablation_grid(lab, teacher, ablation_configs(settings.dim, epochs=settings.epochs, K=settings.K,
                                                            lr=settings.lr, seeds=LAB_SEEDS),
                             progress=progress, epoch_bars=False)
    tables["ablation"] = pd.DataFrame([{c: row[c] for c in _ABLATION_COLUMNS} for row in rows])
    gcn_teacher = lab_teacher(lab, kind="lightgcn", seed=settings.seed, progress=progress)
    tables["lightgcn"] = runs_frame(run_grid(lab, gcn_teacher, [
        RunConfig(method=m, kind="lightgcn", **one) for m in ("student", "ftd", "htd")], progress=progress))
    return {name: table.drop(columns=["from_cache"], errors="ignore") for name, table in tables.items()}


def save_lab(tables: dict[str, pd.DataFrame], settings: LabSettings, path: str | Path | None = None, *,
             wall_seconds: float | None = None) -> None:
    """Write the lab's tables and settings to ``path`` (JSON, atomically; default
    :func:`htd_tutorial.stored.output_file` of :data:`LAB_NAME`)."""
    path = stored.output_file(LAB_NAME) if path is None else path
    write_json_atomic(path, {
        "what": "notebook 04's lab on synthetic data (htd_tutorial.course.lab): every table of its appendix",
        "settings": asdict(settings), "lab_seeds": list(LAB_SEEDS),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "wall_seconds": wall_seconds,
        "tables": {name: table.to_dict(orient="records") for name, table in tables.items()},
    })


def load_lab(path: str | Path | None = None) -> tuple[LabSettings, dict[str, pd.DataFrame]]:
    """The stored lab: its settings and its tables (as :func:`run_lab` returns them)."""
    import json

    path = stored.stored_file(LAB_NAME) if path is None else path
    try:
        payload = json.loads(Path(path).read_text())
        settings = LabSettings(**payload["settings"])
        if tuple(payload["lab_seeds"]) != tuple(LAB_SEEDS):
            raise ValueError(f"seeds {payload['lab_seeds']}, the recipe's are {list(LAB_SEEDS)}")
        tables = {name: pd.DataFrame(rows) for name, rows in payload["tables"].items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{Path(path).name} is not a stored lab ({error}); remake it with "
                         f"`{LAB_COMMAND}`") from error
    return settings, tables


def lab_tables(settings: LabSettings, *, live: bool = False,
               path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The lab's tables for ``settings``: the stored ones when they were made with these settings
    (and ``live`` is false), else trained now (:func:`run_lab`), saying which."""
    path = Path(stored.stored_file(LAB_NAME) if path is None else path)
    shown = stored.shown(path) or path.name
    if not live and path.exists():
        kept, tables = load_lab(path)
        if kept == settings:
            print(f"The lab's {sum(len(t) for t in tables.values())} rows are read from "
                  f"{shown} (made by `{LAB_COMMAND}`; HTD_LAB_LIVE=1 trains them here).")
            return tables
        print("These lab settings differ from the stored lab's: training the lab now.")
    elif not live:
        print(f"No stored lab: {shown} is missing (`{LAB_COMMAND}` makes it); training the lab now "
              "(about 3 minutes).")
    return run_lab(settings)


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.lab [--out FILE]``: train the shipped lab and store its tables."""
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help=f"where to write the JSON (default {LAB_NAME})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = LAB
    tables = run_lab(settings)
    save_lab(tables, settings, args.out, wall_seconds=round(time.perf_counter() - started, 1))
    out = stored.output_file(LAB_NAME) if args.out is None else Path(args.out)
    print(f"wrote {sum(len(t) for t in tables.values())} rows to {stored.shown(out) or out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

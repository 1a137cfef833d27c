"""The course's seed sweep: every comparison a lesson rests on, trained over several seeds.

A lesson such as "HTD helps the tiny student more than FTD" is a statement about a distribution of
training runs, not about one run. The sweep trains each method of :data:`recipes.COMPARED_METHODS`
with the course recipe :data:`recipes.DISTILL` at several seeds and writes every run's numbers to
``data/lesson_seeds.json`` (committed: a notebook reads it in a second instead of training for half
an hour). Notebook 02-05 train seed 0 live, show it, and draw their conclusions from the stored
seeds with :func:`htd_tutorial.course.evidence.compare`.

``python -m htd_tutorial.course.seeds`` runs the sweep (resumable: finished runs are cached and
also kept in the JSON; ``--workers 2`` trains two runs at a time, one CPU thread each) and
``--cached-only`` only assembles the JSON from runs already finished.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import stored
from ..choices import HEADLINE
from ..cache import tensor_digest
from ..evaluation import evaluate
from ..experiments import NotCachedError
from ..paper.reproduce import write_json_atomic
from ..topology import topology_report
from . import recipes
from .common import SEED, course_teacher, load_course_data
from .lessons import distill_run, item_table

__all__ = ["SweepRun", "sweep_runs", "run_sweep", "SEEDS_FILE", "main"]

#: The sweep's repository path (committed with the project; an installed package carries a copy).
SEEDS_NAME = "data/lesson_seeds.json"
#: Where the sweep is read from (:func:`htd_tutorial.stored.stored_file`, resolved on import; the readers
#: resolve it when called).
SEEDS_FILE = stored.stored_file(SEEDS_NAME)
#: The command that makes the file, named when it is missing.
SEEDS_COMMAND = "python -m htd_tutorial.course.seeds --workers 2"
#: Test metrics stored per run.
STORED_METRICS = ("Recall@10", "NDCG@10", "Recall@20", "NDCG@20", HEADLINE, "NDCG@50")
#: Topology fidelity stored per run (:func:`htd_tutorial.topology.topology_report` of the item space).
FIDELITY_MEASURES = ("kl_topk", "kl_random", "knn_overlap", "spearman")


@dataclass(frozen=True)
class SweepRun:
    """One run of the sweep: a method at a student dimension, seed and learning rate."""

    method: str
    dim: int
    seed: int
    lr: float
    group: str  # which part of the sweep asked for it: "lessons", "curve", "check" or "tuning"


def sweep_runs() -> list[SweepRun]:
    """The sweep's runs, most important first, without repeats.

    1. ``lessons``: student, FTD and HTD at :data:`~recipes.SMALL_DIM` and :data:`~recipes.LARGE_DIM`,
       seeds :data:`~recipes.LESSON_SEEDS`, the recipe's learning rate;
    2. ``tuning``: the same three methods at every learning rate of :data:`~recipes.TUNED_LRS`, seeds
       :data:`~recipes.CURVE_SEEDS` (the fair baseline: every method gets the same search);
    3. ``check``: the lesson and tuning runs at :data:`~recipes.CHECK_SEEDS`, seeds no lesson was
       written with;
    4. ``pointwise``: the point-wise FitNet hint at the lesson dimensions, the lesson and check seeds;
    5. ``curve``: student, FTD and HTD at every :data:`~recipes.STUDENT_DIMS`, seeds
       :data:`~recipes.CURVE_SEEDS` (the crossover curve of notebook 04);
    6. ``de``: DE on the curve (last: the most expensive method, and no lesson rests on it alone;
       it is not in the learning-rate search).
    """
    lr = recipes.DISTILL.lr
    lesson_dims = (recipes.SMALL_DIM, recipes.LARGE_DIM)
    core = tuple(m for m in recipes.COMPARED_METHODS if m != "de")
    wanted = [SweepRun(m, d, s, lr, "lessons") for s in recipes.LESSON_SEEDS for d in lesson_dims for m in core]
    wanted += [SweepRun(m, d, s, r, "tuning") for r in recipes.TUNED_LRS for s in recipes.CURVE_SEEDS
               for d in lesson_dims for m in core]
    wanted += [SweepRun(m, d, s, r, "check") for r in recipes.TUNED_LRS for s in recipes.CHECK_SEEDS
               for d in lesson_dims for m in core]
    wanted += [SweepRun("fitnet", d, s, lr, "pointwise") for s in recipes.LESSON_SEEDS + recipes.CHECK_SEEDS
               for d in lesson_dims]
    wanted += [SweepRun(m, d, s, lr, "curve") for s in recipes.CURVE_SEEDS for d in recipes.STUDENT_DIMS
               for m in core]
    wanted += [SweepRun("de", d, s, lr, "de") for s in recipes.CURVE_SEEDS for d in recipes.STUDENT_DIMS]
    seen, runs = set(), []
    for run in wanted:
        key = (run.method, run.dim, run.seed, run.lr)
        if key not in seen:
            seen.add(key)
            runs.append(run)
    return runs


def _record(result, run: SweepRun, teacher_items) -> dict:
    """The JSON row of one finished run: test metrics, validation metrics (for the learning-rate
    choice), how much of the teacher's item topology the student keeps, and the training time."""
    history = result.history
    row = {"method": run.method, "dim": run.dim, "seed": run.seed, "lr": run.lr}
    row.update({m: history.final(m) for m in STORED_METRICS})
    row.update({f"valid {m}": history.final(m, split="valid") for m in (HEADLINE, "NDCG@50")})
    fidelity = topology_report(item_table(result.student), teacher_items, seed=SEED)
    row.update({m: fidelity[m] for m in FIDELITY_MEASURES})
    row["seconds"] = round(history.seconds, 2)
    return row


def _train_share(args: tuple[int, int, bool]) -> list[dict]:
    """Train (or load) every ``workers``-th run starting at ``index``; return their rows."""
    index, workers, train_missing = args
    data = load_course_data(verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)
    teacher_items = item_table(teacher)
    rows = []
    for run in sweep_runs()[index::workers]:
        try:
            result = distill_run(data, teacher, run.method, run.dim, seed=run.seed, lr=run.lr, progress=False,
                                 train_missing=train_missing)
        except NotCachedError:
            continue
        rows.append(_record(result, run, teacher_items))
        print(f"{run.method:>7} d={run.dim:<3} seed {run.seed} lr {run.lr:g}: "
              f"Recall@50 {rows[-1][HEADLINE]:.4f} ({'cached' if result.from_cache else f'{result.history.seconds:.0f} s'})",
              flush=True)
    return rows


def run_sweep(*, workers: int = 1, cached_only: bool = False, out: str | Path | None = None) -> dict:
    """Train the sweep (``workers`` runs at a time) and write the JSON (default
    :func:`htd_tutorial.stored.output_file` of :data:`SEEDS_NAME`); return what was written."""
    out = stored.output_file(SEEDS_NAME) if out is None else Path(out)
    started = time.perf_counter()
    data = load_course_data(verbose=False)
    teacher, _ = course_teacher(data, progress=True, verbose=True)  # once, before the workers load it
    users, items = teacher.all_embeddings()
    shares = [(i, workers, not cached_only) for i in range(workers)]
    if workers == 1:
        parts = [_train_share(shares[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_train_share, shares)
    order = {(r.method, r.dim, r.seed, r.lr): i for i, r in enumerate(sweep_runs())}
    rows = sorted((row for part in parts for row in part),
                  key=lambda row: order[(row["method"], row["dim"], row["seed"], row["lr"])])
    payload = {
        "what": "the course's seed sweep (htd_tutorial.course.seeds): final test metrics of every run",
        "dataset": data.summary(),
        "teacher": {**asdict(recipes.TEACHER.replace(seed=SEED)), **evaluate(teacher, data)["test"],
                    "digest": tensor_digest({"users": users.detach(), "items": items.detach()})},
        "recipe": asdict(recipes.DISTILL),
        "seeds": {"lessons": list(recipes.LESSON_SEEDS), "check": list(recipes.CHECK_SEEDS),
                  "curve": list(recipes.CURVE_SEEDS)},
        "tuned_lrs": list(recipes.TUNED_LRS),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "runs": rows,
        "missing": len(order) - len(rows),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(out, payload)
    print(f"wrote {len(rows)} runs ({payload['missing']} missing) to {stored.shown(out) or out}")
    return payload


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.seeds [--workers N] [--cached-only]``."""
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, choices=range(1, 9), metavar="N",
                        help="runs trained at a time, one CPU thread each (default 1)")
    parser.add_argument("--cached-only", action="store_true", help="train nothing; assemble the finished runs")
    args = parser.parse_args(argv)
    run_sweep(workers=args.workers, cached_only=args.cached_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

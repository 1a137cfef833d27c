"""Distillation speed on CiteULike: seconds per epoch of Student, FTD and HTD (authors' and clean mode).

Usage (from the repository root, after `make install`):

    .venv/bin/python benchmarks/bench_methods.py            # about 10 minutes on 2 cores

Batch 1024, teacher dim 200: by default the trained CiteULike teacher that ``reproduce`` and the evidence
map distil from (BPR, 100 epochs; loaded from the model cache, trained there first if missing, a few
minutes). Student's and FTD's speed does not depend on what the teacher learned, HTD's does: from random
tables (``--teacher random``, this file's setting until stop 42) its assignment stays soft for four
dense epochs and seven half-dense ones, which no run of the course or the paper commands meets; a
trained teacher once drove its expert weights into subnormal floats. Student dim 20, K = 30, the paper's
dense Adam. Each method trains a short run of ``--epochs``
epochs; HTD's Gumbel temperature follows the same schedule as in a 100-epoch run, compressed
(tau = 1e-10 ** (epoch / epochs)), so the run's mean epoch time estimates a 100-epoch run's
mean. The first epoch (tau = 1, every expert weight non-zero) is HTD's slowest and is reported
separately. Targets (2-core CPU): FTD <= 1.3 s/epoch, HTD <= 13 s/epoch; the authors' code:
13 s (FTD) and 65 s (HTD). Writes benchmarks/results/methods.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from htd_tutorial._threads import apply_thread_policy  # noqa: E402

apply_thread_policy()  # the package's OpenMP thread policy, before torch loads (importing htd_tutorial does it too)
import torch  # noqa: E402
from htd_tutorial.cache import get_teacher  # noqa: E402
from htd_tutorial.config import TeacherConfig  # noqa: E402
from htd_tutorial.data import citeulike_dir, load_interactions  # noqa: E402
from htd_tutorial.distill import make_distiller  # noqa: E402
from htd_tutorial.models import make_model  # noqa: E402
from htd_tutorial.paper.reproduce import write_json_atomic  # noqa: E402
from htd_tutorial.training import train  # noqa: E402

#: Where HTD's teacher tables come from (``--teacher``).
TEACHERS = ("trained", "random")
#: The trained teacher: the paper commands' (:meth:`~htd_tutorial.config.TeacherConfig.paper`), so the
#: model cache holds it once ``reproduce`` or the evidence map ran.
TRAINED_TEACHER = TeacherConfig.paper("bpr")
SETTINGS = [("student", "authors"), ("ftd", "authors"), ("ftd", "clean"), ("htd", "authors"), ("htd", "clean")]


def load() -> str:
    """The 1-minute load average, to say how busy the machine was."""
    return f"{os.getloadavg()[0]:.2f}"


def git_commit() -> str:
    """The short commit id of the checkout being measured (empty outside a git checkout)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent).stdout.strip()


def random_teacher(data, dim: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random teacher tables (users, items) of width ``dim`` (HTD's epoch times differ from a trained teacher's)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(data.n_users, dim, generator=gen) * 0.1,
            torch.randn(data.n_items, dim, generator=gen) * 0.1)


def trained_teacher(data) -> tuple[tuple[torch.Tensor, torch.Tensor], dict]:
    """The trained teacher's tables (users, items) and what identifies it in the results."""
    teacher, history = get_teacher(data, TRAINED_TEACHER, progress=False)
    users, items = teacher.all_embeddings()
    return (users.detach(), items.detach()), {"kind": TRAINED_TEACHER.kind, "dim": TRAINED_TEACHER.dim,
                                              "epochs": TRAINED_TEACHER.epochs, "seconds": history.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(citeulike_dir()))
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs of each short run (20: HTD's soft-temperature share is as in 100 epochs)")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--only", nargs="+", default=None, help="subset, e.g. htd_authors htd_clean")
    parser.add_argument("--teacher", choices=TEACHERS, default=TEACHERS[0],
                        help="HTD's teacher: the paper commands' trained one (default) or random tables")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "methods.json"))
    args = parser.parse_args()
    data = load_interactions(args.data, name="citeulike")
    if args.teacher == "trained":
        (t_users, t_items), teacher = trained_teacher(data)
    else:
        (t_users, t_items), teacher = random_teacher(data, 200), {"kind": "random", "dim": 200}
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                           "threads": torch.get_num_threads(), "load_before": load(),
                           "commit": git_commit()},
               "settings": {"batch_size": 1024, "teacher_dim": 200, "student_dim": args.dim, "K": 30,
                            "epochs": args.epochs, "teacher": teacher}, "seconds_per_epoch": {}}
    previous = json.loads(Path(args.out).read_text())["seconds_per_epoch"] if Path(args.out).exists() else {}
    for method, mode in SETTINGS:
        if args.only and f"{method}_{mode}" not in args.only:
            if f"{method}_{mode}" in previous:  # keep what an earlier run measured (its row names its commit)
                results["seconds_per_epoch"][f"{method}_{mode}"] = previous[f"{method}_{mode}"]
            continue
        distiller = make_distiller(method, t_users, t_items, args.dim, mode=mode, n_users=data.n_users,
                                   n_items=data.n_items)
        model = make_model("bpr", data, args.dim, seed=0)
        history = train(model, data, epochs=args.epochs, distiller=distiller, eval_every=0,
                        desc=f"{method} ({mode})")
        per_epoch = [record["seconds"] for record in history.losses]
        row = {"first_epoch": per_epoch[0], "mean": sum(per_epoch) / len(per_epoch), "epochs": per_epoch,
               "n_epochs": args.epochs, "teacher": args.teacher, "load_after": load(),
               "commit": results["machine"]["commit"]}
        results["seconds_per_epoch"][f"{method}_{mode}"] = row
        print(f"{method:>7} ({mode:>7}): first epoch {row['first_epoch']:6.2f} s, mean {row['mean']:6.2f} s/epoch"
              f"  (load {row['load_after']})")
    write_json_atomic(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

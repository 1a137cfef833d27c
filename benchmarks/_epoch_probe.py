"""Epoch timings of whatever ``htd_tutorial`` is first on ``sys.path``: run by ``bench_commits.py`` once per
checkout, so an old and a new commit are timed by the same code in one run. Uses only the API both have.

    python _epoch_probe.py lightgcn DATA_DIR --dims 20 200 --batches 20
    python _epoch_probe.py htd DATA_DIR --epochs 20 [--teacher TABLES.npz]

Prints one JSON object on its last line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import htd_tutorial  # noqa: F401  (the package's thread policy, before torch)
import numpy as np
import torch
from htd_tutorial.data import load_interactions
from htd_tutorial.distill import make_distiller
from htd_tutorial.losses import bpr_loss
from htd_tutorial.models import make_model
from htd_tutorial.optim import make_optimizer
from htd_tutorial.sampling import TripleSampler
from htd_tutorial.training import train

PARTS = ("sample", "forward", "backward", "adam")


def epoch_parts(data, kind: str, dim: int, batches: int) -> dict:
    """Median seconds per batch of each part of a training step, and that times the batches of an epoch."""
    model = make_model(kind, data, dim, seed=0)
    opt = make_optimizer("adam", model.parameters(), lr=1e-3, weight_decay=1e-3)
    sampler = TripleSampler(data, 1024, seed=0)
    samples = {part: [] for part in PARTS}
    steps = iter(sampler)
    for step in range(batches + 2):               # two warm-up steps
        t0 = time.perf_counter()
        users, pos, neg = next(steps)
        u_ids, u_inv = torch.unique(users, return_inverse=True)
        i_ids, i_inv = torch.unique(torch.cat([pos, neg]), return_inverse=True)
        t1 = time.perf_counter()
        s_users, s_items = model.embed(u_ids, i_ids)
        loss = bpr_loss(s_users[u_inv], s_items[i_inv[: len(pos)]], s_items[i_inv[len(pos):]])
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if step >= 2:
            for part, a, b in zip(PARTS, (t0, t1, t2, t3), (t1, t2, t3, t4)):
                samples[part].append(b - a)
    per_batch = {part: statistics.median(v) for part, v in samples.items()}
    return {"kind": kind, "dim": dim, "ms_per_batch": {p: 1e3 * v for p, v in per_batch.items()},
            "epoch_seconds": sum(per_batch.values()) * len(sampler), "batches_per_epoch": len(sampler)}


def htd_epochs(data, epochs: int, dim: int = 20, teacher: str | None = None) -> dict:
    """Seconds of each epoch of a short HTD run (authors' mode, the package's defaults) from a random teacher,
    or from the tables (``users``, ``items``) in the ``.npz`` file ``teacher``: a trained teacher is where
    the expert weights decayed into subnormal floats."""
    if teacher:
        with np.load(teacher) as tables:
            t_users, t_items = torch.from_numpy(tables["users"]), torch.from_numpy(tables["items"])
    else:
        gen = torch.Generator().manual_seed(0)
        t_users = torch.randn(data.n_users, 200, generator=gen) * 0.1
        t_items = torch.randn(data.n_items, 200, generator=gen) * 0.1
    distiller = make_distiller("htd", t_users, t_items, dim, mode="authors", n_users=data.n_users,
                               n_items=data.n_items)
    history = train(make_model("bpr", data, dim, seed=0), data, epochs=epochs, distiller=distiller,
                    eval_every=0, progress=False)
    seconds = [row["seconds"] for row in history.losses]
    return {"epochs": seconds, "mean": statistics.mean(seconds), "median": statistics.median(seconds),
            "slowest": max(seconds), "flush_denormal": history.config.get("flush_denormal", False),
            "threads": history.config.get("threads")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("lightgcn", "htd"))
    parser.add_argument("data")
    parser.add_argument("--dims", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--teacher", default=None, help="HTD: the teacher's tables (.npz: users, items)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_interactions(args.data, name="citeulike")
    if args.what == "lightgcn":
        out = {"rows": [epoch_parts(data, kind, dim, args.batches) for dim in args.dims
                        for kind in ("bpr", "lightgcn")]}
    else:
        out = htd_epochs(data, args.epochs, teacher=args.teacher)
    out["package"] = str(Path(htd_tutorial.__file__).parent)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

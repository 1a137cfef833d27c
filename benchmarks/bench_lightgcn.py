"""LightGCN propagation on CiteULike: autograd's sparse product against the package's symmetric one.

One LightGCN training step propagates every embedding through ``n_layers`` products with the
normalised adjacency ``Â`` and back. Autograd's backward of ``torch.sparse.mm(Â, x)`` (COO)
transposes ``Â`` on every call; :class:`htd_tutorial.models._SymmetricPropagation` uses ``Âᵀ = Â``
and, for narrow embeddings, a CSR copy (:data:`htd_tutorial.models.CSR_MAX_WIDTH`). This times three layers forward plus backward (the mean of the layers, as
:meth:`htd_tutorial.models.LightGCN.all_embeddings` forms it), interleaving the two versions, and
reports the median per batch and that times the 113 batches of a CiteULike epoch.

Usage (from the repository root; needs the CiteULike split, ``--data`` or ``$HTD_CITEULIKE``)::

    .venv/bin/python benchmarks/bench_lightgcn.py [--repeats 10] [--threads 1]

Writes ``benchmarks/results/lightgcn.json``.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from htd_tutorial._threads import apply_thread_policy  # noqa: E402

apply_thread_policy()  # before torch loads, as in a learner's process
import torch  # noqa: E402

from htd_tutorial.data import load_dataset  # noqa: E402
from htd_tutorial.models import LightGCN  # noqa: E402
from htd_tutorial.paper.results import write_json_atomic  # noqa: E402

BATCHES_PER_EPOCH = 113  # CiteULike: 115,142 training pairs / batch 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("HTD_CITEULIKE", str(ROOT.parent / "shared/data/citeulike")))
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per version and dim (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the paper runs)")
    parser.add_argument("--dims", type=int, nargs="+", default=[20, 200])
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1 or any(d < 1 for d in args.dims):
        parser.error("--repeats, --threads and --dims must be >= 1")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_dataset(args.data)
    rows = []
    for dim in args.dims:
        model = LightGCN(data, dim, generator=torch.Generator().manual_seed(0))
        coo = model.adjacency

        def autograd_version():
            layer = total = torch.cat([model.user_weight, model.item_weight])
            for _ in range(model.n_layers):
                layer = torch.sparse.mm(coo, layer)
                total = total + layer
            return total / (model.n_layers + 1)

        def package_version():
            return torch.cat(model.all_embeddings())

        upstream = torch.randn(data.n_users + data.n_items, dim, generator=torch.Generator().manual_seed(1))
        samples = {"autograd": [], "symmetric": []}
        for repeat in range(args.repeats + 1):  # the first round warms up
            for name, forward in (("autograd", autograd_version), ("symmetric", package_version)):
                model.zero_grad(set_to_none=True)
                started = time.perf_counter()
                (forward() * upstream).sum().backward()  # a dense gradient, as a loss gives
                if repeat:
                    samples[name].append(time.perf_counter() - started)
        medians = {name: statistics.median(values) for name, values in samples.items()}
        rows.append({"dim": dim, **{f"{n} s/batch": v for n, v in medians.items()},
                     **{f"{n} s/epoch": v * BATCHES_PER_EPOCH for n, v in medians.items()},
                     "speed-up": medians["autograd"] / medians["symmetric"], "samples": samples})
        print(f"dim {dim:>4}: autograd {medians['autograd'] * 1e3:7.1f} ms/batch, symmetric "
              f"{medians['symmetric'] * 1e3:7.1f} ms/batch, {rows[-1]['speed-up']:.2f}x", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    payload = {"what": __doc__.splitlines()[0], "commit": commit, "threads": args.threads,
               "repeats": args.repeats, "load_average": os.getloadavg(),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
               "rows": rows}
    write_json_atomic(ROOT / "benchmarks" / "results" / "lightgcn.json", payload)
    return payload


if __name__ == "__main__":
    main()

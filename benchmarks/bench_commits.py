"""An old and a new commit timed side by side in one run: HTD epochs and LightGCN's epoch, part by part.

Machines differ from run to run, and a busy machine slows everything: a speed-up is only read as a ratio
of two measurements taken in the same run. This script checks the old commit out into a git worktree
(``build/worktrees/<commit>``), runs ``_epoch_probe.py`` (the same timing code) against each checkout in
turn, alternating, and writes both with their ratios to ``benchmarks/results/commits.json``::

    .venv/bin/python benchmarks/bench_commits.py --old 8088d6c~3 [--new HEAD] [--rounds 2] [--htd-epochs 20]

What it reports (CiteULike, batch 1024, one thread unless ``--threads``):

- ``lightgcn``: median milliseconds per batch of sampling, forward, backward and Adam, for BPR and
  LightGCN at each dimension, the epoch they add up to, and LightGCN's epoch over BPR's;
- ``htd``: the seconds of each epoch of a ``--htd-epochs`` HTD run (authors' mode, the package's default
  settings of that commit), its mean, median and slowest epoch; from a random teacher, or with
  ``--teacher TABLES.npz`` (``users``, ``items``: e.g. the trained CiteULike teacher) from that one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from htd_tutorial.paper.results import write_json_atomic  # noqa: E402

PROBE = Path(__file__).resolve().parent / "_epoch_probe.py"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def checkout(commit: str) -> Path:
    """A worktree of ``commit`` (made once; never the working tree, whose files may be mid-edit)."""
    sha = git("rev-parse", "--short", commit)
    tree = ROOT / "build" / "worktrees" / sha
    if not tree.exists():
        git("worktree", "add", "--detach", str(tree), sha)
    return tree


def probe(tree: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, str(PROBE), *args], cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"probe failed in {tree}:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["package"] = Path(result["package"]).relative_to(ROOT).as_posix()   # no machine path in the file
    return result


def _teacher_record(path: str | None) -> dict:
    """What HTD distilled from: random tables, or a file named with its SHA-256."""
    if not path:
        return {"tables": "random"}
    import hashlib
    return {"tables": Path(path).name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--data", default=os.environ.get("HTD_CITEULIKE_DIR", str(ROOT.parent / "shared/data/citeulike")))
    parser.add_argument("--rounds", type=int, default=2,
                        help="LightGCN probes per commit, alternating (median); 0: none")
    parser.add_argument("--htd-epochs", type=int, default=20, help="0: no HTD run")
    parser.add_argument("--dims", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "commits.json"))
    parser.add_argument("--teacher", default=None, help="HTD's teacher tables (.npz: users, items); default random")
    args = parser.parse_args()
    commits = {"old": git("rev-parse", "--short", args.old), "new": git("rev-parse", "--short", args.new)}
    trees = {role: checkout(sha) for role, sha in commits.items()}
    common = [args.data, "--threads", str(args.threads)]
    lightgcn = {role: [] for role in trees}
    for _ in range(args.rounds):
        for role, tree in trees.items():
            lightgcn[role].append(probe(tree, "lightgcn", *common, "--dims", *map(str, args.dims))["rows"])
            print(f"lightgcn probe done: {role}", flush=True)
    table = []
    for i, first in enumerate(lightgcn["old"][0] if args.rounds else []):
        row = {"kind": first["kind"], "dim": first["dim"]}
        for role in trees:
            runs = [rounds[i] for rounds in lightgcn[role]]
            row[role] = {"epoch_seconds": statistics.median(r["epoch_seconds"] for r in runs),
                         "ms_per_batch": {p: statistics.median(r["ms_per_batch"][p] for r in runs)
                                          for p in runs[0]["ms_per_batch"]}}
        row["old/new"] = row["old"]["epoch_seconds"] / row["new"]["epoch_seconds"]
        table.append(row)
    for row in table:
        if row["kind"] == "lightgcn":
            bpr = next(r for r in table if r["kind"] == "bpr" and r["dim"] == row["dim"])
            row["over_bpr"] = {role: row[role]["epoch_seconds"] / bpr[role]["epoch_seconds"] for role in trees}
    htd = {}
    if args.htd_epochs:
        for role, tree in trees.items():
            htd[role] = probe(tree, "htd", *common, "--epochs", str(args.htd_epochs),
                              *(["--teacher", str(Path(args.teacher).resolve())] if args.teacher else []))
            print(f"htd {role}: mean {htd[role]['mean']:.1f} s, slowest {htd[role]['slowest']:.1f} s", flush=True)
        htd["old/new mean"] = htd["old"]["mean"] / htd["new"]["mean"]
    payload = {"what": __doc__.splitlines()[0], "commits": commits, "threads": args.threads,
               "load_average_after": os.getloadavg(),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
               "teacher": _teacher_record(args.teacher), "lightgcn": table, "htd": htd}
    write_json_atomic(args.out, payload)
    for row in table:
        extra = f", over BPR {row['over_bpr']['old']:.1f}x -> {row['over_bpr']['new']:.1f}x" if "over_bpr" in row else ""
        print(f"{row['kind']:>8} d={row['dim']:<4} epoch {row['old']['epoch_seconds']:6.1f} s -> "
              f"{row['new']['epoch_seconds']:6.1f} s ({row['old/new']:.2f}x){extra}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

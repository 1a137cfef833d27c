"""Thread policy on CiteULike: torch's OpenMP wait settings timed on an idle and on a busy CPU.

Usage (from the repository root, after `make install`):

    .venv/bin/python benchmarks/bench_threads.py            # the full measurement (about 10 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_threads.py --quick    # a smoke run of the script (about 3 minutes)

torch's CPU kernels run on OpenMP threads that, between two operations, spin or sleep; the runtime
(GNU libgomp in torch 2.13's Linux wheels) reads how from the environment once, when torch is imported.
So each setting runs in a fresh Python process with its environment set before the start, twice:
on the idle machine, and with one competing CPU-bound process (``python -c "while True: pass"``,
started just before and killed just after that process, always) on the same cores. The settings
(``DEFAULT_SETTINGS`` by default, any of ``SETTINGS`` with ``--settings``): ``OMP_WAIT_POLICY=PASSIVE``
(sleep at once), ``ACTIVE`` (spin for minutes), bounded spins (``GOMP_SPINCOUNT=N`` with ``PASSIVE``;
libgomp's own default, with nothing set, is N = 300000), one torch thread, "adaptive" (a bounded spin,
and training drops to one thread while other processes keep a core busy:
:class:`htd_tutorial._threads.CpuContention`), and ``package``: nothing set, so ``htd_tutorial``
applies its policy (:data:`htd_tutorial._threads.THREAD_ENV`) and ``train()`` picks its own thread
count, exactly as in a learner's process. The other settings train on exactly torch's thread count (2
on 2 cores, or 1) unless adaptive. Whatever the caller's environment says about OpenMP is replaced.

Rows (batch 1024, the paper's dense Adam, random teacher tables: speed does not depend on what a
teacher learned), each after a short warm-up run:

- ``bpr_d200_epoch``: one BPR epoch at dim 200;
- ``ftd_d20_epoch``: one FTD epoch, student dim 20 (authors' mode);
- ``htd_d20_first_epoch``: HTD's first epoch (dim 20, K = 30, authors' mode, Gumbel temperature 1:
  its slowest epoch), estimated from its first ``--htd-batches`` batches, scaled to the epoch's
  batch count (the epoch's up-front negative sampling is scaled with them: a slight overestimate);
- ``evaluation_d200``: one full evaluation (valid + test) at dim 200.

Each row's figure is the median of ``--repeats`` runs. A training run that passes ``--cap`` seconds
stops early and is scaled like HTD's (marked ``capped``: settings that fall off the cliff are not
waited for), and a capped row is not repeated. Writes ``benchmarks/results/threads.json`` with the
machine, the commit, every sample and a table, and prints the table: idle seconds against ACTIVE's,
busy seconds against PASSIVE's.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from htd_tutorial._threads import THREAD_ENV, WAIT_VARS  # noqa: E402  (first: torch loads after the policy is set)

#: Environment variables that steer the OpenMP runtimes; each setting starts from none of them.
OPENMP_VARS = (*WAIT_VARS, "OMP_NUM_THREADS", "OMP_DISPLAY_ENV")
#: name -> (environment, torch threads or None for torch's default, adaptive training threads)
SETTINGS: dict[str, tuple[dict[str, str], int | None, bool]] = {
    "PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, None, False),
    "ACTIVE": ({"OMP_WAIT_POLICY": "ACTIVE"}, None, False),
    "spin 300k (unset)": ({"GOMP_SPINCOUNT": "300000"}, None, False),
    "spin 100k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "100000"}, None, False),
    "spin 30k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"}, None, False),
    "spin 10k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}, None, False),
    "spin 3k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}, None, False),
    "1 thread": ({"OMP_WAIT_POLICY": "PASSIVE"}, 1, False),
    "adaptive, spin 3k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}, None, True),
    "adaptive, spin 30k": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"}, None, True),
}
PACKAGE = "package"
#: what a plain run measures, in this order after PASSIVE and ACTIVE (about 10 minutes on an idle 2-core
#: CPU; when --budget runs out the last ones are skipped); the others: --settings
DEFAULT_SETTINGS = ["adaptive, spin 3k", PACKAGE, "adaptive, spin 30k", "1 thread", "spin 3k"]
ROWS = ("bpr_d200_epoch", "ftd_d20_epoch", "htd_d20_first_epoch", "evaluation_d200")
LOADS = ("idle", "busy")
COMPETITOR = "while True: pass"
TARGET = 1.15  # the package's policy: within 15 % of ACTIVE idle and of PASSIVE busy


# ----------------------------------------------------------------------------------------------
# Worker: one process, one setting, every row
# ----------------------------------------------------------------------------------------------

@contextmanager
def capped_epochs(max_batches: int | None, max_seconds: float | None):
    """Make :func:`htd_tutorial.training.train`'s epochs stop after ``max_batches`` batches or once
    ``max_seconds`` have passed (after at least one batch); yields the list that receives one
    ``(batches run, batches in a full epoch)`` pair per epoch."""
    from htd_tutorial import training

    counts: list[tuple[int, int]] = []
    base = training.TripleSampler

    class CappedSampler(base):
        def __iter__(self):
            started, n = time.perf_counter(), 0
            for batch in base.__iter__(self):
                if (max_batches is not None and n >= max_batches) or \
                        (max_seconds is not None and n and time.perf_counter() - started > max_seconds):
                    break
                yield batch
                n += 1
            counts.append((n, len(self)))

    with mock.patch.object(training, "TripleSampler", CappedSampler):
        yield counts


def time_training(data, model, distiller, *, repeats: int, batches: int | None, cap: float,
                  threads: int | None) -> dict:
    """Seconds of one training epoch: the median of ``repeats`` one-epoch runs of ``model`` (each run
    is epoch 0 of 1, so HTD's temperature is 1), after a 3-batch warm-up run. A run limited to
    ``batches`` batches, or stopped by the ``cap``, is scaled to the full epoch's batch count.
    ``threads`` goes to :func:`~htd_tutorial.training.train` (None: the package decides)."""
    from htd_tutorial import _threads
    from htd_tutorial.training import train

    def run(**cap_args):
        with capped_epochs(**cap_args) as counts:
            history = train(model, data, epochs=1, distiller=distiller, eval_every=0, progress=False,
                            threads=threads)
        return history, counts[0]

    run(max_batches=3, max_seconds=None)
    samples, capped, others = [], False, []
    for _ in range(repeats):
        history, (done, full) = run(max_batches=batches, max_seconds=cap)
        used = history.config["threads"]
        if _threads._CONTENTION is not None:  # the adaptive policy: the cores other processes used
            others.append(_threads._CONTENTION.others)
        samples.append(history.losses[0]["seconds"] * full / done)
        if done < (batches or full):
            capped = True
            break
    return {"seconds": statistics.median(samples), "samples": samples, "capped": capped,
            "batches_per_run": batches, "batches_per_epoch": full, "threads": used,
            **({"others_cores": others} if others else {})}


def openmp_runtime() -> str:
    """The OpenMP libraries mapped into this process (after torch is imported)."""
    names = {Path(line.split()[-1]).name for line in Path("/proc/self/maps").read_text().splitlines()
             if re.search(r"lib(g|i|)omp[^/]*\.so", line.split()[-1])}
    return ", ".join(sorted(names)) or "none found"


def worker(args) -> None:
    """Time every row under the environment this process was started with; print one JSON line per row."""
    import torch

    from bench_foundation import evaluation_cost
    from htd_tutorial import _threads
    from bench_methods import random_teacher
    from htd_tutorial.data import load_interactions
    from htd_tutorial.distill import make_distiller
    from htd_tutorial.models import make_model

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.adaptive:
        _threads.ADAPTIVE_THREADS = True
    # explicit settings train on exactly torch's threads; the package's and the adaptive ones let train() choose
    train_threads = None if args.package or args.adaptive else torch.get_num_threads()
    data = load_interactions(args.data, name="citeulike")
    t_users, t_items = random_teacher(data, 200)
    emit({"meta": {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                   "openmp": openmp_runtime(), "parallel_backend": torch.__config__.parallel_info().splitlines()[-1],
                   "env": {name: os.environ.get(name) for name in OPENMP_VARS if name != "OMP_DISPLAY_ENV"}}})
    for row in args.rows:
        started = time.perf_counter()
        if row == "evaluation_d200":
            times, _ = evaluation_cost(data, 200, args.repeats, reduce=list)
            result = {"seconds": statistics.median(times), "samples": times, "capped": False,
                      "threads": torch.get_num_threads()}
        else:
            method, dim = {"bpr_d200_epoch": ("student", 200), "ftd_d20_epoch": ("ftd", 20),
                           "htd_d20_first_epoch": ("htd", 20)}[row]
            distiller = make_distiller(method, t_users, t_items, dim, K=30, mode="authors",
                                       n_users=data.n_users, n_items=data.n_items)
            model = make_model("bpr", data, dim, seed=0)
            batches = args.htd_batches if method == "htd" else args.batches
            result = time_training(data, model, distiller, repeats=args.repeats, batches=batches, cap=args.cap,
                                   threads=train_threads)
        result["wall"] = time.perf_counter() - started
        emit({"row": row, **result})


def emit(record: dict) -> None:
    print("RESULT " + json.dumps(record), flush=True)


# ----------------------------------------------------------------------------------------------
# Driver: every setting, idle and busy
# ----------------------------------------------------------------------------------------------

def worker_env(name: str) -> dict[str, str]:
    """The environment of the worker for setting ``name``: no OpenMP variable but the setting's own."""
    env = {key: value for key, value in os.environ.items() if key not in OPENMP_VARS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["OMP_DISPLAY_ENV"] = "VERBOSE"  # libgomp prints what it uses: the check that the setting took effect
    if name != PACKAGE:
        env.update(SETTINGS[name][0])
    return env


def effective(stderr: str) -> dict[str, str]:
    """OMP_WAIT_POLICY, GOMP_SPINCOUNT and OMP_NUM_THREADS as libgomp reported them (OMP_DISPLAY_ENV)."""
    found = dict(re.findall(r"^\s*(OMP_WAIT_POLICY|GOMP_SPINCOUNT|OMP_NUM_THREADS) = '([^']*)'", stderr, re.M))
    return found


def run_cell(name: str, load: str, args, timeout: float) -> dict:
    """Run one worker for setting ``name`` under ``load`` ("idle" or "busy"); its records, parsed."""
    threads = SETTINGS[name][1] if name in SETTINGS else None
    package = ["--package"] if name == PACKAGE else []
    if name in SETTINGS and SETTINGS[name][2]:
        package = ["--adaptive"]
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--data", args.data,
               "--repeats", str(args.repeats), "--htd-batches", str(args.htd_batches), "--cap", str(args.cap),
               *package, "--rows", *args.rows]
    if args.batches:
        command += ["--batches", str(args.batches)]
    if threads:
        command += ["--threads", str(threads)]
    cell = {"load_before": os.getloadavg()[0], "rows": {}}
    competitor = worker_proc = None
    started = time.perf_counter()
    try:
        if load == "busy":
            competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR])
        worker_proc = subprocess.Popen(command, env=worker_env(name), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        try:
            out, err = worker_proc.communicate(timeout=max(1.0, timeout))
            cell["returncode"] = worker_proc.returncode
        except subprocess.TimeoutExpired:
            worker_proc.kill()
            out, err = worker_proc.communicate()
            cell["returncode"] = f"killed after {timeout:.0f} s"
    finally:
        for proc in (worker_proc, competitor):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    cell["wall"] = time.perf_counter() - started
    cell["effective"] = effective(err)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            record = json.loads(line[len("RESULT "):])
            if "meta" in record:
                cell["meta"] = record["meta"]
            else:
                cell["rows"][record.pop("row")] = record
    if cell["returncode"] != 0:
        cell["stderr_tail"] = [line for line in err.splitlines() if not line.startswith(("  ", "OPENMP"))][-15:]
    return cell


def machine() -> dict:
    """CPU model, cores, Python and platform of this machine."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def ratio(a, b):
    return None if a is None or b is None else a / b


def table(results: dict, settings: list[str], rows: list[str]) -> list[dict]:
    """One record per (row, setting): idle and busy seconds, idle / ACTIVE idle, busy / PASSIVE busy."""
    def seconds(name, load, row):
        record = results.get(name, {}).get(load, {}).get("rows", {}).get(row)
        return None if record is None else record["seconds"]

    out = []
    for row in rows:
        for name in settings:
            idle, busy = seconds(name, "idle", row), seconds(name, "busy", row)
            capped = any(results.get(name, {}).get(load, {}).get("rows", {}).get(row, {}).get("capped")
                         for load in LOADS)
            out.append({"row": row, "setting": name, "idle": idle, "busy": busy, "capped": capped,
                        "idle_vs_active": ratio(idle, seconds("ACTIVE", "idle", row)),
                        "busy_vs_passive": ratio(busy, seconds("PASSIVE", "busy", row))})
    return out


def verdict(records: list[dict], name: str) -> dict:
    """Whether setting ``name`` meets the targets: idle <= 1.15 x ACTIVE and busy <= 1.15 x PASSIVE, each row."""
    mine = [r for r in records if r["setting"] == name]
    idle = {r["row"]: r["idle_vs_active"] for r in mine}
    busy = {r["row"]: r["busy_vs_passive"] for r in mine}
    return {"setting": name, "target": TARGET, "idle_vs_active": idle, "busy_vs_passive": busy,
            "idle_met": all(v is not None and v <= TARGET for v in idle.values()),
            "busy_met": all(v is not None and v <= TARGET for v in busy.values())}


def fmt(value, digits=2, suffix=""):
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def print_table(records: list[dict]) -> None:
    print(f"{'row':<20} {'setting':<18} {'idle s':>7} {'/ACTIVE':>8} {'busy s':>7} {'/PASSIVE':>9}")
    for r in records:
        mark = " (capped: a lower bound)" if r["capped"] else ""
        print(f"{r['row']:<20} {r['setting']:<18} {fmt(r['idle']):>7} {fmt(r['idle_vs_active']):>8} "
              f"{fmt(r['busy']):>7} {fmt(r['busy_vs_passive']):>9}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="CiteULike folder (default: htd_tutorial.data.citeulike_dir())")
    parser.add_argument("--settings", nargs="+", default=None,
                        help=f"any of {list(SETTINGS)} and {PACKAGE!r}, run in this order (default: "
                             f"{DEFAULT_SETTINGS}); PASSIVE and ACTIVE always run first: the ratios need them")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (the median is reported)")
    parser.add_argument("--batches", type=int, default=None,
                        help="limit BPR/FTD runs to this many batches, scaled (default: whole epochs)")
    parser.add_argument("--htd-batches", type=int, default=20, help="HTD batches per run, scaled to the epoch")
    parser.add_argument("--cap", type=float, default=8.0, help="seconds after which a training run stops, scaled")
    parser.add_argument("--cell-timeout", type=float, default=240.0, help="seconds before a worker is killed")
    parser.add_argument("--budget", type=float, default=690.0,
                        help="seconds for the whole run: a setting that cannot finish in time is skipped")
    parser.add_argument("--setting-seconds", type=float, default=110.0,
                        help="time one setting (idle + busy) is expected to need, for --budget")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 repeat, 20-batch BPR/FTD runs, 4 HTD batches")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "threads.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--package", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--adaptive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data is None:
        from htd_tutorial.data import citeulike_dir
        args.data = str(citeulike_dir())
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.repeats, args.batches, args.htd_batches = 1, 20, 4
    from bench_methods import git_commit
    from htd_tutorial.paper.reproduce import write_json_atomic

    unknown = set(args.settings or []) - {*SETTINGS, PACKAGE}
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; choose from {[*SETTINGS, PACKAGE]}")
    # every ratio needs PASSIVE and ACTIVE: they go first, then the settings in the order given
    names = list(dict.fromkeys(["PASSIVE", "ACTIVE", *(args.settings or DEFAULT_SETTINGS)]))
    started = time.time()
    results: dict[str, dict] = {}
    skipped = []
    for name in names:
        left = args.budget - (time.time() - started)
        if left < args.setting_seconds:  # not enough time for one more setting: keep what is measured
            skipped.append(name)
            continue
        results[name] = {}
        for load in LOADS:
            cell = run_cell(name, load, args, timeout=min(args.cell_timeout, args.budget - (time.time() - started)))
            results[name][load] = cell
            summary = ", ".join(f"{row} {rec['seconds']:.2f}s{'*' if rec['capped'] else ''}"
                                for row, rec in cell["rows"].items())
            print(f"[{time.time() - started:6.0f} s] {name:<18} {load}: {summary} "
                  f"(effective {cell['effective']}, load before {cell['load_before']:.2f}, rc {cell['returncode']})",
                  flush=True)
    if skipped:
        print(f"out of time (--budget {args.budget:.0f} s): skipped {skipped}")
    names = [name for name in names if name in results]
    records = table(results, names, args.rows)
    meta = next((cell["meta"] for cells in results.values() for cell in cells.values() if "meta" in cell), {})
    payload = {
        "commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine(), "torch": meta.get("torch"), "openmp_runtime": meta.get("openmp"),
                    "parallel_backend": meta.get("parallel_backend"), "torch_threads": meta.get("torch_threads")},
        "method": {"batch_size": 1024, "optimizer": "adam (the paper's dense Adam)", "teacher": "random, dim 200",
                   "repeats": args.repeats, "statistic": "median of the repeats",
                   "bpr_ftd_batches_per_run": args.batches or "whole epoch",
                   "htd_batches_per_run": args.htd_batches,
                   "htd_note": "first epoch (Gumbel temperature 1), authors' mode, K=30: the first "
                               f"{args.htd_batches} batches of the epoch, scaled to its batch count",
                   "cap_seconds": args.cap, "busy": f"one competing process: python -c {COMPETITOR!r}",
                   "total_seconds": time.time() - started, "skipped_for_time": skipped},
        "package_policy": {"env": THREAD_ENV, "note": "the 'package' setting: nothing set, htd_tutorial "
                           "applies THREAD_ENV and train() picks its threads (training_threads)"},
        "settings": {name: {"env": SETTINGS[name][0] if name in SETTINGS else THREAD_ENV,
                            "torch_threads": ("as train() chooses: torch's default, 1 while other processes "
                                              "use >= 0.5 core" if SETTINGS[name][2]
                                              else SETTINGS[name][1] or "torch's default")
                            if name in SETTINGS else "as train() chooses"} for name in names},
        "results": results,
        "table": records,
        "verdict": verdict(records, PACKAGE) if PACKAGE in names else None,
        "verdicts": {name: verdict(records, name) for name in names},
    }
    write_json_atomic(args.out, payload)
    print_table(records)
    for name, each in payload["verdicts"].items():
        print(f"{name:<18} idle <= {TARGET:.2f} x ACTIVE on every row: {each['idle_met']!s:<5}  "
              f"busy <= {TARGET:.2f} x PASSIVE on every row: {each['busy_met']}")
    v = payload["verdict"]
    if v:
        print(f"package policy {THREAD_ENV}: idle within {TARGET:.2f}x of ACTIVE: {v['idle_met']}, "
              f"busy within {TARGET:.2f}x of PASSIVE: {v['busy_met']}")
    print(f"wrote {args.out} ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()

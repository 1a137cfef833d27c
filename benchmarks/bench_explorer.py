"""Explorer benchmark: how long the learner waits, at the shipped settings, on this machine.

Usage (from the repository root, after `make install`):

    .venv/bin/python benchmarks/bench_explorer.py               # about a minute on 2 idle cores
    .venv/bin/python benchmarks/bench_explorer.py --cold-numba  # first UMAP with an empty numba cache

What is timed (all through :class:`htd_tutorial.course.explorer.ExplorerWidget`, i.e. end to end: training,
maps, metrics, drawing the PNG; student runs always trained afresh in a temporary cache folder, the
teacher loaded from the course's cache or trained once before the clock starts):

- ``start``: building the explorer and its widget, i.e. the first setting, first UMAP included;
- ``first_umap``: the teacher's UMAP inside it (import of umap-learn and numba's compilation included);
- ``uncached``: a slider change to a setting never computed, for several settings (Student and FTD
  changes also train the HTD run that colours the points; K = 20, the slider's end, is the slowest);
- ``cached``: going back to each of those settings.

Targets (2-core CPU): uncached slider change <= 10 s, cached <= 1 s, first UMAP <= 30 s.
The machine's load average is recorded before and after: other jobs slow every figure down.
Prints the figures and writes them to benchmarks/results/explorer.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = {"uncached_s": 10.0, "cached_s": 1.0, "first_umap_s": 30.0}
#: Slider changes timed, in this order, from the shipped first setting (HTD, d=4, K=9).
CHANGES = (("dim", 8), ("method", "student"), ("method", "ftd"), ("dim", 16), ("method", "htd"),
           ("groups", 20), ("dim", 2))


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what `uptime` shows); empty where unavailable."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-numba", action="store_true",
                        help="compile UMAP from scratch (an empty NUMBA_CACHE_DIR), the worst case of a fresh machine")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "explorer.json"))
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="htd-bench-explorer-")
    if args.cold_numba:
        os.environ["NUMBA_CACHE_DIR"] = str(Path(scratch.name) / "numba")
    import torch

    from htd_tutorial.course import course_teacher, load_course_data
    from htd_tutorial.course.explorer import DEFAULT_EXPLORER_DATASET, SHIPPED, ExplorerWidget, TopologyExplorer
    from htd_tutorial.paper.reproduce import write_json_atomic

    load_before = load_average()
    data = load_course_data(DEFAULT_EXPLORER_DATASET, verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)

    started = time.perf_counter()
    explorer = TopologyExplorer(data, teacher, SHIPPED, directory=Path(scratch.name) / "runs")
    ui = ExplorerWidget(explorer)
    start_s = time.perf_counter() - started
    if ui.last_error:
        raise SystemExit(f"the explorer failed to start: {ui.last_error}")
    first_umap_s = explorer.teacher_map().seconds

    uncached, cached, seen = [], [], [(ui.method.value, ui.dim.value, ui.groups.value)]
    for control, value in CHANGES:
        started = time.perf_counter()
        getattr(ui, control).value = value
        seconds = time.perf_counter() - started
        result = ui.last_result
        if ui.last_error or result is None or result.cached:
            raise SystemExit(f"slider change {control}={value} did not compute a new setting: {ui.last_error}")
        uncached.append({"setting": f"{result.method} d={result.dim} K={result.K}", "seconds": round(seconds, 2),
                         "trained": list(result.trained)})
        seen.append((result.method, result.dim, result.K))
        print(f"uncached {uncached[-1]['setting']:<18} {seconds:6.2f} s  (trained: {', '.join(result.trained)})",
              flush=True)
    for method, dim, K in seen:
        started = time.perf_counter()
        ui.select(method, dim, K)
        seconds = time.perf_counter() - started
        if ui.last_error or not ui.last_result.cached:
            raise SystemExit(f"going back to {method} d={dim} K={K} was not served from the cache")
        cached.append({"setting": f"{method} d={dim} K={K}", "seconds": round(seconds, 3)})
    load_after = load_average()

    worst_uncached = max(r["seconds"] for r in uncached)
    worst_cached = max(r["seconds"] for r in cached)
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads_during_compute": SHIPPED.torch_threads,
                    "load_average_before": load_before, "load_average_after": load_after},
        "settings": {name: getattr(SHIPPED, name) for name in SHIPPED.__dataclass_fields__},
        "dataset": data.summary(),
        "cold_numba_cache": bool(args.cold_numba),
        "start_s": round(start_s, 2),
        "first_umap_s": round(first_umap_s, 2),
        "uncached": uncached,
        "cached": cached,
        "worst_uncached_s": worst_uncached,
        "worst_cached_s": worst_cached,
        "targets": TARGETS,
        "meets_targets": {"uncached_s": worst_uncached <= TARGETS["uncached_s"],
                          "cached_s": worst_cached <= TARGETS["cached_s"],
                          "first_umap_s": first_umap_s <= TARGETS["first_umap_s"]},
    }
    print(f"start (first setting, first UMAP included): {start_s:.1f} s; first UMAP: {first_umap_s:.1f} s")
    print(f"slider change: worst uncached {worst_uncached:.2f} s, worst cached {worst_cached:.3f} s")
    print(f"load average before {load_before}, after {load_after} on {os.cpu_count()} CPUs")
    write_json_atomic(args.out, results)
    print(f"wrote {args.out}")
    scratch.cleanup()


if __name__ == "__main__":
    main()

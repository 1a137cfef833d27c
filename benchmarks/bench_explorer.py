"""Explorer benchmark: how long the learner waits, at the shipped settings, cold and warm.

Usage (from the repository root, after `make install`):

    .venv/bin/python benchmarks/bench_explorer.py            # cold, then warm: a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_explorer.py --only warm

Each run is a fresh Python process, as a learner's kernel is:

- ``cold``: a machine where nothing was ever computed: an empty cache folder (``HTD_CACHE_DIR``: no
  trained teacher, no student run) and an empty numba cache (``NUMBA_CACHE_DIR``: UMAP not compiled),
  both temporary (the repository's ``data/cache`` and ``~/.cache/htd-tutorial`` are not touched,
  which is the same as clearing them: the package reads neither when ``HTD_CACHE_DIR`` is set);
- ``warm``: the same folders as the cold run left them (teacher trained, UMAP compiled), but every
  student run still trained afresh (in a temporary folder);
- ``warmed-up``: the same folders after ``python -m htd_tutorial.course.warm_up`` (what ``make warm-up``
  and Binder's ``postBuild`` run), student runs in the cache folder as in the notebook: the explorer's
  first setting is then loaded, not trained.

What is timed, all through :class:`htd_tutorial.course.explorer.ExplorerWidget` (end to end: training,
maps, metrics, drawing the PNG), as in notebook 05:

- ``teacher_s``: loading the data and the course teacher (trained in the cold run), before the explorer;
- ``explorer_s``: building the :class:`TopologyExplorer` (notebook 05's cell before the widget's; the
  widget's cell comes right after it here, with no reading time between them);
- ``first_picture_s``: building the widget until its first picture (PCA while UMAP is prepared), and
  ``explorer_and_first_picture_s``, both cells together;
- ``first_umap_picture_s``: building the widget until the picture is redrawn with UMAP;
- ``uncached``: slider changes to settings never computed (after UMAP is ready; Student and FTD
  changes also train the HTD run that colours the points; K = 20, the slider's end, is the slowest);
- ``cached``: going back to each of those settings.

Targets (2-core CPU): first picture <= 5 s, uncached slider change <= 10 s, cached <= 1 s, first UMAP
picture <= 30 s. The machine's load average is recorded before and after: other jobs slow every figure.
Prints the figures and writes them to benchmarks/results/explorer.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"first_picture_s": 5.0, "uncached_s": 10.0, "cached_s": 1.0, "first_umap_picture_s": 30.0}
#: Slider changes timed, in this order, from the shipped first setting (HTD, d=4, K=9).
CHANGES = (("dim", 8), ("method", "student"), ("method", "ftd"), ("dim", 16), ("method", "htd"),
           ("groups", 20), ("dim", 2))
MODES = ("cold", "warm", "warmed-up")


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what `uptime` shows); empty where unavailable."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def measure(mode: str) -> dict:
    """One run in this process (its caches chosen by the caller's environment)."""
    load_before = load_average()
    started = time.perf_counter()
    from htd_tutorial.course import course_teacher, load_course_data
    from htd_tutorial.course.explorer import (DEFAULT_EXPLORER_DATASET, SHIPPED, ExplorerWidget, TopologyExplorer,
                                              preload_optimiser)

    preload_optimiser()  # as notebook 05's imports cell does
    data = load_course_data(DEFAULT_EXPLORER_DATASET, verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)
    teacher_s = time.perf_counter() - started

    runs = tempfile.TemporaryDirectory(prefix="htd-bench-runs-")
    built = time.perf_counter()
    explorer = TopologyExplorer(data, teacher, SHIPPED, directory=None if mode == "warmed-up" else runs.name)
    explorer_s = time.perf_counter() - built
    started = time.perf_counter()
    ui = ExplorerWidget(explorer)
    if ui.last_error:
        raise SystemExit(f"the explorer failed to start: {ui.last_error}")
    first_picture_s = ui.first_picture_seconds
    first_projection = ui.last_result.projection
    if not ui.wait_for_umap(timeout=600):
        raise SystemExit("UMAP was not ready within 10 minutes")
    first_umap_picture_s = time.perf_counter() - started
    if ui.last_result.projection != "UMAP":
        raise SystemExit(f"after UMAP's preparation the picture uses {ui.last_result.projection}: {ui.message.value}")

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
        print(f"[{mode}] uncached {uncached[-1]['setting']:<18} {seconds:6.2f} s  "
              f"(trained: {', '.join(result.trained)})", flush=True)
    for method, dim, K in seen:
        started = time.perf_counter()
        ui.select(method, dim, K)
        seconds = time.perf_counter() - started
        if ui.last_error or not ui.last_result.cached:
            raise SystemExit(f"going back to {method} d={dim} K={K} was not served from the cache")
        cached.append({"setting": f"{method} d={dim} K={K}", "seconds": round(seconds, 3)})
    runs.cleanup()
    worst_uncached = max(r["seconds"] for r in uncached)
    worst_cached = max(r["seconds"] for r in cached)
    figures = {"first_picture_s": round(first_picture_s, 2), "first_umap_picture_s": round(first_umap_picture_s, 2),
               "uncached_s": worst_uncached, "cached_s": worst_cached}
    return {
        "teacher_s": round(teacher_s, 2),
        "explorer_s": round(explorer_s, 2),
        "explorer_and_first_picture_s": round(explorer_s + first_picture_s, 2),
        "first_picture_s": figures["first_picture_s"],
        "first_picture_projection": first_projection,
        "first_umap_picture_s": figures["first_umap_picture_s"],
        "umap_prepare_s": round(explorer.umap_seconds or 0.0, 2),
        "uncached": uncached,
        "cached": cached,
        "worst_uncached_s": worst_uncached,
        "worst_cached_s": worst_cached,
        "meets_targets": {name: figures[name] <= target for name, target in TARGETS.items()},
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=MODES, default=None,
                        help="run one mode only (default: cold, warm, then warmed-up)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "explorer.json"))
    parser.add_argument("--child", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:                                   # one measurement, in a fresh process; JSON on the last line
        print(json.dumps(measure(args.child)), flush=True)
        return

    scratch = tempfile.TemporaryDirectory(prefix="htd-bench-explorer-")
    env = dict(os.environ, HTD_CACHE_DIR=str(Path(scratch.name) / "cache"),
               NUMBA_CACHE_DIR=str(Path(scratch.name) / "numba"))
    env.pop("MPLBACKEND", None)
    results: dict = {}
    for mode in (args.only,) if args.only else MODES:
        if mode == "warm" and not args.only:
            pass                                     # the cold run's caches are now warm
        elif mode != "cold":                         # warm alone, or warmed-up: run the warm-up first
            subprocess.run([sys.executable, "-m", "htd_tutorial.course.warm_up", "--no-progress"], env=env, cwd=ROOT,
                           check=True)
        process = subprocess.run([sys.executable, __file__, "--child", mode], env=env, cwd=ROOT, check=True,
                                 stdout=subprocess.PIPE, text=True)
        lines = process.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        results[mode] = json.loads(lines[-1])
        r = results[mode]
        print(f"[{mode}] teacher {r['teacher_s']:.1f} s; first picture ({r['first_picture_projection']}) "
              f"{r['first_picture_s']:.1f} s; first UMAP picture {r['first_umap_picture_s']:.1f} s; slider change: "
              f"worst uncached {r['worst_uncached_s']:.2f} s, worst cached {r['worst_cached_s']:.3f} s; "
              f"load {r['load_average_before']} -> {r['load_average_after']}", flush=True)
    scratch.cleanup()

    import torch

    from htd_tutorial.course import load_course_data
    from htd_tutorial.course.explorer import DEFAULT_EXPLORER_DATASET, SHIPPED
    from htd_tutorial.paper.reproduce import write_json_atomic

    previous = {}
    if Path(args.out).is_file():
        previous = json.loads(Path(args.out).read_text())
    output = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads_during_compute": SHIPPED.torch_threads},
        "settings": {name: getattr(SHIPPED, name) for name in SHIPPED.__dataclass_fields__},
        "dataset": load_course_data(DEFAULT_EXPLORER_DATASET, verbose=False).summary(),
        "how": "cold: empty HTD_CACHE_DIR and NUMBA_CACHE_DIR (fresh temporary folders); warm: the same folders "
               "after the cold run (teacher trained, UMAP compiled), student runs trained afresh; warmed-up: the "
               "same folders after python -m htd_tutorial.course.warm_up (Binder's postBuild), runs cached as in "
               "the notebook; each in a fresh Python process",
        "targets": TARGETS,
        **{mode: previous[mode] for mode in MODES if mode in previous and mode not in results},
        **results,
    }
    write_json_atomic(args.out, output)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Warm a machine up for the course: the teachers trained and numba's compiled UMAP cached.

``python -m htd_tutorial.course.warm_up`` (``make warm-up``; Binder's ``postBuild`` runs it while building the
image) does once what a learner's first notebook run would otherwise wait for:

1. the course teacher on the course's dataset (notebooks 00-05; the explorer opens on the same data),
   trained with :data:`htd_tutorial.course.TEACHER` and stored in the cache
   (:func:`htd_tutorial.cache.cache_dir`);
2. UMAP, compiled by numba into ``NUMBA_CACHE_DIR`` (default ``<cache>/numba``), by drawing the
   explorer's teacher map exactly as the explorer does, and then the explorer's first setting (its runs
   stored in the cache, so the widget's first picture needs no training; on MovieLens-100K an HTD run
   of minutes, the same run notebook 03 trains).

The steps that spare a learner the longest wait come first, so that a bounded run (Binder's
``postBuild`` stops it after 3 minutes) keeps them. A progress bar shows the steps. Everything is
cached, so a second run takes seconds.
"""
from __future__ import annotations

import time

__all__ = ["warm_up", "WARM_UP_STEPS"]

#: The steps, in order (the progress bar's labels).
WARM_UP_STEPS = ("course teacher", "UMAP and the explorer's first setting")


def warm_up(*, progress: bool = True) -> dict[str, float]:
    """Train and cache the course's teachers and compile UMAP; return the seconds each step took.

    Parameters
    ----------
    progress : bool
        Show a progress bar over the steps (and the teachers' own bars while they train).

    Returns
    -------
    dict
        Seconds per step of :data:`WARM_UP_STEPS`.
    """
    from tqdm.auto import tqdm

    from .common import course_teacher, load_course_data
    from .explorer import DEFAULT_EXPLORER_DATASET, SHIPPED, TopologyExplorer

    seconds: dict[str, float] = {}
    data = teacher = None
    bar = tqdm(total=len(WARM_UP_STEPS), desc="warm-up", unit="step", disable=not progress)
    try:
        for step in WARM_UP_STEPS:
            bar.set_postfix_str(step)
            started = time.perf_counter()
            if step == "course teacher":
                data = load_course_data(DEFAULT_EXPLORER_DATASET, verbose=progress)
                teacher, _ = course_teacher(data, progress=progress, verbose=progress)
            else:
                explorer = TopologyExplorer(data, teacher, SHIPPED, projection="auto")
                explorer.prepare_umap(background=False)
                explorer.compute(SHIPPED.method, SHIPPED.dim, SHIPPED.K)
            seconds[step] = round(time.perf_counter() - started, 2)
            bar.update()
    finally:
        bar.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.warm_up [--no-progress]``: run :func:`warm_up`, print the seconds."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.warm_up",
                                     description="Train the course's teachers and compile UMAP into the caches.")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    seconds = warm_up(progress=not args.no_progress)
    print("warm-up done: " + ", ".join(f"{step} {s:.1f} s" for step, s in seconds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Loss traces of the runs the notebooks do not train live: HTD and the plain student at the roomy size.

Notebook 03 trains HTD only for the tiny student (:data:`recipes.SMALL_DIM`); one HTD run at the roomy
size (:data:`recipes.LARGE_DIM`) would add about two minutes to its run time. Its per-epoch loss trace
(:attr:`htd_tutorial.training.History.loss_trace`) is what Section 5 needs to compare the two sizes,
so ``python -m htd_tutorial.course.traces`` trains that run once, with the course recipe and seed 0
(plus the plain student of the same size, the dashed baseline), and writes the traces to
``data/loss_traces.json`` (committed). ``tests/course/test_traces.py`` checks the file and retrains the
plain student to the stored trace.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .. import stored
from ..choices import HEADLINE
from ..paper.reproduce import write_json_atomic
from . import recipes
from .common import SEED, course_teacher, load_course_data
from .lessons import distill_run

__all__ = ["TRACES_FILE", "STORED_TRACES", "make_traces", "load_trace", "load_traces", "main"]

#: The traces' repository path (committed with the project; an installed package carries a copy).
TRACES_NAME = "data/loss_traces.json"
#: Where the traces are read from (:func:`htd_tutorial.stored.stored_file`, resolved on import; the
#: functions below resolve it when called).
TRACES_FILE = stored.stored_file(TRACES_NAME)
#: The command that makes the file, named when it is missing.
TRACES_COMMAND = "python -m htd_tutorial.course.traces"
#: The (method, dimension) runs whose traces are stored, all with seed :data:`SEED` and the recipe.
STORED_TRACES = (("student", recipes.LARGE_DIM), ("htd", recipes.LARGE_DIM))


def make_traces(path: str | Path | None = None) -> dict:
    """Train (or load) every run of :data:`STORED_TRACES` and write their traces to ``path`` (default
    :func:`htd_tutorial.stored.output_file` of :data:`TRACES_NAME`)."""
    path = stored.output_file(TRACES_NAME) if path is None else path
    data = load_course_data(verbose=False)
    teacher, _ = course_teacher(data, progress=False, verbose=False)
    runs = []
    for method, dim in STORED_TRACES:
        result = distill_run(data, teacher, method, dim, seed=SEED, progress=False)
        runs.append({"method": method, "dim": dim, "seed": SEED, HEADLINE: result.history.final(HEADLINE),
                     "seconds": round(result.history.seconds, 1), "trace": result.history.loss_trace})
    payload = {"what": "loss traces of runs no notebook trains live (htd_tutorial.course.traces)",
               "dataset": data.summary(), "recipe": asdict(recipes.DISTILL), "runs": runs}
    write_json_atomic(path, payload)
    return payload


def load_trace(method: str, dim: int, path: str | Path | None = None) -> pd.DataFrame:
    """The stored trace of ``method`` at ``dim`` as a DataFrame indexed by epoch (as
    :meth:`~htd_tutorial.training.History.trace_frame` gives it).

    Raises ``ValueError`` naming the file and the command that makes it when it is missing or holds no
    traces (:func:`load_traces` prints that instead).
    """
    path = Path(stored.stored_file(TRACES_NAME) if path is None else path)
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        why = "is missing" if not path.exists() else f"holds no stored traces ({error})"
        raise ValueError(f"{stored.shown(path) or path.name} {why}; make it with `{TRACES_COMMAND}`") from error
    for run in runs:
        if (run["method"], run["dim"]) == (method, dim):
            return pd.DataFrame(run["trace"]).set_index("epoch")
    kept = [(run["method"], run["dim"]) for run in runs]
    raise ValueError(f"no stored trace for {method} at d={dim}; stored: {kept}")


def load_traces(methods, dim: int, path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The stored traces of ``methods`` at ``dim`` (``{method: frame}``, see :func:`load_trace`), or an
    empty dict and one printed line saying which file is missing and the command that makes it, so that
    a notebook cell that shows them can skip instead of failing.

    Introduced in ``notebooks/03_htd.ipynb``.
    """
    try:
        return {method: load_trace(method, dim, path) for method in methods}
    except ValueError as error:
        print(f"No stored traces: {error}; the cells that use them are skipped.")
        return {}


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.traces [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.traces", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help=f"where to write the JSON (default {TRACES_NAME})")
    args = parser.parse_args(argv)
    payload = make_traces(args.out)  # (None: the default file)
    out = stored.output_file(TRACES_NAME) if args.out is None else Path(args.out)
    print(f"wrote {len(payload['runs'])} traces to {stored.shown(out) or out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

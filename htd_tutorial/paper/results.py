"""The results JSON files of the paper's commands: the one place that reads, writes and summarises them.

A reproduction is assembled over several sessions (a machine's model cache does not survive from one
session to the next; only the committed JSON does), so the file itself is the record a sweep resumes
from. Its layout (``results/<dataset>_<kind>.json``):

- ``dataset``, ``teacher``, ``settings``, ``reference``, ``machine``: what was run, the teacher the file
  was started with, the authors' log, the machine of that first session;
- ``runs``: one row per (method, dim) of the seed in ``settings["seed"]`` (also the teacher's seed):
  the single-seed table the notebooks and the first results table were built on;
- ``other_seeds``: rows of the same format for the students' other seeds;
- ``teachers``: every teacher a stored row was distilled from, by the SHA-256 of its embedding tables
  (``teacher_sha256`` of each row), with its metrics, training seconds and thread count, so a reader
  sees whether runs from different sessions used a bit-identical teacher;
- ``summary``: per (method, dim) over all seeds: ``n``, ``seeds``, the mean of each metric and its
  standard error (``"<metric> se"``, :func:`htd_tutorial.stats.mean_and_se`; ``None`` for one seed);
- ``not_run``: the runs asked for that are not stored yet;
- ``wall_seconds``: the wall time of every command that wrote the file, summed.

Each row: ``method``, ``dim``, ``seed``, the six test metrics, ``seconds`` (training, from the run's
history), ``threads`` (torch threads when training started; ``None``: not recorded, rows from before
this was kept), ``teacher_sha256`` (``None`` likewise), ``from_cache``, ``machine`` (platform, CPUs,
torch and ``accelerator``, the GPU's name or ``None``, of the session that trained it; absent in rows
from before this was kept), ``curve`` and ``config`` (the :class:`~htd_tutorial.config.RunConfig`).

Nothing here imports torch: the command line takes its defaults from this module.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path

from .. import stored
from ..choices import HEADLINE, METHOD_NAMES, METHODS
from ..stats import mean_and_se

__all__ = ["AUTHORS_LOG", "PAPER_DIMS", "PAPER_METHODS", "DEFAULT_SEEDS", "METRICS", "write_json_atomic",
           "results_path", "writing_command", "load_results", "all_runs", "summarise", "run_label", "finalise",
           "planned_dims", "FLUSHED_MARK", "FLUSHED_NOTE", "RESULTS_DOC", "readme_table", "update_readme",
           "replace_readme_block", "results_doc_args", "merge_results"]

#: Test Recall@50 after 100 epochs in the authors' published log (CiteULike, BPR, teacher dim 200),
#: as quoted in the shared data README; the reproduction compares against these.
AUTHORS_LOG = {
    "teacher": 0.3123,
    "student": {10: 0.1788, 20: 0.2276, 100: 0.2976, 200: 0.3152},
    "ftd": {10: 0.2112, 20: 0.2516, 100: 0.3116, 200: 0.3175},
    "htd": {10: 0.2282, 20: 0.2744, 100: 0.3116, 200: 0.3200},
}
#: The paper's capacity-gap grid (the ``reproduce`` command's defaults): student dimensions and methods.
PAPER_DIMS = (10, 20, 100, 200)
PAPER_METHODS = ("student", "de", "ftd", "htd")
#: Student seeds of ``reproduce`` unless told otherwise (the teacher's seed is separate).
DEFAULT_SEEDS = (0,)
#: The test metrics every row holds (and the summary averages).
METRICS = tuple(f"{m}@{k}" for m in ("Recall", "NDCG") for k in (10, 20, 50))

#: The Markdown page that holds the results tables (each between ``<!-- results-table: NAME -->`` and
#: ``<!-- /results-table -->``, NAME a results file's stem), relative to the repository root, where the
#: commands run: the one place that names it. The tables left README.md for it (issue 35).
RESULTS_DOC = Path("docs") / "results.md"

#: The results table's mark on a cell holding a run trained with subnormal floats flushed to zero
#: (``flush_denormal`` of a row), and the note under such a table.
FLUSHED_MARK = "†"
FLUSHED_NOTE = (f"{FLUSHED_MARK} trained with subnormal floats flushed to zero (`--flush-denormal`): "
                "about 2.5 times faster on a CPU, other last digits")


# ------------------------------------------------------------------------------------------ files
def write_json_atomic(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` as indented JSON via a temporary file and a rename (never half-written).

    Whatever fails (a value JSON cannot hold, a full disk, the rename), the previous file at ``path``
    is left as it was and the temporary file is removed. NaN and infinite numbers are refused
    (``TypeError``/``ValueError`` naming the file): JSON has no such numbers, and a results file with
    them is a results file no strict reader (a browser, ``jq``) can open.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the results from the other users of a shared folder
            try:
                json.dump(payload, handle, indent=1, allow_nan=False)
            except (TypeError, ValueError) as exc:
                why = ("NaN and infinite numbers are not valid JSON" if "Out of range float" in str(exc)
                       else str(exc))
                raise type(exc)(f"{path} not written: {why}") from exc
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def results_path(name: str | Path) -> Path:
    """Where a stored result lives: ``name`` itself if it is absolute or exists from the working
    directory, else the stored ``results/<name>`` (:func:`htd_tutorial.stored.stored_file`: the
    checkout's ``results/`` folder, or the copy an installed package carries, e.g. on Colab).

    The returned path may not exist; :func:`load_results` says so.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return stored.stored_file(Path("results") / path)


def writing_command(path: str | Path) -> str:
    """The command that writes the results file ``path``, told from its name (``<data>_<kind>.json``):
    ``ablation`` for an ablation file, ``recipe`` for a recipe file, else ``reproduce``, with
    ``--model lightgcn`` where the name says LightGCN. The README gives each file's full settings."""
    name = Path(path).name
    kind = "ablation" if "_ablation" in name else "recipe" if "_recipe" in name else "reproduce"
    model = " --model lightgcn" if "lightgcn" in name else ""
    return f"python -m htd_tutorial {kind} --data citeulike{model}"


def load_results(path: str | Path, *, verbose: bool = True,
                 command: str | None = None, rows: str = "runs") -> dict | None:
    """Read a results JSON file, or return ``None`` with a message saying why it cannot be used.

    Parameters
    ----------
    path : str or Path
        E.g. ``results/citeulike_bpr.json``.
    verbose : bool
        Print one line: what was loaded (how many runs) or why nothing was.
    command : str, optional
        The command that writes the file (named in the message when it is missing; default
        :func:`writing_command`).
    rows : str
        The list the file must hold: ``"runs"`` (reproduce, ablation) or ``"candidates"`` (recipe).

    Returns
    -------
    dict or None
        The file's content; ``None`` when the file is missing, is not valid JSON, or has no
        non-empty ``rows`` list.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    from ..cache import shown_path  # (torch; only when a file is read)

    path = Path(path)
    command = writing_command(path) if command is None else command
    shown = stored.shown(path) or shown_path(path)
    reason = None
    payload = None
    if not path.is_file():
        reason = (f"{shown} does not exist yet. It is written by `{command}` (see docs/reproduction.md); "
                  "the cells that use it are skipped.")
    else:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            reason = f"{shown} cannot be read ({type(exc).__name__}: {exc}); the cells that use it are skipped."
        else:
            if not isinstance(payload, dict) or not isinstance(payload.get(rows), list) or not payload[rows]:
                what = "finished runs" if rows == "runs" else rows
                reason = f"{shown} holds no {what} yet; the cells that use it are skipped."
                payload = None
    if verbose:
        if payload is None:
            print(f"No stored results: {reason}")
        else:
            data = payload.get("dataset", {}).get("dataset", "?")
            count = len(all_runs(payload)) if rows == "runs" else len(payload[rows])
            print(f"Loaded {count} stored {rows} on {data} from {shown}.")
    return payload


# ------------------------------------------------------------------------------------------ seeds
def all_runs(payload: dict) -> list[dict]:
    """Every stored row: ``runs`` (the first seed) and ``other_seeds``."""
    return list(payload.get("runs") or []) + list(payload.get("other_seeds") or [])


def _order(row: dict) -> tuple:
    method = row["method"]
    return (row["dim"], METHODS.index(method) if method in METHODS else len(METHODS), method, row.get("seed", 0))


def summarise(rows: list[dict], metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """Per (method, dim), ordered by dim then method: ``method``, ``dim``, ``n``, ``seeds``, and for each
    metric its mean over the seeds (``"<metric>"``) and standard error (``"<metric> se"``, ``None`` for n = 1).

    The rows have the layout of a capacity-gap run, so :func:`htd_tutorial.plots.plot_capacity_gap`
    draws a summary directly (error bars where n >= 2).
    """
    cells: dict[tuple[str, int], list[dict]] = {}
    for row in sorted(rows, key=_order):
        cells.setdefault((row["method"], row["dim"]), []).append(row)
    summary = []
    for (method, dim), group in cells.items():
        seeds = [r["seed"] for r in group]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{method} d={dim}: seed stored twice ({seeds})")
        entry = {"method": method, "dim": dim, "n": len(group), "seeds": seeds}
        for metric in metrics:
            entry[metric], entry[f"{metric} se"] = mean_and_se(r[metric] for r in group)
        summary.append(entry)
    return summary


def run_label(method: str, dim: int, seed: int, first_seed: int) -> str:
    """``"DE d=20"`` for the first seed (the labels of ``not_run`` before seeds), ``"DE d=20 seed 1"`` else."""
    label = f"{METHOD_NAMES.get(method, method)} d={dim}"
    return label if seed == first_seed else f"{label} seed {seed}"


def finalise(payload: dict) -> dict:
    """Order the rows (dim, method, seed), split them into ``runs`` (the first seed) and ``other_seeds``,
    drop stored runs from ``not_run`` and recompute ``summary``; returns ``payload`` (changed in place)."""
    first = payload["settings"]["seed"]
    rows = all_runs(payload)
    for row in rows:  # rows written before seeds were kept: the seed is the config's, the rest was not recorded
        row.setdefault("seed", row["config"]["seed"])
        row.setdefault("threads", None)
        row.setdefault("teacher_sha256", None)
        row.setdefault("flush_denormal", False)  # no run flushed subnormals before the option existed
    rows = sorted(rows, key=_order)
    payload["runs"] = [r for r in rows if r["seed"] == first]
    payload["other_seeds"] = [r for r in rows if r["seed"] != first]
    done = {run_label(r["method"], r["dim"], r["seed"], first) for r in rows}
    payload["not_run"] = [label for label in dict.fromkeys(payload.get("not_run") or []) if label not in done]
    payload["summary"] = summarise(rows)
    return payload


def merge_results(payloads: list[dict], names: list[str] | None = None) -> dict:
    """One results file from several of the same experiment, e.g. written by ``reproduce`` processes that
    ran side by side, one thread each, into their own ``--out`` folders (two processes must never write
    the same file: each rewrites it whole after every run).

    The first payload is the base (its ``teacher``, ``reference`` and ``machine`` are kept). Every other one
    must have the same ``dataset`` and ``settings`` and a teacher of the same kind, dimension, epochs and
    seed (else ``ValueError`` naming the file and what differs). Rows are joined by (method, dim, seed); a
    run stored twice keeps its trained copy over one loaded from the cache, else the first file's.
    ``teachers`` and ``not_run`` are joined (runs now stored leave ``not_run``); ``wall_seconds`` is the sum.
    Returns the merged payload, finalised (:func:`finalise`); the inputs are not changed.
    """
    if not payloads:
        raise ValueError("merge_results needs at least one results payload")
    names = names or [f"file {i + 1}" for i in range(len(payloads))]
    base = json.loads(json.dumps(payloads[0]))
    teacher_keys = ("kind", "dim", "epochs", "seed")
    for other, name in zip(payloads[1:], names[1:]):
        differs = [block for block in ("dataset", "settings") if other.get(block) != base.get(block)]
        differs += [f"teacher.{k}" for k in teacher_keys if other["teacher"].get(k) != base["teacher"].get(k)]
        if differs:
            raise ValueError(f"{name} holds another experiment than {names[0]} (it differs in "
                             f"{', '.join(differs)}): its runs cannot be merged")
    rows: dict[tuple, dict] = {}
    teachers: dict[str, dict] = {}
    not_run: list[str] = []
    for payload in payloads:
        for row in all_runs(payload):
            key = (row["method"], row["dim"], row.get("seed", row["config"]["seed"]))
            if key not in rows or (rows[key].get("from_cache") and not row.get("from_cache")):
                rows[key] = json.loads(json.dumps(row))
        for teacher in payload.get("teachers") or []:
            teachers.setdefault(teacher["sha256"], teacher)
        not_run += list(payload.get("not_run") or [])
    base["runs"], base["other_seeds"] = [], list(rows.values())
    base["teachers"] = list(teachers.values())
    base["not_run"] = not_run
    base["wall_seconds"] = math.fsum(p.get("wall_seconds") or 0.0 for p in payloads)
    return finalise(base)


# ------------------------------------------------------------------------------- results tables
def _cell(entry: dict | None, metric: str) -> str:
    if entry is None:
        return "–"
    se = entry[f"{metric} se"]
    return f"{entry[metric]:.4f} ({entry['n']})" if se is None else f"{entry[metric]:.4f} ± {se:.4f} ({entry['n']})"


def planned_dims(payload: dict) -> list[int]:
    """The student dimensions a results file covers: those of its stored runs and of its ``not_run``
    labels (:func:`run_label`'s ``"<Method> d=<dim>"``), sorted."""
    dims = {e["dim"] for e in payload["summary"]}
    for label in payload.get("not_run") or []:
        found = re.search(r" d=(\d+)\b", label)
        if found is None:
            raise ValueError(f"not_run label {label!r} names no dimension (expected '<Method> d=<dim>')")
        dims.add(int(found.group(1)))
    return sorted(dims)


def readme_table(payload: dict, *, metric: str = HEADLINE, methods: tuple[str, ...] = PAPER_METHODS) -> str:
    """The results table (Markdown, for :data:`RESULTS_DOC`) from a results file's ``summary``: one row
    per dimension (:func:`planned_dims`: the runs not made yet have their row too), each cell
    ``mean ± s.e. (n)`` over seeds (``mean (1)`` for one seed, ``–`` not run), and the authors' log
    (Student / FTD / HTD) where the file has a ``reference``. A cell holding a run trained with
    subnormals flushed to zero is marked :data:`FLUSHED_MARK`, and :data:`FLUSHED_NOTE` follows the
    table."""
    summary = {(e["method"], e["dim"]): e for e in payload["summary"]}
    flushed = {(r["method"], r["dim"]) for r in all_runs(payload) if r.get("flush_denormal")}
    reference = payload.get("reference") or {}
    logged = [m for m in ("student", "ftd", "htd") if isinstance(reference.get(m), dict)]
    head = ["student dim", *(METHOD_NAMES.get(m, m) for m in methods)]
    if logged:
        head.append("authors: " + " / ".join(METHOD_NAMES[m] for m in logged))
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for dim in planned_dims(payload):
        cells = [str(dim), *(_cell(summary.get((m, dim)), metric) + (f" {FLUSHED_MARK}" if (m, dim) in flushed else "")
                             for m in methods)]
        if logged:
            values = [reference[m].get(str(dim), reference[m].get(dim)) for m in logged]
            cells.append(" / ".join("–" if v is None else f"{v:.4f}" for v in values))
        lines.append("| " + " | ".join(cells) + " |")
    if flushed:
        lines += ["", FLUSHED_NOTE]
    return "\n".join(lines)


def update_readme(readme: str | Path, payload: dict, *, name: str) -> bool:
    """Replace the table between ``<!-- results-table: NAME -->`` and ``<!-- /results-table -->`` in
    ``readme`` (the commands pass :data:`RESULTS_DOC`) with :func:`readme_table` (atomically); returns
    whether the text changed. ``ValueError`` when the markers are missing."""
    return replace_readme_block(readme, readme_table(payload), name=name)


def replace_readme_block(readme: str | Path, markdown: str, *, name: str) -> bool:
    """Replace the text between ``<!-- results-table: NAME -->`` and ``<!-- /results-table -->`` in
    ``readme`` with ``markdown`` (atomically); returns whether the text changed. ``ValueError`` when the
    markers are missing."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- results-table: {re.escape(name)} -->\n).*?(<!-- /results-table -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no '<!-- results-table: {name} -->' ... '<!-- /results-table -->' block")
    new = pattern.sub(lambda m: m.group(1) + markdown + "\n" + m.group(2), text)
    if new == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=readme.parent, prefix=readme.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
        os.chmod(tmp, 0o644)
        os.replace(tmp, readme)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def results_doc_args(args: list[str], command: str) -> tuple[Path, Path] | None:
    """``RESULTS.json`` or ``DOC.md RESULTS.json`` of a table-writing command: the page to rewrite
    (:data:`RESULTS_DOC` unless named) and the results file; ``None`` (after printing the usage) otherwise."""
    import sys

    if len(args) in (1, 2) and args[-1].endswith(".json") and not args[0].startswith("-"):
        return (RESULTS_DOC if len(args) == 1 else Path(args[0])), Path(args[-1])
    print(f"usage: python -m {command} RESULTS.json   (rewrites its table in {RESULTS_DOC.as_posix()})\n"
          f"       python -m {command} DOC.md RESULTS.json", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.paper.results results/citeulike_bpr.json``: rewrite the file's results
    table in :data:`RESULTS_DOC` (``DOC.md results/....json``: in DOC.md) from its summary (the block is
    named after the file's stem).

    ``python -m htd_tutorial.paper.results merge OUT.json IN.json [IN.json ...]``: :func:`merge_results`
    of the inputs, written to OUT.json (which may be one of them)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["merge"]:
        if len(args) < 3:
            print("usage: python -m htd_tutorial.paper.results merge OUT.json IN.json [IN.json ...]", file=sys.stderr)
            return 2
        inputs = [Path(p) for p in args[2:]]
        merged = merge_results([json.loads(p.read_text()) for p in inputs], [str(p) for p in inputs])
        write_json_atomic(args[1], merged)
        print(f"{args[1]}: {len(all_runs(merged))} runs from {len(inputs)} files; not run: {len(merged['not_run'])}")
        return 0
    paths = results_doc_args(args, "htd_tutorial.paper.results")
    if paths is None:
        print("       python -m htd_tutorial.paper.results merge OUT.json IN.json [IN.json ...]", file=sys.stderr)
        return 2
    doc, results = paths
    payload = json.loads(results.read_text())
    changed = update_readme(doc, finalise(payload), name=results.stem)
    print(f"{doc}: {'table updated' if changed else 'table already up to date'} ({results.stem})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The evidence map: where the paper's lesson holds, over data, base model, protocol and student size.

The course's story is *capacity gap → FTD fails a tiny student → HTD fixes it*. Whether each step is
true depends on the setting, so the map measures it cell by cell instead of assuming it. A **cell** is
one dataset × base model × protocol × student dimension; in each, the plain student, DE, FTD and HTD
are trained over paired seeds (seed ``s`` of every method starts from the same student and batches),
and three comparisons are read with the one rule of :mod:`htd_tutorial.stats`:
FTD vs Student, HTD vs Student and HTD vs FTD (Recall@50; positive means the first is ahead).
A cell has three paired seeds; where a comparison is a close call on them (its mean within one s.e.
of the rule's threshold, :attr:`htd_tutorial.stats.Reading.close_call`), every method of the cell
gets two more (``Setting.extra_seeds``), so a verdict that one seed could flip rests on five.

Protocols
---------
- ``"fixed"``: the setting's budget and learning rate for every method (the paper's protocol).
- ``"tuned"``: every method, the plain student included, at its own learning rate, chosen on the
  **validation** Recall@50 of seed 0 from :data:`LR_GRID` (test data plays no part). A chosen rate at
  the grid's edge is flagged in the cell (``lr_at_edge``): the grid may then be too narrow there.

Settings (:data:`SETTINGS`): the synthetic data with planted user and item groups at the course lab's
recipe, MovieLens-100K at the course's recipe, CiteULike at the paper's (BPR, and LightGCN at its
validation-chosen rate). Each run is trained or loaded from the model cache; every finished run is
written to the map file at once (temp file and rename), so a stopped sweep continues from the file::

    python -m htd_tutorial.course.evidence_map [--settings synthetic ml-100k] [--protocols fixed] [--threads 1]
    python -m htd_tutorial.course.evidence_map --settings citeulike --file other.json   # side by side, then
    python -m htd_tutorial.course.evidence_map --settings --merge other.json           # taken in

writes ``results/evidence_map.json`` (runs, cells with verdicts) and ``results/evidence_map.png``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import stored
from ..cache import get_teacher
from ..choices import DEFAULT_K, HEADLINE
from ..data import load_dataset
from ..config import RunConfig, TeacherConfig
from ..experiments import run_method, teacher_digest
from ..paper.reproduce import save_figure_atomic
from ..paper.results import write_json_atomic
from ..plots.evidence import plot_evidence_map
from ..stats import read_paired
from ..training import machine_description, torch_threads
from . import recipes
from .evidence import data_step
from .scope import MAP_NAME, SETTING_NAMES

__all__ = ["PROTOCOLS", "LR_GRID", "METHODS", "COMPARISONS", "METRIC", "Setting", "SETTINGS", "MAP_FILE",
           "build_map", "map_cells", "verdict_of"]

#: "fixed": one budget and rate for every method (the paper's protocol); "tuned": each method at its own
#: rate, chosen on validation from :data:`LR_GRID`.
PROTOCOLS = ("fixed", "tuned")
#: The learning rates the tuned protocol chooses from, for every method alike (log-spaced, 1e-3 to 5e-2).
LR_GRID = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2)
#: The methods of every cell.
METHODS = recipes.COMPARED_METHODS
#: The comparisons read in every cell: (a, b) reads a − b.
COMPARISONS = (("ftd", "student"), ("htd", "student"), ("htd", "ftd"))
#: The metric the map reads (test) and the tuned protocol chooses by (validation).
METRIC = HEADLINE
#: Paired seeds a cell needs before it is drawn and read (its setting's first seeds; a sweep stopped half-way
#: through a cell leaves it out of the cells until they are all there).
MIN_SEEDS = 3
#: The map (a stored file: the checkout's results/ folder, never site-packages; htd_tutorial.stored).
MAP_FILE = stored.output_file(MAP_NAME)


@dataclass(frozen=True)
class Setting:
    """A dataset and base model with its recipe: teacher settings, the students' budget and rate, K,
    the student dimensions and the paired seeds of its cells."""

    name: str
    dataset: str
    kind: str
    teacher: TeacherConfig
    epochs: int
    lr: float
    K: int
    dims: tuple[int, ...]
    seeds: tuple[int, ...] = tuple(range(MIN_SEEDS))
    #: Seeds a cell adds when a comparison is a close call (:attr:`htd_tutorial.stats.Reading.close_call`).
    extra_seeds: tuple[int, ...] = (3, 4)
    #: Results files of ``reproduce`` (in the checkout) whose finished runs the fixed protocol takes instead
    #: of training them again: only a run whose configuration is the cell's, field for field, on the same
    #: data and distilled from the very teacher (its SHA-256) the setting trains (:func:`stored_runs`).
    stored: tuple[str, ...] = ()
    #: The students evaluate every this many epochs (None: after the last only); the paper-scale settings
    #: every 10, as ``reproduce`` does, so their runs are the sweep's (one cache entry, one stored run).
    eval_every: int | None = None
    #: The dimensions of the tuned protocol (None: every one of ``dims``). On CiteULike each tuned cell is
    #: 24 runs of its first seed (every method at every rate of :data:`LR_GRID`), six of them HTD runs of a
    #: quarter of an hour on a CPU: there the tuned protocol is measured at the paper's headline size.
    tuned_dims: tuple[int, ...] | None = None

    def protocols_of(self, dim: int) -> tuple[str, ...]:
        """The protocols whose cells this setting has at ``dim``."""
        return tuple(p for p in PROTOCOLS if p == "fixed" or self.tuned_dims is None or dim in self.tuned_dims)

    def __post_init__(self) -> None:
        assert self.teacher.kind == self.kind, "a setting's students have its teacher's model type"
        assert set(self.tuned_dims or ()) <= set(self.dims), "the tuned protocol's sizes are the setting's"

    def config(self, method: str, dim: int, seed: int, lr: float) -> RunConfig:
        # the students' weight decay is their teacher's (the recipe's, one value per setting)
        recipe = recipes.DISTILL.replace(epochs=self.epochs, kind=self.kind, K=self.K, lr=lr,
                                         weight_decay=self.teacher.weight_decay)
        return recipe.config(method, dim, seed=seed, eval_every=self.eval_every)


#: The teachers are those the course and ``reproduce`` train (the same cache keys, so they are shared):
#: the lab's, the course's and the paper's (:meth:`TeacherConfig.paper`, one per base model).
_BPR, _LIGHTGCN = TeacherConfig.paper("bpr"), TeacherConfig.paper("lightgcn")
SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("synthetic", "synthetic", "bpr", teacher=recipes.LAB_TEACHER,
            epochs=recipes.LAB.epochs, lr=recipes.LAB.lr, K=recipes.LAB.K, dims=(2, 4, 8)),
    Setting("ml-100k", "ml-100k", "bpr", teacher=recipes.TEACHER,
            epochs=recipes.DISTILL.epochs, lr=recipes.DISTILL.lr, K=recipes.DISTILL.K,
            dims=(2, 4, 8, 16, 32)),
    Setting("citeulike", "citeulike", "bpr", teacher=_BPR, epochs=100, lr=_BPR.lr, K=DEFAULT_K,
            dims=(5, 10, 20, 40), stored=("results/citeulike_bpr.json",), eval_every=_BPR.eval_every,
            tuned_dims=(20,)),
    Setting("citeulike-lightgcn", "citeulike", "lightgcn", teacher=_LIGHTGCN, epochs=100, lr=_LIGHTGCN.lr,
            K=DEFAULT_K, dims=(10, 20, 40), eval_every=_LIGHTGCN.eval_every, tuned_dims=(20,)),
)}


def _run_key(row: dict) -> tuple:
    return (row["setting"], row["protocol"], row["dim"], row["method"], row["seed"], row["lr"])


def _row(setting: Setting, protocol: str, result, lr: float, threads) -> dict:
    history = result.history
    valid = history.curve(METRIC, "valid")[1]
    return {"setting": setting.name, "dataset": setting.dataset, "model": setting.kind, "protocol": protocol,
            "dim": result.config.dim, "method": result.config.method, "seed": result.config.seed, "lr": lr,
            METRIC: history.final(METRIC), "NDCG@50": history.final("NDCG@50"),
            f"valid {METRIC}": valid[-1] if valid else None, "seconds": round(history.seconds, 2),
            "threads": history.config.get("threads", threads),
            "flush_denormal": history.config.get("flush_denormal", False),
            "accelerator": history.config.get("accelerator"), "from_cache": result.from_cache}


def build_map(settings=tuple(SETTINGS), protocols=PROTOCOLS, *, path: str | Path = MAP_FILE,
              threads: int | None = None, progress: bool = False, dims: tuple[int, ...] | None = None,
              merge: tuple[str | Path, ...] = ()) -> dict:
    """Train or load every run of the map's cells (resuming from ``path``) and write runs and cells.

    Runs already in ``path`` are kept and not trained again; each finished run is written at once.
    ``dims`` restricts every setting to those of its dimensions (a quick look, e.g. one size).
    ``merge``: other map files, e.g. of a sweep run side by side in another process (one process per
    file: two never write one file); their runs are taken as they are, a run the map has already kept.
    With no settings the command only merges and redraws.
    """
    unknown = [s for s in settings if s not in SETTINGS] + [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown settings or protocols {unknown}; settings: {sorted(SETTINGS)}, "
                         f"protocols: {PROTOCOLS}")
    path = Path(path)
    payload = _load(path)
    done = {_run_key(r): r for r in payload["runs"]}
    for other in map(Path, merge):
        merged = _load(other) if other.exists() else None
        if merged is None or not merged["runs"]:
            raise ValueError(f"{other} holds no map runs to merge")
        payload["steps"].update(merged["steps"])
        for row in merged["runs"]:
            done.setdefault(_run_key(row), row)
    started = time.perf_counter()

    def save() -> None:
        payload["runs"] = sorted(done.values(), key=_run_key)
        payload["cells"] = map_cells(payload["runs"], payload["steps"])
        payload["wall_seconds"] = payload.get("wall_seconds", 0.0) + time.perf_counter() - started
        write_json_atomic(path, payload)

    with torch_threads(threads):
        for name in settings:
            setting = SETTINGS[name]
            data = load_dataset(setting.dataset, seed=0)
            payload["steps"][name] = data_step(METRIC, data)
            teacher, _ = get_teacher(data, setting.teacher, progress=progress, threads=threads)
            if setting.stored and "fixed" in protocols:
                for row in stored_runs(setting, data, teacher_digest(teacher), dims or setting.dims):
                    done.setdefault(_run_key(row), row)

            def run(protocol: str, method: str, dim: int, seed: int, lr: float) -> dict:
                key = (name, protocol, dim, method, seed, lr)
                if key not in done:
                    result = run_method(data, teacher, setting.config(method, dim, seed, lr), progress=progress,
                                        threads=threads)
                    done[key] = _row(setting, protocol, result, lr, threads)
                    done[key]["machine"] = machine_description()
                    save()
                return done[key]

            for dim in (d for d in setting.dims if dims is None or d in dims):
                for protocol in (p for p in setting.protocols_of(dim) if p in protocols):
                    rates = {}
                    for method in METHODS:
                        rates[method] = setting.lr if protocol == "fixed" else _chosen_lr(
                            [run(protocol, method, dim, setting.seeds[0], lr) for lr in LR_GRID])
                        for seed in setting.seeds:
                            run(protocol, method, dim, seed, rates[method])
                    if _close_call(map_cells(list(done.values()), payload["steps"]), name, protocol, dim):
                        for method in METHODS:
                            for seed in setting.extra_seeds:
                                run(protocol, method, dim, seed, rates[method])
    save()
    save_figure_atomic(plot_evidence_map(payload["cells"], names=SETTING_NAMES), path.with_suffix(".png"))
    return payload


def stored_runs(setting: Setting, data, teacher_sha256: str, dims: tuple[int, ...]) -> list[dict]:
    """The map rows (fixed protocol) of the finished runs in ``setting.stored`` that are this setting's cells:
    a dimension of ``dims``, the configuration :meth:`Setting.config` makes at the setting's rate (every
    field; ``None`` fields aside, as in the cache key), data of the same sizes and the same teacher
    (``teacher_sha256``, which pins the training data; a run without its own names its file's one teacher).
    Each row names its ``source``."""
    rows = []
    for source in setting.stored:
        results = json.loads(stored.stored_file(source).read_text(encoding="utf-8"))
        if results["dataset"] != json.loads(json.dumps(data.summary())) or len(results["teachers"]) != 1:
            continue
        for run in results["runs"] + results.get("other_seeds", []):
            config = {k: v for k, v in run["config"].items() if v is not None}
            if run["dim"] not in dims:
                continue
            wanted = asdict(setting.config(run["method"], run["dim"], run["config"]["seed"], setting.lr))
            teacher = run.get("teacher_sha256") or results["teachers"][0]["sha256"]
            if config != {k: v for k, v in wanted.items() if v is not None} or teacher != teacher_sha256:
                continue
            rows.append({"setting": setting.name, "dataset": setting.dataset, "model": setting.kind,
                         "protocol": "fixed", "dim": run["dim"], "method": run["method"],
                         "seed": run["config"]["seed"], "lr": setting.lr, METRIC: run[METRIC],
                         "NDCG@50": run["NDCG@50"], f"valid {METRIC}": None, "seconds": round(run["seconds"], 2),
                         "threads": run.get("threads") or results["machine"].get("threads"),
                         "flush_denormal": run.get("flush_denormal"), "accelerator": None,
                         "from_cache": run["from_cache"], "machine": run.get("machine") or results["machine"],
                         "source": source})
    return rows


def _load(path: Path) -> dict:
    if path.exists():
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload.setdefault("steps", {})
        return payload
    return {"what": "the evidence map (htd_tutorial.course.evidence_map): where FTD fails a tiny student and "
                    "HTD fixes it", "metric": METRIC, "lr_grid": list(LR_GRID),
            "settings": {n: asdict(s) for n, s in SETTINGS.items()},
            "steps": {}, "runs": [], "cells": []}


def map_cells(runs: list[dict], steps: dict) -> list[dict]:
    """One cell per setting × protocol × dimension: each method's mean and s.e. over its seeds, its rate,
    and the verdict of every comparison of :data:`COMPARISONS` (:func:`htd_tutorial.stats.read_paired`,
    paired by seed; ``steps``: Recall@50's step per setting, one test user)."""
    cells = []
    keys = sorted({(r["setting"], r["protocol"], r["dim"]) for r in runs})
    for name, protocol, dim in keys:
        here = [r for r in runs if (r["setting"], r["protocol"], r["dim"]) == (name, protocol, dim)]
        picked = {m: _chosen_runs([r for r in here if r["method"] == m], protocol) for m in METHODS}
        if not all(picked.values()):
            continue
        methods = {}
        for m, rows in picked.items():
            reading = read_paired([r[METRIC] for r in rows], step=None)
            methods[m] = {"mean": reading.mean, "se": reading.se, "n": reading.n, "lr": rows[0]["lr"],
                          "lr_at_edge": protocol == "tuned" and rows[0]["lr"] in (LR_GRID[0], LR_GRID[-1])}
        verdicts = {}
        for a, b in COMPARISONS:
            verdicts[f"{a}-{b}"] = verdict_of(picked[a], picked[b], steps.get(name))
        seeds = sorted(set.intersection(*({r["seed"] for r in rows} for rows in picked.values())))
        if len(seeds) < MIN_SEEDS:
            continue
        cells.append({"setting": name, "dataset": here[0]["dataset"], "model": here[0]["model"],
                      "protocol": protocol, "dim": dim, "n_seeds": len(seeds), "methods": methods,
                      "verdicts": verdicts})
    return cells


def _chosen_runs(rows: list[dict], protocol: str) -> list[dict]:
    """The runs a cell reads for one method: all of them (fixed), or those at the rate chosen on seed 0's
    validation score (tuned)."""
    if protocol == "fixed" or not rows:
        return sorted(rows, key=lambda r: r["seed"])
    first = min(r["seed"] for r in rows)
    candidates = [r for r in rows if r["seed"] == first]
    if any(r[f"valid {METRIC}"] is None for r in candidates) or {r["lr"] for r in candidates} != set(LR_GRID):
        return []
    chosen = _chosen_lr(candidates)
    return sorted((r for r in rows if r["lr"] == chosen), key=lambda r: r["seed"])


def _chosen_lr(candidates: list[dict]) -> float:
    """The tuned protocol's rate: the candidate run (one per rate, same seed) with the best validation score."""
    return max(candidates, key=lambda r: r[f"valid {METRIC}"])["lr"]


def verdict_of(a_rows: list[dict], b_rows: list[dict], step: float | None) -> dict:
    """The rule's reading of ``a − b`` over the seeds both have: mean, s.e., verdict and why."""
    b_by_seed = {r["seed"]: r[METRIC] for r in b_rows}
    pairs = [(r["seed"], r[METRIC] - b_by_seed[r["seed"]]) for r in a_rows if r["seed"] in b_by_seed]
    reading = read_paired([d for _, d in pairs], step=step)
    return {"mean": reading.mean, "se": reading.se, "n": reading.n, "verdict": reading.verdict,
            "why": reading.why, "close_call": reading.close_call, "seeds": [s for s, _ in pairs]}


def _close_call(cells: list[dict], setting: str, protocol: str, dim: int) -> bool:
    """Whether a comparison of that cell is a close call on its seeds so far (then it gets the extra seeds)."""
    return any(v["close_call"] for c in cells if (c["setting"], c["protocol"], c["dim"]) == (setting, protocol, dim)
               for v in c["verdicts"].values())


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.evidence_map``: train what the map still lacks, write file and figure."""
    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.evidence_map",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=tuple(SETTINGS),
                        help="datasets and base models (default: all; CiteULike takes hours on a CPU; "
                             "none: only --merge)")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--dims", type=int, nargs="+", default=None,
                        help="only these student sizes of each setting (default: all of the setting's)")
    parser.add_argument("--file", default=str(MAP_FILE), help="the map file (default: results/evidence_map.json)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: the package's policy)")
    parser.add_argument("--progress", action="store_true", help="progress bars while training")
    parser.add_argument("--merge", nargs="+", default=[], metavar="FILE",
                        help="other map files whose runs are taken in (e.g. a setting swept in another process)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1 or any(d < 1 for d in args.dims or ()):
        parser.error("--threads and --dims must be >= 1")
    payload = build_map(tuple(args.settings), tuple(args.protocols), path=args.file, threads=args.threads,
                        progress=args.progress, dims=tuple(args.dims) if args.dims else None,
                        merge=tuple(args.merge))
    print(f"{len(payload['runs'])} runs, {len(payload['cells'])} cells in {args.file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

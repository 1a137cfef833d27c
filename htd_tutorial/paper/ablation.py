"""What each difference between the authors' HTD code and the paper's text changes: an ablation.

:class:`~htd_tutorial.losses.htd.HTDOptions` names every place where the authors' code and our
reading of the paper differ as one switch (prototypes under ``no_grad``, the extra "teacher
similarity > 0" filter of the entity level, the unmasked (P,e) term, users and items mixed at the
group level, the epsilon-free cosine, the lagged temperature). This module trains HTD

- with the authors' preset (the reproduction's setting),
- with the authors' preset and exactly one switch flipped to the clean value, for every switch,
- with the clean preset,

all with the same data, teacher, student dimension and seeds, and reports each variant's test
Recall@50 / NDCG@50 and its *paired* difference to the authors' preset: seed s of a variant minus
seed s of the authors' preset (same initial student, same batches), averaged over the seeds both
have, with its standard error. Every run goes through
:func:`htd_tutorial.experiments.run_method`, so it is cached: the authors' preset shares its run
with ``python -m htd_tutorial reproduce`` when the settings match, and an interrupted ablation
resumes where it stopped. The files outlive the model cache: a run stored in the reproduction's
results file or in the ablation's own (same settings, same teacher) is taken from there.

Command line::

    python -m htd_tutorial ablation --data citeulike --dim 20 --epochs 100 [--model bpr] [--out results]
                                    [--seeds 0 1 2] [--threads 1]

writes ``<out>/<dataset>_<model>_ablation_d<dim>.json`` and a bar chart next to it (``.png``). As in
the reproduction's file, its ``wall_seconds`` sums every command that wrote it (an assembly from the
cache adds seconds); each run's training time is its row's ``seconds``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..choices import HEADLINE
from ..choices import (DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K,
                       DEFAULT_LAMBDA, DEFAULT_LR, DEFAULT_WEIGHT_DECAY, PAPER_EVAL_EVERY, TEACHER_DIM)
from .._checks import positive_int
from ..data import Interactions
from ..config import RunConfig, TeacherConfig
from ..experiments import METHODS, NotCachedError, config_json, run_method, teacher_digest
from ..losses.htd import HTD_MODES, HTDOptions
from ..models import Recommender
from ..training import machine_description, torch_threads
from .results import METRICS, all_runs, mean_and_se, replace_readme_block, results_doc_args, write_json_atomic

__all__ = ["ablation_configs", "stored_runs", "run_ablation_grid", "variant_label", "ablation_table", "format_ablation",
           "readme_ablation_table", "run_ablation", "REFERENCE_VARIANT"]

#: The variant every other one is compared with (the reproduction's setting).
REFERENCE_VARIANT = "authors"


def _seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, int) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds must be a list of integers >= 0, got {seeds!r}")
    seeds = tuple(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds!r}")
    return seeds


def ablation_configs(dim: int, *, epochs: int, kind: str = "bpr", base: str = "authors", seeds=(0,),
                     K: int = DEFAULT_K, gamma: float = DEFAULT_GAMMA, group_topology: str = DEFAULT_GROUP_TOPOLOGY,
                     lam: float = DEFAULT_LAMBDA, lr: float = DEFAULT_LR, weight_decay: float = DEFAULT_WEIGHT_DECAY,
                     batch_size: int = DEFAULT_BATCH_SIZE,
                     eval_every: int | None = None, baselines=()) -> dict[str, list[RunConfig]]:
    """The runs of the ablation, by variant name, one :class:`RunConfig` per seed.

    Parameters
    ----------
    dim : int
        Student dimension (> 0).
    epochs : int
        Training epochs of every run.
    kind : {"bpr", "lightgcn"}
        Base model.
    base : {"authors", "clean"}
        The preset whose switches are flipped one at a time (see
        :meth:`~htd_tutorial.losses.htd.HTDOptions.ablation`); both presets are always included.
    seeds : sequence of int
        One run per seed and variant (the spread over seeds tells a real effect from noise).
    K, gamma, group_topology, lam, lr, weight_decay, batch_size, eval_every
        As in :class:`~htd_tutorial.config.RunConfig`, the same for every variant.
    baselines : sequence of str
        Other methods to run at the same settings for context, e.g. ``("student", "ftd")``.

    Returns
    -------
    dict
        ``{"authors": [...], "authors + proto_grad": [...], ..., "clean": [...], <baselines>}``.
        The presets use ``mode`` with ``options=None`` (sharing the cache with other runs of that
        mode), the single-switch variants ``options=``.

    Raises
    ------
    ValueError
        Bad ``base``, seeds, baselines, or any setting :class:`RunConfig` rejects.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    if base not in HTD_MODES:
        raise ValueError(f"base must be one of {HTD_MODES}, got {base!r}")
    seeds = _seeds(seeds)
    baselines = tuple(baselines)
    bad = [m for m in baselines if m not in METHODS or m == "htd"]
    if bad:
        raise ValueError(f"baselines must be methods other than 'htd' from {METHODS}, got {bad}")
    common = dict(dim=dim, epochs=epochs, kind=kind, lam=lam, K=K, gamma=gamma, group_topology=group_topology,
                  lr=lr, weight_decay=weight_decay, batch_size=batch_size, eval_every=eval_every)
    configs = {}
    for variant, options in HTDOptions.ablation(base).items():
        mode = variant if variant in HTD_MODES else base
        configs[variant] = [RunConfig(method="htd", mode=mode, options=options, seed=s, **common) for s in seeds]
    for method in baselines:
        configs[method] = [RunConfig(method=method, mode="authors", seed=s, **common) for s in seeds]
    return configs


def _file_teacher(payload: dict) -> str | None:
    """SHA-256 of a results file's teacher: its ``teacher.sha256``, or else the one entry of its
    ``teachers`` whose metrics are the file teacher's (relative tolerance 1e-9: the same weights
    score a last bit apart with another thread count), as the reproduction decides it."""
    teacher = payload.get("teacher") or {}
    if teacher.get("sha256"):
        return teacher["sha256"]
    same = [t["sha256"] for t in payload.get("teachers") or [] if t.get("sha256")
            and all(m in t and m in teacher and math.isclose(t[m], teacher[m], rel_tol=1e-9) for m in METRICS)]
    return same[0] if len(same) == 1 else None


def _earlier_wall_seconds(path: Path, settings: dict, teacher_sha256: str) -> float:
    """The ``wall_seconds`` of the ablation file this command rewrites, when it holds the same
    ablation (settings, and every run distilled from this teacher); else 0. So the field means what
    it means in the reproduction's file: the wall time of every command that wrote the file, summed
    (an assembly with ``cached_only`` adds seconds; each run's training time is its row's ``seconds``)."""
    if not path.is_file():
        return 0.0
    previous = json.loads(path.read_text(encoding="utf-8"))
    same = previous.get("settings") == settings and all(
        row.get("teacher_sha256") == teacher_sha256 for row in previous.get("runs", []))
    return float(previous.get("wall_seconds") or 0.0) if same else 0.0


def stored_runs(paths, teacher_sha256: str) -> dict[str, dict]:
    """Finished runs of earlier results files that a grid can take instead of training them again.

    A run is taken when its row has a ``config`` (the :class:`RunConfig` it was trained with) and was
    distilled from this teacher: its ``teacher_sha256``, or for rows from before that was kept, the
    file's teacher (its ``teacher.sha256``, or the ``teachers`` entry with the file teacher's
    metrics). The model cache does not outlive a session; these files do.

    Parameters
    ----------
    paths : iterable of path
        Results files (a reproduction's or an earlier ablation's); missing ones are skipped.
    teacher_sha256 : str
        :func:`~htd_tutorial.experiments.teacher_digest` of the teacher in use.

    Returns
    -------
    dict
        ``{config_json(config): row}``; the first file that has a run wins.
    """
    found: dict[str, dict] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        payload = json.loads(path.read_text(encoding="utf-8"))
        file_teacher = _file_teacher(payload)
        for row in all_runs(payload):
            if "config" in row and (row.get("teacher_sha256") or file_teacher) == teacher_sha256:
                # a row copied from file to file keeps the name of the file it was first stored in
                found.setdefault(config_json(row["config"]), {**row, "stored_in": row.get("stored_in") or path.name})
    return found


def run_ablation_grid(data: Interactions, teacher: Recommender, configs: dict[str, list[RunConfig]], *,
                      directory: str | Path | None = None, progress: bool = True, epoch_bars: bool = True,
                      verbose: bool = False, stored: dict[str, dict] | None = None,
                      threads: int | None = None, train_missing: bool = True,
                      flush_denormal: bool = True) -> list[dict]:
    """Train (or load) every run of :func:`ablation_configs`; one record per run.

    Parameters
    ----------
    data : Interactions
    teacher : Recommender
        The frozen teacher.
    configs : dict
        As returned by :func:`ablation_configs`.
    directory : path, optional
        Cache folder of :func:`~htd_tutorial.experiments.run_method`.
    progress : bool
        Show progress bars.
    epoch_bars : bool
        ``True``: one bar per training, over its epochs (long runs, e.g. the command line on
        CiteULike); ``False``: one bar over all the runs (many short runs, e.g. the notebook's lab).
    verbose : bool
        Print one line per finished run.
    stored : dict, optional
        Finished runs by :func:`~htd_tutorial.experiments.config_json` (:func:`stored_runs`): a run
        found there is not trained; its stored metrics, seconds and curve are used.
    threads : int, optional
        CPU threads while training (:func:`~htd_tutorial.experiments.run_method`; not part of the
        cache key).
    flush_denormal : bool
        Train with subnormal floats flushed to zero (:func:`~htd_tutorial.experiments.run_method`).
    train_missing : bool
        ``False``: a run that is neither stored nor in the model cache is skipped (no record),
        not trained; ``verbose`` says so.

    Returns
    -------
    list of dict
        ``{"variant", "method", "seed", "changed", "options", "label", "Recall@50", "NDCG@50", ...,
        "seconds", "threads", "accelerator", "flush_denormal", "from_cache", "stored_in", "curve", "config",
        "teacher_sha256"}``;
        ``accelerator`` names the GPU a run trained on (None: CPU, or a run cached before it was recorded); ``changed``
        maps each switch that differs from the authors' preset to its value (empty for the authors'
        preset and the baselines), ``options`` holds all switches of an HTD run (None for
        baselines), ``label`` is :func:`variant_label`, ``stored_in`` names the results file a run
        was first stored in (None: trained or loaded from the model cache).

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    authors = HTDOptions.preset("authors")
    stored = stored or {}
    digest = teacher_digest(teacher)
    rows = []
    total = sum(len(runs) for runs in configs.values())
    grid_bar = tqdm(total=total, desc="runs") if progress and not epoch_bars else None
    for variant, runs in configs.items():
        for config in runs:
            if grid_bar is not None:
                grid_bar.set_postfix_str(f"{variant} (seed {config.seed})")
            found = stored.get(config_json(config))
            if found is None:
                try:
                    result = run_method(data, teacher, config, directory=directory,
                                        progress=progress and epoch_bars, desc=f"{variant} (seed {config.seed})",
                                        threads=threads, train_missing=train_missing,
                                        flush_denormal=flush_denormal)
                except NotCachedError:
                    if grid_bar is not None:
                        grid_bar.update()
                    if verbose:
                        print(f"{variant:>40} seed {config.seed}: not run yet (skipped: finished runs only)")
                    continue
                test = {k: v for k, v in result.history.metrics[-1].items() if k not in ("epoch", "split")}
                seconds, from_cache, curve = result.history.seconds, result.from_cache, result.history.curve()
                run_threads, accelerator = (result.history.config.get(k) for k in ("threads", "accelerator"))
                flushed = result.history.config.get("flush_denormal", False)
            else:
                test = {m: found[m] for m in METRICS}
                seconds, from_cache, curve = found["seconds"], True, found["curve"]
                run_threads, accelerator = found.get("threads"), found.get("accelerator")
                flushed = found.get("flush_denormal", False)
            if grid_bar is not None:
                grid_bar.update()
            changed, options = {}, None
            if config.method == "htd":
                options = config.options or HTDOptions.preset(config.mode)
                changed = {name: values[1] for name, values in authors.differences(options).items()}
                options = asdict(options)
            rows.append({"variant": variant, "method": config.method, "seed": config.seed, "changed": changed,
                         "options": options, "label": variant_label(variant, options),
                         **test, "seconds": seconds, "threads": run_threads, "accelerator": accelerator,
                         "flush_denormal": flushed, "from_cache": from_cache,
                         "stored_in": None if found is None else found["stored_in"], "curve": curve,
                         "config": json.loads(config_json(config)), "teacher_sha256": digest})
            if verbose:
                took = (f"from {found['stored_in']}" if found is not None
                        else "cached" if from_cache else f"{seconds:.0f} s")
                print(f"{variant:>40} seed {config.seed}: test Recall@50 {test[HEADLINE]:.4f}  "
                      f"NDCG@50 {test['NDCG@50']:.4f}  ({took})")
    if grid_bar is not None:
        grid_bar.close()
    return rows


def variant_label(variant: str, options: dict | None = None) -> str:
    """A readable name of an ablation variant, e.g. ``"authors' code, proto_grad=True"``.

    Parameters
    ----------
    variant : str
        A key of :func:`ablation_configs` (``"authors"``, ``"authors + proto_grad"``, ``"clean"``,
        ``"clean - eps"``, or a baseline method).
    options : dict, optional
        The variant's switches (``asdict(HTDOptions)``), to show the flipped switch's value.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    from ..plots import METHOD_LABELS

    names = {"authors": "authors' code", "clean": "clean reading"}
    if variant in names:
        return names[variant]
    for sign in (" + ", " - "):
        if sign in variant:
            base, switch = variant.split(sign, 1)
            value = f"={options[switch]}" if options and switch in options else " flipped"
            return f"{names.get(base, base)}, {switch}{value}"
    return METHOD_LABELS.get(variant, variant)


def ablation_table(rows, *, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50"),
                   reference: str = REFERENCE_VARIANT) -> pd.DataFrame:
    """Mean (and spread over seeds) of each variant's metrics, and its paired difference to ``reference``.

    The difference is paired: for every seed both the variant and ``reference`` have, the variant's
    value minus the reference's at that seed (same initial student, same batches), then the mean and
    standard error of those differences. Pairing removes the part of the seed noise both runs share.

    Parameters
    ----------
    rows : list of dict or pandas.DataFrame
        Records with ``"variant"``, ``"seed"`` and the metrics (from :func:`run_ablation_grid` or
        the ``"runs"`` of an ablation JSON file); one record per variant and seed.
    metrics : tuple of str
    reference : str
        The variant the differences are taken to (default the authors' preset).

    Returns
    -------
    pandas.DataFrame
        Index ``variant`` (in the order of ``rows``); columns ``label`` (when the rows have
        one), ``seeds``, ``paired seeds`` (seeds shared with ``reference``), then for each metric
        ``<metric>`` (mean over the variant's seeds), ``<metric> std`` (0 with one seed),
        ``Δ <metric>`` (mean paired difference, variant minus reference; NaN without a shared seed)
        and ``Δ <metric> se`` (its standard error; NaN with fewer than two paired seeds).

    Raises
    ------
    ValueError
        Missing columns, a variant with the same seed twice, or no ``reference`` variant.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    frame = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows)
    missing = [c for c in ("variant", "seed", *metrics) if c not in frame.columns]
    if frame.empty or missing:
        raise ValueError(f"ablation rows need the columns variant, seed and {list(metrics)}; missing {missing}")
    if reference not in set(frame["variant"]):
        raise ValueError(f"no {reference!r} variant among {sorted(set(frame['variant']))}")
    twice = frame[frame.duplicated(["variant", "seed"])]
    if not twice.empty:
        raise ValueError(f"one row per variant and seed expected; repeated: "
                         f"{sorted(set(zip(twice['variant'], twice['seed'])))}")
    order = list(dict.fromkeys(frame["variant"]))
    grouped = frame.groupby("variant", sort=False)
    table = pd.DataFrame({"seeds": grouped["seed"].count()})
    if "label" in frame.columns:
        table.insert(0, "label", grouped["label"].first())
    by_seed = frame.set_index(["variant", "seed"])
    shared = {v: sorted(set(by_seed.loc[v].index) & set(by_seed.loc[reference].index)) for v in order}
    table["paired seeds"] = [len(shared[v]) for v in table.index]
    for metric in metrics:
        table[metric] = grouped[metric].mean()
        table[f"{metric} std"] = grouped[metric].std(ddof=0)
        values = by_seed[metric]
        paired = {v: mean_and_se(values.loc[v].loc[shared[v]] - values.loc[reference].loc[shared[v]])
                  if shared[v] else (math.nan, None) for v in table.index}
        table[f"Δ {metric}"] = [paired[v][0] for v in table.index]
        table[f"Δ {metric} se"] = [math.nan if paired[v][1] is None else paired[v][1] for v in table.index]
    return table.loc[order]


def _number(value: float, width: int, sign: str = "") -> str:
    """``value`` right-aligned with 4 decimals, or ``–`` where it is undefined (NaN)."""
    return f"{'–':>{width}}" if math.isnan(value) else f"{value:{sign}{width}.4f}"


def format_ablation(table: pd.DataFrame, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> str:
    """Plain-text version of :func:`ablation_table` for the terminal.

    With several seeds each metric shows its spread (``± std``) and the paired difference its
    standard error (``± se``).

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    names = table["label"] if "label" in table.columns else pd.Series(table.index, index=table.index)
    width = max(len(str(v)) for v in names) + 2
    several = int(table["seeds"].max()) > 1
    head = f"{'variant':<{width}}" + "".join(
        f"{metric:>12}" + (f"{'± std':>9}" if several else "") + f"{'Δ vs ' + REFERENCE_VARIANT:>14}"
        + (f"{'± se':>9}" if several else "") for metric in metrics)
    lines = [head, "-" * len(head)]
    for variant, row in table.iterrows():
        cells = "".join(f"{row[m]:>12.4f}" + (f"{row[m + ' std']:>9.4f}" if several else "")
                        + _number(row["Δ " + m], 14, "+") + (_number(row[f"Δ {m} se"], 9) if several else "")
                        for m in metrics)
        lines.append(f"{names[variant]:<{width}}{cells}")
    return "\n".join(lines)


def _signed(value, se, n: int) -> str:
    """``+0.0040 ± 0.0012 (3)``: a paired difference, its standard error and its number of seed pairs."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    spread = "" if se is None or (isinstance(se, float) and math.isnan(se)) else f" ± {se:.4f}"
    return f"{value:+.4f}{spread} ({n})"


def readme_ablation_table(payload: dict, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> str:
    """The ablation table (Markdown, for :data:`htd_tutorial.paper.results.RESULTS_DOC`) from an ablation
    file: per variant the mean test metric over its seeds (their number in brackets) and the paired
    difference to the authors' code, ``mean ± s.e. (seed pairs)``; the runs not made yet are named under
    the table."""
    table = ablation_table(payload["runs"], metrics=metrics)
    head = ["variant", *(c for m in metrics for c in (m, f"Δ {m} vs authors' code"))]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for variant, row in table.iterrows():
        cells = [str(row.get("label", variant))]
        for m in metrics:
            cells += [f"{row[m]:.4f} ({int(row['seeds'])})",
                      "(reference)" if variant == REFERENCE_VARIANT
                      else _signed(row[f"Δ {m}"], row[f"Δ {m} se"], int(row["paired seeds"]))]
        lines.append("| " + " | ".join(cells) + " |")
    missing = payload.get("not_run") or []
    if missing:
        by_variant: dict[str, list[int]] = {}
        for entry in missing:
            by_variant.setdefault(entry["variant"], []).append(entry["seed"])
        lines.append("\nNot run yet: " + "; ".join(
            f"{variant} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))})"
            for variant, seeds in by_variant.items()) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.paper.ablation results/<name>_ablation_d<dim>.json``: rewrite the block
    ``<!-- results-table: <file stem> -->`` of :data:`htd_tutorial.paper.results.RESULTS_DOC` (``DOC.md
    results/....json``: of DOC.md) from the file (:func:`readme_ablation_table`)."""
    import sys

    paths = results_doc_args(sys.argv[1:] if argv is None else argv, "htd_tutorial.paper.ablation")
    if paths is None:
        return 2
    doc, results = paths
    payload = json.loads(results.read_text(encoding="utf-8"))
    changed = replace_readme_block(doc, readme_ablation_table(payload), name=results.stem)
    print(f"{doc}: {'table updated' if changed else 'table already up to date'} ({results.stem})")
    return 0


def run_ablation(data: str, *, dim: int = 20, epochs: int = DEFAULT_EPOCHS, kind: str = "bpr", base: str = "authors",
                 seeds=(0,), teacher_dim: int = TEACHER_DIM, teacher_epochs: int = DEFAULT_EPOCHS,
                 teacher_seed: int = 0, eval_every: int | None = PAPER_EVAL_EVERY, baselines=(),
                 out: str | Path = "results", name: str | None = None,
                 progress: bool = True, threads: int | None = None, cached_only: bool = False,
                 stored_files=(), variants=None, flush_denormal: bool = True) -> dict:
    """The ablation command: train the variants, print the table, write JSON and a bar chart.

    The teacher and the run settings are those of :func:`htd_tutorial.paper.reproduce.reproduce`
    (paper settings, the model's learning rate and weight decay from :data:`htd_tutorial.choices.RECIPE_LR`
    and :data:`~htd_tutorial.choices.RECIPE_WEIGHT_DECAY`,
    evaluation every 10 epochs), so on the same data the teacher and the
    authors'-preset HTD run come from the reproduction's cache. A run already in
    ``<out>/<name>_<kind>_ablation_d<dim>.json`` or in the reproduction's ``<out>/<name>_<kind>.json``
    with the same settings and teacher (:func:`stored_runs`) is taken from there, so the ablation
    resumes, and shares the reproduction's authors'-preset runs, on a machine without the model cache.
    ``stored_files`` adds other results files, e.g. those of ablations run side by side, one seed each,
    into other folders; with ``cached_only`` nothing is trained and the file holds the runs found
    (the others are listed under ``"not_run"``).

    Parameters
    ----------
    data : str
        Dataset name or path (see :func:`htd_tutorial.data.load_dataset`).
    dim, epochs, kind, base, seeds
        See :func:`ablation_configs`.
    teacher_dim, teacher_epochs, teacher_seed : int
        The teacher (trained or loaded with :func:`htd_tutorial.cache.get_teacher`).
    eval_every : int, optional
        Evaluation period of teacher and students (curves in the JSON).
    baselines : sequence of str
        Extra methods for context, e.g. ``("student", "ftd")``.
    out : path
        Output folder.
    name : str, optional
        File-name stem (default: the dataset's name).
    progress : bool
    threads : int, optional
        CPU threads for the teacher and the runs (default: the package's policy,
        :func:`htd_tutorial.training.training_threads`). Recorded with each run.
    flush_denormal : bool
        Train the students with subnormal floats flushed to zero (default; faster HTD and DE runs on many
        CPUs, other last digits: :func:`htd_tutorial.training.train`). The teacher is trained as
        :func:`~htd_tutorial.cache.get_teacher` trains it, whatever this says, so flushed and unflushed
        runs name the same teacher. Recorded with each run as ``flush_denormal``.
    cached_only : bool
        Train no student: assemble the runs found in the results files and the model cache.
    stored_files : sequence of path
        More results files to take finished runs from (after this ablation's own file and the
        reproduction's).
    variants : sequence of str, optional
        Train only these variants (names of :func:`ablation_configs`), e.g. one variant and seed per
        process to run the ablation side by side; the authors' preset is still taken when finished
        (stored or cached), never trained unless named. Default: every variant.

    Returns
    -------
    dict
        What was written to ``<out>/<name>_<kind>_ablation_d<dim>.json``.

    Raises
    ------
    ValueError
        Bad settings, an unknown variant, a missing stored file, or (``cached_only``) no finished
        authors'-preset run.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    from ..cache import get_teacher
    from ..data import load_dataset
    from ..evaluation import evaluate
    from .reproduce import save_figure_atomic

    started = time.perf_counter()
    # the reproduction's teacher (its learning rate and weight decay are the students' too): runs are shared
    teacher_config = TeacherConfig.paper(kind, dim=teacher_dim, epochs=teacher_epochs, seed=teacher_seed,
                                         eval_every=eval_every or None)
    lr, weight_decay = teacher_config.lr, teacher_config.weight_decay
    # validates the settings before any loading or training
    configs = ablation_configs(dim, epochs=epochs, kind=kind, base=base, seeds=seeds, eval_every=eval_every or None,
                               baselines=baselines, lr=lr, weight_decay=weight_decay)
    if threads is not None:
        positive_int("threads", threads)
    selected = list(configs) if variants is None else list(variants)
    unknown = [v for v in selected if v not in configs]
    if unknown or not selected:
        raise ValueError(f"variants must be names from the {base!r} ablation {list(configs)}, got {unknown or selected}")
    stored_files = [Path(f) for f in stored_files]
    absent = [str(f) for f in stored_files if not f.is_file()]
    if absent:
        raise ValueError(f"no results file {', '.join(absent)} (stored_files)")
    with torch_threads(threads):
        dataset = load_dataset(data, seed=teacher_seed)
        teacher, _ = get_teacher(dataset, teacher_config, progress=progress, threads=threads)
        stem = f"{name or dataset.name}_{kind}_ablation_d{dim}"
        out = Path(out)
        # runs a new session need not train again: this ablation's earlier ones, then the reproduction's
        digest = teacher_digest(teacher)
        stored = stored_runs([out / f"{stem}.json", out / f"{name or dataset.name}_{kind}.json", *stored_files],
                             digest)
        reference = HTDOptions.preset("authors")
        payload = {
            "dataset": dataset.summary(),
            "teacher": {"kind": kind, "dim": teacher_dim, "epochs": teacher_epochs, "seed": teacher_seed,
                        **evaluate(teacher, dataset)["test"]},
            "settings": {k: v for k, v in asdict(next(iter(configs.values()))[0]).items()
                         if k not in ("method", "mode", "options", "seed")} | {"base": base, "seeds": list(seeds)},
            "variants": {variant: {"method": runs[0].method,
                                   "options": asdict(runs[0].options or HTDOptions.preset(runs[0].mode))
                                   if runs[0].method == "htd" else None,
                                   "differs_from_authors": sorted(reference.differences(
                                       runs[0].options or HTDOptions.preset(runs[0].mode)))
                                   if runs[0].method == "htd" else []}
                         for variant, runs in configs.items()},
            "machine": machine_description(),
            "runs": [],
            "not_run": [],
        }
        earlier = _earlier_wall_seconds(out / f"{stem}.json", payload["settings"], digest)
        for variant, runs in configs.items():  # one variant at a time: partial results are written as they come
            if variant not in selected and variant != REFERENCE_VARIANT:
                payload["not_run"] += [{"variant": variant, "seed": c.seed} for c in runs]
                continue
            found = run_ablation_grid(dataset, teacher, {variant: runs}, progress=progress, verbose=True,
                                      stored=stored, threads=threads, flush_denormal=bool(flush_denormal),
                                      train_missing=not cached_only and variant in selected)
            if variant == REFERENCE_VARIANT and not found and cached_only:  # nothing to compare with
                raise ValueError(f"no finished {REFERENCE_VARIANT!r} run to compare with: run without cached_only first")
            payload["runs"] += found
            done = {row["seed"] for row in found}
            payload["not_run"] += [{"variant": variant, "seed": c.seed} for c in runs if c.seed not in done]
            payload["wall_seconds"] = earlier + time.perf_counter() - started
            write_json_atomic(out / f"{stem}.json", payload)
        if not any(row["variant"] == REFERENCE_VARIANT for row in payload["runs"]):
            # side-by-side runs without the authors' preset yet: the runs are stored, the table waits
            write_json_atomic(out / f"{stem}.json", payload)
            print(f"wrote {out / f'{stem}.json'} (no table: no finished {REFERENCE_VARIANT!r} run to compare with)")
            return payload
        table = ablation_table(payload["runs"])
        payload["table"] = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
                            for row in table.reset_index().to_dict("records")]  # JSON has no NaN
        write_json_atomic(out / f"{stem}.json", payload)
    print(format_ablation(table))

    from ..plots.analysis import plot_ablation
    fig = plot_ablation(table, title=f"HTD ablation on {dataset.name} ({kind.upper()}, d={dim}, {epochs} epochs)")
    figure_path = save_figure_atomic(fig, out / f"{stem}.png")
    print(f"wrote {out / f'{stem}.json'} and {figure_path}")
    return payload


if __name__ == "__main__":
    raise SystemExit(main())

"""Helpers of the analysis notebook: stored results at the paper's scale, run tables, topology fidelity.

- :func:`load_results` reads a JSON file written by ``python -m htd_tutorial reproduce`` (or
  ``ablation``) and says clearly, instead of failing, when it is missing, unreadable or still
  partial, so a notebook that shows stored results keeps running without them.
- :func:`compare_with_reference` puts a reproduction next to the authors' published log;
  :func:`stored_summary` and :func:`stored_seed_runs` give its seed means and its runs by seed.
- :func:`runs_frame` turns :class:`~htd_tutorial.experiments.RunResult` objects into a table.
- :func:`fidelity_table` measures, for several students, how much of the teacher's topology they
  keep (:func:`htd_tutorial.topology.topology_report`), on the same sample of entities.
"""
from __future__ import annotations

import json

import pandas as pd
import torch

from ..choices import HEADLINE
from ..cache import shown_path
from ..topology import topology_report
from .recipes import LAB, LAB_SEEDS, LAB_TEACHER

__all__ = ["LAB", "LAB_TEACHER", "LAB_SEEDS", "lab_teacher", "results_path", "load_results", "results_runs",
           "compare_with_reference", "stored_seed_runs", "stored_summary", "runs_frame", "seed_summary", "run_label", "fidelity_table", "run_grid",
           "group_ari"]

#: The analysis notebook's "lab": small, fast settings on the synthetic data for the experiments that
#: compare many HTD variants (an HTD run here takes seconds instead of a minute). Students of
#: dimension 4 trained for 10 epochs at learning rate 3e-3 with K = 9 groups (the synthetic data
#: plants 9 sub-groups in 3 super-groups); everything else is the paper's (lambda 1e-3, gamma 0.5,
#: (P,e), the authors' code, batch 1024, weight decay 1e-3).
# LAB, LAB_TEACHER and LAB_SEEDS are owned by recipes.py (imported above).



def lab_teacher(data, *, kind: str = "bpr", epochs: int | None = None, seed: int = 0, progress: bool = True):
    """The lab's teacher for ``data`` (:data:`LAB_TEACHER`; ``kind`` and ``epochs`` can be changed), cached.

    Returns the model only (see :func:`htd_tutorial.cache.get_teacher`).

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    from ..cache import get_teacher

    config = LAB_TEACHER.replace(kind=kind, seed=seed, epochs=LAB_TEACHER.epochs if epochs is None else epochs)
    model, _ = get_teacher(data, config, progress=progress)
    return model


# The one reader of results files lives with the commands that write them (paper/results.py).
from ..paper.results import all_runs, load_results, results_path  # noqa: E402


def results_runs(payload: dict, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """The runs of a reproduce JSON as a table: ``method``, ``dim``, the metrics, ``seconds``.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    frame = pd.DataFrame(payload["runs"])
    missing = [c for c in ("method", "dim", *metrics) if c not in frame.columns]
    if missing:
        raise ValueError(f"results runs lack the columns {missing}")
    columns = ["method", "dim", *metrics] + (["seconds"] if "seconds" in frame.columns else [])
    return frame[columns].sort_values(["dim", "method"], kind="stable").reset_index(drop=True)


def stored_seed_runs(payload: dict, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """Every stored run of a reproduce JSON (``runs`` and ``other_seeds``) as the seed table that
    :func:`~htd_tutorial.course.evidence.compare` reads: ``method``, ``dim``, ``seed``, ``lr`` and the
    metrics, one row per run.

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    rows = all_runs(payload)
    if not rows:
        raise ValueError("the stored results hold no runs")
    return pd.DataFrame([{"method": r["method"], "dim": r["dim"], "seed": r["seed"], "lr": r["config"]["lr"],
                          **{m: r[m] for m in metrics}} for r in rows])


def stored_summary(payload: dict, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """A reproduce JSON's ``summary`` as a table: ``method``, ``dim``, ``seeds`` (how many), and per
    metric its mean over the seeds and standard error (``"<metric> se"``; empty for one seed).

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    return pd.DataFrame([{"method": e["method"], "dim": e["dim"], "seeds": e["n"],
                          **{k: e[k] for m in metrics for k in (m, f"{m} se")}} for e in payload["summary"]])


def compare_with_reference(payload: dict, *, metric: str = HEADLINE, tolerance: float = 0.015) -> pd.DataFrame:
    """A reproduction next to the authors' published numbers (the JSON's ``"reference"``).

    Parameters
    ----------
    payload : dict
        As returned by :func:`load_results` for a reproduce JSON (with ``"runs"`` and
        ``"reference"``: ``{method: {dim: value}}``, dimensions as strings or integers).
    metric : str
        The metric of the reference (the authors' log gives test Recall@50).
    tolerance : float
        Agreement band of the ``within`` column (the project's target: ±0.015).

    Returns
    -------
    pandas.DataFrame
        One row per stored cell that has a reference value: ``method``, ``dim``, ``seeds`` (how many
        runs ``ours`` averages: the file's seed ``"summary"`` when it has one, else its runs),
        ``ours``, ``authors``, ``difference`` (ours − authors), ``within`` (``|difference| <= tolerance``).

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    reference = payload.get("reference") or {}
    rows = []
    for run in payload.get("summary") or payload["runs"]:  # the seed means where the file has them
        table = reference.get(run["method"])
        if not isinstance(table, dict):
            continue
        value = table.get(str(run["dim"]), table.get(run["dim"]))
        if value is None:
            continue
        rows.append({"method": run["method"], "dim": int(run["dim"]), "seeds": int(run.get("n", 1)),
                     "ours": float(run[metric]), "authors": float(value),
                     "difference": float(run[metric]) - float(value)})
    frame = pd.DataFrame(rows, columns=["method", "dim", "seeds", "ours", "authors", "difference"])
    frame["within"] = frame["difference"].abs() <= tolerance
    return frame.sort_values(["dim", "method"], kind="stable").reset_index(drop=True)


def runs_frame(results, metrics: tuple[str, ...] = (HEADLINE, "NDCG@50"), *, split: str = "test") -> pd.DataFrame:
    """One row per run: ``method``, ``dim``, the run's settings that vary, and its final metrics.

    Parameters
    ----------
    results : iterable of RunResult
        From :func:`htd_tutorial.experiments.run_method`.
    metrics : tuple of str
    split : str

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``dim``, ``K``, ``gamma``, ``group_topology``, ``mode``, ``kind``,
        ``seed``, ``label`` (:func:`run_label`), the metrics, ``seconds`` and ``from_cache``.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    rows = []
    for result in results:
        config = result.config
        rows.append({"method": config.method, "dim": config.dim, "K": config.K, "gamma": config.gamma,
                     "group_topology": config.group_topology, "mode": config.mode, "kind": config.kind,
                     "seed": config.seed, "label": run_label(config),
                     **{m: result.history.final(m, split) for m in metrics},
                     "seconds": result.history.seconds, "from_cache": result.from_cache})
    return pd.DataFrame(rows)


def run_label(config) -> str:
    """A short name of a run for tables and bars, e.g. ``"HTD (P,e), authors' code"`` or ``"FTD"``.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    from ..plots import METHOD_LABELS

    name = METHOD_LABELS.get(config.method, config.method)
    if config.method != "htd":
        return name
    design = {"Pe": "(P,e)", "PP": "(P,P)"}.get(config.group_topology, config.group_topology)
    code = "custom switches" if getattr(config, "options", None) is not None else \
        {"authors": "authors' code", "clean": "clean reading"}.get(config.mode, config.mode)
    return f"{name} {design}, {code}"


def seed_summary(frame: pd.DataFrame, *, by: str = "label",
                 metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each group of runs (e.g. each ``label``).

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`runs_frame` (one row per run, with a ``seed`` column).
    by : str
        The column that names a setting.
    metrics : tuple of str

    Returns
    -------
    pandas.DataFrame
        One row per setting (first-appearance order): ``by``, ``seeds``, ``<metric>`` (mean) and
        ``<metric> std`` (population standard deviation, 0 for one seed).

    Introduced in ``notebooks/06_reproduction_lab.ipynb``.
    """
    missing = [c for c in (by, "seed", *metrics) if c not in frame.columns]
    if missing:
        raise ValueError(f"seed_summary needs the columns {missing}")
    grouped = frame.groupby(by, sort=False)
    table = pd.DataFrame({"seeds": grouped["seed"].count()})
    for metric in metrics:
        table[metric] = grouped[metric].mean()
        table[f"{metric} std"] = grouped[metric].std(ddof=0)
    return table.reset_index()


def fidelity_table(teacher, students: dict, *, entity: str = "items", n_sample: int = 1000, k: int = 10,
                   seed: int = 0) -> pd.DataFrame:
    """Topology fidelity of several students to one teacher, on the same sample of entities.

    Parameters
    ----------
    teacher : Recommender
    students : dict
        ``{method: model}``, e.g. ``{"student": ..., "ftd": ..., "htd": ...}`` (same dimension).
    entity : {"items", "users"}
        Which table to compare.
    n_sample, k, seed
        See :func:`htd_tutorial.topology.topology_report`.

    Returns
    -------
    pandas.DataFrame
        One row per student: ``method``, ``dim`` and ``kl_topk``, ``kl_random`` (lower is more
        faithful), ``knn_overlap``, ``spearman`` (higher is more faithful).

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    if entity not in ("items", "users"):
        raise ValueError(f"entity must be 'items' or 'users', got {entity!r}")
    if not students:
        raise ValueError("students must name at least one model")
    column = 1 if entity == "items" else 0
    with torch.no_grad():
        t_table = teacher.all_embeddings()[column].detach().cpu()
        rows = []
        for method, model in students.items():
            report = topology_report(model.all_embeddings()[column].detach().cpu(), t_table, n_sample=n_sample,
                                     k=k, seed=seed)
            rows.append({"method": method, "dim": model.dim,
                         **{key: report[key] for key in ("kl_topk", "kl_random", "knn_overlap", "spearman")}})
    return pd.DataFrame(rows)


def run_grid(data, teacher, configs, *, progress: bool = True, directory=None) -> list:
    """Train (or load from the cache) every :class:`~htd_tutorial.config.RunConfig` in ``configs``.

    Parameters
    ----------
    data : Interactions
    teacher : Recommender
    configs : iterable of RunConfig
    progress : bool
        One progress bar over the runs (the lab's runs take a second or two each, so bars over
        each run's epochs would only clutter the notebook).
    directory : path, optional
        Cache folder (default :func:`htd_tutorial.cache.cache_dir`).

    Returns
    -------
    list of RunResult
        In the order of ``configs``; pass it to :func:`runs_frame` for a table.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    from tqdm.auto import tqdm

    from ..experiments import run_method

    configs = list(configs)
    results = []
    bar = tqdm(configs, desc="runs", disable=not progress)
    for config in bar:
        bar.set_postfix_str(config.label)
        results.append(run_method(data, teacher, config, directory=directory, progress=False))
    return results


def group_ari(result, data, *, entity: str = "items", level: int = 1) -> float:
    """Agreement (adjusted Rand index) of an HTD run's learned groups with the data's planted groups.

    Parameters
    ----------
    result : RunResult
        An HTD run (its distiller holds the group assignment).
    data : Interactions
        Data with planted groups (the synthetic data).
    entity : {"items", "users"}
    level : int
        Column of the planted hierarchy: 0 = super-groups, 1 = sub-groups.

    Returns
    -------
    float
        See :func:`htd_tutorial.topology.group_agreement`.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    from ..topology import group_agreement

    if result.config.method != "htd" or result.distiller is None:
        raise ValueError(f"group_ari needs an HTD run, got method {result.config.method!r}")
    if entity not in ("items", "users"):
        raise ValueError(f"entity must be 'items' or 'users', got {entity!r}")
    planted = data.item_groups if entity == "items" else data.user_groups
    if planted is None:
        raise ValueError(f"{data.name} has no planted groups (only the synthetic data has them)")
    users, items = result.distiller.groups()
    return group_agreement(items if entity == "items" else users, planted[:, level])

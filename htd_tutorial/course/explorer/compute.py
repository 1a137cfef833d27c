"""The interactive topology explorer: move a slider, see how a student's space keeps the teacher's.

Two layers, so that everything but the wiring is testable without a browser:

- **Compute** (:class:`TopologyExplorer`, pure functions): for a setting (method Student / FTD /
  HTD, student dimension, number of groups K) it trains the student (or loads it from the
  in-memory cache, then from the disk cache of :func:`htd_tutorial.experiments.run_method`),
  projects the teacher's and the student's embeddings of the *same* sampled users and items to 2-D
  (UMAP, or PCA with a visible notice when umap-learn is missing), colours every point by the
  group HTD assigns it, and computes the student's Recall@50 / NDCG@50 and the topology-fidelity
  metrics of :mod:`htd_tutorial.topology`. The teacher's map is fitted once; each student's map
  once per setting; every result is kept, so returning to a setting is instant.
- **Widgets** (:class:`ExplorerWidget`): a method selector and two sliders (``continuous_update=False``),
  a progress bar, the picture and the metrics. It only wires controls to :meth:`TopologyExplorer.compute`
  and uses the API common to ipywidgets 7 (Colab) and 8 (``tests/test_installed.py`` runs notebook 05 with 7.7.1).

A cold machine: UMAP needs numba to compile it (up to a minute), so the widget's first picture is
drawn with PCA (aligned the same way) while :meth:`TopologyExplorer.prepare_umap` compiles UMAP in a
background thread, and is replaced by the UMAP picture when it is ready. A 2-D student is never
projected: its map is its own directions (:data:`RAW_2D`). ``python -m htd_tutorial.course.warm_up``
does the compiling (and trains the teachers) ahead of time; :mod:`htd_tutorial.course.explorer_page`
writes the same pictures into an offline HTML page.

Colours: a point's colour is its HTD group at the current dimension and K, learned by an HTD run
at that setting (trained alongside when the method shown is Student or FTD). So the colours are the
same whichever method is shown, and a learner can see whether a student keeps HTD's groups
together. User group k and item group k share a colour but are different groups; the marker
(circle = user, triangle = item) tells them apart.

Shipped settings (:data:`SHIPPED`) are sized for a 2-core CPU: the synthetic data (600 users, 900
items, planted groups), 20 epochs at learning rate 1e-2 with batches of 4096 triples, K up to 20,
250 users and 350 items drawn, torch on one thread. ``benchmarks/bench_explorer.py`` measures them.
"""
from __future__ import annotations

import dataclasses
import html
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .common import claim as course_claim
from ..data import Interactions
from ..plots.maps import (Projection, align_to, figure_png, load_umap, pca_2d, plot_space_pair, project_2d,
                          unit_directions)
from ..evaluation import evaluate
from ..experiments import RunConfig, RunResult, run_method
from ..models import Recommender
from .._checks import integer
from ..topology import group_agreement, sample_entities, topology_report
from ..training import torch_threads

__all__ = ["ExplorerSettings", "preload_optimiser", "SHIPPED", "METHOD_CHOICES", "Projection", "ExplorerResult", "TopologyExplorer",
           "ExplorerWidget", "load_umap", "project_2d", "align_to", "pca_2d", "plot_result", "metrics_html",
           "PCA_NOTICE", "UMAP_PREPARING", "result_titles", "RAW_2D", "EXPLORER_METHODS", "DEFAULT_EXPLORER_DATASET", "EXPLORER_DATASETS", "claim"]

#: The methods the explorer offers, as (label, value) pairs for the selector.
METHOD_CHOICES = (("Student (no distillation)", "student"), ("FTD", "ftd"), ("HTD", "htd"))
EXPLORER_METHODS = tuple(value for _, value in METHOD_CHOICES)
_METHOD_LABELS = {"student": "Student", "ftd": "FTD", "htd": "HTD"}
_RUN_DEFAULT_K = next(f.default for f in dataclasses.fields(RunConfig) if f.name == "K")

#: Shown (once per explorer) when umap-learn cannot be imported and PCA draws the maps instead.
PCA_NOTICE = ("umap-learn is not installed, so the maps use PCA instead of UMAP: a linear projection that "
              "keeps the large-scale spread but not the neighbourhoods. Install it with "
              "<code>pip install umap-learn</code> and restart the kernel for the UMAP pictures.")

#: Shown while UMAP is being prepared in the background and the maps are drawn with PCA meanwhile.
UMAP_PREPARING = ("UMAP is being prepared (numba compiles it once per machine: up to a minute on a cold one). "
                  "Meanwhile the maps use PCA, a linear projection that keeps the large-scale spread but not "
                  "the neighbourhoods; the picture is replaced by the UMAP one as soon as it is ready.")

#: How a 2-D student's map is drawn: its own embedding directions (unit length), rotated to line up
#: with the teacher's map. A 2-D space needs no projection, and a UMAP of it would only distort it.
RAW_2D = "2-D directions"

#: The dataset the explorer's notebook uses by default, and the ones it offers. The synthetic data is
#: small enough for slider changes within seconds and has planted groups to compare HTD's with;
#: MovieLens-100K works too, but a slider change then takes about a minute on a 2-core CPU.
DEFAULT_EXPLORER_DATASET = "synthetic"
EXPLORER_DATASETS = ("synthetic", "movielens-100k")

#: Steps of one computation, for the progress bar.
STAGES = ("checking the setting", "training or loading the student", "training or loading HTD (for the colours)",
          "2-D map of the teacher space", "2-D map of the student space", "topology metrics", "drawing")


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ExplorerSettings:
    """Everything that decides what the explorer computes (change them through the notebook's settings).

    Attributes
    ----------
    dims : tuple of int
        Student dimensions the dimension slider offers, increasing.
    dim, K, method : int, int, str
        The setting shown first (``dim`` must be in ``dims``; ``method`` one of
        :data:`EXPLORER_METHODS`).
    K_max : int
        Largest K the group slider offers. 20, not the paper's 30: HTD's cost grows with K, and at
        K = 30 a slider change took 11-13 s on a 2-core CPU busy with other jobs (K = 20: about 8 s).
        The synthetic data has 9 planted sub-groups per type, so K <= 20 shows every regime.
    epochs, lr, batch_size : int, float, int
        How each student is trained (few epochs with a large learning rate and large batches keep a
        slider change within seconds on a 2-core CPU).
    lam, mode : float, str
        Distillation weight lambda and HTD's mode (``"authors"`` or ``"clean"``, see
        :class:`htd_tutorial.losses.htd.HTDOptions`).
    n_users_shown, n_items_shown : int
        Users and items drawn (a random sample, the same in both maps and for the metrics).
    k_neighbours : int
        Neighbourhood size of the topology metrics (10-NN overlap, KL over the top-k).
    umap_neighbors, umap_epochs : int
        UMAP's ``n_neighbors`` and ``n_epochs`` (200 instead of umap-learn's 500 for small data:
        the maps of a few hundred points settle well before, and each student map costs less).
    seed : int
        Seed of the sample, the training runs and the maps.
    torch_threads : int or None
        Threads torch may use while the explorer computes (restored afterwards); None leaves torch's
        setting alone. One thread, because the explorer's tensors are small: on a 2-core machine
        that is busy with anything else, two threads made one HTD run 40 times slower than one
        thread did (112 s against 2.8 s, measured while other jobs ran), and never much faster
        when it was idle.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    dim: int = 4
    K: int = 9
    K_max: int = 20
    method: str = "htd"
    epochs: int = 20
    lr: float = 1e-2
    batch_size: int = 4096
    lam: float = 1e-3
    mode: str = "authors"
    n_users_shown: int = 250
    n_items_shown: int = 350
    k_neighbours: int = 10
    umap_neighbors: int = 15
    umap_epochs: int = 200
    seed: int = 0
    torch_threads: int | None = 1

    def __post_init__(self) -> None:
        dims = tuple(self.dims) if not isinstance(self.dims, (str, bytes)) else ()
        if not dims:
            raise ValueError(f"dims must be a non-empty sequence of student dimensions, got {self.dims!r}")
        dims = tuple(integer("each student dimension in dims", d, low=1) for d in dims)
        if list(dims) != sorted(set(dims)):
            raise ValueError(f"dims must be increasing without repeats, got {dims}")
        object.__setattr__(self, "dims", dims)
        if self.dim not in dims:
            raise ValueError(f"the first dimension shown, dim={self.dim!r}, must be one of dims={dims}")
        integer("K_max", self.K_max, low=1)
        integer("K", self.K, low=1)
        if self.K > self.K_max:
            raise ValueError(f"K={self.K} is larger than K_max={self.K_max}")
        if self.method not in EXPLORER_METHODS:
            raise ValueError(f"method must be one of {EXPLORER_METHODS}, got {self.method!r}")
        integer("epochs", self.epochs, low=1)
        _positive_float("lr", self.lr)
        integer("batch_size", self.batch_size, low=1)
        if isinstance(self.lam, bool) or not isinstance(self.lam, (int, float)) or not self.lam >= 0:
            raise ValueError(f"lam must be a number >= 0, got {self.lam!r}")
        if self.mode not in ("authors", "clean"):
            raise ValueError(f"mode must be 'authors' or 'clean', got {self.mode!r}")
        integer("n_users_shown", self.n_users_shown, low=1)
        integer("n_items_shown", self.n_items_shown, low=1)
        integer("k_neighbours", self.k_neighbours, low=1)
        integer("umap_neighbors", self.umap_neighbors, low=2)
        integer("umap_epochs", self.umap_epochs, low=1)
        integer("seed", self.seed, low=0)
        if self.torch_threads is not None:
            integer("torch_threads", self.torch_threads, low=1)

    def replace(self, **changes) -> "ExplorerSettings":
        """A copy with some settings changed (checked again); an unknown name raises ValueError."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown explorer setting(s) {unknown}; settings are "
                             f"{[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **changes)


#: The shipped settings (what the notebook, the tests and the benchmark use by default).
SHIPPED = ExplorerSettings()



# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------

@dataclass
class ExplorerResult:
    """What the explorer shows for one setting.

    Attributes
    ----------
    method, dim, K : str, int, int
        The setting.
    teacher_xy, student_xy : np.ndarray (n, 2)
        The two maps of the same n entities (the student's aligned to the teacher's).
    is_item : np.ndarray (n,) of bool
        Which points are items (the first ones are users).
    groups : np.ndarray (n,) of int
        HTD group of each point within its type, in ``[0, K)``.
    metrics : dict
        The student's test ``"Recall@50"``, ``"NDCG@50"``; topology fidelity on the shown entities
        (``"kl_topk"``, ``"kl_random"``, ``"knn_overlap"``, ``"spearman"``, see
        :func:`htd_tutorial.topology.topology_report`); with planted groups (synthetic data),
        ``"ari_users"`` and ``"ari_items"``: adjusted Rand index of the HTD groups of all users /
        items against the planted sub-groups.
    teacher_metrics : dict
        The teacher's test ``"Recall@50"`` and ``"NDCG@50"`` for comparison.
    projection : str
        ``"UMAP"`` or ``"PCA"``: how the teacher's map is drawn (and the student's, unless it is 2-D).
    notice : str or None
        Shown above the pictures (e.g. the PCA fallback notice).
    seconds : float
        Time :meth:`TopologyExplorer.compute` took for this call.
    cached : bool
        True when the whole result came from the in-memory cache.
    trained : tuple of str
        Runs that were trained for this call (empty when everything was cached).
    student_projection : str or None
        How the student's map is drawn when it differs from ``projection``: :data:`RAW_2D` for a
        2-D student, whose own directions are shown (no projection needed). None: as ``projection``.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    method: str
    dim: int
    K: int
    teacher_xy: np.ndarray
    student_xy: np.ndarray
    is_item: np.ndarray
    groups: np.ndarray
    metrics: dict
    teacher_metrics: dict
    projection: str
    notice: str | None = None
    seconds: float = 0.0
    cached: bool = False
    trained: tuple[str, ...] = ()
    student_projection: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """``(method, dim, K)``."""
        return self.method, self.dim, self.K


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _provenance(result: ExplorerResult) -> str:
    """How a result came about, in words: shown before, trained now, or its runs loaded from disk."""
    if result.cached:
        return "from the cache"
    return "trained" if result.trained else "loaded from the disk cache"


def metrics_html(result: ExplorerResult, *, k: int = 10, timing: bool = True) -> str:
    """The metrics panel: accuracy and topology fidelity of the student, as a small HTML table.

    ``timing``: add the line saying how the result came about and how long it took (the widget's; the
    kernel-free page, :mod:`htd_tutorial.course.explorer_page`, leaves it out).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    m, t = result.metrics, result.teacher_metrics
    label = f"{_METHOD_LABELS.get(result.method, result.method)} d={result.dim}"
    rows = [("<b>Accuracy</b> (test)", "", ""),
            ("Recall@50 &uarr;", _fmt(m.get("Recall@50")), _fmt(t.get("Recall@50"))),
            ("NDCG@50 &uarr;", _fmt(m.get("NDCG@50")), _fmt(t.get("NDCG@50"))),
            ("<b>Topology kept</b> (shown entities)", "", ""),
            (f"KL, top-{k} neighbours &darr;", _fmt(m.get("kl_topk")), "0"),
            (f"KL, {k} random &darr;", _fmt(m.get("kl_random")), "0"),
            (f"{k}-NN overlap &uarr;", _fmt(m.get("knn_overlap")), "1"),
            ("Spearman of similarities &uarr;", _fmt(m.get("spearman")), "1")]
    if "ari_users" in m:
        rows += [("<b>HTD groups vs planted sub-groups</b> (ARI)", "", "super-groups only"),
                 ("users &uarr;", _fmt(m.get("ari_users")), _fmt(t.get("ari_users"))),
                 ("items &uarr;", _fmt(m.get("ari_items")), _fmt(t.get("ari_items")))]
    body = "".join(f"<tr><td style='text-align:left;padding:1px 6px;white-space:nowrap'>{a}</td>"
                   f"<td style='text-align:right;padding:1px 6px'>{b}</td>"
                   f"<td style='text-align:right;padding:1px 6px;color:#666'>{c}</td></tr>" for a, b, c in rows)
    how = f"{_provenance(result)} in {result.seconds:.2f} s"
    if result.trained:
        how += f" (trained: {html.escape(', '.join(result.trained))})"
    footer = f"<div style='font-size:80%;color:#666;margin-top:4px'>{how}</div>" if timing else ""
    return (f"<table class='htd-explorer-metrics' style='border-collapse:collapse;font-size:90%'>"
            f"<tr><th style='text-align:left;padding:1px 6px'></th><th style='padding:1px 6px'>{html.escape(label)}"
            f"</th><th style='padding:1px 6px;color:#666'>teacher</th></tr>{body}</table>{footer}")


def plot_result(result: ExplorerResult, *, teacher_dim: int | None = None, axes=None):
    """The two maps of ``result`` side by side (see :func:`htd_tutorial.plots.maps.plot_space_pair`).

    Returns the matplotlib figure. Introduced in ``notebooks/05_explorer.ipynb``.
    """
    titles = result_titles(result, teacher_dim=teacher_dim)
    return plot_space_pair(
        result.teacher_xy, result.student_xy, result.is_item, result.groups, n_groups=result.K,
        teacher_title=titles["teacher"], student_title=titles["student"],
        projection=result.projection, axes=axes, student_projection=result.student_projection,
        suptitle=titles["suptitle"])


def result_titles(result: ExplorerResult, *, teacher_dim: int | None = None) -> dict[str, str]:
    """The picture's texts: ``"teacher"`` and ``"student"`` panel titles and the ``"suptitle"`` above both.

    One owner for :func:`plot_result` and the kernel-free page (:mod:`htd_tutorial.course.explorer_page`).
    """
    name = _METHOD_LABELS.get(result.method, result.method)
    teacher = "Teacher" + (f" (d={teacher_dim})" if teacher_dim else "")
    n_users = int((~result.is_item).sum())
    student = "Student space" if result.method == "student" else f"{name} student space"   # not "Student student"
    return {"teacher": f"{teacher} space", "student": f"{student} (d={result.dim})",
            "suptitle": (f"The same {n_users} users (o) and {len(result.is_item) - n_users} items (^) in both "
                         f"spaces; colour = HTD group (K={result.K}, learned at d={result.dim})")}


# ----------------------------------------------------------------------------------------------
# The compute layer
# ----------------------------------------------------------------------------------------------

def _import_optimiser_machinery() -> None:
    """Import what torch's first optimiser imports (``torch._dynamo``); any failure is left to that optimiser."""
    try:
        import torch._dynamo  # noqa: F401, PLC0415
    except Exception:  # noqa: BLE001
        pass


_optimiser_imports: threading.Thread | None = None


def preload_optimiser() -> None:
    """Start :func:`_import_optimiser_machinery` in a daemon thread (once per process).

    torch's first optimiser imports ``torch._dynamo``: about a thousand modules, 1-2 s on a 2-core
    CPU, which the explorer's first picture would otherwise wait for (its first setting trains a
    student). Notebook 05 calls it with its imports, so it is done while the data and the teacher
    load; :class:`TopologyExplorer` calls it too (it starts once). Importing this module starts
    nothing.
    """
    global _optimiser_imports
    if _optimiser_imports is None:
        _optimiser_imports = threading.Thread(target=_import_optimiser_machinery, name="htd-explorer-imports",
                                              daemon=True)
        _optimiser_imports.start()


class TopologyExplorer:
    """Computes and caches what the explorer shows; no widgets involved.

    Parameters
    ----------
    data : Interactions
    teacher : Recommender
        The trained teacher (e.g. :func:`htd_tutorial.course.course_teacher`).
    settings : ExplorerSettings
        Default :data:`SHIPPED`.
    directory : path, optional
        Disk cache of the student runs (default :func:`htd_tutorial.cache.cache_dir`).
    projection : {"auto", "umap", "pca"}
        How the maps are drawn (``"auto"``: UMAP when available, else PCA with a notice).
    disk_cache : bool
        Load and store runs on disk (``False`` keeps only the in-memory cache).

    Attributes
    ----------
    stats : dict
        Counters: ``"runs_trained"``, ``"runs_from_disk"``, ``"runs_from_memory"``,
        ``"projections"`` (2-D maps made), ``"results_from_memory"``.
    umap_seconds : float or None
        How long :meth:`prepare_umap` took (import, numba's compilation, the teacher's UMAP), once done.

    Maps: the teacher's map is made once per projection, each student's once per run and projection,
    aligned to the teacher's; a 2-D student is drawn with its own directions (:data:`RAW_2D`). UMAP
    needs numba to compile it (seconds warm, up to a minute on a cold machine), PCA nothing: so
    :meth:`compute` takes ``projection="pca"`` for a picture at once, and :meth:`prepare_umap` makes
    UMAP ready in a background thread (the widget does both).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    def __init__(self, data: Interactions, teacher: Recommender, settings: ExplorerSettings = SHIPPED, *,
                 directory: str | Path | None = None, projection: str = "auto", disk_cache: bool = True):
        if not isinstance(data, Interactions):
            raise ValueError(f"data must be an Interactions, got {type(data).__name__}")
        if not isinstance(settings, ExplorerSettings):
            raise ValueError(f"settings must be an ExplorerSettings, got {type(settings).__name__}")
        if projection not in ("auto", "umap", "pca"):
            raise ValueError(f"projection must be 'auto', 'umap' or 'pca', got {projection!r}")
        if (teacher.n_users, teacher.n_items) != (data.n_users, data.n_items):
            raise ValueError(f"the teacher embeds {teacher.n_users} users and {teacher.n_items} items but the data "
                             f"has {data.n_users} and {data.n_items}: was it trained on other data?")
        self.data, self.teacher, self.settings = data, teacher, settings
        self.directory, self.projection_method, self.disk_cache = directory, projection, disk_cache
        self.users = sample_entities(data.n_users, settings.n_users_shown, settings.seed)
        self.items = sample_entities(data.n_items, settings.n_items_shown, settings.seed + 1)
        if len(self.users) + len(self.items) <= settings.k_neighbours:
            raise ValueError(f"only {len(self.users) + len(self.items)} users and items to show; the topology "
                             f"metrics need more than k_neighbours={settings.k_neighbours}")
        self.is_item = np.r_[np.zeros(len(self.users), bool), np.ones(len(self.items), bool)]
        with torch.no_grad():
            t_users, t_items = teacher.all_embeddings()
        self.teacher_shown = torch.cat([t_users[self.users], t_items[self.items]]).detach().cpu().double()
        with torch_threads(settings.torch_threads):
            test = evaluate(teacher, data, splits=("test",))["test"]
        self.teacher_metrics = {name: test[name] for name in ("Recall@50", "NDCG@50")}
        if data.user_groups is not None and data.item_groups is not None:
            # The ARI rows' reference: a grouping that finds the planted super-groups exactly and
            # nothing finer, scored against the sub-groups (what an ARI there must beat to show any
            # sub-group structure).
            self.teacher_metrics["ari_users"] = group_agreement(data.user_groups[:, 0], data.user_groups[:, -1])
            self.teacher_metrics["ari_items"] = group_agreement(data.item_groups[:, 0], data.item_groups[:, -1])
        self._runs: dict[RunConfig, RunResult] = {}
        self._student_maps: dict[tuple[RunConfig, str], Projection] = {}
        self._teacher_maps: dict[str, Projection] = {}
        self._results: dict[tuple[str, int, int, str], ExplorerResult] = {}
        # UMAP's preparation (prepare_umap): done once, maybe in a background thread; compute is serialised.
        self._compute_lock = threading.RLock()
        self._umap_lock = threading.Lock()
        self._umap_thread: threading.Thread | None = None
        self._umap_done = threading.Event()
        self._umap_callbacks: list[Callable[[], None]] = []
        self._umap_missing: bool | None = None       # None: not known yet (umap-learn not imported yet)
        self._umap_error: str | None = None
        self.umap_seconds: float | None = None
        preload_optimiser()     # once per process (notebook 05 starts it earlier)
        self.stats = {"runs_trained": 0, "runs_from_disk": 0, "runs_from_memory": 0, "projections": 0,
                      "results_from_memory": 0}

    # -- settings ------------------------------------------------------------------------------
    def check_setting(self, method, dim, K) -> tuple[str, int, int]:
        """Validate a setting coming from the controls; return it normalised, or raise ValueError.

        The message says what is wrong in the learner's terms (e.g. more groups than users). The range
        is the controls': ``dim`` one of ``settings.dims``, ``1 <= K <= settings.K_max`` (and at most the
        number of users or items), so a call from code cannot ask for what the sliders would never
        show (a huge dimension would also train for minutes); widen the settings to explore further.
        """
        if method not in EXPLORER_METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(EXPLORER_METHODS)}")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"the student dimension must be a whole number >= 1, got {dim!r}")
        if dim not in self.settings.dims:
            raise ValueError(f"the student dimension {dim} is not on the dimension slider, which offers "
                             f"{', '.join(map(str, self.settings.dims))}; add it to the settings' dims to explore it")
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"the number of groups K must be a whole number >= 1, got {K!r}")
        fewest = min(self.data.n_users, self.data.n_items)
        if K > fewest:
            kind = "users" if self.data.n_users <= self.data.n_items else "items"
            raise ValueError(f"K = {K} groups is more than the {fewest} {kind} of this dataset: HTD splits the "
                             f"{kind} into K groups, so K can be at most {fewest}. Choose a smaller K.")
        if K > self.settings.K_max:
            raise ValueError(f"K = {K} groups is more than the group slider's largest value, K_max = "
                             f"{self.settings.K_max}; raise K_max in the settings to explore it")
        return str(method), int(dim), int(K)

    def run_config(self, method: str, dim: int, K: int) -> RunConfig:
        """The :class:`~htd_tutorial.experiments.RunConfig` of a setting (K only matters for HTD)."""
        s = self.settings
        return RunConfig(method=method, dim=int(dim), epochs=s.epochs, K=int(K) if method == "htd" else _RUN_DEFAULT_K,
                         lam=s.lam, mode=s.mode, seed=s.seed, lr=s.lr, batch_size=s.batch_size)

    # -- cached building blocks ----------------------------------------------------------------
    def run(self, config: RunConfig) -> RunResult:
        """The trained run for ``config``: from memory, else from disk, else trained (and stored)."""
        if config in self._runs:
            self.stats["runs_from_memory"] += 1
            return self._runs[config]
        result = run_method(self.data, self.teacher, config, directory=self.directory, use_cache=self.disk_cache,
                            progress=False)
        self.stats["runs_from_disk" if result.from_cache else "runs_trained"] += 1
        self._runs[config] = result
        return result

    def _project(self, embeddings, kind: str) -> Projection:
        self.stats["projections"] += 1
        return project_2d(embeddings, method=kind, seed=self.settings.seed,
                          n_neighbors=self.settings.umap_neighbors, n_epochs=self.settings.umap_epochs)

    # -- which projection ----------------------------------------------------------------------
    def _kind(self, projection: str | None) -> str:
        """``"umap"`` or ``"pca"``: what ``projection`` (None: the explorer's own) means now.

        ``"auto"`` is UMAP when umap-learn imports (waiting for :meth:`prepare_umap` if it is running),
        else PCA.
        """
        projection = self.projection_method if projection is None else projection
        if projection not in ("auto", "umap", "pca"):
            raise ValueError(f"projection must be 'auto', 'umap' or 'pca', got {projection!r}")
        if projection != "auto":
            return projection
        self._wait_for_umap()
        if self._umap_missing is None:
            self._umap_missing = load_umap() is None
        return "pca" if self._umap_missing or self._umap_error else "umap"

    def _wait_for_umap(self) -> None:
        thread = self._umap_thread
        if thread is not None and thread is not threading.current_thread():
            self._umap_done.wait()

    def umap_ready(self) -> bool:
        """Whether a map needs no more preparation: UMAP prepared (or failed, or not installed), or not used."""
        if self.projection_method == "pca":
            return True
        return self._umap_done.is_set() or "umap" in self._teacher_maps

    def prepare_umap(self, *, background: bool = True,
                     on_ready: Callable[[], None] | None = None) -> threading.Thread | None:
        """Make UMAP ready: import umap-learn (numba compiles it) and fit the teacher's UMAP map.

        Parameters
        ----------
        background : bool
            Do it in a daemon thread and return at once (the thread; None when there is nothing to do);
            ``False`` does it now. Calling it again while it runs starts nothing new.
        on_ready : callable, optional
            Called without arguments once UMAP is ready (or known to be unavailable), in the thread that
            prepared it; at once when it already is. It must not raise.

        Meanwhile :meth:`compute` with ``projection="pca"`` works as usual; a computation that needs UMAP
        waits for the preparation to end.
        """
        with self._umap_lock:
            if self.umap_ready():
                run_now = True
            else:
                run_now = False
                if on_ready is not None:
                    self._umap_callbacks.append(on_ready)
                if self._umap_thread is not None:
                    return self._umap_thread
                self._umap_thread = threading.Thread(target=self._prepare_umap, name="htd-explorer-umap",
                                                     daemon=True)
        if run_now:
            if on_ready is not None:
                on_ready()
            return None
        if background:
            self._umap_thread.start()
            return self._umap_thread
        self._umap_thread.start()
        self._umap_thread.join()
        return None

    def _prepare_umap(self) -> None:
        started = time.perf_counter()
        try:
            self._umap_missing = load_umap() is None
            if not self._umap_missing and "umap" not in self._teacher_maps:
                self._teacher_maps["umap"] = self._project(self.teacher_shown, "umap")
        except Exception as exc:  # noqa: BLE001 (reported in the notice; the maps fall back to PCA)
            self._umap_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.umap_seconds = time.perf_counter() - started
            self._umap_done.set()
            with self._umap_lock:
                callbacks, self._umap_callbacks = self._umap_callbacks, []
            for callback in callbacks:
                callback()

    # -- maps ----------------------------------------------------------------------------------
    def teacher_map(self, projection: str | None = None) -> Projection:
        """The teacher space's 2-D map of the shown entities (fitted once per projection).

        ``projection``: ``"auto"``, ``"umap"`` or ``"pca"`` (None: the explorer's own).
        """
        kind = self._kind(projection)
        if kind == "umap":
            self._wait_for_umap()
        if kind not in self._teacher_maps:
            self._teacher_maps[kind] = self._project(self.teacher_shown, kind)
        return self._teacher_maps[kind]

    def student_shown(self, run: RunResult) -> torch.Tensor:
        """The student's embeddings of the shown users and items, shape (n_shown, dim)."""
        with torch.no_grad():
            s_users, s_items = run.student.all_embeddings()
        return torch.cat([s_users[self.users], s_items[self.items]]).detach().cpu().double()

    def student_map(self, run: RunResult, projection: str | None = None) -> Projection:
        """A student space's 2-D map (made once per run and projection), aligned to the teacher's map.

        A 2-D student is drawn with its own directions (:data:`RAW_2D`), any other with ``projection``.
        """
        kind = self._kind(projection)
        key = (run.config, kind)
        if key not in self._student_maps:
            teacher = self.teacher_map(kind)
            if run.config.dim == 2:
                self.stats["projections"] += 1
                started = time.perf_counter()
                projection_ = Projection(unit_directions(self.student_shown(run)), RAW_2D, 0.0)
                projection_.seconds = time.perf_counter() - started
            else:
                projection_ = self._project(self.student_shown(run), kind)
            projection_.coords = align_to(projection_.coords, teacher.coords)
            self._student_maps[key] = projection_
        return self._student_maps[key]

    def htd_groups(self, htd_run: RunResult) -> tuple[np.ndarray, np.ndarray]:
        """Hard HTD groups (argmax of the assignment) of all users and all items, each in [0, K)."""
        distiller = htd_run.distiller
        if distiller is None or not hasattr(distiller, "groups"):
            raise ValueError(f"the run {htd_run.config.label} has no group assignment (not an HTD run)")
        user_groups, item_groups = distiller.groups()
        return user_groups.cpu().numpy().astype(np.int64), item_groups.cpu().numpy().astype(np.int64)

    # -- the whole computation -----------------------------------------------------------------
    def compute(self, method: str, dim: int, K: int, *, on_stage: Callable[[int, str], None] | None = None,
                projection: str | None = None) -> ExplorerResult:
        """Everything shown for one setting (cached: the second call with it returns at once).

        Parameters
        ----------
        method : {"student", "ftd", "htd"}
        dim : int
            Student dimension.
        K : int
            Number of HTD groups (the colours; and HTD's K when ``method == "htd"``).
        on_stage : callable, optional
            ``on_stage(step, text)`` is called before each step (``step`` indexes :data:`STAGES`),
            e.g. to move a progress bar.
        projection : {"auto", "umap", "pca"}, optional
            How the maps are drawn (default: the explorer's own). ``"pca"`` needs no compilation, so
            gives a picture at once on a cold machine; ``"auto"`` waits for :meth:`prepare_umap`
            when it runs.

        Returns
        -------
        ExplorerResult

        Raises
        ------
        ValueError
            A setting the explorer cannot show (the message says why).
        """
        with self._compute_lock, torch_threads(self.settings.torch_threads):
            return self._compute(method, dim, K, on_stage, projection)

    def _compute(self, method, dim, K, on_stage, projection) -> ExplorerResult:
        started = time.perf_counter()

        def stage(step: int) -> None:
            if on_stage is not None:
                on_stage(step, STAGES[step])

        stage(0)
        method, dim, K = self.check_setting(method, dim, K)
        kind = self._kind(projection)
        key = (method, dim, K, kind)
        notice = self._notice(kind, projection)
        if key in self._results:
            self.stats["results_from_memory"] += 1
            return dataclasses.replace(self._results[key], cached=True, trained=(), notice=notice,
                                       seconds=time.perf_counter() - started)
        labels: list[str] = []

        def fetch(config: RunConfig) -> RunResult:
            count = self.stats["runs_trained"]
            result = self.run(config)
            if self.stats["runs_trained"] > count:
                labels.append(config.label + (f" K={config.K}" if config.method == "htd" else ""))
            return result

        stage(1)
        run = fetch(self.run_config(method, dim, K))
        stage(2)
        htd_run = run if method == "htd" else fetch(self.run_config("htd", dim, K))
        user_groups, item_groups = self.htd_groups(htd_run)
        stage(3)
        teacher_map = self.teacher_map(kind)
        stage(4)
        student_map = self.student_map(run, kind)
        stage(5)
        metrics = {name: float(run.history.final(name)) for name in ("Recall@50", "NDCG@50")}
        student_shown = self.student_shown(run)
        report = topology_report(student_shown, self.teacher_shown, n_sample=len(student_shown),
                                 k=self.settings.k_neighbours, seed=self.settings.seed)
        metrics.update({name: report[name] for name in ("kl_topk", "kl_random", "knn_overlap", "spearman")})
        if self.data.user_groups is not None and self.data.item_groups is not None:
            metrics["ari_users"] = group_agreement(user_groups, self.data.user_groups[:, -1])
            metrics["ari_items"] = group_agreement(item_groups, self.data.item_groups[:, -1])
        groups = np.r_[user_groups[self.users.numpy()], item_groups[self.items.numpy()]]
        student_projection = student_map.method if student_map.method != teacher_map.method else None
        result = ExplorerResult(method=method, dim=dim, K=K, teacher_xy=teacher_map.coords,
                                student_xy=student_map.coords, is_item=self.is_item.copy(), groups=groups,
                                metrics=metrics, teacher_metrics=dict(self.teacher_metrics),
                                projection=teacher_map.method, notice=notice,
                                seconds=time.perf_counter() - started, trained=tuple(labels),
                                student_projection=student_projection)
        self._results[key] = result
        return result

    def _notice(self, kind: str, projection: str | None) -> str | None:
        """The notice of a map drawn with ``kind`` when ``projection`` was asked for (PCA instead of UMAP)."""
        if kind != "pca" or (projection or self.projection_method) != "auto":
            return None
        if self._umap_error is not None:
            return (f"UMAP could not be used ({html.escape(self._umap_error)}), so the maps use PCA instead: a "
                    "linear projection that keeps the large-scale spread but not the neighbourhoods.")
        return PCA_NOTICE

    def figure(self, result: ExplorerResult, axes=None):
        """The picture of ``result`` (see :func:`plot_result`)."""
        return plot_result(result, teacher_dim=self.teacher.dim, axes=axes)


# ----------------------------------------------------------------------------------------------
# The widget wrapper
# ----------------------------------------------------------------------------------------------

class ExplorerWidget:
    """Sliders and pictures around a :class:`TopologyExplorer` (ipywidgets 7 and 8).

    Build it, then show ``ui.widget`` (the last line of a notebook cell). Changing a control calls
    :meth:`update`, which computes the new setting (progress bar and status line while it works),
    then replaces the picture and the metrics. A setting that cannot be shown puts a readable
    message in the message area; the controls stay usable.

    A first picture at once, even on a cold machine: while UMAP is not ready (numba compiles it once
    per machine, up to a minute), the maps are drawn with PCA and a message says so; UMAP is prepared
    in a background thread (:meth:`TopologyExplorer.prepare_umap`), and when it is ready the picture of
    the current setting is replaced by its UMAP one.

    Parameters
    ----------
    explorer : TopologyExplorer
    compute_now : bool
        Compute and show the initial setting right away.
    dpi : int
        Resolution of the picture.
    background_umap : bool
        Draw with PCA until UMAP is ready, preparing it in the background (for an explorer whose
        projection is ``"auto"``). ``False``: wait for UMAP before the first picture.

    Attributes
    ----------
    method, dim, groups : ipywidgets controls
        The method selector, the dimension slider and the K slider.
    progress, status, image, metrics, message : ipywidgets
        Progress bar, status line, picture (PNG), metrics table, message area.
    widget : ipywidgets.VBox
        Everything, laid out.
    last_result : ExplorerResult or None
    last_error : str or None
        The last message shown instead of a picture (None after a success).
    renders : int
        How many pictures were drawn (cached pictures are not redrawn).
    first_picture_seconds : float or None
        Time from building the widget to its first picture (None until there is one).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    def __init__(self, explorer: TopologyExplorer, *, compute_now: bool = True, dpi: int = 80,
                 background_umap: bool = True):
        import ipywidgets as widgets

        built = time.perf_counter()

        if not isinstance(explorer, TopologyExplorer):
            raise ValueError(f"explorer must be a TopologyExplorer, got {type(explorer).__name__}")
        self.explorer, self.dpi = explorer, int(dpi)
        s = explorer.settings
        wide = {"description_width": "initial"}
        self.method = widgets.Dropdown(options=list(METHOD_CHOICES), value=s.method, description="Method",
                                       style=wide, layout=widgets.Layout(width="260px"))
        self.dim = widgets.SelectionSlider(options=list(s.dims), value=s.dim, description="Student dimension",
                                           continuous_update=False, style=wide, layout=widgets.Layout(width="330px"))
        self.groups = widgets.IntSlider(value=s.K, min=1, max=s.K_max, step=1, description="Groups K",
                                        continuous_update=False, style=wide, layout=widgets.Layout(width="330px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=len(STAGES), layout=widgets.Layout(width="200px"))
        self.status = widgets.Label(value="")
        self.image = widgets.Image(value=b"", format="png",
                                   layout=widgets.Layout(width="680px", height="auto", flex="0 0 auto"))
        self.metrics = widgets.HTML(value="", layout=widgets.Layout(flex="0 0 auto"))
        self.message = widgets.HTML(value="")
        self.widget = widgets.VBox([
            widgets.HBox([self.method, self.dim, self.groups]),
            widgets.HBox([self.progress, self.status]),
            self.message,
            widgets.HBox([self.image, self.metrics], layout=widgets.Layout(flex_flow="row wrap")),
        ])
        # CSS classes: stable handles for styling and for the browser test (tests/test_browser.py)
        self.widget.add_class("htd-explorer")
        for name in ("method", "dim", "groups", "progress", "status", "image", "metrics", "message"):
            getattr(self, name).add_class(f"htd-explorer-{name}")
        self.last_result: ExplorerResult | None = None
        self.last_error: str | None = None
        self.renders = 0
        self.background_umap = bool(background_umap)
        self.first_picture_seconds: float | None = None
        self._built = built
        self._pictures: dict[tuple, bytes] = {}
        self._holding = False
        self._umap_requested = False
        self._update_lock = threading.RLock()   # a slider change and UMAP's arrival never draw at once
        for control in (self.method, self.dim, self.groups):
            control.observe(self._on_change, names="value")
        if compute_now:
            self.update()

    def _on_change(self, change) -> None:
        if not self._holding:
            self.update()

    def select(self, method: str | None = None, dim: int | None = None, K: int | None = None) -> ExplorerResult | None:
        """Set several controls at once and compute once (setting them one by one computes after each).

        Arguments left as None keep their control's value. Returns what :meth:`update` returns.
        """
        self._holding = True
        try:
            for control, value in ((self.method, method), (self.dim, dim), (self.groups, K)):
                if value is not None:
                    control.value = value
        finally:
            self._holding = False
        return self.update()

    def _stage(self, step: int, text: str) -> None:
        self.progress.value = step
        self.status.value = f"Working: {text}..."

    def _show_message(self, text: str, *, error: bool) -> None:
        color = "#b00020" if error else "#8a6d00"
        self.message.value = (f"<div class='htd-explorer-message' style='color:{color};padding:4px 0'>"
                              f"{'&#9888; ' if error else ''}{text}</div>")

    def update(self) -> ExplorerResult | None:
        """Compute the controls' current setting and show it; return the result (None after a message).

        Never raises: a bad setting (ValueError) or an unexpected failure becomes a message in the
        message area, and the previous picture stays.
        """
        with self._update_lock:
            return self._update()

    def _waiting_for_umap(self) -> bool:
        return (self.background_umap and self.explorer.projection_method == "auto"
                and not self.explorer.umap_ready())

    def _on_umap_ready(self) -> None:
        """Called once UMAP is ready (in the thread that prepared it): the PCA picture gives way to UMAP's."""
        try:
            if self.last_result is not None and self.last_result.projection == "PCA":
                self.update()
        except Exception:  # noqa: BLE001 (update never raises; this is only a guard for the thread)
            pass

    def wait_for_umap(self, timeout: float | None = None) -> bool:
        """Wait until UMAP's background preparation has ended and the picture was redrawn with it.

        Returns whether it has (True at once when nothing is being prepared). Code that reads
        :attr:`last_result` right after building the widget calls this first to get the UMAP result.
        """
        thread = self.explorer._umap_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _update(self) -> ExplorerResult | None:
        setting = (self.method.value, self.dim.value, self.groups.value)
        self.progress.bar_style = ""
        started = time.perf_counter()
        fast = self._waiting_for_umap()
        try:
            result = self.explorer.compute(*setting, on_stage=self._stage, projection="pca" if fast else None)
            self._stage(len(STAGES) - 1, STAGES[-1])
            picture_key = result.key + (result.projection,)
            if picture_key not in self._pictures:
                fig = self.explorer.figure(result)
                self._pictures[picture_key] = figure_png(fig, dpi=self.dpi)
                self.renders += 1
            self.image.value = self._pictures[picture_key]
        except ValueError as exc:
            return self._fail(f"Cannot show this setting: {html.escape(str(exc))}")
        except Exception as exc:  # a widget callback must never dump a traceback on the learner
            return self._fail(f"Something went wrong ({type(exc).__name__}): {html.escape(str(exc))}. "
                              "Try another setting.")
        seconds = time.perf_counter() - started
        result = dataclasses.replace(result, seconds=seconds)      # end to end, drawing included
        self.metrics.value = metrics_html(result, k=self.explorer.settings.k_neighbours)
        if fast:
            result = dataclasses.replace(result, notice=UMAP_PREPARING)
        if result.notice:
            self._show_message(result.notice, error=False)
        else:
            self.message.value = ""
        self.progress.value = len(STAGES)
        self.progress.bar_style = "success"
        label = _METHOD_LABELS[result.method]
        self.status.value = f"{label} d={result.dim}, K={result.K}: {_provenance(result)} in {seconds:.1f} s"
        if fast:
            self.status.value += " (PCA until UMAP is ready)"
        self.last_result, self.last_error = result, None
        if self.first_picture_seconds is None:
            self.first_picture_seconds = time.perf_counter() - self._built
        if fast and not self._umap_requested:
            self._umap_requested = True
            self.explorer.prepare_umap(on_ready=self._on_umap_ready)
        return self.last_result

    def _fail(self, text: str) -> None:
        self.last_error = text
        self._show_message(text, error=True)
        self.progress.value = 0
        self.progress.bar_style = "danger"
        self.status.value = "Could not show this setting (see the message below)."
        return None


def claim(holds, statement: str, data: Interactions, **options) -> bool:
    """:func:`htd_tutorial.course.claim` about :data:`DEFAULT_EXPLORER_DATASET` (the text of notebook 05);
    ``options`` (``evidence``, ``applies``) are passed on.

    Introduced in ``notebooks/05_explorer.ipynb``.
    """
    return course_claim(holds, statement, data, reference=DEFAULT_EXPLORER_DATASET, **options)


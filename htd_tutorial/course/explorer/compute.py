"""The explorer's compute layer: for one setting, the runs, the 2-D maps and the numbers shown.

:class:`TopologyExplorer` (no widgets involved, so testable without a browser): for a setting
(method Student / FTD / HTD, student dimension, number of groups K) it trains the student (or loads
it from the in-memory cache, then from the disk cache of :func:`htd_tutorial.experiments.run_method`),
projects the teacher's and the student's embeddings of the *same* sampled users and items to 2-D
(UMAP, or PCA with a visible notice when umap-learn is missing), colours every point by the group
HTD assigns it, and computes the student's Recall@50 / NDCG@50 and the topology-fidelity metrics of
:mod:`htd_tutorial.topology`. The teacher's map is fitted once; each student's map once per
setting; every result (:class:`ExplorerResult`) is kept, so returning to a setting is instant.

A cold machine: UMAP needs numba to compile it (up to a minute), so a first picture can be drawn
with PCA (aligned the same way) while :meth:`TopologyExplorer.prepare_umap` compiles UMAP in a
background thread. A 2-D student is never projected: its map is its own directions (:data:`RAW_2D`).

Colours: a point's colour is its HTD group at the current dimension and K, learned by an HTD run
at that setting (trained alongside when the method shown is Student or FTD). So the colours are the
same whichever method is shown, and a learner can see whether a student keeps HTD's groups
together. User group k and item group k share a colour but are different groups; the marker
(circle = user, triangle = item) tells them apart.
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

from ...capacity import CapacityFloors, batch_entities, capacity_floors, epoch_floors, fitted_student, htd_floors
from ...data import Interactions
from ...evaluation import evaluate
from ...choices import HEADLINE
from ...config import RunConfig
from ...experiments import RunResult, run_method
from ...losses.ftd import ftd_loss
from ...losses.htd import entity_topology, joint_groups
from ...models import Recommender
from ...modes import cosine_eps
from ...plots.maps import Projection, align_to, load_umap, project_2d, unit_directions
from ...topology import group_agreement, sample_entities, topology_report
from ...training import torch_threads
from ..recipes import DISTILL
from .picture import plot_result
from .settings import EXPLORER_METHODS, SHIPPED, ExplorerSettings, check_projection, check_setting

__all__ = ["ExplorerResult", "CapacityView", "TopologyExplorer", "preload_optimiser", "PCA_NOTICE", "RAW_2D",
           "STAGES", "FIT_STEPS"]

#: Shown (once per explorer) when umap-learn cannot be imported and PCA draws the maps instead.
PCA_NOTICE = ("umap-learn is not installed, so the maps use PCA instead of UMAP: a linear projection that "
              "keeps the large-scale spread but not the neighbourhoods. Install it with "
              "<code>pip install umap-learn</code> and restart the kernel for the UMAP pictures.")

#: How a 2-D student's map is drawn: its own embedding directions (unit length), rotated to line up
#: with the teacher's map. A 2-D space needs no projection, and a UMAP of it would only distort it.
RAW_2D = "2-D directions"

#: Adam steps of the fitted student that shows how close FTD's floor is (:func:`htd_tutorial.capacity.fitted_student`;
#: converged within 1e-4 of its relative error on the synthetic and the MovieLens-100K batch: 400 steps give the same;
#: about a second a dimension on one idle core).
FIT_STEPS = 100

#: Steps of one computation, for the progress bar.
STAGES = ("checking the setting", "training or loading the student", "training or loading HTD (for the colours)",
          "2-D map of the teacher space", "2-D map of the student space", "topology metrics", "drawing")


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


@dataclass
class CapacityView:
    """What a d-dimensional student can hold of one training batch, next to what the trained students hold.

    The batch is the first one every explorer run trains on (same sampler, batch size and seed); the
    floors are :func:`htd_tutorial.capacity.capacity_floors`', HTD's with the groups HTD learned at
    this (d, K). All numbers are relative errors, ``||target - student||_F / ||target||_F``.

    Attributes
    ----------
    dim, K : int
    n_entities : int
        The batch's users and items.
    ftd_floor, ftd_reached : float
        No d-dimensional student is closer to FTD's target than ``ftd_floor``; a fitted one reaches
        ``ftd_reached``.
    entity_floor, group_floor : float
        HTD's entity-level and group-level floors.
    errors : dict
        ``{method: relative FTD error on the batch}`` of the students trained at this setting so far.
    entity_errors : dict
        ``{method: relative entity-level error}`` of the same students (HTD's groups, plain mask).
    floors : CapacityFloors
        Every dimension of the slider (``ftd_reached`` only where computed).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    dim: int
    K: int
    n_entities: int
    ftd_floor: float
    ftd_reached: float
    entity_floor: float
    group_floor: float
    errors: dict
    entity_errors: dict
    floors: CapacityFloors


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
        check_projection(projection)
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
        self.teacher_metrics = {name: test[name] for name in (HEADLINE, "NDCG@50")}
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
        self._batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None   # users, items, teacher rows
        self._ftd_floors: CapacityFloors | None = None
        self._reached: dict[int, float] = {}
        self._epoch_floors: np.ndarray | None = None
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
                      "results_from_memory": 0, "students_fitted": 0}

    # -- settings ------------------------------------------------------------------------------
    def check_setting(self, method, dim, K) -> tuple[str, int, int]:
        """Validate a setting coming from the controls; return it normalised, or raise ValueError.

        The message says what is wrong in the learner's terms (e.g. more groups than users). The range
        is the controls': ``dim`` one of ``settings.dims``, ``1 <= K <= settings.K_max`` (and at most the
        number of users or items), so a call from code cannot ask for what the sliders would never
        show (a huge dimension would also train for minutes); widen the settings to explore further.
        See :func:`htd_tutorial.course.explorer.settings.check_setting`.
        """
        return check_setting(self.settings, self.data, method, dim, K)

    def run_config(self, method: str, dim: int, K: int) -> RunConfig:
        """The :class:`~htd_tutorial.experiments.RunConfig` of a setting: the course's recipe
        :data:`~htd_tutorial.course.recipes.DISTILL` with the settings' training values. K only matters
        for HTD; the other methods keep the recipe's K, so their runs are the lessons' (one cache entry)."""
        s = self.settings
        recipe = DISTILL.replace(epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, lam=s.lam, mode=s.mode,
                                 K=int(K) if method == "htd" else DISTILL.K)
        return recipe.config(method, int(dim), seed=s.seed)

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
        projection = check_projection(self.projection_method if projection is None else projection)
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
        return self._teacher_map(self._kind(projection))

    def _teacher_map(self, kind: str) -> Projection:
        """:meth:`teacher_map` for a projection already resolved by :meth:`_kind` (``"umap"`` or ``"pca"``)."""
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
        return self._student_map(run, self._kind(projection))

    def _student_map(self, run: RunResult, kind: str) -> Projection:
        """:meth:`student_map` for a projection already resolved by :meth:`_kind` (``"umap"`` or ``"pca"``)."""
        key = (run.config, kind)
        if key not in self._student_maps:
            teacher = self._teacher_map(kind)
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
        teacher_map = self._teacher_map(kind)
        stage(4)
        student_map = self._student_map(run, kind)
        stage(5)
        metrics = self._student_metrics(run)
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

    def metrics(self, method: str, dim: int, K: int | None = None) -> dict:
        """The student's numbers of a setting without its maps or colours: test ``"Recall@50"`` and
        ``"NDCG@50"`` and the topology fidelity on the shown entities, as in :attr:`ExplorerResult.metrics`
        (without the ARI of the colours). Only the run itself is trained or loaded, not the HTD run that
        :meth:`compute` needs for the colours (minutes on MovieLens-100K). ``K``: HTD's (default the
        settings' K; the other methods ignore it)."""
        with self._compute_lock, torch_threads(self.settings.torch_threads):
            method, dim, K = self.check_setting(method, dim, self.settings.K if K is None else K)
            return self._student_metrics(self.run(self.run_config(method, dim, K)))

    def _student_metrics(self, run: RunResult) -> dict:
        metrics = {name: float(run.history.final(name)) for name in (HEADLINE, "NDCG@50")}
        student_shown = self.student_shown(run)
        report = topology_report(student_shown, self.teacher_shown, n_sample=len(student_shown),
                                 k=self.settings.k_neighbours, seed=self.settings.seed)
        metrics.update({name: report[name] for name in ("kl_topk", "kl_random", "knn_overlap", "spearman")})
        return metrics

    def _notice(self, kind: str, projection: str | None) -> str | None:
        """The notice of a map drawn with ``kind`` when ``projection`` was asked for (PCA instead of UMAP)."""
        if kind != "pca" or (projection or self.projection_method) != "auto":
            return None
        if self._umap_error is not None:
            return (f"UMAP could not be used ({html.escape(self._umap_error)}), so the maps use PCA instead: a "
                    "linear projection that keeps the large-scale spread but not the neighbourhoods.")
        return PCA_NOTICE

    # -- what a d-dimensional student can hold -------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(users, items, teacher rows)`` of the first training batch of every explorer run (computed once).

        The sampler of :func:`htd_tutorial.training.train` with the settings' batch size and seed draws
        it; the teacher rows (float64) are the users' then the items', as FTD stacks them.
        """
        if self._batch is None:
            users, items = batch_entities(self.data, self.settings.batch_size, seed=self.settings.seed)
            with torch.no_grad():
                t_users, t_items = self.teacher.all_embeddings()
            rows = torch.cat([t_users[users], t_items[items]]).detach().cpu().double()
            self._batch = (users, items, rows)
        return self._batch

    def _reached_error(self, dim: int) -> float:
        if dim not in self._reached:
            rows = self.batch()[2]
            _, value = fitted_student(rows, dim, steps=FIT_STEPS)
            self.stats["students_fitted"] += 1
            self._reached[dim] = float(np.sqrt(value / self._floors_of_ftd().ftd_norm2))
        return self._reached[dim]

    def _floors_of_ftd(self) -> CapacityFloors:
        if self._ftd_floors is None:
            self._ftd_floors = capacity_floors(self.batch()[2], self.settings.dims, fit_steps=None)
        return self._ftd_floors

    def capacity_floors(self, dim: int, K: int, *, reached: bool = True) -> CapacityFloors:
        """The floors of every dimension of the slider on the batch, HTD's with the groups learned at (dim, K).

        ``reached``: also the error a fitted student reaches at each dimension (about a second each,
        the first time). The HTD run at (dim, K) is trained if it is not cached yet.
        """
        with self._compute_lock, torch_threads(self.settings.torch_threads):
            _, dim, K = self.check_setting("htd", dim, K)
            floors = htd_floors(self._floors_of_ftd(), self.batch()[2], self._batch_groups(dim, K))
            if reached:
                floors = dataclasses.replace(floors, ftd_reached=np.array(
                    [self._reached_error(int(d)) for d in floors.dims]))
            return floors

    def capacity(self, dim: int, K: int) -> CapacityView:
        """:class:`CapacityView` of a setting: the floors at ``dim`` and the errors of the students trained so far.

        The students are those of ``(method, dim, K)`` already computed (by :meth:`compute` or the
        sliders); none is trained here but HTD's run at (dim, K), whose groups the floors use.
        """
        _, dim, K = self.check_setting("htd", dim, K)
        floors = self.capacity_floors(dim, K, reached=False)
        with self._compute_lock, torch_threads(self.settings.torch_threads):
            users, items, rows = self.batch()
            at = floors.at(dim)
            groups = self._batch_groups(dim, K)
            errors, entity_errors = {}, {}
            for method in EXPLORER_METHODS:
                config = self.run_config(method, dim, K)
                if config not in self._runs:
                    continue
                with torch.no_grad():
                    s_users, s_items = self._runs[config].student.all_embeddings()
                    student = torch.cat([s_users[users], s_items[items]]).detach().cpu().double()
                    errors[method] = float(np.sqrt(float(ftd_loss(student, rows)) / floors.ftd_norm2))
                    within = entity_topology(student, rows, groups, positive_teacher_pairs_only=False)
                    entity_errors[method] = float(np.sqrt(float(within) / floors.entity_norm2))
            return CapacityView(dim=dim, K=K, n_entities=floors.n_entities, ftd_floor=at["ftd"],
                                ftd_reached=self._reached_error(dim), entity_floor=at["entity"],
                                group_floor=at["group"], errors=errors, entity_errors=entity_errors,
                                floors=floors)

    def ftd_trace(self, dim: int) -> dict[str, np.ndarray]:
        """The FTD student's loss trace at ``dim`` next to its floor, epoch by epoch.

        Returns ``{"epoch", "loss", "floor"}``: the run's mean L_FTD per batch in each epoch (its loss
        trace's FTD term divided by lambda) and the mean floor of the same epoch's batches
        (:func:`htd_tutorial.capacity.epoch_floors`, computed once for every dimension of the slider):
        the loss can never be below the floor. The FTD run is trained if it is not cached yet.
        """
        with self._compute_lock, torch_threads(self.settings.torch_threads):
            _, dim, _ = self.check_setting("ftd", dim, self.settings.K)
            s = self.settings
            if self._epoch_floors is None:
                with torch.no_grad():
                    t_users, t_items = self.teacher.all_embeddings()
                self._epoch_floors = epoch_floors(self.data, t_users.detach(), t_items.detach(), s.dims,
                                                  batch_size=s.batch_size, seed=s.seed, epochs=s.epochs,
                                                  eps=cosine_eps(s.mode))
            trace = self.run(self.run_config("ftd", dim, s.K)).history.trace_frame()
            return {"epoch": trace.index.to_numpy(), "loss": trace["ftd"].to_numpy() / s.lam,
                    "floor": self._epoch_floors[:, s.dims.index(dim)].copy()}

    def _batch_groups(self, dim: int, K: int) -> torch.Tensor:
        users, items, _ = self.batch()
        user_groups, item_groups = self.htd_groups(self.run(self.run_config("htd", dim, K)))
        return joint_groups(torch.from_numpy(user_groups[users.numpy()]),
                            torch.from_numpy(item_groups[items.numpy()]), K)

    def figure(self, result: ExplorerResult, axes=None):
        """The picture of ``result`` (see :func:`plot_result`)."""
        return plot_result(result, teacher_dim=self.teacher.dim, axes=axes)

"""The explorer's choices: what it offers, what it shows first, and which settings it accepts.

Shipped settings (:data:`SHIPPED`) are the course's (notebooks 00-04): MovieLens-100K, the distillation
recipe :data:`~htd_tutorial.course.recipes.DISTILL` (its epochs, learning rate, batch size, lambda, mode and
K) and the tiny lesson student :data:`~htd_tutorial.course.recipes.SMALL_DIM` shown first, so the
explorer's runs are the lessons' own (the same cache entries: notebooks 02-03 trained them). K up to 20,
250 users and 350 items drawn, torch on one thread. ``benchmarks/bench_explorer.py`` measures them.

Every check of what a learner or a notebook asks for is here: :class:`ExplorerSettings` checks the
settings when they are made, :func:`check_setting` one setting of the controls, and
:func:`check_projection` a projection's name.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...data import Interactions
from ..._checks import integer
from ...choices import METHOD_NAMES
from ..common import DEFAULT_DATASET
from ..recipes import DISTILL, SMALL_DIM

__all__ = ["METHOD_CHOICES", "EXPLORER_METHODS", "METHOD_LABELS", "DEFAULT_EXPLORER_DATASET", "EXPLORER_DATASETS",
           "PROJECTIONS", "ExplorerSettings", "SHIPPED", "check_setting", "check_projection"]

#: The methods the explorer offers, as (label, value) pairs for the selector.
METHOD_CHOICES = (("Student (no distillation)", "student"), ("FTD", "ftd"), ("HTD", "htd"))
EXPLORER_METHODS = tuple(value for _, value in METHOD_CHOICES)
#: A method's short name in titles, the metrics table and the status line.
METHOD_LABELS = {method: METHOD_NAMES[method] for method in EXPLORER_METHODS}

#: The dataset the explorer's notebook opens on (the course's, so its pictures continue notebooks 02-04),
#: and the ones it offers. On MovieLens-100K a setting the lessons did not train takes a while on a 2-core
#: CPU (a plain student or FTD seconds, HTD minutes); the synthetic data is faster and has planted groups
#: to compare HTD's with (notebook 05, Section 4.4).
DEFAULT_EXPLORER_DATASET = DEFAULT_DATASET
EXPLORER_DATASETS = ("synthetic", "movielens-100k")

#: How the maps may be drawn: ``"auto"`` (UMAP when available, else PCA with a notice), ``"umap"``, ``"pca"``.
PROJECTIONS = ("auto", "umap", "pca")


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
        K = 30 a slider change on the synthetic data took 11-13 s on a 2-core CPU busy with other jobs
        (K = 20: about 8 s). The synthetic data has 9 planted sub-groups per type, so K <= 20 shows
        every regime.
    epochs, lr, batch_size : int, float, int
        How each student is trained (default: the course's recipe
        :data:`~htd_tutorial.course.recipes.DISTILL`; every other training setting is the recipe's).
    lam, mode : float, str
        Distillation weight lambda and HTD's mode (``"authors"`` or ``"clean"``, see
        :class:`htd_tutorial.losses.htd.HTDOptions`); default the recipe's.
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
    dim: int = SMALL_DIM
    K: int = DISTILL.K
    K_max: int = 20
    method: str = "htd"
    epochs: int = DISTILL.epochs
    lr: float = DISTILL.lr
    batch_size: int = DISTILL.batch_size
    lam: float = DISTILL.lam
    mode: str = DISTILL.mode
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


def check_setting(settings: ExplorerSettings, data: Interactions, method, dim, K) -> tuple[str, int, int]:
    """Validate a setting coming from the controls; return it normalised, or raise ValueError.

    The message says what is wrong in the learner's terms (e.g. more groups than users). The range
    is the controls': ``dim`` one of ``settings.dims``, ``1 <= K <= settings.K_max`` (and at most the
    number of users or items of ``data``), so a call from code cannot ask for what the sliders would
    never show (a huge dimension would also train for minutes); widen the settings to explore further.
    """
    if method not in EXPLORER_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(EXPLORER_METHODS)}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"the student dimension must be a whole number >= 1, got {dim!r}")
    if dim not in settings.dims:
        raise ValueError(f"the student dimension {dim} is not on the dimension slider, which offers "
                         f"{', '.join(map(str, settings.dims))}; add it to the settings' dims to explore it")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ValueError(f"the number of groups K must be a whole number >= 1, got {K!r}")
    fewest = min(data.n_users, data.n_items)
    if K > fewest:
        kind = "users" if data.n_users <= data.n_items else "items"
        raise ValueError(f"K = {K} groups is more than the {fewest} {kind} of this dataset: HTD splits the "
                         f"{kind} into K groups, so K can be at most {fewest}. Choose a smaller K.")
    if K > settings.K_max:
        raise ValueError(f"K = {K} groups is more than the group slider's largest value, K_max = "
                         f"{settings.K_max}; raise K_max in the settings to explore it")
    return str(method), int(dim), int(K)


def check_projection(projection) -> str:
    """``projection`` if it is one of :data:`PROJECTIONS`, else ValueError."""
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be 'auto', 'umap' or 'pca', got {projection!r}")
    return projection


"""Cached, resumable distillation runs: one teacher, one method, one student dimension.

The reproduction command, the analysis notebook and the explorer all train students through
:func:`run_method`, so a run finished once (same data, teacher and settings) is loaded from disk
the next time instead of being trained again. That is what makes the paper's 100-epoch sweep
resumable: stop it at any point, start it again, and only the unfinished runs train; a run stopped
half-way resumes from its last snapshot (:class:`~htd_tutorial.cache.PartialRun`), not from epoch 0.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ._checks import finite_number, instance_of, integer, known, one_of, positive_int, positive_number
from .cache import PartialRun, cache_dir, config_key, read_cached, tensor_digest, write_cached
from .choices import (DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K, DEFAULT_LAMBDA, DEFAULT_LR, DEFAULT_MODE,
                      DEFAULT_WEIGHT_DECAY, GROUP_TOPOLOGIES, HTD_MODES, METHODS, MODEL_KINDS, OPTIMIZERS)
from .data import Interactions
from .distill import make_distiller
from .losses.htd import HTDOptions
from .models import Recommender, make_model
from .training import History, train

__all__ = ["RunConfig", "RunResult", "run_method", "teacher_digest", "config_json", "METHODS", "NotCachedError"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one student run (all of it goes into the cache key).

    Attributes
    ----------
    method : str
        ``"student"`` (no distillation), ``"fitnet"``, ``"de"``, ``"ftd"`` or ``"htd"``.
    dim : int
        Student embedding dimension.
    epochs : int
        Training epochs (the paper: 100).
    kind : str
        Base model, ``"bpr"`` or ``"lightgcn"`` (the student has the teacher's kind).
    lam, K, gamma : float, int, float
        Distillation weight lambda, number of groups, HTD's balance between topology and
        group-assignment terms (paper defaults 1e-3, 30, 0.5).
    group_topology : str
        HTD's group-level design choice: ``"Pe"`` (prototype-entity, the paper's default) or ``"PP"``.
    mode : str
        ``"authors"`` (behaves like the authors' code) or ``"clean"`` (the paper's text): a
        library-wide setting, what it changes in each method is :mod:`htd_tutorial.modes`.
    options : HTDOptions, optional
        HTD only: switches that override ``mode``'s preset one by one (the ablation of
        :mod:`htd_tutorial.paper.ablation`). Options equal to ``mode``'s preset are stored as ``None``, and
        ``None`` is left out of the cache key, so configurations without options keep their keys.
    seed, lr, weight_decay, batch_size, optimizer, eval_every
        Training settings (see :func:`htd_tutorial.training.train`).

    Introduced in ``notebooks/04_analysis.ipynb``.
    """

    method: str
    dim: int
    epochs: int = 100
    kind: str = "bpr"
    lam: float = DEFAULT_LAMBDA
    K: int = DEFAULT_K
    gamma: float = DEFAULT_GAMMA
    group_topology: str = DEFAULT_GROUP_TOPOLOGY
    mode: str = DEFAULT_MODE
    seed: int = 0
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = 1024
    optimizer: str = "adam"
    eval_every: int | None = None
    options: HTDOptions | None = None

    def __post_init__(self) -> None:
        # Every field is checked here, once, so that a bad setting fails when the configuration is made:
        # before a sweep loads data or trains a teacher, and with the field's name in the message.
        # Whole numbers are stored as int (a NumPy integer is accepted and converted, so the cache key,
        # built from asdict(config), is the same as for the Python int).
        known("method", self.method, METHODS)
        self._set("dim", positive_int("student dimension", self.dim))
        self._set("epochs", integer("epochs", self.epochs, low=0))
        known("model kind", self.kind, MODEL_KINDS)
        finite_number("lam", self.lam, low=0.0)
        self._set("K", positive_int("K", self.K))
        finite_number("gamma", self.gamma, low=0.0, high=1.0)
        one_of("group_topology", self.group_topology, GROUP_TOPOLOGIES)
        one_of("mode", self.mode, HTD_MODES)
        self._set("seed", integer("seed", self.seed, low=0))
        positive_number("lr", self.lr)
        positive_number("weight_decay", self.weight_decay, allow_zero=True)
        self._set("batch_size", integer("batch_size", self.batch_size, low=1))
        known("optimizer", self.optimizer, OPTIMIZERS)
        if self.eval_every is not None:
            self._set("eval_every", integer("eval_every", self.eval_every, low=0))
        if self.options is not None:
            instance_of("options", self.options, HTDOptions, optional=True)
            if self.method != "htd":
                raise ValueError(f"options (HTDOptions) only apply to method 'htd', not {self.method!r}")
            if self.options == HTDOptions.preset(self.mode):
                self._set("options", None)  # one configuration, one cache entry

    def _set(self, name: str, value) -> None:
        """Store a checked value in this frozen dataclass (only ``__post_init__`` does)."""
        if getattr(self, name) is not value:
            object.__setattr__(self, name, value)

    @property
    def label(self) -> str:
        """Short name for tables and legends, e.g. ``"HTD d=20"``."""
        return f"{self.method.upper() if self.method != 'student' else 'Student'} d={self.dim}"


@dataclass
class RunResult:
    """A finished run: the trained student, its history, and the distiller (HTD's groups live there).

    Introduced in ``notebooks/04_analysis.ipynb``.
    """

    config: RunConfig
    student: Recommender
    history: History
    distiller: torch.nn.Module | None
    from_cache: bool


class NotCachedError(LookupError):
    """Raised by :func:`run_method` with ``train_missing=False`` when the run has not been trained yet."""


def _teacher_tables(teacher: Recommender) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        users, items = teacher.all_embeddings()
    return users.detach().cpu().clone(), items.detach().cpu().clone()


def config_json(config: "RunConfig | dict") -> str:
    """A run's settings as canonical JSON text (a :class:`RunConfig`, or the ``config`` of a results
    row): two are equal exactly when they describe the same run, however the row was stored."""
    record = asdict(config) if isinstance(config, RunConfig) else config
    return json.dumps(json.loads(json.dumps(record)), sort_keys=True)


def teacher_digest(teacher: Recommender) -> str:
    """SHA-256 of the teacher's final user and item tables: the ``teacher_sha256`` of a results row and
    part of a run's cache key, so two files' rows name the same teacher exactly when this agrees."""
    return _tables_digest(*_teacher_tables(teacher))


def _tables_digest(t_users: torch.Tensor, t_items: torch.Tensor) -> str:
    return tensor_digest({"users": t_users, "items": t_items})


def run_method(data: Interactions, teacher: Recommender, config: RunConfig, *,
               directory: str | Path | None = None, use_cache: bool = True, progress: bool = True,
               desc: str | None = None, train_missing: bool = True, threads: int | None = None,
               flush_denormal: bool = True) -> RunResult:
    """Train (or load) a student with ``config.method`` distilled from ``teacher``.

    Parameters
    ----------
    data : Interactions
        The dataset the teacher was trained on.
    teacher : Recommender
        Frozen teacher; its embedding tables enter the cache key, so another teacher never
        reuses these runs.
    config : RunConfig
        The run's settings.
    directory : path, optional
        Cache folder (default :func:`htd_tutorial.cache.cache_dir`).
    use_cache : bool
        ``False`` always trains (and still writes the result).
    progress : bool
        Show a progress bar while training.
    desc : str, optional
        Progress-bar label (default ``config.label``).
    train_missing : bool
        ``False`` raises :class:`NotCachedError` instead of training a run that is not cached
        (used to report a sweep's finished runs without starting new ones).
    threads : int, optional
        CPU threads while training (:func:`htd_tutorial.training.train`); not part of the cache key.
    flush_denormal : bool
        Train with subnormal floats flushed to zero (default; see :func:`htd_tutorial.training.train`);
        recorded in the run's history, not part of the cache key. Only training is affected: a cached
        run is loaded as it is.

    Returns
    -------
    RunResult
        The student and the distiller are in eval mode.

    Introduced in ``notebooks/04_analysis.ipynb``.
    """
    t_users, t_items = _teacher_tables(teacher)
    if t_users.shape[0] != data.n_users or t_items.shape[0] != data.n_items:
        raise ValueError(f"teacher tables {tuple(t_users.shape)}, {tuple(t_items.shape)} do not match the data "
                         f"({data.n_users} users, {data.n_items} items)")
    digest = _tables_digest(t_users, t_items)  # the tables are needed below too: hashed once
    run = asdict(config)
    if run["options"] is None:
        del run["options"]  # keeps the cache keys of runs made before the field existed
    key = config_key(data, {"run": run, "teacher": digest})
    path = Path(directory or cache_dir()) / f"run-{config.kind}-{config.method}-d{config.dim}-{key[:16]}.pt"

    def fresh():
        """The seeded initial student and distiller."""
        return (make_model(config.kind, data, config.dim, seed=config.seed),
                make_distiller(config.method, t_users, t_items, config.dim, lam=config.lam, K=config.K,
                               gamma=config.gamma, group_topology=config.group_topology, mode=config.mode,
                               options=config.options, seed=config.seed, n_users=data.n_users,
                               n_items=data.n_items))

    student, distiller = fresh()

    def restore(state, meta):
        student.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("student.")})
        if distiller is not None:
            distiller.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("distiller.")})
            distiller.eval()
        student.eval()
        return RunResult(config, student, History.from_dict(meta["history"]), distiller, True)

    if use_cache and path.exists():
        cached = read_cached(path, f"run {config.label}", restore)
        if cached is not None:
            return cached
        student, distiller = fresh()   # the rejected file may have half-loaded them
    if not train_missing:
        raise NotCachedError(f"{config.label} has not been run yet (no {path.name} in {path.parent})")
    partial = PartialRun(path, f"run {config.label}")   # a run stopped half-way resumes from its snapshot
    history = train(student, data, epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                    batch_size=config.batch_size, optimizer=config.optimizer, distiller=distiller,
                    seed=config.seed, eval_every=config.eval_every, progress=progress,
                    desc=desc or config.label, threads=threads, snapshots=partial,
                    flush_denormal=flush_denormal)
    history.config.update(asdict(config))
    state = {f"student.{k}": v for k, v in student.state_dict().items()}
    if distiller is not None:
        state.update({f"distiller.{k}": v for k, v in distiller.state_dict().items()})
        distiller.eval()
    write_cached(path, state, {"config": asdict(config), "history": history.to_dict()}, f"run {config.label}")
    partial.discard()
    return RunResult(config, student, history, distiller, False)

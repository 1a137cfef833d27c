"""Cached, resumable distillation runs: one teacher, one method, one student dimension.

The reproduction command, the analysis notebook and the explorer all train students through
:func:`run_method`, so a run finished once (same data, teacher and settings) is loaded from disk
the next time instead of being trained again. That is what makes the paper's 100-epoch sweep
resumable: stop it at any point, start it again, and only the unfinished runs train.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ._checks import positive_int as _positive_int
from .cache import cache_dir, config_key, read_cached, tensor_digest, write_cached
from .choices import DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K, DEFAULT_LAMBDA, DEFAULT_MODE, METHODS
from .data import Interactions
from .data.split import _check_int
from .distill import _finite_number, make_distiller
from .losses.htd import GROUP_TOPOLOGIES, HTD_MODES, HTDOptions
from .models import MODEL_KINDS, Recommender, make_model
from .optim import OPTIMIZERS
from .training import History, _check_positive, train

__all__ = ["RunConfig", "RunResult", "run_method", "METHODS", "NotCachedError"]


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
        ``"authors"`` (behaves like the authors' code) or ``"clean"`` (the paper's text).
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
    lr: float = 1e-3
    weight_decay: float = 1e-3
    batch_size: int = 1024
    optimizer: str = "adam"
    eval_every: int | None = None
    options: HTDOptions | None = None

    def __post_init__(self) -> None:
        # Every field is checked here, once, so that a bad setting fails when the configuration is made:
        # before a sweep loads data or trains a teacher, and with the field's name in the message.
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim <= 0:
            raise ValueError(f"student dimension must be a positive integer, got {self.dim!r}")
        _check_int("epochs", self.epochs, low=0)
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; choose one of {MODEL_KINDS}")
        _finite_number("lam", self.lam, low=0.0)
        _positive_int("K", self.K)
        _finite_number("gamma", self.gamma, low=0.0, high=1.0)
        if self.group_topology not in GROUP_TOPOLOGIES:
            raise ValueError(f"group_topology must be one of {GROUP_TOPOLOGIES}, got {self.group_topology!r}")
        if self.mode not in HTD_MODES:
            raise ValueError(f"mode must be one of {HTD_MODES}, got {self.mode!r}")
        _check_int("seed", self.seed, low=0)
        _check_positive("lr", self.lr)
        _check_positive("weight_decay", self.weight_decay, allow_zero=True)
        _check_int("batch_size", self.batch_size, low=1)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.eval_every is not None:
            _check_int("eval_every", self.eval_every, low=0)
        if self.options is not None:
            if not isinstance(self.options, HTDOptions):
                raise ValueError(f"options must be an HTDOptions or None, got {type(self.options).__name__}")
            if self.method != "htd":
                raise ValueError(f"options (HTDOptions) only apply to method 'htd', not {self.method!r}")
            if self.mode in ("authors", "clean") and self.options == HTDOptions.preset(self.mode):
                object.__setattr__(self, "options", None)  # one configuration, one cache entry

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


def run_method(data: Interactions, teacher: Recommender, config: RunConfig, *,
               directory: str | Path | None = None, use_cache: bool = True, progress: bool = True,
               desc: str | None = None, train_missing: bool = True, threads: int | None = None) -> RunResult:
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
    teacher_digest = tensor_digest({"users": t_users, "items": t_items})
    run = asdict(config)
    if run["options"] is None:
        del run["options"]  # keeps the cache keys of runs made before the field existed
    key = config_key(data, {"run": run, "teacher": teacher_digest})
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
    history = train(student, data, epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                    batch_size=config.batch_size, optimizer=config.optimizer, distiller=distiller,
                    seed=config.seed, eval_every=config.eval_every, progress=progress,
                    desc=desc or config.label, threads=threads)
    history.config.update(asdict(config))
    state = {f"student.{k}": v for k, v in student.state_dict().items()}
    if distiller is not None:
        state.update({f"distiller.{k}": v for k, v in distiller.state_dict().items()})
        distiller.eval()
    write_cached(path, state, {"config": asdict(config), "history": history.to_dict()}, f"run {config.label}")
    return RunResult(config, student, history, distiller, False)

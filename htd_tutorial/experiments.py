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

from .cache import PartialRun, cache_dir, config_key, read_cached, tensor_digest, write_cached
from .choices import METHODS
from .config import RunConfig
from .data import Interactions
from .distill import make_distiller
from .models import Recommender, make_model
from .training import History, train

__all__ = ["RunResult", "run_method", "teacher_digest", "config_json", "METHODS", "NotCachedError"]


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
    for name in ("options", "depth"):   # fields added after runs were stored: None keeps those runs' keys
        if run[name] is None:
            del run[name]
    key = config_key(data, {"run": run, "teacher": digest})
    path = Path(directory or cache_dir()) / f"run-{config.kind}-{config.method}-d{config.dim}-{key[:16]}.pt"

    def fresh():
        """The seeded initial student and distiller."""
        return (make_model(config.kind, data, config.dim, seed=config.seed, depth=config.depth),
                make_distiller(config, t_users, t_items, n_users=data.n_users, n_items=data.n_items))

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
    history = train(student, data, config.training, distiller=distiller, progress=progress,
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

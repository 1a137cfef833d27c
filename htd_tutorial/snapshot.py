"""Snapshots of an unfinished training run, so that a stopped run resumes where it stopped.

A CiteULike run at dimension 200 trains for one to three hours on one CPU thread; a closed laptop, a
restarted kernel or the end of a CI job would otherwise throw all of it away. :func:`train
<htd_tutorial.training.train>` takes a :class:`Snapshots` store: after an epoch it hands the store
everything the rest of the run depends on, and when it starts it asks the store for the last such
snapshot. Resuming gives the same numbers as running straight through, bit for bit on one CPU
thread, because the snapshot holds not only the weights but also both optimisers' moments and every
random generator the loop draws from (the sampler's, torch's, NumPy's and Python's).

This module only turns a run into ``(tensors, JSON-able meta)`` and back; where a snapshot is kept
(a file next to the finished run's cache entry) is :class:`htd_tutorial.cache.PartialRun`'s business.
"""
from __future__ import annotations

import json
import random
from typing import Protocol

import numpy as np
import torch

__all__ = ["Snapshots", "capture", "restore"]


class Snapshots(Protocol):
    """Where :func:`~htd_tutorial.training.train` keeps the last snapshot of an unfinished run.

    Attributes
    ----------
    every : float
        Seconds of training between two snapshots (0: after every epoch).
    """

    every: float

    def load(self) -> tuple[dict[str, torch.Tensor], dict] | None:
        """The last snapshot saved, or ``None`` when there is none (or it cannot be trusted)."""

    def save(self, state: dict[str, torch.Tensor], meta: dict) -> None:
        """Keep this snapshot in place of the previous one."""


def _optimizer_parts(name: str, optimizer: torch.optim.Optimizer, state: dict, meta: dict) -> None:
    """Split ``optimizer.state_dict()`` into tensors (``state["<name>.<param>.<entry>"]``) and the rest."""
    saved = optimizer.state_dict()
    values = {}
    for index, entries in saved["state"].items():
        for entry, value in entries.items():
            if torch.is_tensor(value):
                state[f"{name}.{index}.{entry}"] = value.clone()
            else:
                values[f"{index}.{entry}"] = value
    meta[name] = {"param_groups": saved["param_groups"], "values": values}


def _optimizer_state(name: str, state: dict, meta: dict) -> dict:
    """Inverse of :func:`_optimizer_parts`: the ``state_dict`` to load into the optimiser."""
    entries: dict[int, dict] = {}
    items = [(key[len(name) + 1:], value) for key, value in state.items() if key.startswith(name + ".")]
    for key, value in items + list(meta[name]["values"].items()):
        index, entry = key.split(".", 1)
        entries.setdefault(int(index), {})[entry] = value
    return {"state": entries, "param_groups": meta[name]["param_groups"]}


def capture(epochs_done: int, *, model: torch.nn.Module, distiller: torch.nn.Module | None,
            optimizers: dict[str, torch.optim.Optimizer], sampler_generator: torch.Generator,
            history: dict, device: torch.device) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything the rest of a run depends on, after ``epochs_done`` epochs: ``(tensors, meta)``.

    ``history`` is :meth:`History.to_dict <htd_tutorial.training.History.to_dict>` (its ``config``
    identifies the run); ``optimizers`` maps names to the run's optimisers.
    """
    state = {f"model.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    if distiller is not None:
        state.update({f"distiller.{k}": v.detach().clone() for k, v in distiller.state_dict().items()})
    meta: dict = {"epochs_done": epochs_done, "history": json.loads(json.dumps(history)),  # a copy, frozen now
                  "optimizers": sorted(optimizers)}
    for name, optimizer in optimizers.items():
        _optimizer_parts(f"optimizer_{name}", optimizer, state, meta)
    state["rng.sampler"] = sampler_generator.get_state()
    state["rng.torch"] = torch.get_rng_state()
    if device.type == "cuda":
        state["rng.cuda"] = torch.cuda.get_rng_state(device)
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
    meta["rng_numpy"] = [kind, int(position), int(has_gauss), float(gauss)]
    version, internal, gauss_next = random.getstate()
    meta["rng_python"] = [version, list(internal), gauss_next]
    return state, meta


def restore(state: dict[str, torch.Tensor], meta: dict, *, model: torch.nn.Module,
            distiller: torch.nn.Module | None, optimizers: dict[str, torch.optim.Optimizer],
            sampler_generator: torch.Generator, device: torch.device) -> int:
    """Load a :func:`capture` snapshot into a freshly built run; returns the number of epochs done.

    Raises ``KeyError``, ``ValueError`` or ``RuntimeError`` when the snapshot is not one of this run
    (other optimisers, missing entries, other shapes); the weights and the random generators are
    checked before any of them is changed.
    """
    if meta["optimizers"] != sorted(optimizers):
        raise ValueError(f"the snapshot has optimisers {meta['optimizers']}, this run {sorted(optimizers)}")
    modules = {"model": model, "distiller": distiller}
    weights = {name: {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")}
               for name, module in modules.items() if module is not None}
    for name, tables in weights.items():
        expected = {k: tuple(v.shape) for k, v in modules[name].state_dict().items()}
        found = {k: tuple(v.shape) for k, v in tables.items()}
        if found != expected:
            raise ValueError(f"the snapshot's {name} weights do not fit this run's {name}")
    for name, optimizer in optimizers.items():   # checks its groups before it changes anything
        optimizer.load_state_dict(_optimizer_state(f"optimizer_{name}", state, meta))
    for name, tables in weights.items():
        modules[name].load_state_dict(tables)
    kind, position, has_gauss, gauss = meta["rng_numpy"]
    numpy_state = (kind, state["rng.numpy"].numpy().astype(np.uint32), position, has_gauss, gauss)
    version, internal, gauss_next = meta["rng_python"]
    sampler_generator.set_state(state["rng.sampler"])
    torch.set_rng_state(state["rng.torch"])
    if device.type == "cuda" and "rng.cuda" in state:
        torch.cuda.set_rng_state(state["rng.cuda"], device)
    np.random.set_state(numpy_state)
    random.setstate((version, tuple(internal), gauss_next))
    return int(meta["epochs_done"])

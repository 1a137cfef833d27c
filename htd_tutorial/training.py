"""Training loop shared by teachers, students and every distillation method."""
from __future__ import annotations

import math
import os
import platform
import random
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from . import _threads
from .choices import HEADLINE
from ._denormals import flushed_denormals, flushes_denormals
from ._heap import kept_heap
from .data import Interactions
from ._checks import cutoffs, positive_int
from .config import TrainConfig
from .evaluation import DEFAULT_KS, evaluate
from .losses.bpr import bpr_loss
from .models import Recommender
from .optim import make_optimizer
from .sampling import TripleSampler
from .snapshot import Snapshots, capture, restore

__all__ = ["History", "train", "resolve_device", "machine_description", "seed_everything", "training_threads",
           "torch_threads", "loss_weights", "SMALL_DATA_CELLS"]

#: Datasets with at most this many user x item pairs train on one CPU thread by default (see
#: :func:`training_threads`): MovieLens-100K (1.6 M) and the synthetic data (0.5 M) do, CiteULike
#: (131 M) keeps torch's setting.
SMALL_DATA_CELLS = 5_000_000


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else CPU.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _accelerator(device: torch.device) -> str | None:
    """The GPU's name when ``device`` is one, else None (what results files record as ``accelerator``)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


def machine_description() -> dict:
    """Where this process trains, for results files: platform, processor, CPU count, torch version,
    torch's thread count, and ``accelerator``, the GPU :func:`resolve_device` picks by default (None
    on CPU). Runs on another machine give other numbers in the last digits or more (other summation
    orders), so every stored run says where it was made."""
    device = resolve_device()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "accelerator": _accelerator(device)}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so two CPU runs with the same seed give identical numbers."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class History:
    """What happened during one training run.

    Attributes
    ----------
    losses : list of dict
        One record per epoch: ``{"epoch": e, "loss": total, "bpr": ..., <distillation terms>,
        "seconds": training time of the epoch}`` (losses summed over the epoch's batches; the
        distillation terms as the distiller computed them, before lambda).
    loss_trace : list of dict
        One record per epoch: what each term added to the training loss, as a mean per batch:
        ``{"epoch": e, "bpr": mean L_BPR, <term>: mean weight * term, ..., "loss": mean total}``,
        the weights being the distiller's :attr:`~htd_tutorial.distill.Distiller.loss_weights`
        (lambda for FTD; lambda * gamma for HTD's entity and group levels, lambda * (1 - gamma) for
        its L_GA), so the terms add up to ``"loss"``. Read it with :meth:`trace_frame`.
    metrics : list of dict
        One record per evaluation: ``{"epoch": e, "split": "test", "Recall@50": ..., ...}``.
    seconds : float
        Wall-clock training time, evaluation excluded.
    config : dict
        The settings of the run (for caching and reports).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """

    losses: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)
    loss_trace: list = field(default_factory=list)

    def final(self, metric: str = HEADLINE, split: str = "test") -> float:
        """The metric at the last evaluation (the paper reports the last epoch)."""
        rows = [r for r in self.metrics if r["split"] == split]
        if not rows:
            raise ValueError(f"no {split} evaluation recorded in this history")
        return float(rows[-1][metric])

    def curve(self, metric: str = HEADLINE, split: str = "test") -> tuple[list, list]:
        """``(epochs, values)`` of a metric over the run, for plotting."""
        rows = [r for r in self.metrics if r["split"] == split]
        return [r["epoch"] for r in rows], [r[metric] for r in rows]

    def to_frame(self):
        """Evaluations as a pandas DataFrame (one row per epoch and split)."""
        import pandas as pd
        return pd.DataFrame(self.metrics)

    def trace_frame(self):
        """:attr:`loss_trace` as a pandas DataFrame indexed by epoch (one column per term).

        Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
        """
        import pandas as pd
        if not self.loss_trace:
            raise ValueError("this history has no loss trace (it was trained before the trace was recorded)")
        return pd.DataFrame(self.loss_trace).set_index("epoch")

    def to_dict(self) -> dict:
        """Plain-JSON form (for cache files and results/)."""
        return {"losses": self.losses, "metrics": self.metrics, "seconds": self.seconds, "config": self.config,
                "loss_trace": self.loss_trace}

    @classmethod
    def from_dict(cls, state: dict) -> "History":
        """Inverse of :meth:`to_dict` (a state without ``"loss_trace"``, written before it existed, gives an
        empty trace)."""
        return cls(losses=list(state["losses"]), metrics=list(state["metrics"]),
                   seconds=float(state["seconds"]), config=dict(state["config"]),
                   loss_trace=list(state.get("loss_trace", [])))


def training_threads(data: Interactions, device: torch.device, threads: int | None = None) -> int:
    """CPU threads for training on ``data``: ``threads`` if given, else 1 for small datasets.

    Why: a training step on a small dataset is hundreds of small operations, and handing each one
    to a second thread costs more than it saves (measured with sleeping OpenMP threads,
    ``OMP_WAIT_POLICY=PASSIVE``; the package's thread policy is in ``htd_tutorial/_threads.py``).
    Measured on a 2-core CPU, BPR-MF on MovieLens-100K, dimension 200: 0.18 s per epoch on one
    thread, 0.45 s on two; the course's FTD student 1.7x and the synthetic lab's runs 2x faster on
    one thread. Datasets above :data:`SMALL_DATA_CELLS` pairs (CiteULike) keep
    ``torch.get_num_threads()``: their large matrix products use both cores. On a GPU the value
    only affects the few CPU operations. When this count is above one and ``threads`` was not given,
    :func:`train` drops to one thread while other processes keep a core busy and returns to it when
    they stop (``htd_tutorial._threads.ADAPTIVE_THREADS``): on a busy 2-core CPU one thread trained
    CiteULike in 0.6-1.1x the time of two sleeping threads, two spinning ones in 1.3-2.2x
    (``benchmarks/results/threads.json``).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if threads is not None:
        return positive_int("threads", threads)
    if device.type == "cpu" and data.n_users * data.n_items <= SMALL_DATA_CELLS:
        return 1
    return torch.get_num_threads()


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)`` (``None``: unchanged), then restore the setting.

    Introduced in ``notebooks/00_data_and_teacher.ipynb`` (used by :func:`train` and the explorer).
    """
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(model: Recommender, data: Interactions, config: TrainConfig | None = None, *,
          distiller: torch.nn.Module | None = None, ks: tuple[int, ...] = DEFAULT_KS,
          device: str | torch.device | None = None, progress: bool = True, desc: str | None = None,
          threads: int | None = None, snapshots: Snapshots | None = None, flush_denormal: bool = True,
          **settings) -> History:
    """Train ``model`` with BPR (plus a distillation loss, if given) and record metrics.

    Each step takes a batch of triples, looks up the embeddings of the batch's *unique* users and
    items once, computes the summed BPR loss from them and, with a ``distiller``, adds the term it
    returns (already weighted by lambda), as the paper does: ``L = L_BPR + lambda * L_KD``.

    Parameters
    ----------
    model : Recommender
        Trained in place (moved to ``device``).
    data : Interactions
        Training pairs and held-out items.
    config : TrainConfig, optional
        The training settings (:class:`htd_tutorial.config.TrainConfig`: epochs, lr, weight_decay,
        batch_size, optimizer, seed, eval_every), checked when it was made and trusted here. Without
        it, ``settings`` (its fields by name, e.g. ``epochs=5``) make one; not both.
    distiller : torch.nn.Module, optional
        A distillation loss following the protocol of :mod:`htd_tutorial.distill`; its own
        parameters (e.g. HTD's experts) are trained by the same optimiser settings.
    ks : tuple of int
        Metric cut-offs.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    progress : bool
        Show a ``tqdm`` progress bar over epochs.
    desc : str, optional
        Label of the progress bar.
    threads : int, optional
        CPU threads while training (default: :func:`training_threads` decides, 1 on small
        datasets, and on large ones 1 while the machine is busy with other work); torch's setting
        is restored afterwards. Give it for bitwise-repeatable CPU runs on large data.
    snapshots : Snapshots, optional
        Makes a long run resumable (:mod:`htd_tutorial.snapshot`): the run starts from the last
        snapshot the store holds, if it belongs to this run (same settings), and hands the store a
        new one whenever ``snapshots.every`` seconds of training have passed since the last (never
        after the final epoch: the caller stores the finished run). A snapshot of another run is
        ignored with a ``RuntimeWarning``. Resumed or not, the run gives the same numbers.
    flush_denormal : bool
        Round subnormal floats to zero in every CPU thread while training (default; where the
        processor can, :mod:`htd_tutorial._denormals`). HTD's annealed Gumbel-softmax makes thousands
        of them, and a CPU computes with them tens of times slower: without flushing, a few epochs of
        an HTD run took ten times the others. It changes a run's last digits where subnormals occur
        (as another thread count does), so the run records it (``History.config["flush_denormal"]``);
        ``False`` trains as the package did before 2026-12-07.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        A bad setting (checked before anything trains), or a distiller that rejects its inputs
        mid-run (the message then names the epoch and step).
    FloatingPointError
        The loss of a step is NaN or infinite; the message names the epoch and step and the loss
        terms. It is raised before that step updates the model, so the model keeps its last finite
        parameters.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if config is None:
        config = TrainConfig(**settings)     # the settings are checked here, once
    elif settings:
        raise TypeError(f"train() takes a TrainConfig or its fields by name, not both ({sorted(settings)})")
    ks = cutoffs(ks, data.n_items)
    if (model.n_users, model.n_items) != (data.n_users, data.n_items):
        raise ValueError(f"model is sized for {model.n_users} users x {model.n_items} items, "
                         f"data has {data.n_users} x {data.n_items}")
    eval_every = config.epochs if config.eval_every is None else config.eval_every
    device = resolve_device(device)
    base = training_threads(data, device, threads)
    # with the adaptive policy (htd_tutorial._threads), drop to one thread while other processes are busy
    adapt = base if threads is None and device.type == "cpu" and base > 1 and _threads.ADAPTIVE_THREADS else None
    # large temporaries reused from the heap (htd_tutorial._heap): the same numbers, fewer page faults
    with torch_threads(base), flushed_denormals(flush_denormal), kept_heap():
        return _fit(model, data, epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                    batch_size=config.batch_size, optimizer=config.optimizer, distiller=distiller,
                    seed=config.seed, eval_every=eval_every, ks=ks,
                    device=device, progress=progress, desc=desc, adapt=adapt, snapshots=snapshots)


def _fit(model: Recommender, data: Interactions, *, epochs: int, lr: float, weight_decay: float,
         batch_size: int, optimizer: str, distiller: torch.nn.Module | None, seed: int, eval_every: int,
         ks: tuple[int, ...], device: torch.device, progress: bool, desc: str | None,
         adapt: int | None = None, snapshots: Snapshots | None = None) -> History:
    """The training loop of :func:`train` (arguments already checked, threads already set; ``adapt``:
    the thread count to use while the machine is not busy, None to keep the count unchanged)."""
    seed_everything(seed)
    model.to(device)
    model.train()
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, weight_decay=weight_decay)
    extra_opt = None
    if distiller is not None:
        distiller.to(device)
        distiller.train()
        extra = [p for p in distiller.parameters() if p.requires_grad]
        if extra:
            extra_opt = make_optimizer("adam", extra, lr=lr, weight_decay=weight_decay)
    sampler = TripleSampler(data, batch_size, seed=seed)
    weights = loss_weights(distiller)
    history = History(config={"epochs": epochs, "lr": lr, "weight_decay": weight_decay, "batch_size": batch_size,
                              "optimizer": optimizer, "seed": seed, "dim": model.dim,
                              "model": type(model).__name__, "threads": torch.get_num_threads(),
                              "accelerator": _accelerator(device), "flush_denormal": flushes_denormals(),
                              "distiller": type(distiller).__name__ if distiller is not None else None})

    optimizers = {"model": opt} if extra_opt is None else {"model": opt, "distiller": extra_opt}
    parts = {"model": model, "distiller": distiller, "optimizers": optimizers,
             "sampler_generator": sampler.generator, "device": device}
    start = _resume(snapshots, history, parts) if snapshots is not None else 0
    last_snapshot = time.perf_counter()

    def record(epoch: int) -> None:
        result = evaluate(model, data, ks=ks)
        for split, values in result.items():
            history.metrics.append({"epoch": epoch, "split": split, **values})

    bar = tqdm(range(start, epochs), desc=desc or f"{type(model).__name__} d={model.dim}", disable=not progress,
               leave=True, initial=start, total=epochs)
    for epoch in bar:
        started = time.perf_counter()
        totals: dict[str, float] = {}
        for step, (users, pos, neg) in enumerate(sampler):
            if adapt is not None:
                wanted = _threads.adaptive_threads(adapt)
                if wanted != torch.get_num_threads():
                    torch.set_num_threads(wanted)
            users, pos, neg = users.to(device), pos.to(device), neg.to(device)
            u_ids, u_inv = torch.unique(users, return_inverse=True)
            i_ids, i_inv = torch.unique(torch.cat([pos, neg]), return_inverse=True)
            s_users, s_items = model.embed(u_ids, i_ids)
            loss = bpr_loss(s_users[u_inv], s_items[i_inv[: len(pos)]], s_items[i_inv[len(pos):]])
            terms = {"bpr": loss.detach()}
            if distiller is not None:
                try:
                    out = distiller(s_users, s_items, u_ids, i_ids, epoch, epochs)
                except ValueError as exc:
                    raise ValueError(f"{_where(epoch, epochs, step, len(sampler))}: {exc}") from exc
                loss = loss + out["loss"]
                terms.update({k: v.detach() for k, v in out.items() if k != "loss"})
            terms["loss"] = loss.detach()
            values = {name: float(value) for name, value in terms.items()}
            if not math.isfinite(values["loss"]):
                parts = ", ".join(f"{name} {value}" for name, value in values.items() if name != "loss")
                raise FloatingPointError(
                    f"training diverged at {_where(epoch, epochs, step, len(sampler))}: the loss is "
                    f"{values['loss']} ({parts}); the model keeps its parameters from before this step. "
                    "A smaller learning rate, or finite inputs, should help")
            opt.zero_grad(set_to_none=True)
            if extra_opt is not None:
                extra_opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if extra_opt is not None:
                extra_opt.step()
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + value
        seconds = time.perf_counter() - started
        history.seconds += seconds
        history.losses.append({"epoch": epoch + 1, **totals, "seconds": seconds})
        history.loss_trace.append(_trace_record(epoch + 1, totals, weights, len(sampler)))
        if eval_every and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            record(epoch + 1)
            top = f"Recall@{max(ks)}"
            bar.set_postfix({"loss": f"{totals['loss']:.1f}", top: f"{history.final(top):.4f}"})
        else:
            bar.set_postfix(loss=f"{totals['loss']:.1f}")
        if snapshots is not None and epoch + 1 < epochs and time.perf_counter() - last_snapshot >= snapshots.every:
            snapshots.save(*capture(epoch + 1, history=history.to_dict(), **parts))
            last_snapshot = time.perf_counter()
    bar.close()
    model.eval()
    return history


def _resume(snapshots: Snapshots, history: History, parts: dict) -> int:
    """Load the store's snapshot into the freshly built run ``parts`` when it is this run's; the
    number of epochs it had done (0: start from the beginning)."""
    found = snapshots.load()
    if found is None:
        return 0
    state, meta = found
    try:
        saved = dict(meta["history"]["config"])
        if _identity(saved) != _identity(history.config):
            raise ValueError(f"it was taken from another run ({_identity(saved)}, this run "
                             f"{_identity(history.config)})")
        done = restore(state, meta, **parts)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        warnings.warn(f"ignoring the snapshot of an unfinished run and starting from epoch 0: {exc}",
                      RuntimeWarning, stacklevel=4)
        return 0
    saved_history = History.from_dict(meta["history"])
    for name in ("losses", "metrics", "loss_trace", "seconds"):
        setattr(history, name, getattr(saved_history, name))
    return done


def _identity(config: dict) -> dict:
    """The settings that make two runs the same run (neither the thread count, nor the device, nor flushing
    subnormals is a setting: each gives other last digits, the same run otherwise)."""
    return {k: v for k, v in config.items() if k not in ("threads", "accelerator", "flush_denormal")}


def loss_weights(distiller: torch.nn.Module | None) -> dict[str, float]:
    """``{term: weight}``: how each logged term of ``distiller`` enters the training loss.

    The distiller's own :attr:`~htd_tutorial.distill.Distiller.loss_weights` when it has them (every
    distiller of :mod:`htd_tutorial.distill` does); none for a plain student or a distiller without
    them (its loss trace then holds only L_BPR and the total).
    """
    if distiller is None:
        return {}
    return {name: float(weight) for name, weight in dict(getattr(distiller, "loss_weights", {})).items()}


def _trace_record(epoch: int, totals: dict[str, float], weights: dict[str, float], steps: int) -> dict:
    """One epoch of :attr:`History.loss_trace`: per-batch means of L_BPR, of each weighted term, of the loss.

    Computed from the epoch's sums after training has used them, so the trace changes no number of a run.
    """
    steps = max(steps, 1)
    record = {"epoch": epoch, "bpr": totals.get("bpr", 0.0) / steps}
    record.update({name: weight * totals.get(name, 0.0) / steps for name, weight in weights.items()})
    record["loss"] = totals.get("loss", 0.0) / steps
    return record


def _where(epoch: int, epochs: int, step: int, steps: int) -> str:
    """``"epoch 3 of 20, step 5 of 12"`` (1-based, as the history counts epochs) for error messages."""
    return f"epoch {epoch + 1} of {epochs}, step {step + 1} of {steps}"

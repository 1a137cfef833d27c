"""Distillers: the distillation losses packaged to plug into :func:`htd_tutorial.training.train`.

Protocol. Each training step the trainer takes the batch's unique users and unique items (positives
and negatives together), gets the student's embeddings of them once, computes BPR from them and calls

    out = distiller(s_users, s_items, users, items, epoch, max_epoch)

``out["loss"]`` is the term added to the BPR loss, already multiplied by lambda; the other keys are
detached sub-terms for logging. A distiller holds the frozen teacher's full embedding tables as
buffers ``t_users`` and ``t_items`` (not saved in its ``state_dict``) and indexes them. Its own
parameters (HTD's experts, FitNet's projector) are trained by the trainer alongside the student.

Methods (:func:`make_distiller`): ``"student"`` (no distillation, returns None), ``"fitnet"``,
``"de"``, ``"ftd"``, ``"htd"``. The settings are checked once, by the run's
:class:`~htd_tutorial.config.RunConfig`, before any training starts (a bad one raises ValueError naming
it); the distillers trust them and check only the teacher's tables and each call's tensors.
"""
from __future__ import annotations

import inspect

import torch
from torch import nn

from . import modes
from ._checks import embedding_table, positive_int
from .choices import (DE, DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K, DEFAULT_LAMBDA, DEFAULT_MODE, FITNET,
                      FTD, HTD, METHODS, STUDENT)
from .config import HTDOptions, RunConfig
from .losses.ftd import ftd_loss
from .losses.htd import HTDLoss, gumbel_temperature
from .losses.pointwise import DELoss, FitNetLoss

__all__ = ["Distiller", "FTDDistiller", "HTDDistiller", "DEDistiller", "FitNetDistiller", "DISTILLERS",
           "make_distiller", "METHODS", "validate_teacher"]


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------

def _as_table(name: str, table) -> torch.Tensor:
    table = embedding_table(name, table, non_empty=True, floating=True).to(torch.float32).contiguous()
    bad = ~torch.isfinite(table)
    if bad.any():
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise ValueError(f"{name} contains NaN or infinite values (in {len(rows)} rows, first row {int(rows[0])}); "
                         "the teacher must be trained successfully before it can be distilled")
    return table


def validate_teacher(teacher_users, teacher_items, *, n_users: int | None = None, n_items: int | None = None,
                     require_nonzero: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the teacher's tables and return them as float32 tensors (detached copies).

    Parameters
    ----------
    teacher_users, teacher_items : Tensor or np.ndarray, shapes (n_users, d_t), (n_items, d_t)
    n_users, n_items : int, optional
        The data's sizes; the tables must have exactly these many rows.
    require_nonzero : bool
        Reject all-zero rows (their cosine similarity is undefined without an epsilon guard).

    Raises
    ------
    ValueError
        Naming the problem: wrong type or shape, different user/item dimensions, rows that do not
        match the data, NaN or infinite values, all-zero rows when ``require_nonzero``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    users = _as_table("teacher_users", teacher_users)
    items = _as_table("teacher_items", teacher_items)
    if users.shape[1] != items.shape[1]:
        raise ValueError(f"teacher user and item embeddings must have the same dimension, got "
                         f"{users.shape[1]} and {items.shape[1]}")
    for name, table, expected in (("users", users, n_users), ("items", items, n_items)):
        if expected is not None and table.shape[0] != positive_int(f"n_{name}", expected):
            raise ValueError(f"the teacher embeds {table.shape[0]} {name} but the data has {expected}: "
                             "was the teacher trained on another dataset?")
        if require_nonzero:
            zero = (table == 0).all(dim=1)
            if zero.any():
                raise ValueError(f"teacher_{name} has {int(zero.sum())} all-zero rows (first: "
                                 f"{int(torch.nonzero(zero)[0])}); their cosine is undefined in the authors' "
                                 "mode, use mode='clean' (epsilon-safe cosine)")
    return users, items


# ----------------------------------------------------------------------------------------------
# Distillers
# ----------------------------------------------------------------------------------------------

class Distiller(nn.Module):
    """Base class: holds the teacher tables and checks each call's arguments.

    Parameters
    ----------
    teacher_users, teacher_items : Tensor, shapes (n_users, d_t), (n_items, d_t)
        The frozen teacher's full tables (e.g. ``teacher.all_embeddings()`` under ``no_grad``).
    lam : float
        lambda, the weight of the distillation term (>= 0).
    n_users, n_items : int, optional
        The data's sizes, to catch a teacher trained on other data.
    require_nonzero : bool
        Reject all-zero teacher rows.

    Subclasses implement ``forward(s_users, s_items, users, items, epoch, max_epoch) -> dict``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, teacher_users, teacher_items, *, lam: float = DEFAULT_LAMBDA, n_users: int | None = None,
                 n_items: int | None = None, require_nonzero: bool = False):
        super().__init__()
        users, items = validate_teacher(teacher_users, teacher_items, n_users=n_users, n_items=n_items,
                                        require_nonzero=require_nonzero)
        self.lam = float(lam)   # trusted: RunConfig checked it
        self.register_buffer("t_users", users, persistent=False)
        self.register_buffer("t_items", items, persistent=False)

    @property
    def loss_weights(self) -> dict[str, float]:
        """``{term: weight}``: the factor each logged term carries in the training loss, so that
        ``out["loss"] = sum(weight * out[term])``. The trainer uses it to record what each term adds to
        the loss (:attr:`htd_tutorial.training.History.loss_trace`); subclasses define it."""
        return {}

    @property
    def teacher_dim(self) -> int:
        """d_t, the teacher's embedding dimension."""
        return int(self.t_users.shape[1])

    def teacher(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's embeddings of ``users`` and ``items`` (constants)."""
        return self.t_users[users], self.t_items[items]

    def _check(self, s_users: torch.Tensor, s_items: torch.Tensor, users: torch.Tensor, items: torch.Tensor,
               epoch: int, max_epoch: int) -> None:
        if s_users.dim() != 2 or s_items.dim() != 2 or s_users.shape[1] != s_items.shape[1]:
            raise ValueError(f"student embeddings must be 2-D with one dimension, got {tuple(s_users.shape)} "
                             f"and {tuple(s_items.shape)}")
        if s_users.shape[0] != users.shape[0] or s_items.shape[0] != items.shape[0]:
            raise ValueError(f"{s_users.shape[0]} user and {s_items.shape[0]} item embeddings for "
                             f"{users.shape[0]} users and {items.shape[0]} items")
        if max_epoch < 1 or not 0 <= epoch:
            raise ValueError(f"need 0 <= epoch and max_epoch >= 1, got epoch={epoch}, max_epoch={max_epoch}")

    def extra_repr(self) -> str:
        return (f"lam={self.lam}, teacher: {self.t_users.shape[0]} users x {self.t_items.shape[0]} items, "
                f"d_t={self.teacher_dim}")


class FTDDistiller(Distiller):
    """Full Topology Distillation: ``lam * L_FTD`` over the batch's users and items together.

    See :func:`htd_tutorial.losses.ftd.ftd_loss`. ``eps`` is the cosine guard (0 = the authors';
    :func:`htd_tutorial.modes.cosine_eps` gives each mode's value).
    Returns ``{"loss", "ftd"}``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, teacher_users, teacher_items, *, lam: float = DEFAULT_LAMBDA, eps: float = 0.0,
                 n_users: int | None = None, n_items: int | None = None):
        self.eps = float(eps)   # the mode's (htd_tutorial.modes.cosine_eps), or the caller's
        super().__init__(teacher_users, teacher_items, lam=lam, n_users=n_users, n_items=n_items,
                         require_nonzero=self.eps == 0)

    def forward(self, s_users, s_items, users, items, epoch: int, max_epoch: int) -> dict[str, torch.Tensor]:
        self._check(s_users, s_items, users, items, epoch, max_epoch)
        t_users, t_items = self.teacher(users, items)
        value = ftd_loss(torch.cat([s_users, s_items]), torch.cat([t_users, t_items]), eps=self.eps)
        return {"loss": self.lam * value, "ftd": value.detach()}

    @property
    def loss_weights(self) -> dict[str, float]:
        """``{"ftd": lambda}``."""
        return {"ftd": self.lam}


class HTDDistiller(Distiller):
    """Hierarchical Topology Distillation: ``lam * L_HTD`` (see :class:`~htd_tutorial.losses.htd.HTDLoss`).

    Parameters
    ----------
    teacher_users, teacher_items : Tensor
    student_dim : int
    lam : float
    K : int
        Groups per entity type.
    gamma : float
        In [0, 1]; weight of the topology terms against the group-assignment term.
    group_topology : {"Pe", "PP"}
    mode : {"authors", "clean"}
        Authors' code vs the paper's text (:mod:`htd_tutorial.modes`): picks the preset of
        :class:`~htd_tutorial.losses.htd.HTDOptions`.
    options : HTDOptions, optional
        Overrides ``mode`` (for ablations flipping one switch).
    seed : int
        Seed of the experts' and the assignment layer's initial weights.
    n_users, n_items : int, optional

    The Gumbel-softmax temperature follows :func:`~htd_tutorial.losses.htd.gumbel_temperature` from
    ``epoch`` and ``max_epoch`` (see :meth:`temperature`). Gumbel noise comes from torch's global
    generator (seeded by the trainer). Returns ``{"loss", "htd", "entity", "group", "ga"}``: the
    trainer sums them over an epoch's batches, so only additive terms are returned.

    Introduced in ``notebooks/03_htd.ipynb``.
    """

    def __init__(self, teacher_users, teacher_items, student_dim: int, *, lam: float = DEFAULT_LAMBDA,
                 K: int = DEFAULT_K, gamma: float = DEFAULT_GAMMA, group_topology: str = DEFAULT_GROUP_TOPOLOGY,
                 mode: str = DEFAULT_MODE,
                 options: HTDOptions | None = None, seed: int = 0, n_users: int | None = None,
                 n_items: int | None = None):
        # the settings are trusted: RunConfig checked them once (make_distiller builds from it)
        options = HTDOptions.preset(mode) if options is None else options
        super().__init__(teacher_users, teacher_items, lam=lam, n_users=n_users, n_items=n_items,
                         require_nonzero=options.eps == 0 and gamma > 0)
        self.mode = mode
        generator = torch.Generator().manual_seed(seed)
        self.htd = HTDLoss(self.teacher_dim, student_dim, K=K, gamma=gamma, group_topology=group_topology,
                           options=options, generator=generator)

    @property
    def options(self) -> HTDOptions:
        """The switches in force (see :class:`~htd_tutorial.losses.htd.HTDOptions`)."""
        return self.htd.options

    @torch.no_grad()
    def groups(self, users: torch.Tensor | None = None, items: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Current hard groups (argmax of alpha) of ``users`` and ``items`` (default: all), each in [0, K)."""
        t_users = self.t_users if users is None else self.t_users[users]
        t_items = self.t_items if items is None else self.t_items[items]
        return self.htd.users.hard_groups(t_users), self.htd.items.hard_groups(t_items)

    def forward(self, s_users, s_items, users, items, epoch: int, max_epoch: int) -> dict[str, torch.Tensor]:
        self._check(s_users, s_items, users, items, epoch, max_epoch)
        tau = self.temperature(epoch, max_epoch)
        t_users, t_items = self.teacher(users, items)
        parts = self.htd(s_users, s_items, t_users, t_items, tau)
        out = {"loss": self.lam * parts["htd"]}
        out.update({name: value.detach() for name, value in parts.items()})
        return out

    def temperature(self, epoch: int, max_epoch: int) -> float:
        """The Gumbel-softmax temperature this distiller uses at ``epoch`` of ``max_epoch``."""
        return gumbel_temperature(epoch, max_epoch, lag=self.options.tau_lag)

    @property
    def loss_weights(self) -> dict[str, float]:
        """``lambda * gamma`` for the entity and group levels, ``lambda * (1 - gamma)`` for L_GA (the
        parts of ``lambda * L_HTD``; ``"htd"`` itself is their sum and carries no weight of its own)."""
        gamma = self.htd.gamma
        return {"entity": self.lam * gamma, "group": self.lam * gamma, "ga": self.lam * (1 - gamma)}


class DEDistiller(Distiller):
    """DE (HTD's group-assignment reconstruction alone, gamma = 0): ``lam * L_GA``.

    Parameters as :class:`HTDDistiller` (``mode`` only sets the temperature schedule's lag,
    :func:`htd_tutorial.modes.tau_lag`).
    Returns ``{"loss", "ga"}``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, teacher_users, teacher_items, student_dim: int, *, lam: float = DEFAULT_LAMBDA,
                 K: int = DEFAULT_K, mode: str = DEFAULT_MODE, seed: int = 0, n_users: int | None = None,
                 n_items: int | None = None):
        tau_lag = modes.tau_lag(mode)       # the settings are trusted: RunConfig checked them once
        super().__init__(teacher_users, teacher_items, lam=lam, n_users=n_users, n_items=n_items)
        self.mode, self.tau_lag = mode, tau_lag
        generator = torch.Generator().manual_seed(seed)
        self.de = DELoss(self.teacher_dim, student_dim, K=K, generator=generator)

    def forward(self, s_users, s_items, users, items, epoch: int, max_epoch: int) -> dict[str, torch.Tensor]:
        self._check(s_users, s_items, users, items, epoch, max_epoch)
        t_users, t_items = self.teacher(users, items)
        value = self.de(s_users, s_items, t_users, t_items, self.temperature(epoch, max_epoch))
        return {"loss": self.lam * value, "ga": value.detach()}

    @property
    def loss_weights(self) -> dict[str, float]:
        """``{"ga": lambda}``."""
        return {"ga": self.lam}

    def temperature(self, epoch: int, max_epoch: int) -> float:
        """The Gumbel-softmax temperature this distiller uses at ``epoch`` of ``max_epoch``."""
        return gumbel_temperature(epoch, max_epoch, lag=self.tau_lag)


class FitNetDistiller(Distiller):
    """FitNet-style hint regression: ``lam * sum_e ||t_e - r(s_e)||^2``, one projector per entity type.

    Returns ``{"loss", "hint"}``.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """

    def __init__(self, teacher_users, teacher_items, student_dim: int, *, lam: float = DEFAULT_LAMBDA, seed: int = 0,
                 n_users: int | None = None, n_items: int | None = None):
        super().__init__(teacher_users, teacher_items, lam=lam, n_users=n_users, n_items=n_items)
        generator = torch.Generator().manual_seed(seed)   # trusted, as the dimension: RunConfig checked them
        self.users_hint = FitNetLoss(student_dim, self.teacher_dim, generator=generator)
        self.items_hint = FitNetLoss(student_dim, self.teacher_dim, generator=generator)

    def forward(self, s_users, s_items, users, items, epoch: int, max_epoch: int) -> dict[str, torch.Tensor]:
        self._check(s_users, s_items, users, items, epoch, max_epoch)
        t_users, t_items = self.teacher(users, items)
        value = self.users_hint(s_users, t_users) + self.items_hint(s_items, t_items)
        return {"loss": self.lam * value, "hint": value.detach()}

    @property
    def loss_weights(self) -> dict[str, float]:
        """``{"hint": lambda}``."""
        return {"hint": self.lam}


#: The distiller class of each method of :data:`METHODS` (the plain student has none): the one table
#: :func:`make_distiller` dispatches through.
DISTILLERS: dict[str, type[Distiller] | None] = {STUDENT: None, FITNET: FitNetDistiller, DE: DEDistiller,
                                                 FTD: FTDDistiller, HTD: HTDDistiller}
assert tuple(DISTILLERS) == METHODS


def make_distiller(config: RunConfig | str, teacher_users=None, teacher_items=None, student_dim: int | None = None,
                   *, n_users: int | None = None, n_items: int | None = None, **settings) -> Distiller | None:
    """Build the distiller of a run's method from its :class:`~htd_tutorial.config.RunConfig`.

    Parameters
    ----------
    config : RunConfig or str
        The run's settings, checked when the configuration was made and trusted here: the method,
        the student's ``dim``, ``lam``, ``K`` (used by "de" and "htd"), ``gamma`` and
        ``group_topology`` (by "htd"), ``mode`` (a library-wide setting, :mod:`htd_tutorial.modes`
        says what it changes in each loss: for "ftd" the cosine, for "de" the temperature schedule,
        for "htd" every switch of :class:`~htd_tutorial.config.HTDOptions`), ``options`` ("htd"
        ablations) and ``seed`` (the distiller's own initial weights). A method's name instead, with
        ``student_dim`` and the other fields by name (``K=3``), makes the configuration here.
    teacher_users, teacher_items : Tensor or np.ndarray
        The teacher's full tables, e.g. ``teacher.all_embeddings()``.
    n_users, n_items : int, optional
        The data's sizes; a teacher with other row counts is rejected.

    Returns
    -------
    Distiller or None
        None for ``"student"`` (trained without distillation; the teacher may then be None).

    Raises
    ------
    ValueError
        A bad setting (from :class:`~htd_tutorial.config.RunConfig`), NaN or infinite teacher values,
        teacher tables of the wrong shape.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    if isinstance(config, str):
        if config == STUDENT and student_dim is None and not settings:
            return None
        config = RunConfig(method=config, dim=student_dim, **settings)   # checked here, once
    elif student_dim is not None or settings:
        raise TypeError("make_distiller() takes a RunConfig or a method's name with its settings, not both")
    distiller = DISTILLERS[config.method]
    if distiller is None:
        return None
    if teacher_users is None or teacher_items is None:
        raise ValueError(f"method {config.method!r} needs the teacher's user and item embeddings")
    # the settings this distiller's constructor takes after the two teacher tables (a name make_distiller
    # does not know is a KeyError below: a renamed setting fails loudly instead of keeping its default)
    takes = list(inspect.signature(distiller).parameters)[2:]
    settings = dict(student_dim=config.dim, lam=config.lam, K=config.K, gamma=config.gamma,
                    group_topology=config.group_topology, mode=config.mode, eps=modes.cosine_eps(config.mode),
                    options=config.options, seed=config.seed, n_users=n_users, n_items=n_items)
    return distiller(teacher_users, teacher_items, **{name: settings[name] for name in takes})

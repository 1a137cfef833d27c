"""The typed settings of a run, from a notebook's parameters cell to a results file (no torch import).

Three frozen dataclasses carry every setting inward: :class:`TrainConfig` (what
:func:`htd_tutorial.training.train` takes), :class:`TeacherConfig` (a teacher,
:func:`htd_tutorial.cache.get_teacher`) and :class:`RunConfig` (one student run,
:func:`htd_tutorial.experiments.run_method`, :func:`htd_tutorial.distill.make_distiller`), with
:class:`HTDOptions`, HTD's switches. Their defaults are :mod:`htd_tutorial.choices`'s. Each checks its
fields once, when it is made (``__post_init__``, with the helpers of :mod:`htd_tutorial._checks`), and
the code it reaches trusts it; ``asdict(config)`` is what the cache key and a results file hold.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._checks import finite_number, flag, instance_of, integer, known, one_of, positive_int, positive_number, \
    replace_fields
from .choices import (DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_K,
                      DEFAULT_LAMBDA, DEFAULT_LR, DEFAULT_MODE, DEFAULT_OPTIMIZER, DEFAULT_WEIGHT_DECAY,
                      GROUP_TOPOLOGIES, HTD_MODES, LIGHTGCN_DEPTH, METHODS, MODEL_KINDS, OPTIMIZERS, PAPER_EVAL_EVERY,
                      RECIPE_LR, RECIPE_WEIGHT_DECAY, TEACHER_DIM)
from .modes import switches

__all__ = ["TrainConfig", "TeacherConfig", "RunConfig", "HTDOptions"]


def _set(config, name: str, value) -> None:
    """Store a checked value in a frozen dataclass (only ``__post_init__`` does)."""
    if getattr(config, name) is not value:
        object.__setattr__(config, name, value)


def _check_training(config) -> None:
    """Check the training fields of ``config`` (a TrainConfig, TeacherConfig or RunConfig). Floats are checked
    and kept as given (an int learning rate stays an int: the cache keys of stored runs hold them as written)."""
    _set(config, "epochs", integer("epochs", config.epochs, low=0))
    positive_number("lr", config.lr)
    positive_number("weight_decay", config.weight_decay, allow_zero=True)
    _set(config, "batch_size", integer("batch_size", config.batch_size, low=1))
    known("optimizer", config.optimizer, OPTIMIZERS)
    _set(config, "seed", integer("seed", config.seed, low=0))
    if config.eval_every is not None:
        _set(config, "eval_every", integer("eval_every", config.eval_every, low=0))


def _check_depth(config) -> None:
    """LightGCN's depth on ``config`` (a TeacherConfig or RunConfig): None or a whole number >= 1, and only for
    LightGCN; the default depth is stored as None, so one model has one configuration and one cache key (and
    the keys of the runs stored before the field existed stay as they were)."""
    if config.depth is None:
        return
    if config.kind != "lightgcn":
        raise ValueError(f"depth is LightGCN's number of layers; kind {config.kind!r} has none (got {config.depth!r})")
    depth = integer("depth", config.depth, low=1)
    _set(config, "depth", None if depth == LIGHTGCN_DEPTH else depth)


def _training_of(config) -> "TrainConfig":
    """The :class:`TrainConfig` of ``config``'s training fields, which it has checked: made without checking
    them again (no ``__init__``, so no ``__post_init__``)."""
    training = TrainConfig.__new__(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        object.__setattr__(training, field.name, getattr(config, field.name))
    return training


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (:func:`htd_tutorial.training.train`); the paper's defaults.

    Attributes
    ----------
    epochs : int
        Passes over the training pairs.
    lr, weight_decay, batch_size : float, float, int
        Adam's learning rate and weight decay, triples per batch.
    optimizer : str
        ``"adam"`` (the paper's dense Adam) or ``"lazy_adam"`` (row-wise, faster on CPU).
    seed : int
        Seeds the sampler and torch's RNG.
    eval_every : int, optional
        Evaluate every this many epochs and after the last (None: only after the last; 0: never).
    """

    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = DEFAULT_BATCH_SIZE
    optimizer: str = DEFAULT_OPTIMIZER
    seed: int = 0
    eval_every: int | None = None

    def __post_init__(self) -> None:
        _check_training(self)

    @property
    def training(self) -> "TrainConfig":
        """The training settings alone, as :func:`htd_tutorial.training.train` takes them (already checked)."""
        return self if type(self) is TrainConfig else _training_of(self)

    def replace(self, **changes):
        """A copy with the named fields changed (checked again); an unknown name raises ValueError."""
        return replace_fields(self, changes, f"{type(self).__name__} field")


@dataclass(frozen=True)
class TeacherConfig(TrainConfig):
    """Everything that defines a teacher (all of it goes into its cache key, :meth:`key`): how it is trained
    (the fields of :class:`TrainConfig`) and what it is.

    Attributes
    ----------
    kind : str
        Base model, ``"bpr"`` or ``"lightgcn"``.
    dim : int
        Embedding dimension (the paper's 200).
    epochs, lr, weight_decay, batch_size, optimizer, seed, eval_every
        As :class:`TrainConfig`.
    depth : int, optional
        LightGCN's number of layers (None: :data:`~htd_tutorial.choices.LIGHTGCN_DEPTH`); BPR has none.
    """

    kind: str = MODEL_KINDS[0]
    dim: int = TEACHER_DIM
    depth: int | None = None

    def __post_init__(self) -> None:
        known("model kind", self.kind, MODEL_KINDS)
        _set(self, "dim", positive_int("teacher dimension", self.dim))
        _check_depth(self)
        super().__post_init__()

    @classmethod
    def paper(cls, kind: str = MODEL_KINDS[0], **changes) -> "TeacherConfig":
        """The teacher of the paper-scale commands (``reproduce``, ``ablation``, ``recipe --student-dim``, the
        evidence map's CiteULike settings, ``bench_methods``), so that they share one cache entry: base model
        ``kind`` at its recipe's learning rate and weight decay (:data:`~htd_tutorial.choices.RECIPE_LR`,
        :data:`~htd_tutorial.choices.RECIPE_WEIGHT_DECAY`), validated every
        :data:`~htd_tutorial.choices.PAPER_EVAL_EVERY` epochs; ``changes`` set other fields (or override these,
        for a sweep)."""
        known("model kind", kind, MODEL_KINDS)
        return cls(**{"kind": kind, "lr": RECIPE_LR[kind], "weight_decay": RECIPE_WEIGHT_DECAY[kind],
                      "eval_every": PAPER_EVAL_EVERY, **changes})

    def key(self) -> dict:
        """What the teacher's cache key hashes: its role (a teacher) and every field (written out: the key of
        every stored teacher is this dict; ``tests/library/test_cache.py`` checks that no field is left out)."""
        return {"role": "teacher", "kind": self.kind, "dim": self.dim, "epochs": self.epochs, "seed": self.seed,
                "lr": self.lr, "weight_decay": self.weight_decay, "batch_size": self.batch_size,
                "optimizer": self.optimizer, "eval_every": self.eval_every,
                **({"depth": self.depth} if self.depth is not None else {})}   # keeps the keys made before it

    @property
    def label(self) -> str:
        """How messages name the teacher, e.g. ``"teacher bpr d=200"`` (``"... depth 2"`` off LightGCN's default)."""
        return f"teacher {self.kind} d={self.dim}" + (f" depth {self.depth}" if self.depth is not None else "")


@dataclass(frozen=True)
class HTDOptions:
    """The switches on which the authors' code and the paper's text differ.

    Attributes
    ----------
    proto_grad : bool
        Whether gradients flow through the student's prototypes (group means). The authors compute
        the prototypes under ``no_grad``: with ``"PP"`` the group-level term then gives the student
        no gradient at all, with ``"Pe"`` it reaches the student only through the entities.
        Authors: False. Clean: True.
    positive_teacher_pairs_only : bool
        Whether the entity-level term keeps only same-group pairs whose *teacher* similarity is
        > 0 (the authors' code selects pairs with ``teacher_sim * same_group_mask > 0``). The paper's
        definition (as the methods issue summarises it) is a plain same-group restriction.
        Authors: True. Clean: False.
    mask_pe : bool
        Whether the ``"Pe"`` term leaves out each prototype's own members. The authors compare
        every prototype with every batch entity (a commented-out line in their code applies the
        mask); relations inside a group are the entity level's job, so the clean reading relates
        each prototype to the entities *outside* its group. Authors: False. Clean: True.
    same_type_only : bool
        Whether group-level relations stay within one entity type (user prototypes with users and
        user prototypes, item prototypes with items and item prototypes), i.e. HTD run separately
        for users and for items, as the methods issue summarises the paper. The authors put users
        and items in one set, so user prototypes are also compared with items.
        Authors: False. Clean: True.
    eps : float
        Cosine guard (see :func:`~htd_tutorial.losses.ftd.cosine_normalize`). Authors: 0 (plain
        cosine, NaN for an all-zero vector). Clean: 1e-8.
    tau_lag : bool
        The authors' training loop sets the temperature for epoch e to the value computed at the
        end of epoch e - 1, so epochs 0 and 1 both run at tau = 1. Authors: True. Clean: False
        (tau = (1e-10)^(epoch / max_epoch)).

    Use :meth:`preset` for the two modes (their values: :mod:`htd_tutorial.modes`, where ``eps`` and
    ``tau_lag`` also reach FTD and DE) and :meth:`replace` to flip one switch.

    Introduced in ``notebooks/03_htd.ipynb``.
    """

    proto_grad: bool = False
    positive_teacher_pairs_only: bool = True
    mask_pe: bool = False
    same_type_only: bool = False
    eps: float = 0.0
    tau_lag: bool = True

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if field.name != "eps":
                flag(f"HTDOptions.{field.name}", getattr(self, field.name))
        finite_number("HTDOptions.eps", self.eps, low=0.0)

    @classmethod
    def preset(cls, mode: str) -> "HTDOptions":
        """The options of ``mode``: ``"authors"`` (their code) or ``"clean"`` (our reading of the paper).

        The values are :data:`htd_tutorial.modes.MODE_SWITCHES`, the table of what the library-wide
        mode changes in every loss.
        """
        return cls(**switches(mode))

    def replace(self, **changes) -> "HTDOptions":
        """A copy with the named switches changed; an unknown name raises ValueError."""
        return replace_fields(self, changes, "HTDOptions field")

    def differences(self, other: "HTDOptions") -> dict:
        """``{field: (self_value, other_value)}`` for every switch that differs."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(other, f.name)}

    @classmethod
    def ablation(cls, base: str = "authors") -> dict[str, "HTDOptions"]:
        """One-switch-at-a-time variants between the two presets, for an ablation table.

        Returns ``{"authors": ..., "authors + proto_grad": ..., ..., "clean": ...}`` (with
        ``base="clean"``: ``"clean - proto_grad"`` etc.): the base preset, the base with each
        differing switch set to the other preset's value, and the other preset.
        """
        other = "clean" if base == "authors" else "authors"
        start, end = cls.preset(base), cls.preset(other)
        sign = "+" if base == "authors" else "-"
        variants = {base: start}
        for name, (_, target) in start.differences(end).items():
            variants[f"{base} {sign} {name}"] = start.replace(**{name: target})
        variants[other] = end
        return variants



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
    depth : int, optional
        LightGCN's number of layers (None: :data:`~htd_tutorial.choices.LIGHTGCN_DEPTH`, left out of the key).
    seed, lr, weight_decay, batch_size, optimizer, eval_every
        Training settings (see :func:`htd_tutorial.training.train`).

    Introduced in ``notebooks/04_analysis.ipynb`` (built from the settings by every entry point).
    """

    method: str
    dim: int
    epochs: int = DEFAULT_EPOCHS
    kind: str = MODEL_KINDS[0]
    lam: float = DEFAULT_LAMBDA
    K: int = DEFAULT_K
    gamma: float = DEFAULT_GAMMA
    group_topology: str = DEFAULT_GROUP_TOPOLOGY
    mode: str = DEFAULT_MODE
    seed: int = 0
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = DEFAULT_BATCH_SIZE
    optimizer: str = DEFAULT_OPTIMIZER
    eval_every: int | None = None
    options: HTDOptions | None = None
    depth: int | None = None

    def __post_init__(self) -> None:
        # Every field is checked here, once, so that a bad setting fails when the configuration is made:
        # before a sweep loads data or trains a teacher, and with the field's name in the message. The code
        # it reaches (make_distiller, the distillers, the losses, train) trusts these values.
        # Whole numbers are stored as int (a NumPy integer is accepted and converted, so the cache key,
        # built from asdict(config), is the same as for the Python int).
        known("method", self.method, METHODS)
        _set(self, "dim", positive_int("student dimension", self.dim))
        known("model kind", self.kind, MODEL_KINDS)
        finite_number("lam", self.lam, low=0.0)
        _set(self, "K", positive_int("K", self.K))
        finite_number("gamma", self.gamma, low=0.0, high=1.0)
        one_of("group_topology", self.group_topology, GROUP_TOPOLOGIES)
        one_of("mode", self.mode, HTD_MODES)
        _check_depth(self)
        _check_training(self)
        if self.options is not None:
            instance_of("options", self.options, HTDOptions, optional=True)
            if self.method != "htd":
                raise ValueError(f"options (HTDOptions) only apply to method 'htd', not {self.method!r}")
            if self.options == HTDOptions.preset(self.mode):
                _set(self, "options", None)  # one configuration, one cache entry

    @property
    def training(self) -> TrainConfig:
        """The settings :func:`htd_tutorial.training.train` takes (already checked)."""
        return _training_of(self)

    def replace(self, **changes) -> "RunConfig":
        """A copy with the named fields changed (checked again); an unknown name raises ValueError."""
        return replace_fields(self, changes, "RunConfig field")

    @property
    def label(self) -> str:
        """Short name for tables and legends, e.g. ``"HTD d=20"``."""
        return f"{self.method.upper() if self.method != 'student' else 'Student'} d={self.dim}"

"""The course's recipes in one place: the teacher, the plain student, distillation, the seed sweep.

Every notebook and the seed sweep (:mod:`htd_tutorial.course.seeds`) read their settings from here,
so a number quoted in one notebook was made with the same recipe as the number next to it.

Why these settings
------------------
- :data:`TEACHER`: the paper's base model and optimiser (BPR-MF, dimension 200, Adam, learning rate
  1e-3, weight decay 1e-3, batch 1024; Kang et al., KDD 2021, §5.1). Only the number of epochs is
  ours: on MovieLens-100K the teacher's test Recall@50 stops improving after about 40 epochs at this
  learning rate (0.63 after 40 epochs, 0.62 after 60).
- :data:`STUDENT`: notebook 01's plain students, the teacher's recipe at a smaller dimension.
- :data:`DISTILL`: the distillation recipe of notebooks 02-05 — the paper's distillation settings
  (lambda = 1e-3 on summed losses, gamma = 0.5, the prototype-entity group topology, the authors'
  code), K = 10 groups per entity type (MovieLens-100K has 943 users and 1,682 items against
  CiteULike's 5,219 and 25,181: ten groups hold about as many entities as a CiteULike group with the
  paper's K = 30), and a fixed budget of 20 epochs at learning rate 2e-3 for every method, as the
  paper gives every method the same budget. That budget does not finish training the smallest plain
  students; the seed sweep therefore also trains every method at :data:`TUNED_LRS` and picks each
  method's learning rate on the validation split, so the course can show what survives a fairly
  tuned baseline.
- :data:`SMALL_DIM` / :data:`LARGE_DIM`: the two student sizes the lessons compare (the teacher has
  200). What holds at them is measured over :data:`LESSON_SEEDS` by the seed sweep, not assumed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._checks import replace_fields
from ..choices import (DEFAULT_BATCH_SIZE, DEFAULT_GAMMA, DEFAULT_GROUP_TOPOLOGY, DEFAULT_LAMBDA, DEFAULT_MODE,
                       DEFAULT_OPTIMIZER, DEFAULT_WEIGHT_DECAY)
from ..config import RunConfig, TeacherConfig, TrainConfig

__all__ = ["DistillRecipe", "LabSettings", "TEACHER", "STUDENT", "STUDENT_DIMS", "DISTILL", "SMALL_DIM",
           "LARGE_DIM", "COMPARED_METHODS", "LESSON_SEEDS", "CHECK_SEEDS", "CURVE_SEEDS", "TUNED_LRS",
           "LAB", "LAB_TEACHER", "LAB_SEEDS"]


class _Recipe:
    """What every recipe class has: :meth:`replace`."""

    def replace(self, **changes):
        """A copy with the named settings changed; an unknown name raises ValueError."""
        return replace_fields(self, changes, f"{type(self).__name__} field")


@dataclass(frozen=True)
class DistillRecipe(_Recipe):
    """How the course trains a student: every setting of a :class:`~htd_tutorial.config.RunConfig` but the
    method, the dimension and the seed.

    ``recipe.replace(K=5)`` changes a setting, ``recipe.config("htd", 4, seed=0)`` is the run; the values
    are checked there, once, by RunConfig. ``dataclasses.asdict(recipe)`` is what a stored file records.
    """

    kind: str
    epochs: int
    lr: float
    weight_decay: float
    batch_size: int
    optimizer: str
    lam: float
    K: int
    gamma: float
    group_topology: str
    mode: str

    def config(self, method: str, dim: int, *, seed: int, **more) -> RunConfig:
        """The run of ``method`` at ``dim`` with this recipe (``more``: other RunConfig fields, e.g.
        ``eval_every``); RunConfig checks every value."""
        return RunConfig(method=method, dim=dim, seed=seed, **dataclasses.asdict(self), **more)


@dataclass(frozen=True)
class LabSettings(_Recipe):
    """The lab's settings (appendix notebook 06, :mod:`htd_tutorial.course.lab`): student dimension,
    epochs, groups per entity type, learning rate (everything else the paper's), and the seed of the
    data, the teacher and the one-seed sweeps (the seed comparisons use :data:`LAB_SEEDS`).
    ``dataclasses.asdict(settings)`` is what ``data/lab_results.json`` records."""

    dim: int
    epochs: int
    K: int
    lr: float
    seed: int

    @property
    def run(self) -> dict:
        """The :class:`RunConfig` fields every lab run shares."""
        return dict(dim=self.dim, epochs=self.epochs, K=self.K, lr=self.lr)


#: The course's teacher: BPR-MF of dimension 200 with the paper's optimiser (TeacherConfig's defaults),
#: 40 epochs. ``eval_every`` gives notebook 00 a learning curve; it is part of the cache key, so every
#: notebook uses these settings (``TEACHER.replace(seed=...)`` for another seed).
TEACHER = TeacherConfig(epochs=40, eval_every=5)

#: How notebook 01 trains plain students (the teacher's kind and optimiser; the dimension is the sweep's).
STUDENT = TrainConfig(epochs=40)

#: Student dimensions of the capacity-gap sweep (notebook 01) and of the crossover curve (notebook 04).
STUDENT_DIMS = (2, 4, 8, 16, 32, 64)

#: The distillation recipe shared by notebooks 02-05 (everything but the method, dimension and seed); the
#: students have the teacher's kind.
DISTILL = DistillRecipe(kind=TEACHER.kind, epochs=20, lr=2e-3, weight_decay=DEFAULT_WEIGHT_DECAY,
                        batch_size=DEFAULT_BATCH_SIZE, optimizer=DEFAULT_OPTIMIZER, lam=DEFAULT_LAMBDA, K=10,
                        gamma=DEFAULT_GAMMA, group_topology=DEFAULT_GROUP_TOPOLOGY, mode=DEFAULT_MODE)

#: The tiny student the lessons look at.
SMALL_DIM = 4
#: The roomy student the lessons look at.
LARGE_DIM = 32

#: The methods every lesson compares: the plain student and three distillations.
COMPARED_METHODS = ("student", "de", "ftd", "htd")
#: Seeds the notebooks' lessons are measured on (seed 0 is the run a notebook trains live).
LESSON_SEEDS = (0, 1, 2, 3, 4)
#: Seeds the lessons were never looked at with: ``tests/course/test_lesson_seeds.py`` checks the lessons on them.
CHECK_SEEDS = (5, 6)
#: Seeds of the crossover curve's other dimensions (cheaper: three).
CURVE_SEEDS = (0, 1, 2)
#: The learning-rate search every method gets at the lesson dimensions (the fair-baseline check).
TUNED_LRS = (2e-3, 5e-3)

#: Seeds of the appendix's runs.
LAB_SEEDS = (0, 1, 2)
#: Notebook 04's optional appendix on synthetic data: a tiny student, trained for 10 epochs at learning
#: rate 3e-3 with K = 9 groups (the synthetic data plants 9 sub-groups in 3 super-groups).
LAB = LabSettings(dim=4, epochs=10, K=9, lr=3e-3, seed=LAB_SEEDS[0])
#: The appendix's teacher: BPR-MF of dimension 64, 30 epochs (the paper's optimiser).
LAB_TEACHER = TeacherConfig(dim=64, epochs=30)

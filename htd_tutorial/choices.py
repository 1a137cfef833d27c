"""The names and the paper's defaults the library accepts, each with one owner (and no torch import).

Every module that validates a method, a model type, an HTD mode, a group design or an optimiser
reads the tuple from here, and so do the command line's ``choices=`` (``__main__`` imports this
module without loading torch). The distillation defaults are those of the paper (§5.1) and of
:class:`htd_tutorial.config.RunConfig`; :func:`htd_tutorial.distill.make_distiller`, the
distillers and :class:`htd_tutorial.losses.HTDLoss` take the same ones from here, so they cannot drift
apart. Changing one changes :func:`htd_tutorial.cache.config_key` of runs that rely on it.
"""
from __future__ import annotations

__all__ = ["METHODS", "STUDENT", "FITNET", "DE", "FTD", "HTD", "MODEL_KINDS", "LIGHTGCN_DEPTH", "MODEL_NAMES",
           "HTD_MODES", "GROUP_TOPOLOGIES", "OPTIMIZERS", "DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "RECIPE_LR",
           "RECIPE_WEIGHT_DECAY", "PAPER_EVAL_EVERY", "DEFAULT_LAMBDA", "DEFAULT_K", "DEFAULT_GAMMA",
           "DEFAULT_GROUP_TOPOLOGY", "DEFAULT_MODE", "DEFAULT_BATCH_SIZE", "DEFAULT_EPOCHS", "DEFAULT_OPTIMIZER",
           "TEACHER_DIM", "METHOD_NAMES", "DEFAULT_KS", "HEADLINE"]

#: Training methods: the plain student and the four distillations.
METHODS = ("student", "fitnet", "de", "ftd", "htd")
#: Each method by name, for code that picks one (:data:`htd_tutorial.distill.DISTILLERS`).
STUDENT, FITNET, DE, FTD, HTD = METHODS
#: How each method is written in tables and printouts (the pictures' legend,
#: :data:`htd_tutorial.plots.style.METHOD_LABELS`, adds the teacher and says "no KD" of the student).
METHOD_NAMES = {STUDENT: "Student", FITNET: "FitNet", DE: "DE", FTD: "FTD", HTD: "HTD"}
#: Recommender model types (:func:`htd_tutorial.models.make_model`).
MODEL_KINDS = ("bpr", "lightgcn")
#: LightGCN's propagation depth (layers of ``Â E``) when none is given: the LightGCN paper's 3. A teacher or
#: run at this depth stores ``depth=None`` (one configuration, one cache key); BPR has no depth.
LIGHTGCN_DEPTH = 3
#: How each model type is written in titles and tables.
MODEL_NAMES = {"bpr": "BPR", "lightgcn": "LightGCN"}
#: "authors": HTD, FTD's eps and DE's temperature as the authors' code has them; "clean": as the paper reads.
#: A library-wide setting despite the name: RunConfig.mode reaches every distiller; what it changes in each
#: loss is the table of :mod:`htd_tutorial.modes`.
HTD_MODES = ("authors", "clean")
#: HTD's group-level topology: prototype-entity ("Pe", the paper's choice) or prototype-prototype ("PP").
GROUP_TOPOLOGIES = ("Pe", "PP")
#: Optimisers (:func:`htd_tutorial.optim.make_optimizer`).
OPTIMIZERS = ("adam", "lazy_adam")

#: Learning rate of every model's Adam (the paper's BPR setting; ``reproduce --lr`` changes it for a sweep).
DEFAULT_LR = 1e-3
#: Adam's weight decay (the paper's BPR setting), teacher and students.
DEFAULT_WEIGHT_DECAY = 1e-3
#: The learning rate of the paper-scale commands (``reproduce``, ``ablation``) per base model, teacher and
#: students: BPR's is the paper's; the paper gives none for LightGCN, so it was chosen on the teacher's
#: validation Recall@50 by ``python -m htd_tutorial recipe`` (``results/citeulike_lightgcn_recipe.json``).
RECIPE_LR: dict[str, float] = {"bpr": DEFAULT_LR, "lightgcn": 5e-3}
#: Adam's weight decay of the paper-scale commands per base model, teacher and students: BPR's is the paper's;
#: LightGCN's was chosen with its depth (:data:`LIGHTGCN_DEPTH`) on the teacher's validation Recall@50 by
#: ``python -m htd_tutorial recipe`` (``results/citeulike_search_lightgcn_recipe.json``): at BPR's 1e-3 its
#: teacher stayed below BPR's.
RECIPE_WEIGHT_DECAY: dict[str, float] = {"bpr": DEFAULT_WEIGHT_DECAY, "lightgcn": 1e-4}
#: How often (epochs) the paper-scale commands validate, teacher and students (``--eval-every``): part of
#: every CiteULike cache key (:meth:`htd_tutorial.config.TeacherConfig.paper`).
PAPER_EVAL_EVERY = 10
#: Weight λ of the distillation loss (L = L_BPR + λ · L_KD).
DEFAULT_LAMBDA = 1e-3
#: Number of groups K (per entity type) of HTD and DE.
DEFAULT_K = 30
#: HTD's γ: weight of the topology terms against the group-assignment term.
DEFAULT_GAMMA = 0.5
#: The metric cut-offs every evaluation reports (:mod:`htd_tutorial.evaluation`).
DEFAULT_KS = (10, 20, 50)
#: The headline metric, the paper's: every table, verdict and picture that names one metric names this.
HEADLINE = f"Recall@{max(DEFAULT_KS)}"
#: Triples per training batch (the paper's, §5.1), teacher and students.
DEFAULT_BATCH_SIZE = 1024
#: Training epochs of the paper's runs (the course's recipes train fewer).
DEFAULT_EPOCHS = 100
DEFAULT_OPTIMIZER = OPTIMIZERS[0]
#: The teacher's embedding dimension (the paper's, and the course's).
TEACHER_DIM = 200
DEFAULT_GROUP_TOPOLOGY = GROUP_TOPOLOGIES[0]
DEFAULT_MODE = HTD_MODES[0]

assert tuple(MODEL_NAMES) == MODEL_KINDS == tuple(RECIPE_LR) == tuple(RECIPE_WEIGHT_DECAY)
assert tuple(METHOD_NAMES) == METHODS

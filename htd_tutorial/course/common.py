"""The course's shared defaults: one dataset, one cached teacher, one student recipe for every notebook.

Every notebook starts from the same data (:data:`DEFAULT_DATASET`) and the same teacher
(:data:`TEACHER`, trained once and then loaded from the cache by :func:`course_teacher`), and trains
its students with the same recipe (:data:`STUDENT`), so numbers can be compared across notebooks.

The recipes themselves (:data:`TEACHER`, :data:`STUDENT`, ...) and the reasons for each value live in
:mod:`htd_tutorial.course.recipes`; they are re-exported here.

Helpers for the notebooks' recurring steps live here too: :func:`dims_param` (a list-of-dimensions
setting), :func:`train_student` / :func:`train_students`, :func:`popularity_baseline`,
:func:`explain_ranking` (the worked example of the metrics), :func:`capacity_table` (the
capacity-gap table of notebook 01), :func:`similarity_pairs`, and :func:`claim`, which checks a
lesson's claim about the results and prints what it checked.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..choices import HEADLINE
from .._env import env_flag
from ..cache import get_teacher
from ..data import DATASETS, Interactions, load_dataset
from ..data.split import _check_ks
from ..evaluation import DEFAULT_KS, evaluate, evaluate_embeddings
from ..models import Recommender, make_model
from ..params import param
from ..training import History, train
from .recipes import STUDENT, STUDENT_DIMS, TEACHER

__all__ = ["DEFAULT_DATASET", "COURSE_DATASETS", "SEED", "TEACHER", "STUDENT", "STUDENT_DIMS",
           "load_course_data", "course_teacher", "train_student", "train_students", "dims_param",
           "parameter_count", "popularity_baseline", "explain_ranking", "capacity_table", "similarity_pairs", "claim"]

#: The dataset every notebook uses unless told otherwise (falls back to synthetic data when missing).
DEFAULT_DATASET = "movielens-100k"
#: Names a notebook's ``dataset`` setting accepts (aliases included).
COURSE_DATASETS = tuple(DATASETS)
#: Default seed of data splits, model initialisation and sampling.
SEED = 0

# The teacher's and the students' recipes (TEACHER, STUDENT, STUDENT_DIMS) are owned by recipes.py.



def load_course_data(name: str | os.PathLike = DEFAULT_DATASET, seed: int = SEED, *,
                     verbose: bool = True) -> Interactions:
    """Load the course's dataset, falling back to the synthetic data when the real data is missing.

    Wraps :func:`htd_tutorial.data.load_dataset` with ``fallback=True`` and prints one line saying
    which data is used and, after a fallback, why (instead of a warning a learner might miss).

    Parameters
    ----------
    name : str or os.PathLike
        A name in :data:`COURSE_DATASETS` (default :data:`DEFAULT_DATASET`) or a path to an
        interaction file or split folder.
    seed : int
        Seed of the leave-one-out split (and of the synthetic generator).
    verbose : bool
        Print the one-line report.

    Returns
    -------
    Interactions
        The data asked for, or the synthetic data after a fallback (the printed line says which).

    Raises
    ------
    ValueError
        Unknown dataset name or malformed data (a fallback happens only for *missing* data).
    MissingDataError
        The data is missing and ``HTD_REQUIRE_DATA`` says yes (CI: the lessons must be checked on the
        data the text describes, not on the synthetic stand-in).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(name, seed=seed, fallback=True)
    fallback = [w for w in caught if "is not available" in str(w.message)]
    for w in caught:
        if w not in fallback:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if verbose:
        sizes = (f"{data.n_users:,} users, {data.n_items:,} items, {data.n_interactions:,} interactions "
                 f"({len(data.train):,} train / {len(data.valid):,} valid / {len(data.test):,} test)")
        if fallback:
            print(f"Using the SYNTHETIC dataset instead of {name!r}: {sizes}.\n"
                  f"  Why: {fallback[0].message}\n"
                  "  Results will differ from the ones described in the text.")
        else:
            print(f"Using the {data.name} dataset: {sizes}.")
    return data


def _strict_claims() -> bool:
    """Whether a failed lesson claim stops the notebook: ``HTD_STRICT_CLAIMS`` says yes.

    The flag means "this run is of the shipped settings": the test suite sets it (``tests/conftest.py``,
    which also clears the notebooks' settings from the environment; the notebook kernels nbval starts
    inherit both) and so does ``make notebooks``. A value that is neither yes nor no raises ValueError
    (:mod:`htd_tutorial._env`), so a typo cannot turn the checks off.
    """
    return env_flag("HTD_STRICT_CLAIMS")


def claim(holds, statement: str, data: Interactions | None = None, *, evidence=None, applies: bool = True,
          reference: str = DEFAULT_DATASET) -> "Verdict":
    """Check a lesson's claim about a result and print what was checked, with its numbers.

    Prints ``✓ statement — evidence`` when the claim holds, and ``✗ This lesson does not hold with
    these settings: statement — evidence`` when it does not, saying so where the run is not the one the
    text describes (other data, changed settings); the notebook goes on. Under ``HTD_STRICT_CLAIMS=1``
    (set by the test suite, which runs the shipped settings) every failed claim raises, whatever the
    other arguments say: a strict run where a claim is on other data (a synthetic fallback) or told
    that it does not apply is not checking the lessons, and must not pass quietly.

    Parameters
    ----------
    holds : bool
        Whether the claim holds (e.g. ``diff.clearly_positive`` for a
        :class:`~htd_tutorial.course.evidence.Difference` ``diff``).
    statement : str
        The claim in words, as the text makes it.
    data : Interactions, optional
        The data of the run: the text describes ``reference``, so on other data (the synthetic
        fallback, a lecturer's choice) a failed claim says which data it was checked on.
    evidence : object, optional
        What the claim rests on, printed after it: a ``Difference`` or ``Spread`` (numbers with their
        uncertainty over seeds) or a short string with the numbers.
    applies : bool
        ``False`` when the settings differ from the ones the text describes (a changed parameter):
        a failed claim then says so.
    reference : str
        The dataset the text describes (default :data:`DEFAULT_DATASET`).

    Returns
    -------
    Verdict
        True when the claim holds (``bool(verdict)``, ``verdict.holds``); a cell that ends with a
        claim shows only the printed line, not a stray ``True``.

    Raises
    ------
    AssertionError
        The claim is false and ``HTD_STRICT_CLAIMS`` says yes.
    ValueError
        ``HTD_STRICT_CLAIMS`` is neither yes nor no (checked on every call, also when the claim holds).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    holds = bool(holds)
    strict = _strict_claims()
    detail = f" — {evidence}" if evidence is not None else ""
    if holds:
        print(f"✓ {statement}{detail}")
        return Verdict(True)
    expected = DATASETS.get(reference, reference)
    note = ""
    if data is not None and data.name != expected:
        note = f" (checked on the {data.name} data; the text describes {expected})"
    elif not applies:
        note = " (the settings differ from the ones the text describes)"
    print(f"✗ This lesson does not hold with these settings: {statement}{detail}{note}")
    if strict:
        where = note or " with the shipped settings"
        raise AssertionError(f"the lesson's claim does not hold{where}: {statement}{detail} "
                             "(HTD_STRICT_CLAIMS=1 makes every failed claim an error)")
    return Verdict(False)


@dataclass(frozen=True)
class Verdict:
    """What :func:`claim` found: truthy when the claim holds. It has no display of its own, because
    :func:`claim` has printed the verdict with its numbers already."""

    holds: bool

    def __bool__(self) -> bool:
        return self.holds

    def _ipython_display_(self) -> None:
        """Show nothing when a notebook cell ends with a claim (the claim printed its line)."""


def course_teacher(data: Interactions, *, epochs: int | None = None, seed: int = SEED, progress: bool = True,
                   verbose: bool = True) -> tuple[Recommender, History]:
    """The course's teacher for ``data``: trained once with :data:`TEACHER`, then loaded from the cache.

    Parameters
    ----------
    data : Interactions
    epochs : int, optional
        Override :data:`TEACHER`'s epochs (a different epoch count is a different cached teacher).
    seed : int
        Seed of the initialisation and the sampler.
    progress : bool
        Show a progress bar while training.
    verbose : bool
        Say whether the teacher was trained or loaded.

    Returns
    -------
    (Recommender, History)
        The teacher (eval mode) and its history, with valid/test metrics every
        ``TEACHER.eval_every`` epochs (for the learning curve).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    config = TEACHER.replace(seed=seed, epochs=TEACHER.epochs if epochs is None else epochs)
    return get_teacher(data, config, progress=progress, verbose=verbose)


def train_student(data: Interactions, dim: int, *, epochs: int | None = None, seed: int = SEED,
                  distiller: torch.nn.Module | None = None, eval_every: int | None = None,
                  progress: bool = True, desc: str | None = None) -> tuple[Recommender, History]:
    """Train one student of dimension ``dim`` with the course's recipe :data:`STUDENT`.

    Parameters
    ----------
    data : Interactions
    dim : int
        Student embedding dimension (> 0).
    epochs : int, optional
        Override :data:`STUDENT`'s epochs.
    seed : int
        Seed of the initialisation and the sampler (the same seed gives the same student).
    distiller : torch.nn.Module, optional
        A distillation loss (see :mod:`htd_tutorial.distill`); ``None`` trains a plain student.
    eval_every : int, optional
        Evaluate every this many epochs (default: once, after the last epoch).
    progress : bool
        Show a progress bar.
    desc : str, optional
        Label of the progress bar (default ``"student d=<dim>"``).

    Returns
    -------
    (Recommender, History)

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    config = STUDENT.replace(seed=seed, eval_every=eval_every,
                             epochs=STUDENT.epochs if epochs is None else epochs)
    model = make_model(TEACHER.kind, data, dim, seed=seed)   # a student has its teacher's kind
    history = train(model, data, config, distiller=distiller, progress=progress, desc=desc or f"student d={dim}")
    return model, history


def train_students(data: Interactions, dims, *, epochs: int | None = None, seed: int = SEED,
                   progress: bool = True) -> dict[int, tuple[Recommender, History]]:
    """Train one plain student (no distillation) per dimension in ``dims``, smallest first.

    Returns ``{dim: (model, history)}``. Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    dims = sorted({int(d) for d in dims})
    return {dim: train_student(data, dim, epochs=epochs, seed=seed, progress=progress) for dim in dims}


def dims_param(name: str, default, *, low: int = 1, high: int = 1024) -> tuple[int, ...]:
    """A setting that is a list of embedding dimensions, e.g. ``HTD_STUDENT_DIMS="2,8,32"``.

    Read through :func:`htd_tutorial.param` (environment variable ``HTD_<NAME>``, else ``default``),
    then checked: comma-separated integers from ``low`` to ``high``.

    Parameters
    ----------
    name : str
        Setting name, e.g. ``"student_dims"``.
    default : tuple of int or str
        Shipped value, e.g. ``(2, 4, 8)`` or ``"2,4,8"``.
    low, high : int
        Inclusive bounds of each dimension.

    Returns
    -------
    tuple of int
        Sorted, without duplicates.

    Raises
    ------
    ValueError
        Naming the setting, the bad value and what is allowed.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    if not isinstance(default, str):
        default = ",".join(str(int(d)) for d in default)
    raw = param(name, default, value_type=str)
    source = f"environment variable HTD_{name.upper()}={raw!r}" if f"HTD_{name.upper()}" in os.environ \
        else f"setting {name}={raw!r}"
    allowed = f"comma-separated integers from {low} to {high}, e.g. '2,8,32'"
    try:
        dims = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{source} is not valid: expected {allowed}") from None
    if not dims or any(not low <= d <= high for d in dims):
        raise ValueError(f"{source} is not valid: expected {allowed}")
    return tuple(sorted(set(dims)))


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable numbers in ``model`` (for BPR-MF: ``(n_users + n_items) * dim``).

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def popularity_baseline(data: Interactions, *, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, dict[str, float]]:
    """Metrics of recommending every user the most popular items (by training interactions).

    The simplest non-personalised recommender: the bar a trained model must clearly clear. It is
    evaluated with the same full-ranking protocol, as 1-D embeddings ``user = 1``,
    ``item = its training count``. Returns ``{"valid": {...}, "test": {...}}``.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    ks = _check_ks(ks, data.n_items)
    counts = torch.as_tensor(data.item_counts(), dtype=torch.float64)
    return evaluate_embeddings(torch.ones(data.n_users, 1, dtype=torch.float64), counts[:, None], data, ks=ks)


def explain_ranking(scores, train_items, other_heldout: int, heldout: int) -> pd.DataFrame:
    """How full-ranking evaluation sees one user: a table of items, their status and the candidates' ranks.

    Every item is scored; the user's training items and the *other* held-out item (the test item
    when validating and vice versa) are removed from the ranking; the held-out item's rank among the
    remaining candidates gives Recall@K (1 if rank <= K) and NDCG@K (``1 / log2(rank + 1)`` if
    rank <= K, with one held-out item).

    Parameters
    ----------
    scores : sequence of float
        The user's score of every item (index = item).
    train_items : sequence of int
        The user's training items.
    other_heldout : int
        The other split's held-out item (excluded).
    heldout : int
        The held-out item being evaluated.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``score``, ``status`` ("train", "other held-out", "candidate",
        "held-out"), ``rank`` (1-based among candidates and the held-out item; NaN for excluded
        items), sorted by score, highest first.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D sequence (one score per item), got shape {scores.shape}")
    n = scores.size
    train_items = {int(i) for i in train_items}
    for label, item in [("held-out item", heldout), ("other held-out item", other_heldout)] + \
            [("training item", i) for i in train_items]:
        if not 0 <= int(item) < n:
            raise ValueError(f"{label} {item} is not an item index in 0..{n - 1}")
    if heldout in train_items or other_heldout in train_items or heldout == other_heldout:
        raise ValueError("the held-out item, the other held-out item and the training items must all differ")
    status = np.full(n, "candidate", dtype=object)
    status[list(train_items)] = "train"
    status[other_heldout] = "other held-out"
    status[heldout] = "held-out"
    table = pd.DataFrame({"item": np.arange(n), "score": scores, "status": status})
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    ranked = table["status"].isin(["candidate", "held-out"])
    table["rank"] = np.nan
    table.loc[ranked, "rank"] = np.arange(1, int(ranked.sum()) + 1)
    return table


def capacity_table(teacher: Recommender, students: dict, data: Interactions, *, k: int = 10) -> pd.DataFrame:
    """One row per model: size, accuracy, and how much of the teacher's item topology it keeps.

    Parameters
    ----------
    teacher : Recommender
    students : dict
        ``{dim: (model, history)}`` as returned by :func:`train_students`.
    data : Interactions
    k : int
        Neighbourhood size of the k-nearest-neighbour overlap.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``dim``, ``parameters``, ``Recall@50``, ``NDCG@50`` (test),
        ``knn_overlap`` (share of each item's k nearest items, by cosine similarity, that the
        model's space keeps from the teacher's) and ``spearman`` (rank correlation of all item-item
        cosine similarities with the teacher's), from the smallest student to the teacher. See
        :func:`htd_tutorial.topology.knn_overlap` and :func:`htd_tutorial.topology.rank_correlation`.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    from ..topology import knn_overlap, rank_correlation

    with torch.no_grad():
        t_items = teacher.all_embeddings()[1].detach().cpu()
    rows = []
    models = [(f"student d={dim}", model) for dim, (model, _) in sorted(students.items())]
    for label, model in models + [("teacher", teacher)]:
        metrics = evaluate(model, data, splits=("test",))["test"]
        with torch.no_grad():
            items = model.all_embeddings()[1].detach().cpu()
        rows.append({"model": label, "dim": model.dim, "parameters": parameter_count(model),
                     HEADLINE: metrics[HEADLINE], "NDCG@50": metrics["NDCG@50"],
                     "knn_overlap": knn_overlap(items, t_items, k=k), "spearman": rank_correlation(items, t_items)})
    return pd.DataFrame(rows)


def similarity_pairs(teacher_emb, student_emb, *, n_pairs: int = 3000, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of the same random entity pairs in two spaces (row i = the same entity).

    Parameters
    ----------
    teacher_emb, student_emb : Tensor or array, shapes (n, d_t), (n, d_s)
    n_pairs : int
        Pairs ``(i, j)``, ``i != j``, drawn uniformly with ``seed`` (the same pairs for the same
        seed and ``n``, so several students can be compared on one sample).

    Returns
    -------
    (np.ndarray, np.ndarray)
        The pairs' similarities in the teacher's and in the student's space.

    Introduced in ``notebooks/01_capacity_gap.ipynb``.
    """
    tables = []
    for name, emb in (("teacher_emb", teacher_emb), ("student_emb", student_emb)):
        emb = torch.as_tensor(emb.detach() if isinstance(emb, torch.Tensor) else emb).to(torch.float64).cpu()
        if emb.dim() != 2 or emb.shape[0] < 2:
            raise ValueError(f"{name} must be a 2-D table with at least 2 rows, got shape {tuple(emb.shape)}")
        tables.append(torch.nn.functional.normalize(emb, dim=1))
    if tables[0].shape[0] != tables[1].shape[0]:
        raise ValueError(f"teacher has {tables[0].shape[0]} rows but student has {tables[1].shape[0]}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}")
    n = tables[0].shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    first = torch.randint(n, (int(n_pairs),), generator=gen)
    second = (first + torch.randint(1, n, (int(n_pairs),), generator=gen)) % n   # never equal to first
    return tuple((t[first] * t[second]).sum(dim=1).numpy() for t in tables)

"""Seeds and uncertainty for the course's lessons: read the seed sweep, summarise, compare.

A lesson compares methods ("HTD beats FTD at dimension 4"). One training run is one draw from a
distribution (the seed sets the initialisation and the sampled batches), so a lesson is stated
about the sweep's runs over several seeds (:mod:`htd_tutorial.course.seeds`):

- :func:`spread`: mean ± standard error over seeds;
- :func:`compare`: the *paired* difference of two settings over the seeds they share (seed s of
  both runs sees the same initial student and the same batches, so pairing removes most of the
  seed-to-seed noise that both share);
- the rule a lesson's difference must pass to be called **clear**: its mean over the paired seeds is
  more than two standard errors away from zero *and* every seed has the same sign. With five
  seeds the second condition alone happens by chance with probability 2/32 when there is no
  difference at all.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .seeds import SEEDS_FILE

__all__ = ["Spread", "Difference", "load_seed_runs", "lesson_runs", "select", "spread", "compare", "seed_table"]

#: How a method is named in a difference's printout.
SHORT_NAMES = {"student": "Student", "fitnet": "FitNet", "de": "DE", "ftd": "FTD", "htd": "HTD"}
#: A clear difference is at least this many standard errors away from zero (and agrees on every seed).
CLEAR_SE = 2.0


@dataclass(frozen=True)
class Spread:
    """Values of one metric over seeds: ``mean``, ``se`` (standard error of the mean), ``n``."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def se(self) -> float:
        """Standard error of the mean (sample standard deviation / √n; 0 for one value)."""
        return float(np.std(self.values, ddof=1) / math.sqrt(self.n)) if self.n > 1 else 0.0

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.se:.3f} ({self.n} seeds)"


@dataclass(frozen=True)
class Difference:
    """The paired difference ``a − b`` of one metric over the seeds both settings share."""

    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def spread(self) -> Spread:
        return Spread(self.values)

    @property
    def clearly_positive(self) -> bool:
        """``a`` is better than ``b`` beyond the seed noise (the module's rule)."""
        s = self.spread
        return s.n >= 2 and s.mean - CLEAR_SE * s.se > 0 and min(self.values) > 0

    @property
    def clearly_negative(self) -> bool:
        """``a`` is worse than ``b`` beyond the seed noise."""
        s = self.spread
        return s.n >= 2 and s.mean + CLEAR_SE * s.se < 0 and max(self.values) < 0

    @property
    def unclear(self) -> bool:
        """Neither clearly positive nor clearly negative: within the seed noise."""
        return not (self.clearly_positive or self.clearly_negative)

    def __str__(self) -> str:
        s = self.spread
        return (f"{self.a} − {self.b}, {self.metric}: {s.mean:+.3f} ± {s.se:.3f} "
                f"(mean ± s.e. over {s.n} paired seeds; per seed {min(self.values):+.3f} … {max(self.values):+.3f})")


def load_seed_runs(path: str | Path = SEEDS_FILE) -> pd.DataFrame:
    """The seed sweep's runs as a table: one row per run (method, dim, seed, lr, metrics, seconds).

    Raises ``FileNotFoundError`` naming the file and the command that makes it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found: `python -m htd_tutorial.course.seeds` makes it")
    runs = json.loads(path.read_text())["runs"]
    if not runs:
        raise ValueError(f"{path.name} holds no runs")
    return pd.DataFrame(runs)


def lesson_runs(data, *, dims, epochs: int, path: str | Path = SEEDS_FILE) -> pd.DataFrame | None:
    """The stored seed sweep, when it describes these settings; else ``None`` and a printed note.

    The sweep was trained on the course's dataset with :data:`~htd_tutorial.course.recipes.DISTILL`
    at the dimensions :func:`~htd_tutorial.course.seeds.sweep_runs` lists. With another dataset,
    another epoch count or a dimension it does not hold, a notebook has only its live run, and says so.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    from .recipes import DISTILL

    path = Path(path)
    payload = json.loads(path.read_text()) if path.is_file() else None
    stored_dims = {run["dim"] for run in payload["runs"]} if payload else set()
    why = ("the stored seed sweep is missing" if payload is None else
           f"the stored seeds are on {payload['dataset']['dataset']}" if payload["dataset"]["dataset"] != data.name else
           f"the stored seeds use {DISTILL['epochs']} epochs" if epochs != DISTILL["epochs"] else
           f"the stored seeds have no student of dimension {sorted(set(dims) - stored_dims)}"
           if not set(dims) <= stored_dims else None)
    if why:
        print(f"Note: {why}; with these settings the live run (one seed) is all this notebook shows, "
              "so read its differences with care.")
        return None
    return pd.DataFrame(payload["runs"])


def select(runs: pd.DataFrame, method: str, dim: int, *, lr: float | None = None,
           seeds=None) -> pd.DataFrame:
    """The runs of ``method`` at ``dim`` (and ``lr``, default the recipe's; and ``seeds``), by seed."""
    from .recipes import DISTILL

    lr = DISTILL["lr"] if lr is None else lr
    rows = runs[(runs["method"] == method) & (runs["dim"] == dim) & np.isclose(runs["lr"], lr)]
    if seeds is not None:
        rows = rows[rows["seed"].isin(list(seeds))]
    if rows.empty:
        raise ValueError(f"no stored runs of {method} at dim {dim}, lr {lr:g}"
                         + (f", seeds {tuple(seeds)}" if seeds is not None else ""))
    return rows.set_index("seed").sort_index()


def spread(runs: pd.DataFrame, method: str, dim: int, metric: str = "Recall@50", **where) -> Spread:
    """Mean ± s.e. of ``metric`` over the stored seeds of ``method`` at ``dim``."""
    return Spread(tuple(select(runs, method, dim, **where)[metric]))


def compare(runs: pd.DataFrame, a: tuple[str, int], b: tuple[str, int], metric: str = "Recall@50", *,
            seeds=None, lr_a: float | None = None, lr_b: float | None = None) -> Difference:
    """Paired difference ``a − b`` of ``metric`` over their shared seeds; ``a``/``b`` = (method, dim).

    >>> compare(runs, ("htd", 4), ("ftd", 4))          # doctest: +SKIP
    """
    left = select(runs, *a, lr=lr_a, seeds=seeds)[metric]
    right = select(runs, *b, lr=lr_b, seeds=seeds)[metric]
    shared = left.index.intersection(right.index)
    if len(shared) == 0:
        raise ValueError(f"{a} and {b} share no seed")
    return Difference(_name(a, lr_a), _name(b, lr_b), metric, tuple(int(s) for s in shared),
                      tuple(float(v) for v in (left[shared] - right[shared])))


def _name(setting: tuple[str, int], lr: float | None) -> str:
    """``("htd", 4)`` → ``"HTD d=4"`` (with the learning rate when it is not the recipe's)."""
    method, dim = setting
    return f"{SHORT_NAMES.get(method, method)} d={dim}" + (f" (lr {lr:g})" if lr is not None else "")


def seed_table(runs: pd.DataFrame, dims, methods, metric: str = "Recall@50", **where) -> pd.DataFrame:
    """A method × dimension table of "mean ± s.e." strings (for showing)."""
    cells = {}
    for method in methods:
        cells[method] = {}
        for dim in dims:
            try:
                cells[method][f"d={dim}"] = str(spread(runs, method, dim, metric, **where)).replace(" seeds)", ")")
            except ValueError:
                cells[method][f"d={dim}"] = "–"
    return pd.DataFrame(cells).T

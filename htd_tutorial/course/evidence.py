"""Seeds and uncertainty for the course's lessons: read the seed sweep, summarise, compare.

A lesson compares methods ("HTD beats FTD at dimension 4"). One training run is one draw from a
distribution (the seed sets the initialisation and the sampled batches), so a lesson is stated
about the sweep's runs over several seeds (:mod:`htd_tutorial.course.seeds`):

- :func:`spread`: mean ± standard error over seeds;
- :func:`compare`: the *paired* difference of two settings over the seeds they share (seed s of
  both runs sees the same initial student and the same batches, so pairing removes most of the
  seed-to-seed noise that both share);
- a lesson's difference is called **clear** by the project's one rule, written down with its reasons
  in :mod:`htd_tutorial.stats`: at least two paired seeds that do not all give the same difference,
  every seed on one side of zero, and the mean more than two standard errors from zero, the standard
  error never taken below the metric's step (one user, for Recall@K) when the caller passes it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..choices import HEADLINE, METHOD_NAMES
from ..stats import Reading, format_se, mean_and_se, metric_step, read_paired
from .. import stored
from .seeds import SEEDS_COMMAND, SEEDS_NAME

__all__ = ["Lesson", "LESSONS", "lesson_difference", "check_lesson", "Spread", "Difference", "load_seed_runs", "lesson_runs", "tuned_choice", "tuned_table", "select", "spread", "compare", "compare_variants", "seed_table",
           "chance_clear_rate", "data_step"]


@dataclass(frozen=True)
class Spread:
    """Values of one metric over seeds: ``mean``, ``se`` (standard error of the mean), ``n``."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return mean_and_se(self.values)[0]

    @property
    def se(self) -> float:
        """Standard error of the mean (:func:`htd_tutorial.stats.mean_and_se`); 0 for one value, which is
        printed without it and never read."""
        se = mean_and_se(self.values)[1]
        return 0.0 if se is None else se

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {format_se(self.se)} ({self.n} seeds)"


@dataclass(frozen=True)
class Difference:
    """The paired difference ``a − b`` of one metric over the seeds both settings share.

    ``step``: the metric's step (:func:`htd_tutorial.stats.metric_step`, e.g. ``1 / n`` for Recall@K
    over n test users; :func:`data_step` from the data), the floor of the standard error in the rule;
    ``None`` where the caller does not know it (no floor).
    """

    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    step: float | None = None

    @property
    def spread(self) -> Spread:
        return Spread(self.values)

    @property
    def reading(self) -> Reading:
        """What :func:`htd_tutorial.stats.read_paired` reads in the values (verdict and why)."""
        return read_paired(self.values, step=self.step)

    @property
    def clearly_positive(self) -> bool:
        """``a`` is better than ``b`` beyond the seed noise (:mod:`htd_tutorial.stats`' rule)."""
        return self.reading.verdict == "positive"

    @property
    def clearly_negative(self) -> bool:
        """``a`` is worse than ``b`` beyond the seed noise."""
        return self.reading.verdict == "negative"

    @property
    def unclear(self) -> bool:
        """Neither clearly positive nor clearly negative: within the seed noise, or not read."""
        return not self.reading.clear

    def __str__(self) -> str:
        r, head = self.reading, f"{self.a} − {self.b}, {self.metric}"
        if r.n == 1:  # no standard error from one value: say so rather than print "± 0.000"
            return f"{head}: {r.mean:+.3f} (one paired seed: no spread, not read)"
        text = (f"{head}: {r.mean:+.3f} ± {format_se(r.se)} "
                f"(mean ± s.e. over {r.n} paired seeds; per seed {min(self.values):+.3f} … {max(self.values):+.3f}")
        if r.verdict == "not read":
            return text + f"; {r.why}, not read)"
        if r.se_used > r.se:
            return text + f"; s.e. below one step of the metric, read as {r.se_used:.4f})"
        return text + ")"


def data_step(metric: str, data) -> float | None:
    """The step of ``metric`` on ``data``'s test split (:func:`htd_tutorial.stats.metric_step`): ``1 / n``
    for Recall@K over its ``n`` test users with one held-out item each; ``None`` for other metrics, for
    no data, or where a user holds out several test items."""
    return metric_step(metric, _test_users(data))


def _test_users(data) -> int | None:
    """How many users ``data``'s test split evaluates, each with one held-out item; ``None`` for no data
    or where a user holds out several (then Recall@K does not move in steps of one user)."""
    if data is None:
        return None
    users = np.asarray(data.test)[:, 0]
    n_users = int(np.unique(users).size)
    return n_users if n_users == users.size else None


def chance_clear_rate(n_seeds: int, *, step: float | None = None, draws: int = 20_000, seed: int = 0) -> float:
    """How often the rule calls a difference clear when there is none.

    The share of ``draws`` sets of ``n_seeds`` paired differences, drawn from one normal distribution
    centred on zero with standard deviation 1, that :mod:`htd_tutorial.stats`' rule finds clearly
    positive or clearly negative (simulated: about ±0.003 at the default ``draws``). With 2 seeds it is
    2·atan(1/2)/π ≈ 0.295, with 3 about 0.18: among a dozen comparisons of settings that do not differ,
    two or three come out clear by chance. ``step``: the metric's step in units of that standard
    deviation; the draws are then rounded to its multiples (a metric that moves in steps) and the rule
    applies its floor, which makes a chance verdict rarer.
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 2:
        raise ValueError(f"n_seeds must be an integer >= 2 (one seed has no spread), got {n_seeds!r}")
    if step is not None and not (isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0):
        raise ValueError(f"step must be None or a positive number (in units of the noise's s.d.), got {step!r}")
    samples = np.random.default_rng(seed).standard_normal((draws, n_seeds))
    if step is not None:
        # in units of the step: whole steps, then scaled so that the step is a share of a metric's range
        # (the rule is the same at any scale: each of its conditions scales with the values)
        scale = 1.0 / (2.0 * max(float(step), 1.0))
        samples = np.round(samples / step) * step * scale
        step = float(step) * scale
    return sum(read_paired(row, step=step).clear for row in samples) / draws


def load_seed_runs(path: str | Path | None = None) -> pd.DataFrame:
    """The seed sweep's runs as a table: one row per run (method, dim, seed, lr, metrics, seconds).

    ``path`` defaults to the stored sweep (:func:`htd_tutorial.stored.stored_file`). Raises
    ``FileNotFoundError`` naming the file and the command that makes it.
    """
    path = Path(stored.stored_file(SEEDS_NAME) if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"{stored.shown(path) or path.name} not found: `{SEEDS_COMMAND}` makes it")
    runs = json.loads(path.read_text())["runs"]
    if not runs:
        raise ValueError(f"{path.name} holds no runs")
    return pd.DataFrame(runs)


def lesson_runs(data, *, dims, path: str | Path | None = None, **settings) -> pd.DataFrame | None:
    """The stored seed sweep, when it describes these settings; else ``None`` and a printed note.

    The sweep was trained on the course's dataset with :data:`~htd_tutorial.course.recipes.DISTILL`
    at the dimensions :func:`~htd_tutorial.course.seeds.sweep_runs` lists. The runs of the held-out
    :data:`~htd_tutorial.course.recipes.CHECK_SEEDS` are left out (they are the tests'). With another dataset, a
    dimension it does not hold or a recipe setting (``settings``, e.g. ``epochs=30`` or ``K=5``) that
    differs from the recipe's, a notebook has only its live run, and says so.

    Introduced in ``notebooks/02_topology_and_ftd.ipynb``.
    """
    from .recipes import DISTILL, LARGE_DIM, SMALL_DIM

    changed = [key for key, value in settings.items() if DISTILL.replace(**{key: value}) != DISTILL]
    path = Path(stored.stored_file(SEEDS_NAME) if path is None else path)
    payload = json.loads(path.read_text()) if path.is_file() else None
    # the lessons compare methods at the recipe's two sizes only (the curve's other sizes have fewer
    # seeds and methods), so any other size means: no stored lessons for these settings
    stored_dims = {SMALL_DIM, LARGE_DIM} if payload else set()
    why = (f"the stored seed sweep is missing ({stored.shown(path) or path}; `{SEEDS_COMMAND}` makes it)"
           if payload is None else
           f"the stored seeds are on {payload['dataset']['dataset']}" if payload["dataset"]["dataset"] != data.name
           else f"the stored seeds use {changed[0]} = {getattr(DISTILL, changed[0])}" if changed else
           f"the stored lessons are for student dimensions {SMALL_DIM} and {LARGE_DIM}, "
           f"not {sorted(set(dims) - stored_dims)}"
           if not set(dims) <= stored_dims else None)
    if why:
        print(f"Note: {why}; with these settings the live run (one seed) is all this notebook shows, "
              "so read its differences with care.")
        return None
    from .recipes import CHECK_SEEDS

    runs = pd.DataFrame(payload["runs"])
    # the held-out seeds are for tests/course/test_lesson_seeds.py only: a notebook never sees them
    runs = runs[~runs["seed"].isin(CHECK_SEEDS)].reset_index(drop=True)
    runs.attrs["teacher"] = payload.get("teacher", {})
    return runs


def select(runs: pd.DataFrame, method: str, dim: int, *, lr: float | None = None,
           seeds=None) -> pd.DataFrame:
    """The runs of ``method`` at ``dim`` (and ``lr``, default the recipe's; and ``seeds``), by seed."""
    from .recipes import DISTILL

    lr = DISTILL.lr if lr is None else lr
    rows = runs[(runs["method"] == method) & (runs["dim"] == dim) & np.isclose(runs["lr"], lr)]
    if seeds is not None:
        rows = rows[rows["seed"].isin(list(seeds))]
    if rows.empty:
        raise ValueError(f"no stored runs of {method} at dim {dim}, lr {lr:g}"
                         + (f", seeds {tuple(seeds)}" if seeds is not None else ""))
    return rows.set_index("seed").sort_index()


def spread(runs: pd.DataFrame, method: str, dim: int, metric: str = HEADLINE, **where) -> Spread:
    """Mean ± s.e. of ``metric`` over the stored seeds of ``method`` at ``dim``."""
    return Spread(tuple(select(runs, method, dim, **where)[metric]))


def compare(runs: pd.DataFrame, a: tuple[str, int], b: tuple[str, int], metric: str = HEADLINE, *,
            seeds=None, lr_a: float | None = None, lr_b: float | None = None,
            step: float | None = None) -> Difference:
    """Paired difference ``a − b`` of ``metric`` over their shared seeds; ``a``/``b`` = (method, dim).

    ``step``: the metric's step on the runs' data (:func:`data_step`, or
    :func:`htd_tutorial.stats.metric_step` with a results file's number of test users), the floor of
    the standard error in the rule; ``None`` (unknown) applies no floor.

    >>> compare(runs, ("htd", 4), ("ftd", 4), step=data_step("Recall@50", data))   # doctest: +SKIP
    """
    left = select(runs, *a, lr=lr_a, seeds=seeds)[metric]
    right = select(runs, *b, lr=lr_b, seeds=seeds)[metric]
    shared = left.index.intersection(right.index)
    if len(shared) == 0:
        raise ValueError(f"{a} and {b} share no seed")
    return Difference(_name(a, lr_a), _name(b, lr_b), metric, tuple(int(s) for s in shared),
                      tuple(float(v) for v in (left[shared] - right[shared])), step)


def compare_variants(runs, a: str, b: str = "authors", metric: str = HEADLINE, *,
                     step: float | None = None) -> Difference:
    """Paired difference ``a − b`` of two variants of an ablation over their shared seeds.

    ``runs``: the rows of an ablation file (``payload["runs"]`` of
    :func:`htd_tutorial.paper.ablation.run_ablation`, or a table of them) with ``variant``, ``seed``
    and the metric; ``b`` defaults to the authors' code, the ablation's reference. ``step``: as in
    :func:`compare` (an ablation file's dataset summary holds its number of test users).
    """
    frame = pd.DataFrame(list(runs)) if not isinstance(runs, pd.DataFrame) else runs
    left, right = (frame[frame["variant"] == v].set_index("seed")[metric] for v in (a, b))
    shared = left.index.intersection(right.index).sort_values()
    if len(shared) == 0:
        raise ValueError(f"variants {a!r} and {b!r} share no seed")
    return Difference(a, b, metric, tuple(int(s) for s in shared),
                      tuple(float(v) for v in (left[shared] - right[shared])), step)


def tuned_choice(runs: pd.DataFrame, method: str, dim: int, lrs, *, metric: str = "valid Recall@50",
                 seeds=None) -> float:
    """The learning rate of ``lrs`` with the best mean validation ``metric`` for ``method`` at ``dim``.

    The choice uses the validation split only; the test split then reports the chosen runs.
    """
    means = {lr: select(runs, method, dim, lr=lr, seeds=seeds)[metric].mean() for lr in lrs}
    return max(means, key=means.get)


def tuned_table(runs: pd.DataFrame, dims, methods, lrs, *, seeds=None,
                metrics: tuple[str, ...] = (HEADLINE, "NDCG@50")) -> pd.DataFrame:
    """Each method at each dimension with its learning rate chosen on validation (:func:`tuned_choice`),
    the test metrics of the chosen runs (mean ± s.e.) and, for comparison, those at the recipe's rate.

    The chosen rate is in the column ``lr`` (a number, for :func:`compare`'s ``lr_a``/``lr_b``).
    """
    from .recipes import DISTILL

    rows = []
    for dim in dims:
        for method in methods:
            lr = tuned_choice(runs, method, dim, lrs, seeds=seeds)
            row = {"dim": dim, "method": method, "lr": lr}
            row.update({f"tuned {m}": str(spread(runs, method, dim, m, lr=lr, seeds=seeds)) for m in metrics})
            row[f"fixed lr {DISTILL.lr:g} {metrics[0]}"] = str(spread(runs, method, dim, metrics[0],
                                                                        seeds=seeds))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["dim", "method"])


def _name(setting: tuple[str, int], lr: float | None) -> str:
    """``("htd", 4)`` → ``"HTD d=4"`` (with the learning rate when it is not the recipe's)."""
    method, dim = setting
    return f"{METHOD_NAMES.get(method, method)} d={dim}" + (f" (lr {lr:g})" if lr is not None else "")


def seed_table(runs: pd.DataFrame, dims, methods, metric: str = HEADLINE, **where) -> pd.DataFrame:
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


@dataclass(frozen=True)
class Lesson:
    """A comparison the course teaches, stated once: notebooks check it with :func:`check_lesson` on
    the stored seeds, ``tests/course/test_lesson_seeds.py`` on seeds no lesson was written with.

    ``a`` and ``b`` are ``(method, size)`` with size ``"small"`` or ``"large"`` (the recipe's
    :data:`~htd_tutorial.course.recipes.SMALL_DIM` / :data:`~htd_tutorial.course.recipes.LARGE_DIM`);
    ``expect`` is what the paired difference ``a − b`` must be: ``"positive"`` or ``"negative"``
    (clearly, by the module's rule) or ``"unclear"`` (within the seed noise).
    """

    key: str
    statement: str
    a: tuple[str, str]
    b: tuple[str, str]
    metric: str = HEADLINE
    expect: str = "positive"
    tuned: bool = False  # compare each method at its learning rate chosen on validation (tuned_choice)

    def dims(self, small: int, large: int) -> tuple[tuple[str, int], tuple[str, int]]:
        size = {"small": small, "large": large}
        return (self.a[0], size[self.a[1]]), (self.b[0], size[self.b[1]])


#: The comparisons the course's lessons rest on (notebooks 02-04, README), each stated once.
LESSONS = {lesson.key: lesson for lesson in (
    Lesson("ftd-helps-roomy", "FTD helps the roomy student (Recall@50)",
           ("ftd", "large"), ("student", "large")),
    Lesson("ftd-helps-roomy-ndcg", "FTD helps the roomy student (NDCG@50)",
           ("ftd", "large"), ("student", "large"), metric="NDCG@50"),
    Lesson("ftd-unclear-tiny", "FTD's effect on the tiny student is within the seed noise (Recall@50)",
           ("ftd", "small"), ("student", "small"), expect="unclear"),
    Lesson("relational-beats-pointwise-roomy", "FTD (relational) beats FitNet (point-wise) at the roomy size",
           ("ftd", "large"), ("fitnet", "large")),
    Lesson("htd-helps-tiny", "HTD helps the tiny student (Recall@50)", ("htd", "small"), ("student", "small")),
    Lesson("htd-beats-ftd-tiny", "HTD beats FTD at the tiny size (Recall@50)", ("htd", "small"), ("ftd", "small")),
    Lesson("ftd-beats-htd-roomy", "FTD beats HTD at the roomy size (Recall@50)",
           ("ftd", "large"), ("htd", "large")),
    Lesson("htd-tuned-unclear-tiny", "with the same learning-rate search, HTD's gain over the tiny student "
           "is within the seed noise (Recall@50)", ("htd", "small"), ("student", "small"), expect="unclear",
           tuned=True),
    Lesson("ftd-tuned-helps-roomy", "with the same learning-rate search, FTD still helps the roomy student "
           "(Recall@50)", ("ftd", "large"), ("student", "large"), tuned=True),
    Lesson("ftd-tuned-beats-htd-roomy", "with the same learning-rate search, FTD still beats HTD at the roomy "
           "size (Recall@50)", ("ftd", "large"), ("htd", "large"), tuned=True),
    Lesson("ftd-keeps-neighbours-tiny", "FTD keeps more of the teacher's 10 nearest items (tiny student)",
           ("ftd", "small"), ("student", "small"), metric="knn_overlap"),
    Lesson("ftd-keeps-neighbours-roomy", "FTD keeps more of the teacher's 10 nearest items (roomy student)",
           ("ftd", "large"), ("student", "large"), metric="knn_overlap"),
)}


def lesson_difference(runs: pd.DataFrame, key: str, *, small: int, large: int, seeds=None,
                      n_users: int | None) -> Difference:
    """The paired difference a lesson rests on, over ``seeds`` (default: every stored seed).

    ``n_users``: how many test users the runs were evaluated on (one held-out item each), for the
    step of the lesson's metric (:func:`htd_tutorial.stats.metric_step`); ``None`` where it is not known.
    """
    from .recipes import CURVE_SEEDS, TUNED_LRS

    lesson = LESSONS[key]
    a, b = lesson.dims(small, large)
    step = metric_step(lesson.metric, n_users)
    if not lesson.tuned:
        return compare(runs, a, b, lesson.metric, seeds=seeds, step=step)
    # the rate is chosen once, on the validation split of the tuning seeds, whatever seeds are compared
    lr_a, lr_b = (tuned_choice(runs, *setting, TUNED_LRS, seeds=CURVE_SEEDS) for setting in (a, b))
    return compare(runs, a, b, lesson.metric, seeds=seeds, lr_a=lr_a, lr_b=lr_b, step=step)


def check_lesson(runs: pd.DataFrame, key: str, data=None, *, small: int, large: int, seeds=None) -> bool:
    """:func:`~htd_tutorial.course.claim` a lesson of :data:`LESSONS` on the stored seeds (default: the
    notebooks' :data:`~htd_tutorial.course.recipes.LESSON_SEEDS`, never the held-out check seeds);
    prints it with the paired difference it rests on. The step of the lesson's metric comes from
    ``data``'s test split (:func:`data_step`; no data: no floor)."""
    from .common import claim
    from .recipes import LESSON_SEEDS

    seeds = LESSON_SEEDS if seeds is None else seeds
    lesson = LESSONS[key]
    diff = lesson_difference(runs, key, small=small, large=large, seeds=seeds, n_users=_test_users(data))
    holds = {"positive": diff.clearly_positive, "negative": diff.clearly_negative,
             "unclear": diff.unclear}[lesson.expect]
    return claim(holds, lesson.statement, data, evidence=diff)

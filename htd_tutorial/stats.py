"""Mean ± standard error over seeds, and the rule that calls a paired difference *clear*: the one copy.

Every number of this project that is read as "A beats B" rests on this module: the course's lessons
(:mod:`htd_tutorial.course.evidence`), the pictures of paired differences (:mod:`htd_tutorial.plots.seeds`),
the results files' summaries and the tables of docs/results.md (:mod:`htd_tutorial.paper.results`) and the
tests that check what that page and the notebooks say. Nothing here imports torch or another module of the
package, so every layer may use it.

Standard error
--------------
For values ``x_1 … x_n`` over seeds (n ≥ 2)::

    mean = (x_1 + … + x_n) / n
    s.e. = sd / √n,   sd² = Σ (x_i − mean)² / (n − 1)        (the sample standard deviation)

One value has no standard error (:func:`mean_and_se` returns ``None``, never 0).

The rule
--------
A comparison of two settings A and B is made on *paired* differences ``d_s = A_s − B_s``: the value of
A at seed s minus that of B at the same seed (same initial student, same batches), which removes the
part of the seed noise both share. With ``n`` paired seeds, ``m`` the mean of the ``d_s``, ``se`` their
standard error and ``h`` the metric's *step* (below), the difference is **clearly positive** when::

    n ≥ 2,   max_s d_s − min_s d_s > tol,   min_s d_s > 0   and   m − 2 · max(se, h) > 0

(clearly negative: the mirror image, ``max_s d_s < 0`` and ``m + 2 · max(se, h) < 0``); anything else is
**unclear**. ``tol`` is ``h / 2`` when the step is known, else ``1e-12`` (floating-point rounding).
:func:`verdict` applies it.

Why each condition:

- *Two standard errors from zero*: with no true difference and normal seed noise, ``m / se`` follows
  Student's t with n − 1 degrees of freedom, and |t| > 2 is rare enough to be worth reading
  (:func:`htd_tutorial.course.evidence.chance_clear_rate` says how rare with 2 to 5 seeds: about 30 % with
  two seeds, 18 % with three; the rule is a reading aid, not a significance test).
- *Every seed on one side*: with three seeds the s.e. itself is estimated from three numbers, so a large
  mean can come from one outlying seed; a difference that changes sign between seeds is not one the course
  states.
- *At least two paired seeds with a non-zero spread*: one seed has no spread, and neither do n seeds that
  all give the same difference. Identical differences on every seed (the lab's "−0.010 ± 0.000": six of
  600 test users on each seed) say that the seeds did not vary what the difference depends on; they are
  one observation repeated, and its s.e. of 0 is not a measurement of the noise. Such a difference is
  reported and not read.
- *The s.e. is never taken below one step* (``h``): Recall@K with the protocol's one held-out item per
  user (:func:`htd_tutorial.data.split.leave_one_out`) is a count of users divided by the number ``n_u``
  of evaluated users, so it moves in steps of ``h = 1 / n_u`` and a paired difference is a whole number of
  users. Three to five such numbers can agree to a user or two by chance and give an s.e. far below one
  user, below what the metric resolves. With the floor a clear difference is more than two users' worth
  on average: a difference of one or two users on every seed (with any spread) is never clear, whatever
  the number of seeds.

The step comes from the caller, who knows how many users were evaluated (:func:`metric_step`: ``1 / n_u``
for Recall@K; a results file holds it in its dataset summary, ``payload["dataset"]["test"]``, a lesson's run
in its data). A caller that cannot know it passes ``step=None``: then there is no floor, and only the other
conditions apply (the zero-spread one with ``tol = 1e-12``). NDCG@K and the topology measures move by
uneven amounts far smaller than ``1 / n_u``: they have no step (``None``). Who passes what:
:func:`~htd_tutorial.course.evidence.check_lesson` the step of its data's test split;
:func:`~htd_tutorial.course.evidence.compare`, :func:`~htd_tutorial.course.evidence.compare_variants` and
:func:`~htd_tutorial.plots.seeds.plot_paired_differences` whatever their caller gives (default ``None``: a
notebook cell that passes none reads its differences without the floor); the tests of the results and
ablation files the step of the file's test users.

An exact sign-flip permutation test over the paired seeds was the other candidate and was not taken:
its ``p`` can only be a multiple of ``2 / 2^n``, so with three seeds the smallest two-sided ``p`` is 0.25
and it could never call anything clear, and the course's comparisons have three to five seeds.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from numbers import Real

import numpy as np

__all__ = ["CLEAR_SE", "NO_SPREAD", "VERDICTS", "Reading", "mean_and_se", "metric_step", "read_paired", "verdict",
           "format_se"]

#: A clear difference is more than this many standard errors (floored at the step) from zero.
CLEAR_SE = 2.0
#: Without a known step, paired differences that differ by no more than this are identical (float rounding).
NO_SPREAD = 1e-12
#: What :func:`verdict` answers: clearly above zero, clearly below, neither, or fewer than two paired seeds.
VERDICTS = ("positive", "negative", "unclear", "not read")


def _finite_values(values) -> np.ndarray:
    """``values`` as a 1-D float array; ``ValueError`` for none, a non-number, NaN or an infinity."""
    try:
        array = np.asarray([float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"values over seeds must be numbers: {error}") from None
    if array.size == 0:
        raise ValueError("no values: a mean over seeds needs at least one")
    if not np.isfinite(array).all():
        raise ValueError(f"values over seeds must be finite numbers, got {array.tolist()}")
    return array


def format_se(se: float) -> str:
    """A standard error as printed beside a mean of three decimals: three decimals, or, from 1e-6 up to
    0.0005 (which three decimals show as 0.000, read as no spread), its first significant digit
    (``0.0004``). Below 1e-6 (equal values up to float rounding) it stays ``0.000``: there is no spread."""
    if se >= 0.0005 or se < 1e-6:
        return f"{se:.3f}"
    return f"{se:.{-math.floor(math.log10(se))}f}"


def mean_and_se(values) -> tuple[float, float | None]:
    """Mean and standard error of the mean (sample standard deviation / √n); ``None`` for one value.

    Raises ``ValueError`` for no values, a NaN or an infinity.
    """
    array = _finite_values(values)
    values = array.tolist()
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def _step(step) -> float | None:
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, Real) or not (0 < float(step) <= 1):
        raise ValueError(f"step must be None (unknown) or a number in (0, 1], got {step!r}")
    return float(step)


def metric_step(metric: str, n_users: int | None) -> float | None:
    """The step ``h`` in which ``metric`` moves when averaged over ``n_users`` evaluated users, each with
    the protocol's one held-out item: ``1 / n_users`` for ``Recall@K`` (a user's hit is 0 or 1), ``None``
    for any other metric (NDCG@K moves by uneven, much smaller amounts) and when ``n_users`` is ``None``.
    """
    if n_users is None or not metric.startswith("Recall@"):
        return None
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise ValueError(f"n_users must be a positive integer or None, got {n_users!r}")
    return 1.0 / int(n_users)


@dataclass(frozen=True)
class Reading:
    """What the rule reads in paired differences: ``n``, ``mean``, ``se`` (``None`` for one value),
    ``step`` (``None``: not known), ``se_used`` (the s.e. the rule uses: ``max(se, step)``), ``verdict``
    (one of :data:`VERDICTS`) and ``why`` (the condition that decided, in words)."""

    n: int
    mean: float
    se: float | None
    step: float | None
    se_used: float | None
    verdict: str
    why: str

    @property
    def clear(self) -> bool:
        return self.verdict in ("positive", "negative")

    @property
    def close_call(self) -> bool:
        """Whether the mean is within one s.e. of the rule's threshold (``|mean|`` within ``se_used`` of
        ``CLEAR_SE · se_used``): one s.e. more or less would change clear into unclear or back, so the
        reading is worth more seeds (the evidence map adds two)."""
        return self.se_used is not None and abs(abs(self.mean) - CLEAR_SE * self.se_used) < self.se_used


def read_paired(values, *, step: float | None) -> Reading:
    """Apply the module's rule to paired differences ``values`` (one per paired seed).

    ``step``: the metric's step (:func:`metric_step`), or ``None`` when the caller cannot know it (then
    the s.e. has no floor). Raises ``ValueError`` for no values, a NaN or an infinity, or a bad step.
    """
    array = _finite_values(values)
    step = _step(step)
    mean, se = mean_and_se(array)
    if se is None:
        return Reading(1, mean, None, step, None, "not read", "one paired seed: no spread")
    if float(array.max() - array.min()) <= (step / 2 if step is not None else NO_SPREAD):
        return Reading(array.size, mean, se, step, se, "not read",
                       f"the same difference on all {array.size} seeds: no spread")
    se_used = max(se, step) if step is not None else se
    floored = " (s.e. raised to one step)" if se_used > se else ""
    if mean - CLEAR_SE * se_used > 0 and array.min() > 0:
        return Reading(array.size, mean, se, step, se_used, "positive", "above zero by over 2 s.e." + floored)
    if mean + CLEAR_SE * se_used < 0 and array.max() < 0:
        return Reading(array.size, mean, se, step, se_used, "negative", "below zero by over 2 s.e." + floored)
    why = ("the seeds disagree in sign" if array.min() <= 0 <= array.max()
           else "within 2 s.e. of zero" + floored)
    return Reading(array.size, mean, se, step, se_used, "unclear", why)


def verdict(values, *, step: float | None) -> str:
    """The rule's verdict on paired differences: ``"positive"``, ``"negative"``, ``"unclear"`` or
    ``"not read"`` (see :func:`read_paired`)."""
    return read_paired(values, step=step).verdict

"""The package's OpenMP thread policy: the one place where it is chosen and applied.

torch's CPU kernels run on OpenMP threads (torch 2.13's Linux wheels ship GNU ``libgomp``). Between
two parallel operations a waiting thread either spins (fast to restart on an idle machine, but slow
as soon as another process wants the same cores: the spinning threads take the CPU from the thread
they wait for; 2x with one competing process in our benchmark, 10-100x seen with more) or sleeps
(safe on a busy machine, but every operation then pays a wake-up). ``libgomp`` reads its settings
once, when torch is imported, from the environment:

- ``OMP_WAIT_POLICY``: ``ACTIVE`` spins (almost) forever, ``PASSIVE`` sleeps at once, unset spins
  300,000 times (about 3 ms) before sleeping;
- ``GOMP_SPINCOUNT``: how many times to spin before sleeping; it overrides the wait policy's count.

The policy has two parts, chosen from ``benchmarks/bench_threads.py`` (results in
``benchmarks/results/threads.json``: CiteULike, 2-core CPU, each setting idle and beside one competing
CPU-bound process; the "Thread policy" table of docs/performance.md):

1. :data:`THREAD_ENV`: a bounded spin, ``GOMP_SPINCOUNT=30000``, long enough to bridge the gaps
   between torch's operations on an idle machine: training within 8 % of ``ACTIVE``, where
   ``PASSIVE`` took 1.3-2x as long. ``OMP_WAIT_POLICY=PASSIVE`` comes with it for runtimes that
   ignore ``GOMP_SPINCOUNT`` (LLVM's and Intel's, e.g. torch on macOS): their threads keep sleeping.
2. :data:`ADAPTIVE_THREADS`: a spin alone is not enough, because on a busy machine every spinning
   setting made two-thread training slower than ``PASSIVE`` (``ACTIVE`` 1.7-2.2x and 3k spins
   1.3-2.0x in the benchmark, 30k spins 4-7x in short development runs). So
   :func:`htd_tutorial.training.train` drops to one thread, which never waits for a second one and
   was the fastest busy training (0.6-1.1x ``PASSIVE``), while other processes keep at least half a
   core busy (:class:`CpuContention`), and goes back to torch's count when they stop.

Evaluation (:func:`htd_tutorial.evaluation.evaluate_embeddings`) makes the same decision through
:func:`busy_aware_threads`: before it, a full evaluation outside ``train()`` kept two spinning threads
on a busy machine and took 1.3x as long as with ``PASSIVE`` (2.7 s against 2.1 s). What is still not
covered: other loops of many small two-thread operations outside both can take several times as long
(the 4-7x above). Set
``OMP_WAIT_POLICY=PASSIVE`` yourself for sleeping threads (training still adapts; ``train(threads=n)``
fixes its count). With adaptive threads the last bits of a large CPU run can depend on the machine's
load (the thread count changes the order of some sums): pass ``threads=`` for bitwise-repeatable runs.

:func:`apply_thread_policy` is called by ``htd_tutorial/__init__.py``, so importing the package before
torch applies it; the tests' ``conftest.py`` and the benchmarks import the package first, and the
notebook kernels inherit the environment (and import the package before torch too).

The user's environment wins: if any of :data:`WAIT_VARS` is already set (e.g.
``OMP_WAIT_POLICY=ACTIVE make lab``), nothing is touched, so a setting of the user's is never mixed
with ours. Nothing happens in a process that imported torch before the package (the runtime has
read its settings already), except that child processes inherit the defaults.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

__all__ = ["THREAD_ENV", "WAIT_VARS", "apply_thread_policy", "ADAPTIVE_THREADS", "CpuContention",
           "adaptive_threads", "busy_aware_threads"]

#: The environment defaults of the package's thread policy (measured: ``benchmarks/bench_threads.py``).
THREAD_ENV: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"}

#: Variables that say how OpenMP threads wait (libgomp's and LLVM/Intel's): if the user set any of
#: them, the policy is theirs.
WAIT_VARS: tuple[str, ...] = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def apply_thread_policy(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set :data:`THREAD_ENV` in ``environ`` (default ``os.environ``) unless any of :data:`WAIT_VARS`
    is set there already.

    Returns the variables this call set (empty when the user's own setting was kept, or when the
    defaults were already there).
    """
    environ = os.environ if environ is None else environ
    if any(name in environ for name in WAIT_VARS):
        return {}
    environ.update(THREAD_ENV)
    return dict(THREAD_ENV)


#: Whether :func:`htd_tutorial.training.train` drops to one CPU thread while other processes keep a
#: core busy (see :class:`CpuContention`), unless it is given ``threads``.
ADAPTIVE_THREADS: bool = True


class CpuContention:
    """How much CPU other processes (and the hypervisor) took, over windows of ``window`` seconds.

    Linux only (``/proc/stat``): everything the machine's CPUs did minus what this process did
    (``os.times``), in cores. Elsewhere :meth:`threads` always returns its ``base``.

    Parameters
    ----------
    window : float
        Seconds between two measurements; a decision holds for one window.
    busy_cores : float
        Other processes using at least this many cores make the machine busy.
    """

    def __init__(self, window: float = 0.5, busy_cores: float = 0.5):
        self.window, self.busy_cores = float(window), float(busy_cores)
        self.others: float | None = None  # cores used by others in the last window (None: not known)
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, int, float] | None:
        """(wall time, busy ticks of all CPUs, this process's CPU seconds), or None without /proc."""
        try:
            with open("/proc/stat") as handle:
                ticks = [int(value) for value in handle.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        if len(ticks) < 5:
            return None
        own = os.times()
        return time.perf_counter(), sum(ticks) - ticks[3] - ticks[4], own.user + own.system

    def update(self) -> None:
        """Measure again once a window has passed since the last measurement. Without a recent
        baseline (the first call, or after a pause of over 20 windows) measure over a short pause of
        ``window / 5`` seconds first, so that a decision never rests on stale figures."""
        if self._last is None:
            return
        elapsed = time.perf_counter() - self._last[0]
        if self.others is None or elapsed > 20 * self.window:
            self._last = self._read()
            time.sleep(self.window / 5)
        elif elapsed < self.window:
            return
        current = self._read()
        if current is None or self._last is None:
            return
        elapsed = current[0] - self._last[0]
        machine = (current[1] - self._last[1]) / self._hz
        self.others = max(0.0, machine - (current[2] - self._last[2])) / elapsed
        self._last = current

    def busy(self) -> bool:
        """Whether other processes used at least ``busy_cores`` cores in the last window."""
        self.update()
        return self.others is not None and self.others >= self.busy_cores

    def threads(self, base: int) -> int:
        """1 while the machine is busy with other work, else ``base``."""
        return 1 if base > 1 and self.busy() else base


_CONTENTION: CpuContention | None = None


def adaptive_threads(base: int) -> int:
    """The CPU thread count for the next training step: ``base``, or 1 while other processes keep a
    core busy (one process-wide :class:`CpuContention`, so the decision carries over between runs)."""
    global _CONTENTION
    if _CONTENTION is None:
        _CONTENTION = CpuContention()
    return _CONTENTION.threads(base)


@contextmanager
def busy_aware_threads() -> Iterator[int]:
    """Run a block of torch work outside :func:`~htd_tutorial.training.train` (an evaluation) with
    one thread while other processes keep a core busy, else with torch's count; restore it after.

    The same decision as training's (:func:`adaptive_threads`), for the work that used to keep two
    spinning threads on a busy machine (a full evaluation took 1.3x as long as with ``PASSIVE``).
    Yields the thread count used.
    """
    import torch  # the package is imported before torch (the policy needs it); torch is loaded by now

    before = torch.get_num_threads()
    count = adaptive_threads(before)
    if count != before:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if count != before:
            torch.set_num_threads(before)

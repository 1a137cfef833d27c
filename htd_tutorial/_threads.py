"""The package's OpenMP thread policy: the one place where it is chosen and applied.

torch's CPU kernels run on OpenMP threads (torch 2.13's Linux wheels ship GNU ``libgomp``). Between
two parallel operations a waiting thread either spins (fast to restart on an idle machine, but
10-100x slower as soon as another process wants the same cores: the spinning threads take the CPU
from the thread they wait for) or sleeps (safe on a busy machine, but every operation then pays a
wake-up). ``libgomp`` reads its settings once, when torch is imported, from the environment:

- ``OMP_WAIT_POLICY``: ``ACTIVE`` spins (almost) forever, ``PASSIVE`` sleeps at once, unset spins
  300,000 times (about 3 ms) before sleeping;
- ``GOMP_SPINCOUNT``: how many times to spin before sleeping; it overrides the wait policy's count.

:data:`THREAD_ENV` is the policy: sleeping threads (``OMP_WAIT_POLICY=PASSIVE``), which never fall
off the cliff on a busy machine; ``benchmarks/bench_threads.py`` measures it against the alternatives.

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
from collections.abc import MutableMapping

__all__ = ["THREAD_ENV", "WAIT_VARS", "apply_thread_policy"]

#: The environment defaults of the package's thread policy (measured: ``benchmarks/bench_threads.py``).
THREAD_ENV: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}

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

"""Subnormal floats flushed to zero in *every* CPU thread torch computes with, not only the caller's.

Subnormals are the floats below ``torch.finfo(torch.float32).tiny`` (1.2e-38). Many CPUs compute with
them tens of times slower than with ordinary numbers (on the 2-core AMD EPYC of our CI, ``sqrt`` of a
subnormal tensor took 28 times as long as of an ordinary one), and HTD makes thousands: its annealed
Gumbel-softmax weights underflow, and the experts' Adam moments decay after them. A 100-epoch
CiteULike HTD run spent half its time in ten such epochs (docs/performance.md, "Where an HTD run's time
goes on a CPU").

``torch.set_flush_denormal(True)`` sets the processor's flush-to-zero and denormals-are-zero bits,
but only for the thread that calls it. torch's element-wise kernels split large tensors over the
threads of its OpenMP pool, which keep their own bits: after a call from the main thread, half of a
two-thread product still came out subnormal. A thread started later inherits its creator's bits, so
the pool's existing threads are the problem. :func:`set_flush_everywhere` therefore runs the same call
once in every thread of torch's OpenMP pool (``GOMP_parallel`` of the runtime torch loaded, which the
GNU, LLVM and Intel runtimes all export), and :func:`flushes_denormals` checks the result across the
pool. Where no OpenMP runtime is found (not Linux) or the processor cannot flush, nothing is changed
and :func:`flushes_denormals` says so.
"""
from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["flushes_denormals", "set_flush_everywhere", "flushed_denormals"]

#: Elements per thread of the probe in :func:`flushes_denormals`: above torch's parallel grain size
#: (32768), so every thread of the pool computes a part of it.
_PROBE_PER_THREAD = 4 * 32768
_OPENMP_NAMES = ("libgomp", "libiomp5", "libomp")


@lru_cache(maxsize=1)
def _openmp_runtime() -> ctypes.CDLL | None:
    """torch's OpenMP runtime as loaded in this process (one under torch's folder first), or None."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    paths = {line.split(None, 5)[5] for line in maps.splitlines() if len(line.split(None, 5)) == 6}
    found = sorted(p for p in paths if Path(p).name.startswith(_OPENMP_NAMES) and ".so" in Path(p).name)
    torch_dir = str(Path(torch.__file__).resolve().parent)
    found.sort(key=lambda p: not p.startswith(torch_dir))
    for path in found:
        try:
            lib = ctypes.CDLL(path)
            lib.GOMP_parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
            lib.GOMP_parallel.restype = None
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _pool_size() -> int:
    """Threads to reach: torch's count, or every CPU when more (threads a later, larger team reuses)."""
    return max(torch.get_num_threads(), os.cpu_count() or 1)


def set_flush_everywhere(enabled: bool) -> None:
    """Turn flushing subnormals to zero on or off in this thread and in every thread of torch's pool."""
    torch.set_flush_denormal(enabled)
    runtime = _openmp_runtime()
    if runtime is None:
        return

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def in_each_thread(_):
        torch.set_flush_denormal(enabled)

    runtime.GOMP_parallel(ctypes.cast(in_each_thread, ctypes.c_void_p), None, _pool_size(), 0)


def flushes_denormals() -> bool:
    """Whether every thread torch computes with rounds subnormal floats to zero.

    Read from the arithmetic itself: half the smallest normal float, computed over a tensor that
    torch splits over all its threads, must be zero everywhere. So it is right whoever set it, and
    False where the processor cannot flush or only some threads do.
    """
    n = _PROBE_PER_THREAD * max(torch.get_num_threads(), 1)
    halves = torch.full((n,), torch.finfo(torch.float32).tiny) * 0.5
    return bool((halves == 0).all())


@contextmanager
def flushed_denormals(enabled: bool = True):
    """Run the block with subnormals flushed to zero in every thread (:func:`set_flush_everywhere`)
    when ``enabled`` and the processor can, then restore what it found. Where it cannot, the block
    runs as it is (:func:`flushes_denormals` then reads False, which is what a run records)."""
    if not enabled or flushes_denormals():
        yield
        return
    set_flush_everywhere(True)
    try:
        yield
    finally:
        set_flush_everywhere(False)

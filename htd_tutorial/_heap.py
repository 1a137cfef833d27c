"""Large temporaries reused from the heap while training, instead of fresh pages from the kernel each time.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB) with a fresh ``mmap``
and hands it back on ``free``. Each new block then costs the kernel a page fault and a zero fill per
page before torch writes a byte: one more pass over memory, and a slow one. HTD's dense expert mixture
makes half a dozen (n x K*h) temporaries a step (37 MB each on CiteULike), so a copy of one took 18 ms of
CPU instead of 6 ms, the mixture's step 1.37 times the CPU time and a whole dense HTD step 1.21 times (one
thread; ``docs/performance.md``).

:func:`kept_heap` turns that off for the block it wraps (``mallopt``: no mmap for blocks, no trimming
of the heap's top), so a freed block is reused by the next step's block of the same size. On leaving,
glibc's default limits come back and the kept memory is returned (``malloc_trim``); glibc's dynamic
mmap threshold stays where it was then (setting a limit ends its adjustment). Nothing changes:

- where the C library is not glibc (macOS, Windows, musl);
- when the user chose the allocator's settings (any ``MALLOC_*`` variable, or ``GLIBC_TUNABLES``
  naming ``glibc.malloc``): their choice stands;
- in a nested block: the outermost one restores.

Only where memory comes from changes, not what is computed: the numbers of a run are the same bit for bit.
"""
from __future__ import annotations

import ctypes
import os
import platform
import threading
from contextlib import contextmanager
from functools import lru_cache

__all__ = ["kept_heap", "heap_is_kept"]

# mallopt parameters and glibc's defaults (malloc.h / malloc.c)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_KEPT_TRIM_THRESHOLD = 2 ** 31 - 1      # the largest mallopt's int takes: never trim while kept

_lock = threading.Lock()
_depth = 0


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc and has ``mallopt``/``malloc_trim``; None elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def _user_chose() -> bool:
    """Whether the environment sets glibc's allocator (then it is left alone)."""
    return (any(name.startswith("MALLOC_") for name in os.environ)
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""))


def _set(libc: ctypes.CDLL, mmap_max: int, trim_threshold: int) -> None:
    libc.mallopt(_M_MMAP_MAX, mmap_max)
    libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)


def heap_is_kept() -> bool:
    """Whether a :func:`kept_heap` block is active and changed the allocator's settings (a block counts
    only when it changed them)."""
    return _depth > 0


@contextmanager
def kept_heap(enabled: bool = True):
    """Run the block with large blocks served from a heap that is not given back (see the module)."""
    global _depth
    libc = _glibc()
    if not enabled or libc is None or _user_chose():
        yield
        return
    with _lock:
        if _depth == 0:
            _set(libc, 0, _KEPT_TRIM_THRESHOLD)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, _DEFAULT_MMAP_MAX, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)

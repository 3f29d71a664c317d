"""Spreading the rows of a batch over threads, for kernels that release the GIL.

A pool of Python threads sleeps on a queue while idle, so between calls it leaves the cores to
BLAS (OpenMP workers would spin there instead). Rows are independent, so the split never changes
a result. The pool has one thread per core the process may use, or the count `limit_threads`
set. A benchmark that compares with numpy calls `limit_threads` before numpy is imported, so
that BLAS, which reads its thread count once, uses the same count: both sides alike.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_MIN_ROWS_PER_PART = 256  # below this, waking a thread costs more than it saves
_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_pool: ThreadPoolExecutor | None = None
_limit: int | None = None


def thread_count() -> int:
    if _limit is not None:
        return _limit
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def limit_threads(count: int) -> None:
    """Use at most `count` threads for the tile kernels, and ask BLAS for `count` as well (it
    reads the request when numpy is first imported, so call this before that)."""
    global _limit
    if count < 1:
        raise ValueError(f"thread count must be at least 1, got {count}")
    _limit = int(count)
    for name in _BLAS_VARIABLES:
        os.environ[name] = str(count)


def threads_from_argv(argv: list[str], default: int) -> int:
    """The value of a `--threads N` option in argv (or `default`), applied with limit_threads:
    for scripts that must settle thread counts before they import numpy."""
    count = default
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv) and argv[i + 1].isdigit():
            count = int(argv[i + 1])
        elif arg.startswith("--threads=") and arg[10:].isdigit():
            count = int(arg[10:])
    limit_threads(count)
    return count


def run_rows(kernel: Callable[..., Any], batch: int, *args: Any) -> list[Any]:
    """kernel(*args, k0, k1) over row ranges that together cover 0..batch-1; the kernel's
    results, one per range, in row order."""
    global _pool
    parts = min(thread_count(), batch // _MIN_ROWS_PER_PART)
    if parts <= 1:
        return [kernel(*args, 0, batch)]
    if _pool is None:  # parts <= thread_count(), which only limit_threads lowers
        _pool = ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="chipsim")
    bounds = [batch * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(kernel, *args, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    first = kernel(*args, bounds[0], bounds[1])  # the calling thread takes the first part
    return [first, *(f.result() for f in futures)]

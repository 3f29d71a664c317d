"""Spreading the rows of a batch over threads, for kernels that release the GIL.

A pool of Python threads sleeps on a queue while idle, so between calls it leaves the cores to
BLAS (OpenMP workers would spin there instead). Rows are independent, so the split never changes
a result. The pool has one thread per core the process may use.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_MIN_ROWS_PER_PART = 32
_pool: ThreadPoolExecutor | None = None


def thread_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_rows(kernel: Callable[..., Any], batch: int, *args: Any) -> None:
    """kernel(*args, k0, k1) over row ranges that together cover 0..batch-1."""
    global _pool
    parts = min(thread_count(), batch // _MIN_ROWS_PER_PART)
    if parts <= 1:
        kernel(*args, 0, batch)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="chipsim")
    bounds = [batch * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(kernel, *args, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    kernel(*args, bounds[0], bounds[1])  # the calling thread takes the first part
    for f in futures:
        f.result()

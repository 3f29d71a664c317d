"""The command line every benchmark shares: --threads and --json, and one way to print rows.

A benchmark measures a list of rows (one dict each). Scripts ask for --json and get the rows as
one JSON document on stdout, progress staying on stderr; people get the benchmark's own table.
--threads is read from argv before numpy is imported (`chipsim.kernels.threads`); it is declared
here as well so that argparse accepts it and --help shows it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

from chipsim.commands.common import add_json_option, print_json  # imports no numpy


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of the benchmark's docstring, with the shared
    --threads and --json options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS and the tile kernels (default 1)")
    add_json_option(parser)
    return parser


def blas_info() -> dict[str, Any]:
    """Which BLAS numpy's matmul runs, as threadpoolctl reports it: library (internal_api),
    version, kernel (architecture, e.g. Haswell or SkylakeX for OpenBLAS) and threads.

    Ratios against numpy hang on that kernel: OpenBLAS picks it from the CPU unless
    OPENBLAS_CORETYPE names one. Call after numpy is imported. Without threadpoolctl (the
    `test` extra installs it) every field reads "unknown".
    """
    unknown = {"internal_api": "unknown", "version": "unknown", "architecture": "unknown",
               "threads": "unknown"}
    try:
        import numpy
        from threadpoolctl import threadpool_info
    except ImportError:
        return unknown
    libraries = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # a wheel's own BLAS lies in numpy.libs/ beside numpy/ (both start so); else take the first
    numpy_dir = str(Path(numpy.__file__).parent)
    own = [lib for lib in libraries if lib.get("filepath", "").startswith(numpy_dir)]
    if not (own or libraries):
        return unknown
    lib = (own or libraries)[0]
    return {"internal_api": lib.get("internal_api", "unknown"),
            "version": lib.get("version") or "unknown",
            # OpenBLAS and BLIS name their kernel "architecture", MKL has none
            "architecture": lib.get("architecture") or lib.get("corename") or "unknown",
            "threads": lib.get("num_threads", "unknown")}


def blas_line(info: dict[str, Any]) -> str:
    """`blas_info()` in one line for a table's footer."""
    return (f"numpy BLAS: {info['internal_api']} {info['version']}, kernel "
            f"{info['architecture']}, {info['threads']} thread(s)")


def print_rows(rows: list[dict], as_json: bool, table: Callable[[list[dict]], str]) -> None:
    """The rows as one JSON document on stdout with --json, else as `table(rows)` for people."""
    if as_json:
        print_json(rows)
    else:
        print(table(rows))


def best_seconds(cases: dict[str, Callable[[], Any]], budget_s: float, min_rounds: int,
                 max_rounds: int) -> dict[str, float]:
    """Best seconds per call of each case, the cases called in turn round after round (so a
    noisy neighbour slows them alike) for at least min_rounds and then within the time budget,
    at most max_rounds. Callers warm the cases up first."""
    best = {name: float("inf") for name in cases}
    start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (time.perf_counter() - start < budget_s and rounds < max_rounds):
        for name, case in cases.items():
            t0 = time.perf_counter()
            case()
            best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return best

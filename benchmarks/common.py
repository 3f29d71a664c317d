"""The command line every benchmark shares: --threads and --json, and one way to print rows.

A benchmark measures a list of rows (one dict each). Scripts ask for --json and get the rows as
one JSON document on stdout, progress staying on stderr; people get the benchmark's own table.
--threads is read from argv before numpy is imported (`chipsim.kernels.threads`); it is declared
here as well so that argparse accepts it and --help shows it.
"""

from __future__ import annotations

import argparse
from typing import Callable

from chipsim.commands.common import add_json_option, print_json  # imports no numpy


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of the benchmark's docstring, with the shared
    --threads and --json options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS and the tile kernels (default 1)")
    add_json_option(parser)
    return parser


def print_rows(rows: list[dict], as_json: bool, table: Callable[[list[dict]], str]) -> None:
    """The rows as one JSON document on stdout with --json, else as `table(rows)` for people."""
    if as_json:
        print_json(rows)
    else:
        print(table(rows))

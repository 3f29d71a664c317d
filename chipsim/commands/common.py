"""Options and output helpers shared by every subcommand, so they read the same everywhere."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_chip_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chip", default="hermes64", metavar="NAME|FILE",
        help="built-in chip name or path to a chip description YAML (default: hermes64)",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true",
        help="print the figures as one JSON document on stdout and nothing else there",
    )


def print_json(obj: Any) -> None:
    """The only thing a command prints on stdout in --json mode."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays, tuples of them
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")

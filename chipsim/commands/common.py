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


def add_mapping_options(parser: argparse.ArgumentParser, default_strategy: str) -> None:
    """--mapping FILE or --strategy NAME: where the network's placement comes from."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--mapping", metavar="FILE", help="mapping file (from `chipsim map`)")
    where.add_argument("--strategy", metavar="NAME", default=None,
                       help="place the network with this strategy instead of reading a mapping "
                       f"file (default when neither is given: {default_strategy})")
    parser.set_defaults(default_strategy=default_strategy)


def mapping_from_args(args: argparse.Namespace, chip: Any, layers: Any, graph: str) -> Any:
    """The mapping of --mapping, or of --strategy (an error lists the strategies)."""
    from chipsim.errors import MappingError
    from chipsim.mapping import STRATEGIES, Mapping

    if args.mapping:
        return Mapping.from_yaml(args.mapping, chip, layers)
    strategy = args.strategy or args.default_strategy
    if strategy not in STRATEGIES:
        raise MappingError(f"unknown strategy {strategy!r}; strategies: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy].place(layers, chip, graph=graph)


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

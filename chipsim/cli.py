"""The `chipsim` command line.

Each subcommand lives in its own module under `chipsim.commands` and exposes `add_parser(sub)`
and `run(args) -> int`. This file only wires them together and turns user errors (a
`ChipsimError`, argparse's own included: `chipsim.commands.arguments.Parser`) into one line on
stderr with exit status 2, and warnings into one line each.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from chipsim import __version__
from chipsim.commands.arguments import Parser
from chipsim.errors import ChipsimError

# Subcommands in the order `chipsim --help` lists them.
COMMANDS = ("info", "map", "accuracy", "simulate", "calibrate", "report", "compare", "sweep", "nas",
            "faults", "noc", "linalg", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chipsim",
        description="Emulate analog in-memory-computing chips: map a network, "
        "measure its accuracy, latency, throughput and energy.",
    )
    parser.add_argument("--version", action="version", version=f"chipsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"chipsim.commands.{name}")
        cmd = module.add_parser(sub)
        cmd.set_defaults(handler=module.run)
    return parser


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line
            args = build_parser().parse_args(argv)
            return int(args.handler(args) or 0)
    except ChipsimError as err:
        # one line, whatever a file name or value held
        print(f"chipsim: error: {err}".replace("\n", "\\n"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chipsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`chipsim ... | head`): not an error of ours or the user's.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

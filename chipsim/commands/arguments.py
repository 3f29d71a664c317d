"""The command line's parser and typed option values: every mistake in an option is one line.

argparse answers a bad value with its usage block and a message written for programmers
("invalid int value", "expected one argument"), and it takes `--times -1h` for an unknown
option. `Parser` turns each of its errors into a `UsageError` that names the option and what it
takes, which `chipsim.cli` prints in one line with exit status 2 like every other user mistake.
The converters below check a value where argparse reads it, so a command's `run` gets numbers
that are already in range.
"""

from __future__ import annotations

import argparse
import re
from typing import Callable, NoReturn

from chipsim.errors import ChipsimError


class UsageError(ChipsimError):
    """A command line that does not parse: an unknown option, a missing or malformed value."""


# argparse's own phrases, and what a user is told instead
_REWRITES = (
    (re.compile(r"invalid int value: (.*)"), r"expected an integer, got \1"),
    (re.compile(r"invalid float value: (.*)"), r"expected a number, got \1"),
    (re.compile(r"invalid choice: (.*) \(choose from (.*)\)"), r"\1 is not one of \2"),
)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the option (subparsers inherit it)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A value that starts with a minus and a digit (`--times -1h`, `--seed -1`) is a value,
        # not an unknown option: the converter then says what is wrong with it.
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, but a word nobody took names the subcommand it was given to."""
        parsed, rest = self.parse_known_args(args, namespace)
        if rest:
            command = getattr(parsed, "command", None)
            see = f"chipsim {command} --help" if command else "chipsim --help"
            raise UsageError(f"unrecognized arguments: {' '.join(rest)} (see {see})")
        return parsed

    def error(self, message: str) -> NoReturn:
        raise UsageError(self._explain(message))

    def _explain(self, message: str) -> str:
        command = self.prog.split(" ", 1)[1] if " " in self.prog else None
        match = re.match(r"argument (\S+): (.*)", message)
        if not match:
            if message.startswith("the following arguments"):
                see = f"chipsim {command} --help" if command else "chipsim --help"
                return f"{message} (see {see})"
            return message
        names, text = match.groups()
        for pattern, replacement in _REWRITES:
            text = pattern.sub(replacement, text)
        if re.fullmatch(r"expected (one|at least one|\d+) arguments?", text):  # no value given
            action = self._action(names)
            takes = f"{action.metavar}: {action.help}" if action and action.metavar and \
                action.help else getattr(action, "metavar", None) or "a value"
            text = f"missing value; expected {takes}"
        return f"{names}: {text}"

    def _action(self, names: str) -> argparse.Action | None:
        for action in self._actions:
            if "/".join(action.option_strings) == names or action.dest == names:
                return action
        return None


def integer(least: int) -> Callable[[str], int]:
    """A converter for an integer >= `least` (1: a count, 0: a seed or an index)."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(least,
                                                                     f"an integer >= {least}")

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {value}")
        return value

    convert.__name__ = "integer"
    return convert


COUNT = integer(1)  #: how many of something: 1, 2, ...
INDEX = integer(0)  #: a seed, or how many of something that may be none: 0, 1, ...


def times(text: str) -> list[float]:
    """A comma-separated list of distinct times after programming, in seconds."""
    from chipsim.functional.times import TimeError, parse_times

    try:
        return parse_times(text, distinct=True)
    except TimeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def time(text: str) -> float:
    """One time after programming, in seconds."""
    from chipsim.functional.times import TimeError, parse_time

    try:
        return parse_time(text)
    except TimeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None

"""Resuming a long command from its --out folder after it was killed.

A command that writes its results cell by cell keeps `<command>.resume.json` next to them:
the settings that determine every cell (options, and a hash of each input file's content) and
the cells finished under them. A rerun with the same settings reads the finished cells back and
computes only the rest; a rerun with other settings starts over, with a one-line note, so a
result is never mixed from two settings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Iterable

import chipsim

#: options that do not change a number: where results go, how they are shown, how many at once
NOT_SETTINGS = ("out", "json", "batch", "func", "command", "verbose", "quiet")


def file_digest(path: str | None) -> str | None:
    """sha256 of a file's bytes: a rerun on an edited model or chip file must not resume."""
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def settings_of(args: argparse.Namespace, files: Iterable[str], drop: Iterable[str] = ()) -> dict:
    """The options of `args` that determine the results, plus the content hash of the files
    that the options in `files` name, and chipsim's version (a new model may give new numbers)."""
    skip = set(NOT_SETTINGS) | set(drop)
    settings: dict[str, Any] = {"chipsim": chipsim.__version__}
    for name, value in sorted(vars(args).items()):
        if name in skip or callable(value):
            continue
        settings[name] = list(value) if isinstance(value, (list, tuple)) else value
    for name in files:  # a file counts by its content, wherever the rerun names it from
        digest = file_digest(getattr(args, name, None))
        if digest is not None:
            settings[name] = f"sha256:{digest}"
    return json.loads(json.dumps(settings, default=str))  # as it reads back from the file


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy numbers and arrays in a timing result
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class Resume:
    """The finished cells of a command in `out`, kept in `<command>.resume.json`."""

    def __init__(self, out: Path, command: str, settings: dict):
        self.path = Path(out) / f"{command}.resume.json"
        self.settings, self.finished, self.data = settings, [], {}
        self.matched = False  # an earlier run with these settings left its record here
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            saved = None
        except (OSError, ValueError):  # cut short by the kill: nothing can be trusted
            saved = {}
        if isinstance(saved, dict) and saved.get("settings") == settings:
            self.finished, self.matched = list(saved.get("finished", [])), True
            self.data = dict(saved.get("data", {}))
        elif saved is not None:
            self.note(f"{self.path.parent}: holds results of other settings; starting over")
        self.save()

    @staticmethod
    def note(text: str) -> None:
        """On stderr even with --json: whether numbers were read back is part of the result."""
        print(text, file=sys.stderr)

    def done(self, cell: Any) -> bool:
        return cell in self.finished

    def finish(self, cell: Any, data: Any = None) -> None:
        """Record `cell` as finished, after its results are written elsewhere or, as `data`,
        here (a cell named by a string)."""
        if cell not in self.finished:
            self.finished.append(cell)
        if data is not None:
            self.data[cell] = data
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")  # replaced whole: a kill never leaves half a file
        record = {"settings": self.settings, "finished": self.finished}
        if self.data:
            record["data"] = self.data
        tmp.write_text(json.dumps(record, default=_plain), encoding="utf-8")
        tmp.replace(self.path)

    def report(self, reused: int, total: int) -> None:
        """The one line that says how much of the run was read back."""
        if reused:
            self.note(f"resumed from {self.path.parent}: {reused} of {total} cells reused, "
                      f"{total - reused} computed")

"""The result store of sweeps: one SQLite file, a row per finished cell, keyed by its hash.

Why SQLite (the standard library's sqlite3): each cell is committed by itself in one atomic
transaction, so a client killed at any instant leaves every finished cell readable and no half
cell; it needs no dependency and no server; and one file holds any number of sweeps, whose
cells are shared whenever their keys are equal. Only the client writes (workers return their
results to it), so there is a single writer and no locking question; write-ahead logging lets
other processes read the store while a sweep runs. Results are stored as JSON text, whose
floats read back exactly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import chipsim
from chipsim.errors import ChipsimError

SCHEMA = """CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,   -- chipsim.sweep.cells.cell_key
    fields TEXT NOT NULL,   -- the swept values of the sweep that computed it (JSON)
    result TEXT NOT NULL,   -- {"figures", "units"} or {"error"} (JSON)
    chipsim TEXT NOT NULL,  -- the version that computed it (also part of the key)
    seconds REAL NOT NULL   -- wall time of the task, for people; no result depends on it
)"""


class Store:
    """Finished cells in the SQLite file `path` (made if missing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._db:
                self._db.execute(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ChipsimError(f"{self.path}: not a sweep store ({err})") from None

    def results(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored result of each key of `keys` that has one."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound on query parameters
            part = keys[start:start + 500]
            rows = self._db.execute(
                f"SELECT key, result FROM cells WHERE key IN ({','.join('?' * len(part))})", part)
            found.update((key, json.loads(result)) for key, result in rows)
        return found

    def put(self, key: str, fields: dict[str, Any], result: dict[str, Any],
            seconds: float) -> None:
        """Commit one finished cell now (a cell stored before is left as it was)."""
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO cells VALUES (?, ?, ?, ?, ?)",
                             (key, json.dumps(fields, default=str), json.dumps(result),
                              chipsim.__version__, seconds))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    def close(self) -> None:
        self._db.close()

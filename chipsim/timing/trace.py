"""A timeline of the run in the Chrome trace-event format, which Perfetto and chrome://tracing open.

Picture a Gantt chart: one horizontal track per core, per network link and per digital unit,
with a bar for every job it did (which layer, which input, how many MVMs). The trace is meant
for looking at how the first few inputs flow through the chip, so it records only inputs
numbered below `max_inputs` and stays small however long the run is.

Time in the file is in microseconds, as the format requires; the model's cycles are converted
with the chip clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# One trace "process" per kind of component; tracks (threads) inside it are the components.
GROUPS = {"core": 1, "link": 2, "unit": 3}


class Trace:
    """Collects complete events ("ph": "X") for the first `max_inputs` inputs."""

    def __init__(self, clock_ghz: float, max_inputs: int = 4) -> None:
        self.us_per_cycle = 1e-3 / clock_ghz
        self.max_inputs = max_inputs
        self._events: list[dict[str, Any]] = []
        self._tracks: dict[tuple[str, object], int] = {}

    def wants(self, inference: int) -> bool:
        """Whether events of this input are recorded (check before building arguments)."""
        return inference < self.max_inputs

    def _tid(self, group: str, name: object) -> int:
        key = (group, name)
        if key not in self._tracks:
            self._tracks[key] = len(self._tracks) + 1
        return self._tracks[key]

    def span(self, group: str, track: object, name: str, start_cycle: int, cycles: int,
             inference: int, **args: Any) -> None:
        """A bar on `track` (e.g. core 12, link "3-4", unit "gdpu0") from start for `cycles`."""
        if inference >= self.max_inputs:
            return
        self._events.append({
            "name": name, "ph": "X", "pid": GROUPS[group], "tid": self._tid(group, track),
            "ts": start_cycle * self.us_per_cycle, "dur": cycles * self.us_per_cycle,
            "args": {"input": inference, **args},
        })

    def to_json(self) -> dict[str, Any]:
        meta: list[dict[str, Any]] = []
        for group, pid in GROUPS.items():
            meta.append({"name": "process_name", "ph": "M", "pid": pid,
                         "args": {"name": {"core": "cores", "link": "network links",
                                           "unit": "digital units"}[group]}})
        for (group, track), tid in self._tracks.items():
            label = f"core {track}" if group == "core" else str(track)
            meta.append({"name": "thread_name", "ph": "M", "pid": GROUPS[group], "tid": tid,
                         "args": {"name": label}})
            meta.append({"name": "thread_sort_index", "ph": "M", "pid": GROUPS[group],
                         "tid": tid, "args": {"sort_index": tid}})
        return {"traceEvents": meta + self._events, "displayTimeUnit": "ns"}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()))

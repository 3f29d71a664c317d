"""The cells of a sweep, each named by a hash of everything that determines its numbers.

A cell's key is the sha256 of: the validated chip's content (not its file name or comments),
the graph file's bytes (not its path), the data set, strategy, drift times, seed, image and
input counts, calibration settings and chipsim's version. Equal keys mean equal numbers, so
the store can hand back a finished cell to any later sweep that asks for it again, and a
changed input (an edited graph file, another ADC resolution, a new chipsim) is a new cell.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chipsim
from chipsim.sweep.spec import Spec


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its swept values (`fields`, a row's first columns), what a worker
    needs to compute it (`job`, plain data that pickles small) and its key."""

    fields: dict[str, Any]
    job: dict[str, Any]
    key: str


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cell_key(determinants: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of what determines a cell."""
    text = json.dumps(determinants, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def expand(spec: Spec, backend: str = "cpu") -> list[Cell]:
    """The cells of `spec` in a fixed order (varied fields, network, strategy, seed, the first
    changing slowest): its product, or the members of the product that `cells:` lists. Their
    accuracy studies run on `backend`, which is not part of a cell's key: both give the same
    numbers (to float round-off), so a cell stored by one is read back by the other."""
    graphs = {net.graph: file_digest(net.graph) for net in spec.networks}  # each read once
    out = []
    for chip, net, strategy, seed in itertools.product(spec.chips, spec.networks,
                                                      spec.strategies, spec.seeds):
        fields = {**chip.changes, "network": net.name, "strategy": strategy, "seed": seed}
        if spec.cells is not None and not any(
                all(fields[k] == v for k, v in entry.items()) for entry in spec.cells):
            continue
        job = {"chip_text": chip.text, "chip_source": chip.source, "graph": str(net.graph),
               "data": net.data, "strategy": strategy, "times": list(spec.times), "seed": seed,
               "images": spec.images, "inputs": spec.inputs, "calibrate": spec.calibrate,
               "calibration_samples": spec.calibration_samples}
        determinants = {"chipsim": chipsim.__version__, "chip": chip.digest,
                        "graph": graphs[net.graph],
                        **{k: v for k, v in job.items()
                           if k not in ("chip_text", "chip_source", "graph")}}
        out.append(Cell(fields, {**job, "backend": backend}, cell_key(determinants)))
    return out

"""A Mapping: where every block of every layer sits on the chip.

Think of a seating plan: each block of a layer's weight matrix (and each copy of it, when a
layer is replicated to go faster) gets a core and a corner of that core's crossbar. The plan
is plain data: strategies write it, the YAML file stores it for hand-editing, and both the
accuracy path and the timed model read it. A placement's index in `placements` is its tile id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from chipsim.mapping.tiling import Block, LayerLike


@dataclass(frozen=True)
class Placement:
    """One copy (`replica`) of one block, on `core`, its top-left cell at (row_offset, col_offset)."""

    block: Block
    replica: int
    core: int
    row_offset: int = 0
    col_offset: int = 0
    # Per-tile calibration (input range, column scales) comes with the calibration issue; the
    # mapping file carries it through untouched.
    calibration: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def row_range(self) -> tuple[int, int]:
        """Crossbar rows this placement occupies."""
        return self.row_offset, self.row_offset + self.block.rows

    @property
    def col_range(self) -> tuple[int, int]:
        """Crossbar columns this placement occupies."""
        return self.col_offset, self.col_offset + self.block.cols


def shape_hash(layers: Sequence[LayerLike]) -> str:
    """A short content hash of a graph's weight matrices: each layer's name and shape, in order.

    A mapping fits every graph with these matrices (the weights' values do not enter: a graph
    retrained with the same shapes keeps its mappings), and no other.
    """
    shapes = [[layer.name, int(layer.rows), int(layer.cols)] for layer in layers]
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Mapping:
    """A whole network placed on a chip by one strategy."""

    chip: str
    strategy: str
    graph: str
    placements: tuple[Placement, ...]
    replication: dict[str, int]
    #: `shape_hash` of the layers it was made for (None: made before the hash existed)
    graph_hash: str | None = None
    #: on a system of several chips (`chipsim.arch.system`), the cores of each chip: core k x C
    #: + i of the pool is core i of chip k, and the file says so (None: one chip)
    cores_per_chip: int | None = None

    def chip_of(self, placement: Placement) -> int:
        """The chip of a placement (0 on a single chip)."""
        return placement.core // self.cores_per_chip if self.cores_per_chip else 0

    @property
    def chips_used(self) -> int:
        return len({self.chip_of(p) for p in self.placements})

    @property
    def cores_used(self) -> int:
        return len({p.core for p in self.placements})

    def by_core(self) -> dict[int, list[Placement]]:
        """Placements grouped by core, cores in increasing order."""
        cores: dict[int, list[Placement]] = {}
        for p in sorted(self.placements, key=lambda p: p.core):
            cores.setdefault(p.core, []).append(p)
        return cores

    def to_yaml(self, path: str | Path) -> None:
        """Write the mapping as a hand-editable YAML file."""
        from chipsim.mapping.mapfile import write_mapping

        write_mapping(self, Path(path))

    @classmethod
    def from_yaml(cls, path: str | Path, chip: Any, layers: Sequence[LayerLike]) -> "Mapping":
        """Read a mapping file and check it against `chip` and the lowered graph `layers`."""
        from chipsim.mapping.mapfile import read_mapping

        return read_mapping(Path(path), chip, layers)

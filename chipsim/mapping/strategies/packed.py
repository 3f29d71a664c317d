"""Packed placement: small blocks share crossbars so the network uses the fewest cores.

Blocks that share a crossbar sit along its diagonal: each takes rows and columns no other block
there uses (see `chipsim.mapping.validate` for why this rule keeps their currents apart and
lets them run in the same cycle). A crossbar then holds blocks whose row counts add up to at
most its rows and whose column counts add up to at most its columns. Packing is
first-fit-decreasing, like packing a car boot with the biggest suitcases first: blocks in
order of their larger crossbar share, each into the first core with room, else a new core;
the cores are then numbered in dataflow order.
"""

from __future__ import annotations

from typing import Any, Sequence

from chipsim.mapping.mapping import Mapping
from chipsim.mapping.strategies.base import Strategy, build, require_cores, units_of
from chipsim.mapping.tiling import LayerLike
from chipsim.mapping.traffic import Unit


class Packed(Strategy):
    name = "packed"

    def place_chip(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        units = units_of(layers, chip)
        cores, offsets, count = pack(units, chip.cores.rows, chip.cores.cols)
        require_cores(count, chip, graph, f"{len(units)} blocks packed on disjoint rows and columns")
        return build(self.name, layers, chip, graph, units, cores, offsets)

    def cores_needed(self, layers: Sequence[LayerLike], chip: Any) -> int:
        return pack(units_of(layers, chip), chip.cores.rows, chip.cores.cols)[2]


def pack(units: Sequence[Unit], rows: int, cols: int) -> tuple[list[int], list[tuple[int, int]], int]:
    """First-fit-decreasing: each unit's core and crossbar corner, and the cores used; cores are
    numbered in dataflow order (by the first block each holds), as sequential does."""
    size = [max(b.rows / rows, b.cols / cols) for b, _ in units]
    order = sorted(range(len(units)), key=lambda i: (-size[i], -units[i][0].cells, i))
    used: list[list[int]] = []  # per core: rows and columns taken so far
    cores, offsets = [0] * len(units), [(0, 0)] * len(units)
    for i in order:
        block = units[i][0]
        core = next((c for c, (r, k) in enumerate(used)
                     if r + block.rows <= rows and k + block.cols <= cols), len(used))
        if core == len(used):
            used.append([0, 0])
        cores[i], offsets[i] = core, (used[core][0], used[core][1])
        used[core][0] += block.rows
        used[core][1] += block.cols
    first = sorted(range(len(used)), key=lambda core: cores.index(core))
    renumber = {old: new for new, old in enumerate(first)}
    return [renumber[core] for core in cores], offsets, len(used)

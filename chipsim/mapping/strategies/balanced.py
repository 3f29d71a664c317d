"""Balanced placement: copy the slowest layers onto spare cores so pipeline stages even out.

In a pipeline the slowest stage sets the pace, like the one checkout open in a busy shop. A
layer that needs many MVMs per inference (an early convolution: one MVM per output pixel)
gets extra copies of its weights, each doing a share of the MVMs, as the chip paper did for
ResNet-9. Greedy: while the slowest layer's blocks fit in the free cores, give it one more
copy. Where the copies go is then chosen as in the locality strategy.

A recurrent layer (an LSTM) is never copied: its MVMs form a chain, each time step waiting
for the previous step's output, so a second copy could not take any of them over.
"""

from __future__ import annotations

from typing import Any, Sequence

from chipsim.graph.ops import RECURRENT_OPS
from chipsim.mapping.mapping import Mapping
from chipsim.mapping.metrics import stage_mvms
from chipsim.arch.faults import usable_cores
from chipsim.mapping.strategies.base import Strategy, build, require_cores, units_of
from chipsim.mapping.strategies.locality import arrange
from chipsim.mapping.tiling import LayerLike, tile


class Balanced(Strategy):
    name = "balanced"

    def place_chip(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        blocks = {layer.name: len(tile(layer, chip.cores.rows, chip.cores.cols)) for layer in layers}
        needed = sum(blocks.values())
        require_cores(needed, chip, graph, f"{needed} blocks, one per core")
        replication = replicate(layers, blocks, len(usable_cores(chip)) - needed)
        units = units_of(layers, chip, replication)
        cores = arrange(units, layers, replication, chip)
        return build(self.name, layers, chip, graph, units, cores, replication=replication)


def replicate(layers: Sequence[LayerLike], blocks: dict[str, int], free: int) -> dict[str, int]:
    """Copies per layer: keep copying the slowest layer while its blocks fit in `free` cores."""
    copies = {layer.name: 1 for layer in layers}
    mvms = {layer.name: layer.mvms for layer in layers}
    recurrent = {layer.name for layer in layers
                 if getattr(layer, "op", "dense") in RECURRENT_OPS}
    while True:
        stages = stage_mvms(layers, copies)
        slowest = max(stages, key=stages.get)  # first of equals, in dataflow order
        if blocks[slowest] > free or copies[slowest] >= mvms[slowest] or slowest in recurrent:
            return copies
        copies[slowest] += 1
        free -= blocks[slowest]

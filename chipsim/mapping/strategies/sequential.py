"""Sequential placement, the baseline: layers in order, one block per core, cores in index order.

Like filling a parking lot from the first space: no thought about who sits next to whom.
"""

from __future__ import annotations

from typing import Any, Sequence

from chipsim.mapping.mapping import Mapping
from chipsim.mapping.strategies.base import Strategy, build, require_cores, units_of
from chipsim.mapping.tiling import LayerLike


class Sequential(Strategy):
    name = "sequential"

    def place_chip(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        units = units_of(layers, chip)
        require_cores(len(units), chip, graph, f"{len(units)} blocks, one per core")
        return build(self.name, layers, chip, graph, units, range(len(units)))

"""Mapping: cut each layer's weights into crossbar-sized blocks and place them on the chip's cores.

`STRATEGIES[name].place(layers, chip)` returns a `Mapping`; `Mapping.to_yaml` / `from_yaml`
store it as an editable file; `summarize` gives its figures (cores, traffic, slowest stage).
"""

from chipsim.mapping.mapping import Mapping, Placement
from chipsim.mapping.metrics import stage_mvms, summarize
from chipsim.mapping.strategies import STRATEGIES, Strategy
from chipsim.mapping.tiling import Block, tile, tile_all
from chipsim.mapping.validate import check_mapping, check_usable

__all__ = ["Block", "Mapping", "Placement", "STRATEGIES", "Strategy", "check_mapping", "check_usable",
           "stage_mvms", "summarize", "tile", "tile_all"]
